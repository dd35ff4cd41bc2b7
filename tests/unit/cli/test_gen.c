/*
 * test_gen.c: `meshsnap gen` (cli/gen*.c), run in-process on small meshes. Checks that
 * every row is what CoreScope's ingestor would store (packets decode and re-render to the
 * stored decoded_json and hash, derived columns, path_json of each copy), that the
 * simulation is consistent with its ground truth (paths follow radio links, observation
 * paths are the truth's hop prefixes), that neighbor_edges and resolved_path follow the
 * data-model rules (§7, §4.2) and never name a wrong node, that the same seed gives the
 * same database, and the command-line behaviour.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../cli/gen.c"
#include "../../../cli/gen_rows.c"
#include "../../../cli/gen_traffic.c"
#include "../../../cli/gen_world.c"
#include "shm/codec/codec.h"
#include "shm/hash.h"
#include "shm/json.h"
#include "shm/pathres.h"
#include "shm/schema.h"
#include "shm/timeutil.h"
#include "testlib.h"

#define END 1780000000LL

static char dir[512];

static void params(msn_gen_params_t *p, const char *path, uint64_t seed)
{
    msn_gen_defaults(p);
    p->db = path;
    p->nodes = 160;
    p->observers = 18;
    p->transmissions = 4000;
    p->obs_per_tx = 7;
    p->days = 3;
    p->seed = seed;
    p->end = END;
    p->quiet = 1;
}

/* The main database, generated once. */
static const char *main_db(void)
{
    static char path[600];
    static int done;
    if (!done) {
        snprintf(path, sizeof(path), "%s/main.db", dir);
        msn_gen_params_t p;
        params(&p, path, 7);
        char err[512] = "";
        msn_gen_stats_t st;
        if (msn_gen_run(&p, &st, err, sizeof(err)) < 0) {
            fprintf(stderr, "gen failed: %s\n", err);
            exit(1);
        }
        printf("main db: %ld tx, %ld obs (%.2f per tx), %ld edges; resolved %ld of %ld hops (%.1f%%), %ld "
               "wrong\n",
               st.transmissions, st.observations, (double)st.observations / (double)st.transmissions,
               st.edges, st.hops_resolved, st.hops, 100.0 * (double)st.hops_resolved / (double)st.hops,
               st.hops_wrong);
        done = 1;
    }
    return path;
}

static sqlite3 *open_ro(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "open %s: %s\n", path, sqlite3_errmsg(db));
        exit(1);
    }
    return db;
}

static int64_t q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

/* A checksum of every table's rows (and the schema), optionally skipping some columns. */
static uint64_t db_checksum(const char *path, const char *skip_cols)
{
    sqlite3 *db = open_ro(path);
    uint64_t h = MSN_FNV1A64_INIT;
    sqlite3_stmt *tl = NULL;
    sqlite3_prepare_v2(db, "SELECT name, type, coalesce(sql,'') FROM sqlite_master ORDER BY name", -1, &tl,
                       NULL);
    while (sqlite3_step(tl) == SQLITE_ROW) {
        const char *name = col(tl, 0);
        h = msn_fnv1a64_add(h, name, strlen(name));
        h = msn_fnv1a64_add(h, col(tl, 2), strlen(col(tl, 2)));
        if (strcmp(col(tl, 1), "table") != 0)
            continue;
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY rowid", name);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
            continue;
        int n = sqlite3_column_count(st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < n; i++) {
                char key[128];
                snprintf(key, sizeof(key), ",%s.%s,", name, sqlite3_column_name(st, i));
                if (skip_cols != NULL && strstr(skip_cols, key) != NULL)
                    continue;
                int t = sqlite3_column_type(st, i);
                h = msn_fnv1a64_add(h, &t, sizeof(t));
                const void *b = sqlite3_column_blob(st, i);
                h = msn_fnv1a64_add(h, b, (size_t)sqlite3_column_bytes(st, i));
            }
        }
        sqlite3_finalize(st);
    }
    sqlite3_finalize(tl);
    sqlite3_close(db);
    return h;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_same_seed_same_database(void)
{
    char a[600], b[600], c[600];
    snprintf(a, sizeof(a), "%s/det-a.db", dir);
    snprintf(b, sizeof(b), "%s/det-b.db", dir);
    snprintf(c, sizeof(c), "%s/det-c.db", dir);
    msn_gen_params_t p;
    char err[512];
    params(&p, a, 99);
    p.transmissions = 1500;
    CHECK_EQ_INT(msn_gen_run(&p, NULL, err, sizeof(err)), 0);
    params(&p, b, 99);
    p.transmissions = 1500;
    p.threads = 1; /* threads change nothing */
    CHECK_EQ_INT(msn_gen_run(&p, NULL, err, sizeof(err)), 0);
    params(&p, c, 100);
    p.transmissions = 1500;
    CHECK_EQ_INT(msn_gen_run(&p, NULL, err, sizeof(err)), 0);
    uint64_t ha = db_checksum(a, NULL), hb = db_checksum(b, NULL), hc = db_checksum(c, NULL);
    CHECK(ha == hb);
    CHECK(ha != hc);
}

