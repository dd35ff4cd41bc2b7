/*
 * test_feedpub.c: the live feed's messages as the master publishes them
 * (master/feedpub.c), through the real pipeline: rows committed to SQLite, a publisher
 * step, the ring read back from the snapshot being served.
 *
 * - The first full load sends nothing but writes the run record.
 * - A poll with a new transmission (three observations, one a duplicate sighting) and a
 *   late observation of an older one sends: the new transmission's observations newest
 *   first without the duplicate, then the late one; the exact text of one message pins
 *   the shape (sorted keys, decoded, packet, nulls, timestamp = first_seen).
 * - A TRACE message carries decoded.path from the raw packet.
 * - A publication with more messages than ring_messages writes the newest ones and
 *   skips the numbers of the others.
 * - A full reload copies the ring and sends the rows committed since the last poll, with
 *   numbers that continue.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "master/feedpub.h"
#include "master/pubstep.h"
#include "shm/feed.h"
#include "shm/schema.h"
#include "testlib.h"

typedef struct {
    char dir[512], db_path[600], state_dir[600];
    msn_config_t cfg;
    msn_status_t *st;
    msn_pubctl_t ctl;
    sqlite3 *rw;
} fixture_t;

static void add_tx(sqlite3 *db, int id, int payload_type, const char *raw_hex, const char *decoded_json)
{
    char sql[2048];
    snprintf(
        sql, sizeof(sql),
        "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json, "
        "last_seen) VALUES (%d, '%s', '%016x', '2026-07-18T11:00:%02d.000Z', 1, %d, '%s', 1784372400)",
        id, raw_hex, 0xfeed00 + id, id % 60, payload_type, decoded_json);
    msn_test_exec(db, sql);
}

static void add_obs(sqlite3 *db, int id, int tx, int observer, int ts, const char *path_json)
{
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO observations (id, transmission_id, observer_idx, direction, snr, rssi, score, "
             "path_json, "
             "timestamp) VALUES (%d, %d, %d, 'rx', %s, -90, 1, '%s', %d)",
             id, tx, observer, observer == 2 ? "NULL" : "5.25", path_json, 1784372400 + ts);
    msn_test_exec(db, sql);
}

static void setup(fixture_t *f, int ring_messages)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "%s", msn_test_tmpdir("feedpub"));
    snprintf(f->db_path, sizeof(f->db_path), "%s/mesh.db", f->dir);
    snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
    CHECK(mkdir(f->state_dir, 0755) == 0);
    char err[512], v[32];
    CHECK(sqlite3_open(f->db_path, &f->rw) == SQLITE_OK);
    msn_test_exec(f->rw, "PRAGMA journal_mode=WAL");
    CHECK(msn_schema_create_current(f->rw, err, sizeof(err)) == 0);
    msn_test_exec(f->rw, "DROP INDEX IF EXISTS idx_observations_dedup"); /* a legacy database may hold duplicates */
    msn_test_exec(f->rw,
         "INSERT INTO observers (rowid, id, name, iata, last_seen, first_seen) VALUES"
         " (1, 'obs1', 'Observer <One>', 'SJC', '2026-07-18T11:00:00.000Z', '2026-07-01T00:00:00.000Z'),"
         " (2, 'obs2', NULL, NULL, '2026-07-18T11:00:00.000Z', '2026-07-01T00:00:00.000Z')");
    for (int i = 1; i <= 3; i++) {
        add_tx(f->rw, i, 5, "15001122", "{\"type\":\"GRP_TXT\"}");
        add_obs(f->rw, i, i, 1, i, "[\"AA\"]");
    }
    msn_config_defaults(&f->cfg);
    CHECK(msn_config_set(&f->cfg, NULL, "db", f->db_path, err, sizeof(err)) == 0);
    CHECK(msn_config_set(&f->cfg, NULL, "state_dir", f->state_dir, err, sizeof(err)) == 0);
    CHECK(msn_config_set(&f->cfg, NULL, "poll_interval_ms", "100", err, sizeof(err)) == 0);
    snprintf(v, sizeof(v), "%d", ring_messages);
    CHECK(msn_config_set(&f->cfg, "websocket", "ring_messages", v, err, sizeof(err)) == 0);
    CHECK(msn_status_create(f->state_dir, &f->st) == 0);
    atomic_store(&f->ctl.poll_interval_ms, f->cfg.poll_interval_ms);
}

