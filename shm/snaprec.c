/* snaprec.c: see snaprec.h. */
#include "snaprec.h"

#include <string.h>

#include "etag.h"
#include "mpk.h"

const char *msn_snaprec_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "no error";
    case MSN_SNAPREC_ESHAPE:
        return "not a snapshot record (wrong container, cut short or trailing bytes)";
    case MSN_SNAPREC_EFIELDS:
        return "the record has another field count than this binary's layout (another snapshot format)";
    case MSN_SNAPREC_ETYPE:
        return "a field of the record has another type than this binary's layout";
    case MSN_SNAPREC_ECHECKSUM:
        return "the record does not match its checksum (the snapshot is damaged)";
    default:
        return "unknown snapshot record error";
    }
}

msn_sv_t msn_sv(const char *s)
{
    msn_sv_t v = {s, s ? strlen(s) : 0};
    return v;
}

/* ---- checksums ---- */

uint32_t msn_snaprec_sum32(const void *data, size_t len)
{
    uint64_t h = msn_hash64(data, len);
    return (uint32_t)(h ^ (h >> 32));
}

/* The checksum of a key and a value together. */
static uint32_t sum_kv(const void *key, size_t klen, const void *val, size_t vlen)
{
    uint64_t hk = msn_hash64(key, klen), hv = msn_hash64(val, vlen);
    uint64_t h = (hk * 0x9E3779B185EBCA87ull) ^ hv;
    h ^= h >> 29;
    return (uint32_t)(h ^ (h >> 32));
}

#define SEAL_LEN 5 /* msgpack uint32: 0xce + 4 bytes big-endian */