static void test_schema_is_current(void)
{
    char fresh[600];
    snprintf(fresh, sizeof(fresh), "%s/fresh.db", dir);
    sqlite3 *f = NULL;
    CHECK(sqlite3_open(fresh, &f) == SQLITE_OK);
    char err[256];
    CHECK_EQ_INT(msn_schema_create_current(f, err, sizeof(err)), 0);
    sqlite3 *g = open_ro(main_db());
    /* every CoreScope object, with the same SQL, and nothing else but the _gen_ side tables */
    const char *sql =
        "SELECT type || '|' || name || '|' || tbl_name || '|' || coalesce(sql,'') FROM sqlite_master"
        " WHERE tbl_name NOT LIKE '\\_gen\\_%' ESCAPE '\\' ORDER BY name";
    sqlite3_stmt *a = NULL, *b = NULL;
    sqlite3_prepare_v2(f, sql, -1, &a, NULL);
    sqlite3_prepare_v2(g, sql, -1, &b, NULL);
    int n = 0;
    for (;;) {
        int ra = sqlite3_step(a), rb = sqlite3_step(b);
        CHECK_EQ_INT(ra, rb);
        if (ra != SQLITE_ROW || rb != SQLITE_ROW)
            break;
        CHECK_EQ_STR(col(a, 0), col(b, 0));
        n++;
    }
    CHECK(n > 30);
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    sqlite3_close(f);
    msn_schema_info_t info;
    CHECK_EQ_INT(msn_schema_detect(g, &info, err, sizeof(err)), 0);
    CHECK_EQ_INT(info.legacy, 0);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(g, "PRAGMA journal_mode", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_STR(col(st, 0), "wal");
    sqlite3_finalize(st);
    CHECK_EQ_INT(q_int(g, "PRAGMA auto_vacuum"), 2);
    CHECK_EQ_STR(sqlite3_errmsg(g), "not an error");
    CHECK_EQ_INT(q_int(g, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"), 0);
    sqlite3_close(g);
}

/* Every transmission decodes and re-renders to its stored row. */
static void test_transmissions_decode(void)
{
    sqlite3 *db = open_ro(main_db());
    msn_chankeys_t *ks = msn_chankeys_new();
    char err[128];
    msn_chankeys_add_builtin(ks);
    static const char *const tags[] = {"#test", "#wardriving", "#bot", "#emergency", "#seattle", "#portland"};
    for (int i = 0; i < 6; i++)
        msn_chankeys_add_hashtag(ks, tags[i], err, sizeof(err));
    msn_decode_opts_t opts = {ks, 1};
    static const char *const regions[] = {"#pnw"};
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(
        db,
        "SELECT raw_hex, hash, decoded_json, route_type, payload_type, payload_version, from_pubkey,"
        " channel_hash, scope_name, first_seen, last_seen, created_at, id FROM transmissions ORDER BY id",
        -1, &st, NULL);
    msn_packet_t *pkt = malloc(sizeof(*pkt));
    msn_buf_t js = MSN_BUF_INIT;
    long n = 0, bad = 0, chan_dec = 0, chan_enc = 0, scoped = 0, adverts = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *raw = col(st, 0);
        n++;
        int rc = msn_packet_decode_hex(pkt, raw, strlen(raw), &opts);
        if (rc != 0) {
            bad++;
            continue;
        }
        msn_buf_reset(&js);
        msn_packet_render_json(pkt, &js);
        char h1[17], h2[17], from[65], tmp[8];
        msn_packet_content_hash(pkt, h1);
        msn_codec_content_hash(raw, strlen(raw), h2);
        const char *chan = msn_packet_channel_hash(pkt, tmp);
        int has_from = msn_packet_from_pubkey(pkt, from);
        const char *scope = NULL;
        int sc = msn_packet_scope(pkt, regions, 1, &scope);
        int ok = strcmp(msn_buf_cstr(&js), col(st, 2)) == 0 && strcmp(h1, col(st, 1)) == 0 &&
                 strcmp(h2, col(st, 1)) == 0 && sqlite3_column_int(st, 3) == pkt->route_type &&
                 sqlite3_column_int(st, 4) == pkt->payload_type && sqlite3_column_int(st, 5) == 0 &&
                 (has_from ? strcmp(from, col(st, 6)) == 0 : sqlite3_column_type(st, 6) == SQLITE_NULL) &&
                 (chan ? strcmp(chan, col(st, 7)) == 0 : sqlite3_column_type(st, 7) == SQLITE_NULL) &&
                 (sc < 0 ? sqlite3_column_type(st, 8) == SQLITE_NULL : strcmp(scope, col(st, 8)) == 0);
        if (pkt->payload_type == MSN_PT_ADVERT) {
            adverts++;
            ok = ok && pkt->p.signature_valid == 1 && strstr(col(st, 2), "\"signatureValid\":true") != NULL;
        }
        /* times: first_seen RFC3339 seconds, created_at the same instant, last_seen >= it */
        int64_t fs_ms = 0;
        ok = ok && msn_parse_time_ms(col(st, 9), &fs_ms) == 0 && strlen(col(st, 9)) == 20 &&
             sqlite3_column_int64(st, 10) >= fs_ms / 1000 && sqlite3_column_int64(st, 10) <= END + 120 &&
             fs_ms / 1000 >= END - 3 * 86400;
        char cr[32];
        msn_format_iso_s(cr, fs_ms / 1000);
        cr[10] = ' ';
        cr[19] = '\0';
        ok = ok && strcmp(cr, col(st, 11)) == 0;
        if (pkt->payload_type == MSN_PT_GRP_TXT) {
            if (strncmp(col(st, 7), "enc_", 4) == 0)
                chan_enc++;
            else
                chan_dec++;
        }
        scoped += sc >= 0;
        if (!ok) {
            if (bad < 5)
                fprintf(stderr, "tx %lld differs:\n  %s\n  %s\n", (long long)sqlite3_column_int64(st, 12),
                        msn_buf_cstr(&js), col(st, 2));
            bad++;
        }
    }
    sqlite3_finalize(st);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(n, 4000);
    CHECK(adverts >= 160);
    CHECK(chan_dec > 100);
    CHECK(chan_enc > 20);
    CHECK(scoped > 5);
    /* a mix of channels, Public the most common */
    CHECK(q_int(db, "SELECT count(*) FROM transmissions WHERE channel_hash = 'Public'") >
          q_int(db, "SELECT count(*) FROM transmissions WHERE channel_hash = '#test'"));
    CHECK(q_int(db, "SELECT count(DISTINCT channel_hash) FROM transmissions WHERE channel_hash LIKE '#%'") >=
          4);
    /* every payload type the generator makes is present */
    CHECK_EQ_INT(q_int(db, "SELECT count(DISTINCT payload_type) FROM transmissions"), 10);
    CHECK(q_int(db, "SELECT count(DISTINCT route_type) FROM transmissions") == 4);
    msn_buf_free(&js);
    free(pkt);
    msn_chankeys_free(ks);
    sqlite3_close(db);
}

/* Every observation: its own packet (same hash, its own path), path_json as the codec
 * renders it, the truth's hop prefixes, and radio links along the way. */
static void test_observations_follow_the_radio_graph(void)
{
    sqlite3 *db = open_ro(main_db());
    int n_nodes = (int)q_int(db, "SELECT count(*) FROM _gen_nodes");
    char(*keys)[65] = calloc((size_t)n_nodes, 65);
    int *obs_node = calloc(64, sizeof(int));
    uint8_t *link = calloc((size_t)n_nodes * (size_t)n_nodes, 1);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT idx, public_key FROM _gen_nodes", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW)
        snprintf(keys[sqlite3_column_int(st, 0)], 65, "%s", col(st, 1));
    sqlite3_finalize(st);
    sqlite3_prepare_v2(
        db, "SELECT rowid, (SELECT idx FROM _gen_nodes WHERE public_key = lower(o.id)) FROM observers o", -1,
        &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW)
        obs_node[sqlite3_column_int(st, 0)] = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT a, b FROM _gen_links", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int a = sqlite3_column_int(st, 0), b = sqlite3_column_int(st, 1);
        link[a * n_nodes + b] = link[b * n_nodes + a] = 1;
    }
    sqlite3_finalize(st);

    sqlite3_prepare_v2(
        db,
        "SELECT o.raw_hex, t.hash, o.path_json, v.route_json, v.heard, o.observer_idx, t.route_type,"
        " t.payload_type, g.origin, o.id, t.decoded_json, o.timestamp, t.first_seen, o.snr, o.rssi,"
        " o.direction FROM observations o JOIN transmissions t ON t.id = o.transmission_id"
        " JOIN _gen_truth_obs v ON v.observation_id = o.id JOIN _gen_truth g ON g.transmission_id = t.id"
        " ORDER BY o.id",
        -1, &st, NULL);
    msn_packet_t *pkt = malloc(sizeof(*pkt));
    msn_buf_t b = MSN_BUF_INIT;
    long n = 0, bad = 0, hops[4] = {0}, zero = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n++;
        const char *raw = col(st, 0);
        int ok = msn_packet_decode_hex(pkt, raw, strlen(raw), NULL) == 0;
        if (!ok) {
            bad++;
            continue;
        }
        char h[17];
        msn_packet_content_hash(pkt, h);
        ok = ok && strcmp(h, col(st, 1)) == 0;
        msn_buf_reset(&b);
        msn_packet_render_path_json(pkt, &b);
        ok = ok && strcmp(msn_buf_cstr(&b), col(st, 2)) == 0;
        /* the payload is the transmission's (decoded_json without keys: compare the type) */
        ok = ok && pkt->payload_type == sqlite3_column_int(st, 7);
        /* path hops = uppercase prefixes of the true route */
        int route[80], nr = 0;
        const char *rj = col(st, 3);
        for (const char *p = rj; *p; p++) {
            if (*p >= '0' && *p <= '9') {
                route[nr++] = atoi(p);
                while (p[1] >= '0' && p[1] <= '9')
                    p++;
            }
        }
        ok = ok && nr == pkt->hop_count;
        for (int j = 0; ok && j < nr; j++) {
            const uint8_t *hop = msn_span_ptr(pkt, pkt->hops) + j * pkt->hop_size;
            char hx[20];
            msn_hex_encode(hop, pkt->hop_size, hx, 0);
            ok = strncmp(hx, keys[route[j]], 2 * (size_t)pkt->hop_size) == 0;
        }
        if (nr == 0)
            zero++;
        else if (pkt->hop_size <= 3)
            hops[pkt->hop_size]++;
        /* radio links: observer <-> heard node; consecutive relays; flood first relay <-> origin */
        int heard = sqlite3_column_int(st, 4);
        int obsn = obs_node[sqlite3_column_int(st, 5)];
        int origin = sqlite3_column_int(st, 8);
        int rt = sqlite3_column_int(st, 6), pt = sqlite3_column_int(st, 7);
        ok = ok && obsn != heard && link[obsn * n_nodes + heard];
        for (int j = 1; ok && j < nr; j++)
            ok = link[route[j - 1] * n_nodes + route[j]];
        int flood = rt == MSN_ROUTE_FLOOD || rt == MSN_ROUTE_TRANSPORT_FLOOD;
        if (flood && nr > 0)
            ok = ok && route[nr - 1] == heard && link[origin * n_nodes + route[0]];
        if (flood && nr == 0)
            ok = ok && heard == origin;
        if (!flood && pt != MSN_PT_TRACE && nr > 0)
            ok = ok && link[heard * n_nodes + route[0]];
        if (pt == MSN_PT_TRACE)
            ok = ok && nr > 0 && route[nr - 1] == heard;
        /* timestamps at or after the first copy, within a minute */
        int64_t fs = 0;
        msn_parse_time_ms(col(st, 12), &fs);
        ok =
            ok && sqlite3_column_int64(st, 11) >= fs / 1000 && sqlite3_column_int64(st, 11) < fs / 1000 + 120;
        ok = ok && sqlite3_column_double(st, 13) >= -20 && sqlite3_column_double(st, 13) <= 15 &&
             sqlite3_column_double(st, 14) <= -30 && sqlite3_column_double(st, 14) >= -130 &&
             strcmp(col(st, 15), "rx") == 0;
        if (!ok) {
            if (bad < 5)
                fprintf(stderr, "observation %lld inconsistent: path %s route %s heard %d\n",
                        (long long)sqlite3_column_int64(st, 9), col(st, 2), rj, heard);
            bad++;
        }
    }
    sqlite3_finalize(st);
    CHECK_EQ_INT(bad, 0);
    CHECK(n > 20000);
    /* mostly 1-byte hops, some 2- and 3-byte ones, and zero-hop copies */
    printf("observation paths: %ld zero-hop, %ld 1-byte, %ld 2-byte, %ld 3-byte\n", zero, hops[1], hops[2],
           hops[3]);
    CHECK(hops[1] > 4 * (hops[2] + hops[3]));
    CHECK(hops[2] > 0);
    CHECK(hops[3] > 0);
    CHECK(zero > 0);
    /* observations per transmission near the target (7) */
    double per = (double)n / 4000.0;
    CHECK(per > 5.0 && per < 9.0);
    /* several observers per flood, most transmissions heard more than once */
    CHECK(q_int(db, "SELECT count(*) FROM (SELECT transmission_id FROM observations GROUP BY 1 HAVING "
                    "count(*) > 1)") > 2000);
    msn_buf_free(&b);
    free(pkt);
    free(link);
    free(obs_node);
    free(keys);
    sqlite3_close(db);
}