static void teardown(fixture_t *f)
{
    sqlite3_close(f->rw);
    msn_status_close(f->st);
    msn_config_free(&f->cfg);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
}

#define MAXM 64
typedef struct {
    int n;
    int has_run;
    uint64_t run;
    uint64_t seq[MAXM];
    char *body[MAXM];
} ring_t;

/* The ring of the snapshot being served (what a worker reads). */
static void read_ring(const fixture_t *f, ring_t *r)
{
    memset(r, 0, sizeof(*r));
    msn_snap_t snap;
    char err[512];
    if (msn_snap_open_current_ro(f->state_dir, &snap, err, sizeof(err)) != 0) {
        fprintf(stderr, "no current snapshot: %s\n", err);
        msn_test_failures++;
        return;
    }
    MDB_txn *txn;
    MDB_cursor *cur;
    msn_feed_msg_t m;
    CHECK_EQ_INT(mdb_txn_begin(snap.env, NULL, MDB_RDONLY, &txn), 0);
    r->has_run = msn_feed_get_run(txn, &snap, &r->run) == 0;
    CHECK_EQ_INT(mdb_cursor_open(txn, snap.dbi[MSN_DBI_FEED], &cur), 0);
    for (int rc = msn_feed_seek(cur, 1, &m); rc == 0 && r->n < MAXM; rc = msn_feed_next(cur, &m)) {
        r->seq[r->n] = m.seq;
        r->body[r->n] = msn_xstrndup(m.body, m.len);
        r->n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    msn_snap_close(&snap);
}

static void free_ring(ring_t *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->body[i]);
    r->n = 0;
}

static int has(const char *body, const char *part)
{
    if (body && strstr(body, part))
        return 1;
    fprintf(stderr, "missing %s in %s\n", part, body ? body : "(null)");
    return 0;
}

static void load(msn_pubctx_t *c)
{
    int64_t now = msn_now_ms();
    CHECK(msn_pub_step(c, now).action == MSN_PUB_OPEN);
    CHECK(msn_pub_step(c, now).action == MSN_PUB_FULL_LOAD);
    CHECK(c->loaded);
}

static void poll(msn_pubctx_t *c)
{
    CHECK(msn_pub_step(c, c->next_poll_ms).action == MSN_PUB_POLL);
}

