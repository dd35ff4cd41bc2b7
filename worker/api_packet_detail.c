/*
 * api_packet_detail.c: GET /api/packets/{hash|id} (a transmission by content hash or id,
 * or the observation with that id), and the observation objects of a transmission, which
 * /api/packets?expand=observations and /api/nodes/{pubkey} share.
 *
 * Observation objects are rendered per request from the `obs` records (snapshot.h) and
 * the `orow` record of their observer.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "shm/json.h"
#include "shm/jsonr.h"
#include "shm/timeutil.h"

static void str_or_null(msn_buf_t *b, msn_sv_t s)
{
    if (s.p)
        msn_json_strn(b, s.p, s.len);
    else
        msn_buf_puts(b, "null");
}

static void num_or_null(msn_buf_t *b, int has, double v)
{
    if (has)
        msn_json_double(b, v);
    else
        msn_buf_puts(b, "null");
}

static void hex_key(msn_buf_t *b, const uint8_t key[32])
{
    static const char hx[] = "0123456789abcdef";
    char hex[66];
    hex[0] = '"';
    for (int j = 0; j < 32; j++) {
        hex[1 + 2 * j] = hx[key[j] >> 4];
        hex[2 + 2 * j] = hx[key[j] & 15];
    }
    hex[65] = '"';
    msn_buf_append(b, hex, 66);
}

/* Appends observation o of transmission t as CoreScope's observation object. */
static void render_obs(msn_api_req_t *r, msn_buf_t *b, const msn_snaprec_obs_t *o, const msn_snaprec_tx_t *t,
                       int with_tx_id)
{
    msn_snaprec_orow_t ob = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    if (o->has_observer && o->observer_rowid >= 0 &&
        msn_snap_orow_get(r->txn, r->snap, o->observer_rowid, &ob) != 0)
        memset(&ob, 0, sizeof(ob));
    msn_buf_printf(b, "{\"id\":%lld", (long long)o->id);
    if (with_tx_id)
        msn_buf_printf(b, ",\"transmission_id\":%lld", (long long)o->tx_id);
    msn_buf_puts(b, ",\"hash\":");
    str_or_null(b, t->hash);
    msn_buf_puts(b, ",\"observer_id\":");
    str_or_null(b, ob.id);
    msn_buf_puts(b, ",\"observer_name\":");
    str_or_null(b, ob.name);
    msn_buf_puts(b, ",\"observer_iata\":");
    str_or_null(b, ob.iata);
    msn_buf_puts(b, ",\"snr\":");
    num_or_null(b, o->has_snr, o->snr);
    msn_buf_puts(b, ",\"rssi\":");
    num_or_null(b, o->has_rssi, o->rssi);
    msn_buf_puts(b, ",\"path_json\":");
    str_or_null(b, o->path_json);
    if (o->has_rp) {
        msn_buf_puts(b, ",\"resolved_path\":[");
        for (uint32_t i = 0; i < o->rp_n; i++) {
            if (i)
                msn_buf_putc(b, ',');
            if (o->rp[i])
                hex_key(b, o->rp[i]);
            else
                msn_buf_puts(b, "null");
        }
        msn_buf_putc(b, ']');
    }
    if (o->direction.p) {
        msn_buf_puts(b, ",\"direction\":");
        msn_json_strn(b, o->direction.p, o->direction.len);
    }
    const msn_sv_t *raw = o->raw_kind == MSN_OBS_RAW_TX    ? &t->raw_hex
                          : o->raw_kind == MSN_OBS_RAW_OWN ? &o->raw_hex
                                                           : NULL;
    if (raw && raw->p) {
        msn_buf_puts(b, ",\"raw_hex\":");
        msn_json_strn(b, raw->p, raw->len);
    }
    char iso[32];
    msn_format_iso_ms(iso, o->timestamp_s * 1000);
    msn_buf_printf(b, ",\"timestamp\":\"%s\"}", iso);
}

/* Appends the observations of transmission id as a JSON array. Returns their count. */
static int64_t render_obs_list(msn_api_req_t *r, msn_buf_t *b, uint64_t id, const msn_snaprec_tx_t *t)
{
    MDB_cursor *c;
    int64_t n = 0;
    msn_buf_putc(b, '[');
    if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_OBS], &c) == 0) {
        msn_snap_key_t start;
        msn_snap_obs_key(id, 0, &start);
        MDB_val k = msn_snap_key_val(&start), v;
        uint64_t tx_id, obs_id;
        msn_snaprec_obs_t o;
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
             rc == 0 && msn_snap_obs_key_parse(k.mv_data, k.mv_size, &tx_id, &obs_id) == 0 && tx_id == id;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (msn_snap_note(r->snap, msn_snaprec_obs_decode(v.mv_data, v.mv_size, &o)) != 0)
                continue;
            if (n)
                msn_buf_putc(b, ',');
            render_obs(r, b, &o, t, 1);
            n++;
        }
        mdb_cursor_close(c);
    }
    msn_buf_putc(b, ']');
    return n;
}