/* Shares of roles, the observers and node rows. */
static void test_nodes_and_observers(void)
{
    sqlite3 *db = open_ro(main_db());
    int64_t n = q_int(db, "SELECT count(*) FROM nodes");
    CHECK_EQ_INT(n, 160);
    int64_t rep = q_int(db, "SELECT count(*) FROM nodes WHERE role = 'repeater'");
    int64_t comp = q_int(db, "SELECT count(*) FROM nodes WHERE role = 'companion'");
    int64_t room = q_int(db, "SELECT count(*) FROM nodes WHERE role = 'room'");
    int64_t sens = q_int(db, "SELECT count(*) FROM nodes WHERE role = 'sensor'");
    printf("roles: %lld repeaters, %lld companions, %lld rooms, %lld sensors\n", (long long)rep,
           (long long)comp, (long long)room, (long long)sens);
    CHECK(rep > n / 2);
    CHECK(comp > room && room > sens && sens > 0);
    CHECK_EQ_INT(rep + comp + room + sens, n);
    /* advert_count = advert transmissions; names and positions as the adverts carry them */
    CHECK_EQ_INT(
        q_int(db, "SELECT count(*) FROM nodes n WHERE advert_count != (SELECT count(*) FROM transmissions"
                  " WHERE payload_type = 4 AND from_pubkey = n.public_key)"),
        0);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM nodes n WHERE NOT EXISTS (SELECT 1 FROM transmissions t"
                           " WHERE t.from_pubkey = n.public_key"
                           " AND json_extract(t.decoded_json, '$.name') = n.name"
                           " AND json_extract(t.decoded_json, '$.lat') IS n.lat"
                           " AND json_extract(t.decoded_json, '$.lon') IS n.lon)"),
                 0);
    CHECK(q_int(db, "SELECT count(*) FROM nodes WHERE lat IS NULL") > 0);
    CHECK(q_int(db, "SELECT count(*) FROM nodes WHERE lat IS NOT NULL") > n / 2);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM nodes WHERE role = 'sensor' AND battery_mv IS NULL"), 0);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM nodes WHERE public_key != lower(public_key)"
                           " OR length(public_key) != 64 OR first_seen > last_seen"),
                 0);
    /* observers: uppercase keys of nodes, mostly repeaters, rowid = observer_idx, IATA codes */
    int64_t m = q_int(db, "SELECT count(*) FROM observers");
    CHECK_EQ_INT(m, 18);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM observers o JOIN nodes n ON n.public_key = lower(o.id)"
                           " WHERE o.id = upper(o.id)"),
                 m);
    CHECK(q_int(db, "SELECT count(*) FROM observers o JOIN nodes n ON n.public_key = lower(o.id)"
                    " WHERE n.role = 'repeater'") > m / 2);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM observers WHERE length(iata) != 3 OR iata != upper(iata)"),
                 0);
    CHECK(q_int(db, "SELECT count(DISTINCT iata) FROM observers") >= 2);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM observers o WHERE packet_count !="
                           " (SELECT count(*) FROM observations WHERE observer_idx = o.rowid)"),
                 0);
    CHECK_EQ_INT(q_int(db,
                       "SELECT count(*) FROM observations o LEFT JOIN observers b ON b.rowid = o.observer_idx"
                       " WHERE b.id IS NULL"),
                 0);
    CHECK_EQ_INT(
        q_int(db, "SELECT count(*) FROM observers o WHERE last_seen !="
                  " (SELECT strftime('%Y-%m-%dT%H:%M:%SZ', max(timestamp), 'unixepoch') FROM observations"
                  " WHERE observer_idx = o.rowid)"),
        0);
    sqlite3_close(db);
}