/* Appends the seal of the bytes written since start. */
static void seal(msgpack_sbuffer *sb, size_t start)
{
    uint32_t c = msn_snaprec_sum32(sb->data + start, sb->size - start);
    uint8_t t[SEAL_LEN] = {0xce, (uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    msgpack_sbuffer_write(sb, (const char *)t, SEAL_LEN);
}

/* Checks the seal at the end of a value and takes it off *len. */
static int unseal(const void *val, size_t *len)
{
    const uint8_t *p = val;
    if (*len <= SEAL_LEN)
        return MSN_SNAPREC_ESHAPE;
    const uint8_t *t = p + *len - SEAL_LEN;
    uint32_t c = ((uint32_t)t[1] << 24) | ((uint32_t)t[2] << 16) | ((uint32_t)t[3] << 8) | t[4];
    if (t[0] != 0xce || c != msn_snaprec_sum32(p, *len - SEAL_LEN))
        return MSN_SNAPREC_ECHECKSUM;
    *len -= SEAL_LEN;
    return 0;
}

/* ---- encoding ---- */

static void pk_init(msgpack_packer *pk, msgpack_sbuffer *sb)
{
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
}

static void put_str(msgpack_packer *pk, msn_sv_t s)
{
    if (s.p == NULL) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_str(pk, s.len);
    msgpack_pack_str_body(pk, s.p, s.len);
}

static void put_bin(msgpack_packer *pk, const void *p, size_t len)
{
    msgpack_pack_bin(pk, len);
    if (len)
        msgpack_pack_bin_body(pk, p, len);
}

static void put_f64(msgpack_packer *pk, int has, double v)
{
    if (has)
        msgpack_pack_double(pk, v);
    else
        msgpack_pack_nil(pk);
}

/* ---- decoding: each reader consumes one field or returns a MSN_SNAPREC_E* code ---- */

#define TRY(expr)                                                                                            \
    do {                                                                                                     \
        int _rc = (expr);                                                                                    \
        if (_rc != 0)                                                                                        \
            return _rc;                                                                                      \
    } while (0)

/* A failed read: the value ended (ESHAPE) or the next field is something else (ETYPE). */
static int fail(const msn_mpk_reader_t *r)
{
    return msn_mpk_peek(r) == MSN_MPK_END ? MSN_SNAPREC_ESHAPE : MSN_SNAPREC_ETYPE;
}

/* Opens an array that is not a record of its own (a document body). */
static int open_plain_array(msn_mpk_reader_t *r, const void *val, size_t len, uint32_t want)
{
    uint32_t n;
    msn_mpk_reader_init(r, val, len);
    if (msn_mpk_read_array(r, &n) < 0)
        return MSN_SNAPREC_ESHAPE;
    return n == want ? 0 : MSN_SNAPREC_EFIELDS;
}

/* Opens a sealed record (its checksum checked first). */
static int open_array(msn_mpk_reader_t *r, const void *val, size_t len, uint32_t want)
{
    uint32_t n;
    int rc = unseal(val, &len);
    if (rc != 0)
        return rc;
    msn_mpk_reader_init(r, val, len);
    if (msn_mpk_read_array(r, &n) < 0)
        return MSN_SNAPREC_ESHAPE;
    return n == want ? 0 : MSN_SNAPREC_EFIELDS;
}

static int at_end(const msn_mpk_reader_t *r)
{
    return r->p == r->end ? 0 : MSN_SNAPREC_ESHAPE;
}

static int get_int(msn_mpk_reader_t *r, int64_t *v)
{
    return msn_mpk_read_int(r, v) == 0 ? 0 : fail(r);
}

static int get_int_or_nil(msn_mpk_reader_t *r, int64_t *v, uint8_t *has)
{
    *has = 0;
    *v = 0;
    if (msn_mpk_peek(r) == MSN_MPK_NIL)
        return msn_mpk_read_nil(r);
    TRY(get_int(r, v));
    *has = 1;
    return 0;
}

static int get_f64_or_nil(msn_mpk_reader_t *r, double *v, uint8_t *has)
{
    *has = 0;
    *v = 0;
    if (msn_mpk_peek(r) == MSN_MPK_NIL)
        return msn_mpk_read_nil(r);
    if (msn_mpk_read_double(r, v) < 0)
        return fail(r);
    *has = 1;
    return 0;
}

static int get_str_or_nil(msn_mpk_reader_t *r, msn_sv_t *s)
{
    uint32_t n;
    s->p = NULL;
    s->len = 0;
    if (msn_mpk_peek(r) == MSN_MPK_NIL)
        return msn_mpk_read_nil(r);
    if (msn_mpk_read_str(r, &s->p, &n) < 0)
        return fail(r);
    s->len = n;
    return 0;
}

static int get_bin(msn_mpk_reader_t *r, msn_sv_t *s)
{
    uint32_t n;
    if (msn_mpk_read_bin(r, &s->p, &n) < 0)
        return fail(r);
    s->len = n;
    return 0;
}

/* ---- tx ---- */

void msn_snaprec_tx_encode(msgpack_sbuffer *sb, const msn_snaprec_tx_t *t)
{
    size_t start = sb->size;
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_array(&pk, MSN_TXF_COUNT);
    put_bin(&pk, t->fragment.p, t->fragment.len);
    msgpack_pack_int64(&pk, t->first_seen_ms);
    msgpack_pack_int64(&pk, t->payload_type);
    msgpack_pack_int64(&pk, t->route_type);
    put_str(&pk, t->hash);
    put_str(&pk, t->raw_hex);
    put_str(&pk, t->decoded_json);
    put_str(&pk, t->best_path_json);
    msgpack_pack_int64(&pk, t->obs_count);
    put_bin(&pk, t->grouped_fragment.p, t->grouped_fragment.len);
    msgpack_pack_int64(&pk, t->latest_ms);
    seal(sb, start);
}

int msn_snaprec_tx_decode(const void *val, size_t len, msn_snaprec_tx_t *t)
{
    msn_mpk_reader_t r;
    TRY(open_array(&r, val, len, MSN_TXF_COUNT));
    TRY(get_bin(&r, &t->fragment));
    TRY(get_int(&r, &t->first_seen_ms));
    TRY(get_int(&r, &t->payload_type));
    TRY(get_int(&r, &t->route_type));
    TRY(get_str_or_nil(&r, &t->hash));
    TRY(get_str_or_nil(&r, &t->raw_hex));
    TRY(get_str_or_nil(&r, &t->decoded_json));
    TRY(get_str_or_nil(&r, &t->best_path_json));
    TRY(get_int(&r, &t->obs_count));
    TRY(get_bin(&r, &t->grouped_fragment));
    TRY(get_int(&r, &t->latest_ms));
    return at_end(&r);
}

/* ---- obs ---- */

void msn_snaprec_obs_encode(msgpack_sbuffer *sb, const msn_snaprec_obs_t *o)
{
    size_t start = sb->size;
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_array(&pk, MSN_OBSF_COUNT);
    msgpack_pack_int64(&pk, o->id);
    msgpack_pack_int64(&pk, o->tx_id);
    if (o->has_observer)
        msgpack_pack_int64(&pk, o->observer_rowid);
    else
        msgpack_pack_nil(&pk);
    put_str(&pk, o->direction);
    put_f64(&pk, o->has_snr, o->snr);
    put_f64(&pk, o->has_rssi, o->rssi);
    put_f64(&pk, o->has_score, o->score);
    put_str(&pk, o->path_json);
    msgpack_pack_int64(&pk, o->timestamp_s);
    if (!o->has_rp) {
        msgpack_pack_nil(&pk);
    } else {
        uint32_t n = o->rp_n < MSN_SNAPREC_RP_MAX ? o->rp_n : MSN_SNAPREC_RP_MAX;
        msgpack_pack_array(&pk, n);
        for (uint32_t i = 0; i < n; i++) {
            if (o->rp[i] == NULL)
                msgpack_pack_nil(&pk);
            else
                put_bin(&pk, o->rp[i], 32);
        }
    }
    switch (o->raw_kind) {
    case MSN_OBS_RAW_TX:
        msgpack_pack_true(&pk);
        break;
    case MSN_OBS_RAW_OWN:
        put_str(&pk, o->raw_hex.p ? o->raw_hex : msn_sv(""));
        break;
    default:
        msgpack_pack_nil(&pk);
        break;
    }
    seal(sb, start);
}

static int get_resolved_path(msn_mpk_reader_t *r, msn_snaprec_obs_t *o)
{
    uint32_t n;
    o->has_rp = 0;
    o->rp_n = 0;
    if (msn_mpk_peek(r) == MSN_MPK_NIL)
        return msn_mpk_read_nil(r);
    if (msn_mpk_read_array(r, &n) < 0)
        return fail(r);
    if (n > MSN_SNAPREC_RP_MAX)
        return MSN_SNAPREC_ETYPE;
    for (uint32_t i = 0; i < n; i++) {
        msn_sv_t k;
        if (msn_mpk_peek(r) == MSN_MPK_NIL) {
            msn_mpk_read_nil(r);
            o->rp[i] = NULL;
            continue;
        }
        TRY(get_bin(r, &k));
        if (k.len != 32)
            return MSN_SNAPREC_ETYPE;
        o->rp[i] = (const uint8_t *)k.p;
    }
    o->has_rp = 1;
    o->rp_n = n;
    return 0;
}

int msn_snaprec_obs_decode(const void *val, size_t len, msn_snaprec_obs_t *o)
{
    msn_mpk_reader_t r;
    TRY(open_array(&r, val, len, MSN_OBSF_COUNT));
    TRY(get_int(&r, &o->id));
    TRY(get_int(&r, &o->tx_id));
    TRY(get_int_or_nil(&r, &o->observer_rowid, &o->has_observer));
    TRY(get_str_or_nil(&r, &o->direction));
    TRY(get_f64_or_nil(&r, &o->snr, &o->has_snr));
    TRY(get_f64_or_nil(&r, &o->rssi, &o->has_rssi));
    TRY(get_f64_or_nil(&r, &o->score, &o->has_score));
    TRY(get_str_or_nil(&r, &o->path_json));
    TRY(get_int(&r, &o->timestamp_s));
    TRY(get_resolved_path(&r, o));
    o->raw_hex.p = NULL;
    o->raw_hex.len = 0;
    int b;
    if (msn_mpk_peek(&r) == MSN_MPK_BOOL) {
        msn_mpk_read_bool(&r, &b);
        if (!b)
            return MSN_SNAPREC_ETYPE;
        o->raw_kind = MSN_OBS_RAW_TX;
    } else {
        TRY(get_str_or_nil(&r, &o->raw_hex));
        o->raw_kind = o->raw_hex.p ? MSN_OBS_RAW_OWN : MSN_OBS_RAW_NONE;
    }
    return at_end(&r);
}

/* ---- node ---- */

void msn_snaprec_node_encode(msgpack_sbuffer *sb, const msn_snaprec_node_t *n)
{
    size_t start = sb->size;
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_array(&pk, MSN_NODEF_COUNT);
    put_bin(&pk, n->fragment.p, n->fragment.len);
    put_bin(&pk, n->base.p, n->base.len);
    seal(sb, start);
}

int msn_snaprec_node_decode(const void *val, size_t len, msn_snaprec_node_t *n)
{
    msn_mpk_reader_t r;
    TRY(open_array(&r, val, len, MSN_NODEF_COUNT));
    TRY(get_bin(&r, &n->fragment));
    TRY(get_bin(&r, &n->base));
    return at_end(&r);
}

/* ---- orow ---- */

void msn_snaprec_orow_encode(msgpack_sbuffer *sb, const msn_snaprec_orow_t *o)
{
    size_t start = sb->size;
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_array(&pk, MSN_OROWF_COUNT);
    put_str(&pk, o->id);
    put_str(&pk, o->name);
    put_str(&pk, o->iata);
    seal(sb, start);
}

int msn_snaprec_orow_decode(const void *val, size_t len, msn_snaprec_orow_t *o)
{
    msn_mpk_reader_t r;
    TRY(open_array(&r, val, len, MSN_OROWF_COUNT));
    TRY(get_str_or_nil(&r, &o->id));
    TRY(get_str_or_nil(&r, &o->name));
    TRY(get_str_or_nil(&r, &o->iata));
    return at_end(&r);
}

/* ---- nodes.index ---- */

void msn_snaprec_nidx_encode(msgpack_sbuffer *sb, const msn_snaprec_nrec_t *recs, uint32_t n,
                             const uint32_t *by_name, const uint32_t *by_advert_count,
                             const int64_t counts[MSN_NIDX_ROLES])
{
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_array(&pk, MSN_NIDXF_COUNT);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        const msn_snaprec_nrec_t *x = &recs[i];
        msgpack_pack_array(&pk, MSN_NRECF_COUNT);
        put_str(&pk, x->public_key);
        put_str(&pk, x->name);
        put_str(&pk, x->role);
        msgpack_pack_int64(&pk, x->last_seen_ms);
        msgpack_pack_int64(&pk, x->first_seen_ms);
        msgpack_pack_int64(&pk, x->advert_count);
    }
    const uint32_t *orders[2] = {by_name, by_advert_count};
    for (int k = 0; k < 2; k++) {
        msgpack_pack_array(&pk, n);
        for (uint32_t i = 0; i < n; i++)
            msgpack_pack_uint32(&pk, orders[k][i]);
    }
    msgpack_pack_array(&pk, MSN_NIDX_ROLES);
    for (int k = 0; k < MSN_NIDX_ROLES; k++)
        msgpack_pack_int64(&pk, counts[k]);
}

static void reader_of(msn_mpk_reader_t *r, const msn_nidx_reader_t *it)
{
    r->p = it->p;
    r->end = it->end;
}

int msn_snaprec_nidx_open(msn_nidx_reader_t *it, const void *doc, size_t len, uint32_t *n)
{
    msn_mpk_reader_t r;
    memset(it, 0, sizeof(*it));
    TRY(open_plain_array(&r, doc, len, MSN_NIDXF_COUNT));
    if (msn_mpk_read_array(&r, &it->n) < 0)
        return fail(&r);
    it->left = it->n;
    it->p = r.p;
    it->end = r.end;
    *n = it->n;
    return 0;
}

int msn_snaprec_nidx_next(msn_nidx_reader_t *it, msn_snaprec_nrec_t *x)
{
    if (it->left == 0)
        return 0;
    msn_mpk_reader_t r;
    uint32_t fields;
    reader_of(&r, it);
    if (msn_mpk_read_array(&r, &fields) < 0)
        return fail(&r);
    if (fields != MSN_NRECF_COUNT)
        return MSN_SNAPREC_EFIELDS;
    TRY(get_str_or_nil(&r, &x->public_key));
    TRY(get_str_or_nil(&r, &x->name));
    TRY(get_str_or_nil(&r, &x->role));
    TRY(get_int(&r, &x->last_seen_ms));
    TRY(get_int(&r, &x->first_seen_ms));
    TRY(get_int(&r, &x->advert_count));
    it->p = r.p;
    it->left--;
    return 1;
}

int msn_snaprec_nidx_orders(msn_nidx_reader_t *it, uint32_t *by_name, uint32_t *by_advert_count,
                            int64_t counts[MSN_NIDX_ROLES])
{
    msn_snaprec_nrec_t skip;
    int rc;
    while ((rc = msn_snaprec_nidx_next(it, &skip)) == 1)
        ;
    if (rc < 0)
        return rc;
    msn_mpk_reader_t r;
    reader_of(&r, it);
    uint32_t *orders[2] = {by_name, by_advert_count};
    for (int k = 0; k < 2; k++) {
        uint32_t cnt;
        if (msn_mpk_read_array(&r, &cnt) < 0)
            return fail(&r);
        if (cnt != it->n)
            return MSN_SNAPREC_ESHAPE;
        for (uint32_t i = 0; i < cnt; i++) {
            int64_t pos;
            TRY(get_int(&r, &pos));
            if (pos < 0 || pos >= it->n)
                return MSN_SNAPREC_ETYPE;
            if (orders[k])
                orders[k][i] = (uint32_t)pos;
        }
    }
    uint32_t nc;
    if (msn_mpk_read_array(&r, &nc) < 0)
        return fail(&r);
    if (nc != MSN_NIDX_ROLES)
        return MSN_SNAPREC_EFIELDS;
    for (int k = 0; k < MSN_NIDX_ROLES; k++) {
        int64_t c;
        TRY(get_int(&r, &c));
        if (counts)
            counts[k] = c;
    }
    it->p = r.p;
    return at_end(&r);
}

/* ---- doc ---- */

void msn_snaprec_doc_encode(msgpack_sbuffer *sb, const msn_doc_t *d)
{
    size_t start = sb->size;
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_array(&pk, MSN_DOCF_COUNT);
    put_bin(&pk, d->body, d->len);
    msgpack_pack_uint64(&pk, d->gen);
    msgpack_pack_int64(&pk, d->published_at_ms);
    if (d->gz != NULL)
        put_bin(&pk, d->gz, d->gz_len);
    else
        msgpack_pack_nil(&pk);
    put_str(&pk, msn_sv(d->etag));
    msgpack_pack_int64(&pk, d->expires_at_ms);
    seal(sb, start);
}

int msn_snaprec_doc_decode(const void *val, size_t len, msn_doc_t *d)
{
    msn_mpk_reader_t r;
    msn_sv_t body, gz = {NULL, 0}, etag;
    int64_t gen;
    TRY(open_array(&r, val, len, MSN_DOCF_COUNT));
    TRY(get_bin(&r, &body));
    TRY(get_int(&r, &gen));
    TRY(get_int(&r, &d->published_at_ms));
    if (msn_mpk_peek(&r) == MSN_MPK_NIL)
        msn_mpk_read_nil(&r);
    else
        TRY(get_bin(&r, &gz));
    TRY(get_str_or_nil(&r, &etag));
    if (etag.p == NULL || etag.len >= sizeof(d->etag))
        return MSN_SNAPREC_ETYPE;
    TRY(get_int(&r, &d->expires_at_ms));
    TRY(at_end(&r));
    d->body = body.p;
    d->len = body.len;
    d->gz = gz.p;
    d->gz_len = gz.len;
    d->gen = (uint64_t)gen;
    memcpy(d->etag, etag.p, etag.len);
    d->etag[etag.len] = '\0';
    return 0;
}

/* ---- meta ---- */

static void put_kv(msgpack_packer *pk, const char *key, int64_t v)
{
    put_str(pk, msn_sv(key));
    msgpack_pack_int64(pk, v);
}

void msn_snaprec_meta_encode(msgpack_sbuffer *sb, const msn_snap_meta_t *m)
{
    size_t start = sb->size;
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_map(&pk, 10);
    put_kv(&pk, MSN_META_FORMAT, m->format);
    put_str(&pk, msn_sv(MSN_META_GEN));
    msgpack_pack_uint64(&pk, m->gen);
    put_kv(&pk, MSN_META_PUBLISHED_AT, m->published_at_ms);
    put_kv(&pk, MSN_META_MASTER_START, m->master_start_ms);
    put_kv(&pk, MSN_META_MAX_TX_ID, m->max_tx_id);
    put_kv(&pk, MSN_META_MAX_OBS_ID, m->max_obs_id);
    put_kv(&pk, MSN_META_TX_COUNT, m->tx_count);
    put_kv(&pk, MSN_META_OBS_COUNT, m->obs_count);
    put_kv(&pk, MSN_META_LEGACY_SCHEMA, m->legacy_schema);
    put_str(&pk, msn_sv(MSN_META_SOURCE_DB));
    put_str(&pk, msn_sv(m->source_db));
    seal(sb, start);
}

static int meta_decode_plain(const void *val, size_t len, msn_snap_meta_t *m);

int msn_snaprec_meta_decode(const void *val, size_t len, msn_snap_meta_t *m)
{
    size_t n = len;
    if (unseal(val, &n) == 0)
        return meta_decode_plain(val, n, m);
    /* no valid seal: a meta of another format (before checksums, or one this binary does
       not know) decodes whole and is refused by its format; one that names this binary's
       format always carries its seal, so it is damaged */
    int rc = meta_decode_plain(val, len, m);
    return rc == 0 && m->format == MSN_SNAP_FORMAT ? MSN_SNAPREC_ECHECKSUM : rc;
}

static int meta_decode_plain(const void *val, size_t len, msn_snap_meta_t *m)
{
    msn_mpk_reader_t r;
    uint32_t n;
    memset(m, 0, sizeof(*m));
    msn_mpk_reader_init(&r, val, len);
    if (msn_mpk_read_map(&r, &n) < 0)
        return MSN_SNAPREC_ESHAPE;
    for (uint32_t i = 0; i < n; i++) {
        msn_sv_t key, sv;
        int64_t iv;
        TRY(get_str_or_nil(&r, &key));
        if (key.p == NULL)
            return MSN_SNAPREC_ETYPE;
#define KEY(name) (key.len == sizeof(name) - 1 && memcmp(key.p, name, key.len) == 0)
        if (KEY(MSN_META_SOURCE_DB)) {
            TRY(get_str_or_nil(&r, &sv));
            if (sv.p == NULL || sv.len >= sizeof(m->source_db))
                return MSN_SNAPREC_ETYPE;
            memcpy(m->source_db, sv.p, sv.len);
            m->source_db[sv.len] = '\0';
            continue;
        }
        if (!(KEY(MSN_META_FORMAT) || KEY(MSN_META_GEN) || KEY(MSN_META_PUBLISHED_AT) ||
              KEY(MSN_META_MASTER_START) || KEY(MSN_META_MAX_TX_ID) || KEY(MSN_META_MAX_OBS_ID) ||
              KEY(MSN_META_TX_COUNT) || KEY(MSN_META_OBS_COUNT) || KEY(MSN_META_LEGACY_SCHEMA))) {
            if (msn_mpk_skip(&r) < 0)
                return fail(&r);
            continue;
        }
        TRY(get_int(&r, &iv));
        if (KEY(MSN_META_FORMAT)) {
            if (iv < 0 || iv > (int64_t)UINT32_MAX)
                return MSN_SNAPREC_ETYPE;
            m->format = (uint32_t)iv;
        } else if (KEY(MSN_META_GEN)) {
            m->gen = (uint64_t)iv;
        } else if (KEY(MSN_META_PUBLISHED_AT)) {
            m->published_at_ms = iv;
        } else if (KEY(MSN_META_MASTER_START)) {
            m->master_start_ms = iv;
        } else if (KEY(MSN_META_MAX_TX_ID)) {
            m->max_tx_id = iv;
        } else if (KEY(MSN_META_MAX_OBS_ID)) {
            m->max_obs_id = iv;
        } else if (KEY(MSN_META_TX_COUNT)) {
            m->tx_count = iv;
        } else if (KEY(MSN_META_OBS_COUNT)) {
            m->obs_count = iv;
        } else {
            m->legacy_schema = (int)iv;
        }
#undef KEY
    }
    TRY(at_end(&r));
    return m->gen > 0 ? 0 : MSN_SNAPREC_ESHAPE;
}

/* ---- fx ---- */

void msn_snaprec_fx_make(msn_fx_rec_t *rec, uint64_t id, int64_t first_seen_ms, int64_t payload_type,
                         int64_t route_type)
{
    memset(rec, 0, sizeof(*rec));
    msn_be64_put(rec->id_be, id);
    msn_be64_put(rec->first_seen_ms_be, (uint64_t)first_seen_ms);
    rec->payload_type = (uint8_t)(payload_type < 0 || payload_type > 254 ? 255 : payload_type);
    rec->route_type = (uint8_t)(route_type < 0 || route_type > 254 ? 255 : route_type);
}

void msn_snaprec_fx_seal(msn_fx_rec_t *rec, const void *key, size_t klen)
{
    uint32_t c = sum_kv(key, klen, rec, MSN_FX_SUMMED);
    rec->sum[0] = (uint8_t)(c >> 24);
    rec->sum[1] = (uint8_t)(c >> 16);
    rec->sum[2] = (uint8_t)(c >> 8);
    rec->sum[3] = (uint8_t)c;
}

int msn_snaprec_fx_check(const msn_fx_rec_t *rec, const void *key, size_t klen)
{
    uint32_t c = sum_kv(key, klen, rec, MSN_FX_SUMMED);
    uint32_t have = ((uint32_t)rec->sum[0] << 24) | ((uint32_t)rec->sum[1] << 16) | ((uint32_t)rec->sum[2] << 8) |
                    rec->sum[3];
    return c == have ? 0 : MSN_SNAPREC_ECHECKSUM;
}

/* ---- ids, and the key checks of ft and fl ---- */

void msn_snaprec_id_encode(uint8_t out[MSN_SNAPREC_ID_LEN], const void *key, size_t klen, uint64_t id)
{
    msn_be64_put(out, id);
    uint32_t c = sum_kv(key, klen, out, 8);
    out[8] = (uint8_t)(c >> 24);
    out[9] = (uint8_t)(c >> 16);
    out[10] = (uint8_t)(c >> 8);
    out[11] = (uint8_t)c;
}

int msn_snaprec_id_decode(const void *val, size_t len, const void *key, size_t klen, uint64_t *id)
{
    if (len != MSN_SNAPREC_ID_LEN)
        return MSN_SNAPREC_ESHAPE;
    const uint8_t *v = val;
    uint32_t c = ((uint32_t)v[8] << 24) | ((uint32_t)v[9] << 16) | ((uint32_t)v[10] << 8) | v[11];
    if (c != sum_kv(key, klen, v, 8))
        return MSN_SNAPREC_ECHECKSUM;
    *id = msn_be64_get(val);
    return 0;
}

/* ---- cmsg ---- */

void msn_snaprec_cmsg_encode(msgpack_sbuffer *sb, const msn_snaprec_cmsg_t *m)
{
    size_t start = sb->size;
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_array(&pk, MSN_CMSGF_COUNT);
    put_bin(&pk, m->fragment.p, m->fragment.len);
    seal(sb, start);
}

int msn_snaprec_cmsg_decode(const void *val, size_t len, msn_snaprec_cmsg_t *m)
{
    msn_mpk_reader_t r;
    TRY(open_array(&r, val, len, MSN_CMSGF_COUNT));
    TRY(get_bin(&r, &m->fragment));
    return at_end(&r);
}

/* ---- om ---- */

void msn_snaprec_om_encode(msgpack_sbuffer *sb, const msn_snaprec_om_t *m)
{
    size_t start = sb->size;
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_array(&pk, MSN_OMF_COUNT);
    put_str(&pk, m->timestamp);
    put_f64(&pk, m->has_noise_floor, m->noise_floor);
    for (int i = 0; i < MSN_OM_INTS; i++) {
        if (m->has[i])
            msgpack_pack_int64(&pk, m->v[i]);
        else
            msgpack_pack_nil(&pk);
    }
    seal(sb, start);
}

int msn_snaprec_om_decode(const void *val, size_t len, msn_snaprec_om_t *m)
{
    msn_mpk_reader_t r;
    TRY(open_array(&r, val, len, MSN_OMF_COUNT));
    TRY(get_str_or_nil(&r, &m->timestamp));
    if (m->timestamp.p == NULL)
        return MSN_SNAPREC_ETYPE;
    TRY(get_f64_or_nil(&r, &m->noise_floor, &m->has_noise_floor));
    for (int i = 0; i < MSN_OM_INTS; i++)
        TRY(get_int_or_nil(&r, &m->v[i], &m->has[i]));
    return at_end(&r);
}

/* ---- channels.index ---- */

void msn_snaprec_chidx_encode(msgpack_sbuffer *sb, const msn_snaprec_chan_t *chans, uint32_t n)
{
    msgpack_packer pk;
    pk_init(&pk, sb);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        const msn_snaprec_chan_t *c = &chans[i];
        msgpack_pack_array(&pk, MSN_CHIDXF_COUNT);
        put_str(&pk, c->hash.p ? c->hash : msn_sv(""));
        if (c->encrypted)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        msgpack_pack_int64(&pk, c->tx_count);
        put_str(&pk, c->last_activity);
        put_str(&pk, c->last_message);
        put_str(&pk, c->last_sender);
        msgpack_pack_array(&pk, c->n_regions);
        for (uint32_t k = 0; k < c->n_regions; k++) {
            msgpack_pack_array(&pk, 3);
            put_str(&pk, c->regions[k].code.p ? c->regions[k].code : msn_sv(""));
            msgpack_pack_int64(&pk, c->regions[k].obs_count);
            put_str(&pk, c->regions[k].last_activity);
        }
    }
}