static void hop_cb(void *ctx, int idx, const char *s, size_t n)
{
    msn_buf_t *b = ctx;
    if (idx > 0)
        msn_buf_putc(b, ',');
    if (s)
        msn_json_strn(b, s, n);
    else
        msn_buf_puts(b, "null");
}

int64_t msn_api_obs_array(msn_api_req_t *r, msn_buf_t *b, uint64_t id)
{
    msn_snaprec_tx_t t;
    if (msn_snap_tx_get(r->txn, r->snap, id, &t) != 0) {
        msn_buf_puts(b, "[]");
        return 0;
    }
    return render_obs_list(r, b, id, &t);
}

int msn_api_tx_with_observations(msn_api_req_t *r, msn_buf_t *b, uint64_t id)
{
    msn_snaprec_tx_t t;
    if (msn_snap_tx_get(r->txn, r->snap, id, &t) != 0 || t.fragment.len < 2)
        return -1;
    msn_buf_append(b, t.fragment.p, t.fragment.len - 1); /* reopen the object */
    msn_buf_puts(b, ",\"observations\":");
    render_obs_list(r, b, id, &t);
    msn_buf_putc(b, '}');
    return 0;
}

/* Finds what idtext names: a content hash (16 hex), a transmission id, or an observation
 * id. Returns 0 (not found), 1 (a transmission: *id) or 2 (an observation: *obs_id of
 * transmission *id). */
static int lookup(msn_api_req_t *r, const char *idtext, uint64_t *id, uint64_t *obs_id)
{
    size_t n = strlen(idtext);
    int is_hash = n == 16;
    for (size_t i = 0; i < n && is_hash; i++)
        is_hash = isxdigit((unsigned char)idtext[i]) != 0;
    if (is_hash && msn_snap_hash_get(r->txn, r->snap, idtext, n, id) == 0)
        return 1;
    /* an id is decimal digits only: no sign, no blanks, nothing after them */
    int digits = n > 0 && n <= 20;
    for (size_t i = 0; i < n && digits; i++)
        digits = idtext[i] >= '0' && idtext[i] <= '9';
    if (!digits)
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(idtext, &end, 10);
    if (errno == ERANGE)
        return 0;
    msn_snaprec_tx_t t;
    if (msn_snap_tx_get(r->txn, r->snap, x, &t) == 0) {
        *id = x;
        return 1;
    }
    if (msn_snap_oid_get(r->txn, r->snap, x, id) == 0) {
        *obs_id = x;
        return 2;
    }
    return 0;
}

void msn_api_packet_detail(msn_api_req_t *r, const char *idtext)
{
    uint64_t id = 0, obs_id = 0;
    int found = lookup(r, idtext, &id, &obs_id);
    msn_snaprec_tx_t t;
    if (!found || msn_snap_tx_get(r->txn, r->snap, id, &t) != 0 || t.fragment.len < 2) {
        msn_api_error(r, 404, "Not found");
        return;
    }
    msn_buf_t *b = r->body;
    msn_buf_t obs = MSN_BUF_INIT;
    int64_t count = render_obs_list(r, &obs, id, &t);
    msn_buf_puts(b, "{\"packet\":");
    msn_snaprec_obs_t o;
    if (found == 2 && msn_snap_obs_get(r->txn, r->snap, id, obs_id, &o) == 0) {
        /* observation-centred: that observation plus the transmission's fields */
        render_obs(r, b, &o, &t, 1);
        b->len--; /* reopen the object */
        msn_buf_printf(b, ",\"payload_type\":%lld,\"route_type\":%lld,\"decoded_json\":",
                       (long long)t.payload_type, (long long)t.route_type);
        str_or_null(b, t.decoded_json);
        msn_buf_puts(b, ",\"observations\":");
        msn_buf_append(b, obs.data, obs.len);
        msn_buf_putc(b, '}');
    } else if (found == 2) {
        msn_buf_puts(b, "null");
    } else {
        msn_buf_append(b, t.fragment.p, t.fragment.len - 1);
        msn_buf_puts(b, ",\"observations\":");
        msn_buf_append(b, obs.data, obs.len);
        msn_buf_putc(b, '}');
    }
    msn_buf_puts(b, ",\"path\":[");
    if (t.best_path_json.p)
        msn_json_str_array_each(t.best_path_json.p, t.best_path_json.len, hop_cb, b);
    msn_buf_printf(b, "],\"observation_count\":%lld", (long long)(count > 0 ? count : 1));
    if (count > 0) {
        msn_buf_puts(b, ",\"observations\":");
        msn_buf_append(b, obs.data, obs.len);
    }
    msn_buf_putc(b, '}');
    msn_buf_free(&obs);
    r->status = 200;
}