/* last_seen = newest observation, timestamps spread with a daily rhythm. */
static void test_times(void)
{
    sqlite3 *db = open_ro(main_db());
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM transmissions t WHERE last_seen !="
                           " (SELECT max(timestamp) FROM observations WHERE transmission_id = t.id)"),
                 0);
    CHECK_EQ_INT(
        q_int(db, "SELECT count(*) FROM transmissions t WHERE first_seen !="
                  " (SELECT strftime('%Y-%m-%dT%H:%M:%SZ', min(timestamp), 'unixepoch') FROM observations"
                  " WHERE transmission_id = t.id)"),
        0);
    /* busiest hour of day at least twice the quietest */
    int64_t hi = q_int(
        db, "SELECT max(c) FROM (SELECT count(*) c FROM observations GROUP BY (timestamp / 3600) % 24)");
    int64_t lo = q_int(
        db, "SELECT min(c) FROM (SELECT count(*) c FROM observations GROUP BY (timestamp / 3600) % 24)");
    CHECK(hi > 2 * lo);
    CHECK(q_int(db, "SELECT min(timestamp) FROM observations") >= END - 3 * 86400);
    CHECK(q_int(db, "SELECT max(timestamp) FROM observations") < END + 120);
    sqlite3_close(db);
}

/* neighbor_edges re-derived here from the stored rows with the §7 rules. */
static void test_neighbor_edges_rules(void)
{
    sqlite3 *db = open_ro(main_db());
    CHECK_EQ_INT(q_int(db,
                       "SELECT count(*) FROM neighbor_edges WHERE node_a >= node_b OR node_a != lower(node_a)"
                       " OR node_b != lower(node_b) OR length(node_a) != 64 OR length(node_b) != 64"),
                 0);
    /* every edge is a real radio link */
    CHECK_EQ_INT(
        q_int(db, "SELECT count(*) FROM neighbor_edges e JOIN _gen_nodes a ON a.public_key = e.node_a"
                  " JOIN _gen_nodes b ON b.public_key = e.node_b WHERE NOT EXISTS (SELECT 1 FROM _gen_links l"
                  " WHERE (l.a = a.idx AND l.b = b.idx) OR (l.a = b.idx AND l.b = a.idx))"),
        0);
    /* unique-prefix resolution over all nodes: a resolver without an originator */
    msn_pathres_t *pr = msn_pathres_new();
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT public_key FROM nodes", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW)
        msn_pathres_add_node(pr, col(st, 0));
    sqlite3_finalize(st);
    msn_pathres_finish(pr);
    /* accumulate (a|b) -> count, last in a temp table of an in-memory database */
    sqlite3 *mem = NULL;
    sqlite3_open(":memory:", &mem);
    sqlite3_exec(mem, "CREATE TABLE e (a TEXT, b TEXT, count INTEGER, last INTEGER, PRIMARY KEY (a, b))",
                 NULL, NULL, NULL);
    sqlite3_stmt *up = NULL;
    sqlite3_prepare_v2(mem,
                       "INSERT INTO e VALUES (?,?,1,?) ON CONFLICT (a, b) DO UPDATE SET count = count + 1,"
                       " last = max(last, excluded.last)",
                       -1, &up, NULL);
    sqlite3_prepare_v2(
        db,
        "SELECT t.payload_type, coalesce(t.from_pubkey, ''), o.path_json, lower(coalesce(b.id, '')),"
        " o.timestamp FROM observations o JOIN transmissions t ON t.id = o.transmission_id"
        " LEFT JOIN observers b ON b.rowid = o.observer_idx",
        -1, &st, NULL);
    sqlite3_exec(mem, "BEGIN", NULL, NULL, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int advert = sqlite3_column_int(st, 0) == 4;
        const char *from = col(st, 1), *pj = col(st, 2), *obs = col(st, 3);
        int64_t ts = sqlite3_column_int64(st, 4);
        char hops[80][20];
        int n = 0;
        for (const char *p = strchr(pj, '"'); p != NULL && n < 80; p = strchr(p + 1, '"')) {
            const char *e = strchr(p + 1, '"');
            snprintf(hops[n++], sizeof(hops[0]), "%.*s", (int)(e - p - 1), p + 1);
            p = e;
        }
        const char *pair[3][2];
        int np = 0;
        if (n == 0) {
            if (advert && from[0] && obs[0] && strcmp(from, obs) != 0) {
                pair[np][0] = from;
                pair[np++][1] = obs;
            }
        } else {
            const char *h0 = hops[0], *hl = hops[n - 1], *r0 = NULL, *rl = NULL;
            msn_pathres_resolve(pr, NULL, &h0, 1, &r0);
            msn_pathres_resolve(pr, NULL, &hl, 1, &rl);
            if (advert && from[0] && r0 && strcmp(r0, from) != 0) {
                pair[np][0] = from;
                pair[np++][1] = r0;
            }
            if (obs[0] && rl && strcmp(rl, obs) != 0) {
                pair[np][0] = obs;
                pair[np++][1] = rl;
            }
        }
        for (int k = 0; k < np; k++) {
            const char *a = pair[k][0], *b = pair[k][1];
            if (strcmp(a, b) > 0) {
                const char *t = a;
                a = b;
                b = t;
            }
            sqlite3_bind_text(up, 1, a, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(up, 2, b, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(up, 3, ts);
            sqlite3_step(up);
            sqlite3_reset(up);
        }
    }
    sqlite3_exec(mem, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    /* the 5-day prune: with a 3-day window nothing is older than 5 days */
    int64_t want = 0, match = 0;
    sqlite3_prepare_v2(mem, "SELECT a, b, count, strftime('%Y-%m-%dT%H:%M:%SZ', last, 'unixepoch') FROM e",
                       -1, &st, NULL);
    sqlite3_stmt *look = NULL;
    sqlite3_prepare_v2(db, "SELECT count, last_seen FROM neighbor_edges WHERE node_a = ? AND node_b = ?", -1,
                       &look, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        want++;
        sqlite3_bind_text(look, 1, col(st, 0), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(look, 2, col(st, 1), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(look) == SQLITE_ROW &&
            sqlite3_column_int64(look, 0) == sqlite3_column_int64(st, 2) &&
            strcmp(col(look, 1), col(st, 3)) == 0)
            match++;
        sqlite3_reset(look);
    }
    sqlite3_finalize(look);
    sqlite3_finalize(st);
    CHECK(want > 50);
    CHECK_EQ_INT(match, want);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM neighbor_edges"), want);
    sqlite3_close(mem);
    msn_pathres_free(pr);
    sqlite3_close(db);
}

/* resolved_path: §4.2 with the final nodes and edges, and never a wrong key. */
static void test_resolved_paths(void)
{
    sqlite3 *db = open_ro(main_db());
    msn_pathres_t *pr = msn_pathres_new();
    char err[256];
    CHECK_EQ_INT(msn_pathres_load_sqlite(pr, db, err, sizeof(err)), 0);
    /* the stored value is what the resolver computes from the stored rows */
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db,
                       "SELECT o.path_json, o.resolved_path, t.from_pubkey FROM observations o"
                       " JOIN transmissions t ON t.id = o.transmission_id ORDER BY o.id",
                       -1, &st, NULL);
    msn_buf_t b = MSN_BUF_INIT;
    long differ = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *pj = col(st, 0);
        msn_buf_reset(&b);
        int r = msn_pathres_resolve_json(pr, (const char *)sqlite3_column_text(st, 2), pj, strlen(pj), &b);
        const char *stored = (const char *)sqlite3_column_text(st, 1);
        if (r == 1 ? (stored == NULL || strcmp(stored, msn_buf_cstr(&b)) != 0) : stored != NULL)
            differ++;
    }
    sqlite3_finalize(st);
    CHECK_EQ_INT(differ, 0);
    /* every resolved hop is the true node */
    int64_t hops = q_int(db, "SELECT sum(json_array_length(path_json)) FROM observations");
    int64_t resolved = q_int(db, "SELECT count(*) FROM observations o, json_each(o.resolved_path) r"
                                 " WHERE r.value IS NOT NULL");
    int64_t right = q_int(
        db, "SELECT count(*) FROM observations o, json_each(o.resolved_path) r"
            " JOIN _gen_truth_keys k ON k.observation_id = o.id"
            " WHERE r.value IS NOT NULL AND r.value = json_extract(k.route_json, '$[' || r.key || ']')");
    printf("resolved_path: %lld of %lld hops resolved (%.1f%%), %lld wrong\n", (long long)resolved,
           (long long)hops, 100.0 * (double)resolved / (double)(hops ? hops : 1),
           (long long)(resolved - right));
    CHECK(resolved > 1000);
    CHECK_EQ_INT(right, resolved);
    CHECK_EQ_INT(q_int(db, "SELECT value FROM _gen_info WHERE key = 'hops_wrong'"), 0);
    CHECK_EQ_INT(q_int(db, "SELECT value FROM _gen_info WHERE key = 'hops_resolved'"), resolved);
    /* NULL for empty paths; never an all-null array; one entry per hop */
    CHECK_EQ_INT(
        q_int(db, "SELECT count(*) FROM observations WHERE path_json = '[]' AND resolved_path IS NOT NULL"),
        0);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM observations WHERE resolved_path IS NOT NULL AND"
                           " json_array_length(resolved_path) != json_array_length(path_json)"),
                 0);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM observations WHERE resolved_path IS NOT NULL AND NOT EXISTS"
                           " (SELECT 1 FROM json_each(resolved_path) WHERE value IS NOT NULL)"),
                 0);
    msn_buf_free(&b);
    msn_pathres_free(pr);
    sqlite3_close(db);
}