int msn_snaprec_chidx_open(msn_chidx_reader_t *it, const void *doc, size_t len, uint32_t *n)
{
    msn_mpk_reader_t r;
    memset(it, 0, sizeof(*it));
    msn_mpk_reader_init(&r, doc, len);
    if (msn_mpk_read_array(&r, &it->left) < 0)
        return MSN_SNAPREC_ESHAPE;
    it->p = r.p;
    it->end = r.end;
    *n = it->left;
    return 0;
}

int msn_snaprec_chidx_next(msn_chidx_reader_t *it, msn_snaprec_chan_t *ch)
{
    msn_mpk_reader_t r = {it->p, it->end};
    for (; it->regions_left > 0; it->regions_left--)
        if (msn_mpk_skip(&r) < 0)
            return MSN_SNAPREC_ESHAPE;
    if (it->left == 0)
        return 0;
    uint32_t fields;
    if (msn_mpk_read_array(&r, &fields) < 0)
        return fail(&r);
    if (fields != MSN_CHIDXF_COUNT)
        return MSN_SNAPREC_EFIELDS;
    int enc;
    TRY(get_str_or_nil(&r, &ch->hash));
    if (ch->hash.p == NULL)
        return MSN_SNAPREC_ETYPE;
    if (msn_mpk_read_bool(&r, &enc) < 0)
        return fail(&r);
    ch->encrypted = enc;
    TRY(get_int(&r, &ch->tx_count));
    TRY(get_str_or_nil(&r, &ch->last_activity));
    TRY(get_str_or_nil(&r, &ch->last_message));
    TRY(get_str_or_nil(&r, &ch->last_sender));
    if (msn_mpk_read_array(&r, &ch->n_regions) < 0)
        return fail(&r);
    ch->regions = NULL;
    it->regions_left = ch->n_regions;
    it->p = r.p;
    it->left--;
    return 1;
}