static const char *MSG_TX4_OBS11 = "{\"type\":\"packet\",\"data\":{\"decoded\":{\"header\":{"
                                   "\"payloadTypeName\":\"ADVERT\"},\"payload\":{\"flags\":"
                                   "{\"chat\":false,\"raw\":146},\"lat\":37.5,\"name\":\"A\\u0026B\","
                                   "\"pubKey\":\"ab\",\"type\":\"ADVERT\"}},"
                                   "\"decoded_json\":\"{\\\"type\\\":\\\"ADVERT\\\",\\\"pubKey\\\":"
                                   "\\\"ab\\\",\\\"lat\\\":37.50,\\\"name\\\":"
                                   "\\\"A\\\\u0026B\\\",\\\"flags\\\":{\\\"raw\\\":146,\\\"chat\\\":false}}"
                                   "\",\"direction\":\"rx\",\"first_seen\":"
                                   "\"2026-07-18T11:00:04.000Z\",\"hash\":\"0000000000feed04\",\"id\":4,"
                                   "\"observation_count\":3,\"observer_id\":"
                                   "\"obs2\",\"observer_name\":null,\"packet\":{\"decoded_json\":\"{"
                                   "\\\"type\\\":\\\"ADVERT\\\",\\\"pubKey\\\":"
                                   "\\\"ab\\\",\\\"lat\\\":37.50,\\\"name\\\":\\\"A\\\\u0026B\\\","
                                   "\\\"flags\\\":{\\\"raw\\\":146,\\\"chat\\\":false}}"
                                   "\",\"direction\":\"rx\",\"first_seen\":\"2026-07-18T11:00:04.000Z\","
                                   "\"hash\":\"0000000000feed04\",\"id\":4,"
                                   "\"observation_count\":3,\"observer_id\":\"obs2\",\"observer_name\":null,"
                                   "\"path_json\":\"[]\",\"payload_type\":4,"
                                   "\"raw_hex\":\"1100AB\",\"route_type\":1,\"rssi\":-90,\"snr\":null,"
                                   "\"timestamp\":\"2026-07-18T11:00:04.000Z\"},"
                                   "\"path_json\":\"[]\",\"payload_type\":4,\"raw_hex\":\"1100AB\",\"route_"
                                   "type\":1,\"rssi\":-90,\"snr\":null,"
                                   "\"timestamp\":\"2026-07-18T11:00:04.000Z\"}}";

static void test_poll_messages(void)
{
    fixture_t f;
    setup(&f, 4096);
    msn_pubctx_t c;
    msn_pubctx_init(&c, &f.cfg, f.st, &f.ctl, 1784372400000);
    load(&c);
    ring_t r;
    read_ring(&f, &r);
    CHECK(r.has_run);
    CHECK(r.run == 1784372400000ull);
    CHECK_EQ_INT(r.n, 0); /* the first load is no news */
    free_ring(&r);

    msn_test_exec(f.rw, "BEGIN");
    add_tx(
        f.rw, 4, 4, "1100AB",
        "{\"type\":\"ADVERT\",\"pubKey\":\"ab\",\"lat\":37.50,\"name\":\"A\\u0026B\",\"flags\":{\"raw\":146,"
        "\"chat\":false}}");
    add_obs(f.rw, 10, 4, 1, 100, "[\"AA\"]");
    add_obs(f.rw, 11, 4, 2, 200, "[]");
    add_obs(f.rw, 12, 4, 1, 150, "[\"AA\"]"); /* the same sighting as 10 (observer and path) */
    add_obs(f.rw, 13, 2, 2, 300, "[\"BB\"]"); /* a late observation of transmission 2 */
    add_obs(f.rw, 14, 3, 1, 300, "[\"AA\"]"); /* a late duplicate of observation 3 */
    msn_test_exec(f.rw, "COMMIT");
    poll(&c);
    read_ring(&f, &r);
    CHECK_EQ_INT(r.n, 3);
    if (r.n == 3) {
        CHECK_EQ_INT(r.seq[0], 1);
        CHECK_EQ_INT(r.seq[2], 3);
        /* newest first: 11 (t=200), then 12 (t=150); 10 is 12's sighting again */
        if (strcmp(r.body[0], MSG_TX4_OBS11) != 0)
            fprintf(stderr, "got:  %s\nwant: %s\n", r.body[0], MSG_TX4_OBS11);
        CHECK_EQ_STR(r.body[0], MSG_TX4_OBS11);
        CHECK(has(r.body[1], "\"observer_id\":\"obs1\",\"observer_name\":\"Observer \\u003cOne\\u003e\""));
        CHECK(has(r.body[1], "\"path_json\":\"[\\\"AA\\\"]\""));
        CHECK(has(r.body[1], "\"snr\":5.25"));
        /* the late one: transmission 2 now has 2 observations */
        CHECK(has(r.body[2], "\"id\":2,\"observation_count\":2,\"observer_id\":\"obs2\""));
        CHECK(has(r.body[2], "\"payloadTypeName\":\"GRP_TXT\"},\"payload\":{\"type\":\"GRP_TXT\"}"));
        CHECK(has(r.body[2], "\"timestamp\":\"2026-07-18T11:00:02.000Z\""));
    }
    free_ring(&r);
    msn_master_status_t ms;
    msn_status_read_master(f.st, &ms);
    CHECK_EQ_INT(ms.feed_messages, 3);

    /* a TRACE: decoded.path comes from the packet (route in the payload, SNRs in the header) */
    add_tx(f.rw, 5, 9, "2602141E01000000020000000011223344", "{\"type\":\"TRACE\"}");
    add_obs(f.rw, 20, 5, 1, 400, "[\"11\",\"22\",\"33\",\"44\"]");
    msn_test_exec(f.rw, "UPDATE transmissions SET route_type = 2 WHERE id = 5");
    poll(&c);
    read_ring(&f, &r);
    CHECK_EQ_INT(r.n, 4);
    if (r.n == 4)
        CHECK(has(r.body[3],
                  "\"decoded\":{\"header\":{\"payloadTypeName\":\"TRACE\"},\"path\":{\"hashSize\":1,"
                  "\"hashCount\":4,\"hops\":[\"11\",\"22\",\"33\",\"44\"],\"hopsCompleted\":2},"
                  "\"payload\":{\"type\":\"TRACE\"}}"));
    free_ring(&r);
    msn_pubctx_free(&c);
    teardown(&f);
}