/* --empty-backfill: the same rows, with resolved_path NULL and last_seen 0. */
static void test_empty_backfill(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/empty.db", dir);
    msn_gen_params_t p;
    params(&p, path, 7);
    p.empty_backfill = 1;
    char err[512];
    CHECK_EQ_INT(msn_gen_run(&p, NULL, err, sizeof(err)), 0);
    sqlite3 *db = open_ro(path);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM observations WHERE resolved_path IS NOT NULL"), 0);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM transmissions WHERE last_seen != 0"), 0);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM transmissions"), 4000);
    sqlite3_close(db);
    const char *skip = ",observations.resolved_path,transmissions.last_seen,_gen_info.value,";
    CHECK(db_checksum(path, skip) == db_checksum(main_db(), skip));
}

/* Refuses to overwrite; --force replaces. */
static void test_refuses_existing_file(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/exists.db", dir);
    FILE *f = fopen(path, "w");
    fputs("keep me", f);
    fclose(f);
    msn_gen_params_t p;
    params(&p, path, 5);
    p.transmissions = 300;
    p.nodes = 40;
    p.observers = 5;
    char err[512] = "";
    CHECK_EQ_INT(msn_gen_run(&p, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "exists") != NULL);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && sb.st_size == 7);
    p.force = 1;
    CHECK_EQ_INT(msn_gen_run(&p, NULL, err, sizeof(err)), 0);
    sqlite3 *db = open_ro(path);
    CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM transmissions"), 300);
    sqlite3_close(db);
    /* bad parameters */
    p.nodes = 2;
    CHECK_EQ_INT(msn_gen_run(&p, NULL, err, sizeof(err)), -1);
    params(&p, path, 5);
    p.nodes = 500;
    p.transmissions = 100; /* fewer than one advert per node */
    p.force = 1;
    CHECK_EQ_INT(msn_gen_run(&p, NULL, err, sizeof(err)), -1);
    CHECK(stat(path, &sb) != 0); /* a failed run leaves no file */
}