int msn_snaprec_chidx_region(msn_chidx_reader_t *it, msn_snaprec_chreg_t *rg)
{
    if (it->regions_left == 0)
        return 0;
    msn_mpk_reader_t r = {it->p, it->end};
    uint32_t fields;
    if (msn_mpk_read_array(&r, &fields) < 0)
        return fail(&r);
    if (fields != 3)
        return MSN_SNAPREC_EFIELDS;
    TRY(get_str_or_nil(&r, &rg->code));
    if (rg->code.p == NULL)
        return MSN_SNAPREC_ETYPE;
    TRY(get_int(&r, &rg->obs_count));
    TRY(get_str_or_nil(&r, &rg->last_activity));
    it->p = r.p;
    it->regions_left--;
    return 1;
}

/* The checksum of a time-index entry: over its key and the text after the checksum. */
static uint32_t timeval_sum(const void *key, size_t klen, const void *text, size_t tlen)
{
    uint32_t c = msn_snaprec_sum32(key, klen);
    if (tlen > 0)
        c ^= msn_snaprec_sum32(text, tlen) * 0x9e3779b1u;
    return c;
}

static void put_sum(uint8_t out[MSN_SNAPREC_KEYSUM_LEN], uint32_t c)
{
    out[0] = (uint8_t)(c >> 24);
    out[1] = (uint8_t)(c >> 16);
    out[2] = (uint8_t)(c >> 8);
    out[3] = (uint8_t)c;
}