static void test_burst_and_reload(void)
{
    fixture_t f;
    setup(&f, 16);
    msn_pubctx_t c;
    msn_pubctx_init(&c, &f.cfg, f.st, &f.ctl, 1784372400000);
    load(&c);
    /* 20 messages in one publication, 16 fit: numbers 1..4 are skipped */
    msn_test_exec(f.rw, "BEGIN");
    for (int i = 10; i < 30; i++) {
        add_tx(f.rw, i, 5, "15001122", "{\"type\":\"GRP_TXT\"}");
        add_obs(f.rw, i, i, 1, i, "[\"AA\"]");
    }
    msn_test_exec(f.rw, "COMMIT");
    poll(&c);
    ring_t r;
    read_ring(&f, &r);
    CHECK_EQ_INT(r.n, 16);
    CHECK_EQ_INT(r.seq[0], 5);
    CHECK_EQ_INT(r.seq[15], 20);
    CHECK(has(r.body[0], "\"id\":14,"));
    free_ring(&r);
    CHECK_EQ_INT(c.feed.skipped, 4);
    CHECK_EQ_INT(c.feed.messages, 16);

    /* rows committed, then a full reload before any poll: the ring is carried over and the
       new rows are sent, numbered on */
    add_tx(f.rw, 40, 5, "15001122", "{\"type\":\"GRP_TXT\"}");
    add_obs(f.rw, 40, 40, 1, 40, "[\"AA\"]");
    add_obs(f.rw, 41, 12, 2, 41, "[]"); /* late, of a transmission the old store had */
    uint64_t gen = c.pub.gen;
    c.rebuild = 1;
    CHECK(msn_pub_step(&c, msn_now_ms()).action == MSN_PUB_FULL_LOAD);
    CHECK(c.pub.gen == gen + 1);
    read_ring(&f, &r);
    CHECK_EQ_INT(r.n, 16); /* 5..20 + 21, 22, pruned to 16 */
    CHECK(r.run == 1784372400000ull);
    if (r.n == 16) {
        CHECK_EQ_INT(r.seq[0], 7);
        CHECK_EQ_INT(r.seq[14], 21);
        CHECK(has(r.body[14], "\"id\":40,"));
        CHECK_EQ_INT(r.seq[15], 22);
        CHECK(has(r.body[15], "\"id\":12,\"observation_count\":2,"));
    }
    free_ring(&r);
    msn_pubctx_free(&c);
    teardown(&f);
}

int main(void)
{
    MSN_RUN(test_poll_messages);
    MSN_RUN(test_burst_and_reload);
    return msn_test_done();
}