static void test_command_line(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/cli.db", dir);
    char *ok[] = {"gen",
                  "--db",
                  path,
                  "--nodes",
                  "40",
                  "--observers=6",
                  "--transmissions",
                  "500",
                  "--obs-per-tx",
                  "4",
                  "--days",
                  "1",
                  "--seed",
                  "3",
                  "--end",
                  "2026-06-01T00:00:00Z",
                  "--quiet",
                  NULL};
    CHECK_EQ_INT(msn_cli_gen(17, ok), 0);
    sqlite3 *db = open_ro(path);
    CHECK(q_int(db, "SELECT max(timestamp) FROM observations") <= 1780272000 + 120);
    CHECK(q_int(db, "SELECT min(timestamp) FROM observations") >= 1780272000 - 86400);
    sqlite3_close(db);
    CHECK_EQ_INT(msn_cli_gen(17, ok), 1); /* exists */
    char *bad1[] = {"gen", "--db", path, "--nodes", "x", NULL};
    CHECK_EQ_INT(msn_cli_gen(5, bad1), 2);
    char *bad2[] = {"gen", "--nodes", "40", NULL};
    CHECK_EQ_INT(msn_cli_gen(3, bad2), 2);
    char *bad3[] = {"gen", "--db", path, "--frobnicate", "1", NULL};
    CHECK_EQ_INT(msn_cli_gen(5, bad3), 2);
    char *bad4[] = {"gen", "--db", path, "--end", "yesterday", NULL};
    CHECK_EQ_INT(msn_cli_gen(5, bad4), 2);
}