void msn_snaprec_keysum(uint8_t out[MSN_SNAPREC_KEYSUM_LEN], const void *key, size_t klen)
{
    put_sum(out, timeval_sum(key, klen, NULL, 0));
}

size_t msn_snaprec_timeval(uint8_t *out, size_t n, const void *key, size_t klen, const char *text, size_t tlen)
{
    if (n < MSN_SNAPREC_KEYSUM_LEN)
        return 0;
    if (tlen > n - MSN_SNAPREC_KEYSUM_LEN)
        tlen = n - MSN_SNAPREC_KEYSUM_LEN;
    if (tlen > 0)
        memcpy(out + MSN_SNAPREC_KEYSUM_LEN, text, tlen);
    put_sum(out, timeval_sum(key, klen, text, tlen));
    return MSN_SNAPREC_KEYSUM_LEN + tlen;
}

int msn_snaprec_keysum_check(const void *val, size_t len, const void *key, size_t klen)
{
    uint8_t want[MSN_SNAPREC_KEYSUM_LEN];
    if (len < MSN_SNAPREC_KEYSUM_LEN)
        return MSN_SNAPREC_ESHAPE;
    put_sum(want, timeval_sum(key, klen, (const uint8_t *)val + MSN_SNAPREC_KEYSUM_LEN, len - MSN_SNAPREC_KEYSUM_LEN));
    return memcmp(want, val, MSN_SNAPREC_KEYSUM_LEN) == 0 ? 0 : MSN_SNAPREC_ECHECKSUM;
}