/* The render's contract (gen_int.h): further attempts vary the packet, whatever its kind
 * (a random draw may repeat once; eight in a row may not). An advert draws nothing at
 * random, and used to render the same bytes at every attempt: a node that advertised twice
 * in one second stopped `gen` at larger sizes ("no unique hash"). */
static void test_attempt_changes_the_hash(void)
{
    msn_gen_params_t p;
    params(&p, "unused", 7);
    gen_world_t w;
    char err[256] = "";
    if (msn_gen__world_build(&w, &p, err, sizeof(err)) < 0) {
        fprintf(stderr, "world: %s\n", err);
        CHECK(0);
        return;
    }
    gen_renderer_t *rr = msn_gen__renderer_new(&w);
    gen_plan_t pl;
    msn_gen__plan_init(&pl);
    int tried[N_KINDS] = {0}, kinds = 0;
    for (long i = 0; i < w.n_slots && kinds < N_KINDS; i++) {
        int k = w.slot_kind[i];
        if (tried[k])
            continue;
        tried[k] = 1;
        kinds++;
        msn_gen__plan(&w, i, &pl);
        gen_render_t a, b;
        CHECK_EQ_INT(msn_gen__render(rr, &w, &pl, 0, &a), 0);
        int varied = 0;
        for (int attempt = 1; attempt <= 8 && !varied; attempt++) {
            CHECK_EQ_INT(msn_gen__render(rr, &w, &pl, attempt, &b), 0);
            varied = strcmp(a.hash, b.hash) != 0;
        }
        if (!varied) {
            fprintf(stderr, "kind %d (slot %ld): attempts 1-8 render hash %s again\n", k, i, a.hash);
            CHECK(0);
        }
    }
    CHECK(tried[K_ADVERT]);
    msn_gen__plan_free(&pl);
    msn_gen__renderer_free(rr);
    msn_gen__world_free(&w);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s", msn_test_tmpdir("gen"));
    MSN_RUN(test_same_seed_same_database);
    MSN_RUN(test_schema_is_current);
    MSN_RUN(test_transmissions_decode);
    MSN_RUN(test_observations_follow_the_radio_graph);
    MSN_RUN(test_nodes_and_observers);
    MSN_RUN(test_times);
    MSN_RUN(test_neighbor_edges_rules);
    MSN_RUN(test_resolved_paths);
    MSN_RUN(test_empty_backfill);
    MSN_RUN(test_refuses_existing_file);
    MSN_RUN(test_command_line);
    MSN_RUN(test_attempt_changes_the_hash);
    int rc = msn_test_done();
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (rc == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
