/* test_snaprec.c: the snapshot record codec (shm/snaprec.c) and key builders (shm/snapkey.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shm/mpk.h"
#include "shm/snapkey.h"
#include "shm/snaprec.h"
#include "shm/snapshot.h"
#include "testlib.h"

/* Seals a hand-made record the way the encoders do (snaprec.h: checksums), so that its
   layout is what the decoder judges. */
static void seal(msgpack_sbuffer *sb)
{
    uint32_t c = msn_snaprec_sum32(sb->data, sb->size);
    uint8_t t[5] = {0xce, (uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    msgpack_sbuffer_write(sb, (const char *)t, 5);
}

static int sv_eq(msn_sv_t a, msn_sv_t b)
{
    if (a.p == NULL || b.p == NULL)
        return a.p == NULL && b.p == NULL;
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static msn_sv_t svn(const char *p, size_t n)
{
    msn_sv_t v = {p, n};
    return v;
}

/* Every proper prefix of a record is an error, never a partial read. */
static void check_prefixes_fail(int (*decode)(const void *, size_t, void *), const msgpack_sbuffer *sb,
                                void *out)
{
    for (size_t n = 0; n < sb->size; n++)
        CHECK(decode(sb->data, n, out) != 0);
}

static int tx_decode_any(const void *v, size_t n, void *out)
{
    return msn_snaprec_tx_decode(v, n, out);
}

static int obs_decode_any(const void *v, size_t n, void *out)
{
    return msn_snaprec_obs_decode(v, n, out);
}

static int doc_decode_any(const void *v, size_t n, void *out)
{
    return msn_snaprec_doc_decode(v, n, out);
}

/* ---- tx ---- */

static void tx_round_trip(const msn_snaprec_tx_t *in)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_snaprec_tx_encode(&sb, in);
    msn_snaprec_tx_t out;
    memset(&out, 0xa5, sizeof(out));
    CHECK_EQ_INT(msn_snaprec_tx_decode(sb.data, sb.size, &out), 0);
    CHECK(sv_eq(out.fragment, in->fragment.p ? in->fragment : svn("", 0)));
    CHECK(sv_eq(out.grouped_fragment, in->grouped_fragment.p ? in->grouped_fragment : svn("", 0)));
    CHECK(sv_eq(out.hash, in->hash));
    CHECK(sv_eq(out.raw_hex, in->raw_hex));
    CHECK(sv_eq(out.decoded_json, in->decoded_json));
    CHECK(sv_eq(out.best_path_json, in->best_path_json));
    CHECK(out.first_seen_ms == in->first_seen_ms);
    CHECK(out.payload_type == in->payload_type);
    CHECK(out.route_type == in->route_type);
    CHECK(out.obs_count == in->obs_count);
    CHECK(out.latest_ms == in->latest_ms);
    /* pointers into the value, not copies */
    CHECK(out.fragment.p >= sb.data && out.fragment.p < sb.data + sb.size);
    check_prefixes_fail(tx_decode_any, &sb, &out);
    msgpack_sbuffer_destroy(&sb);
}

static void test_tx_round_trip(void)
{
    msn_snaprec_tx_t t = {
        .fragment = msn_sv("{\"id\":1}"),
        .grouped_fragment = msn_sv("{\"hash\":\"ab\"}"),
        .hash = msn_sv("0123456789abcdef"),
        .raw_hex = msn_sv("11aa"),
        .decoded_json = msn_sv("{\"type\":\"ADVERT\"}"),
        .best_path_json = msn_sv("[\"AB\",\"CD\"]"),
        .first_seen_ms = 1764892800123LL,
        .payload_type = 4,
        .route_type = 1,
        .obs_count = 3,
        .latest_ms = 1764892900000LL,
    };
    tx_round_trip(&t);
    /* nil strings, unknown types, extreme integers, empty strings (not nil) */
    msn_snaprec_tx_t n = {
        .fragment = msn_sv("{}"),
        .grouped_fragment = msn_sv(""),
        .hash = msn_sv(""),
        .first_seen_ms = INT64_MIN,
        .payload_type = -1,
        .route_type = -1,
        .obs_count = 0,
        .latest_ms = INT64_MAX,
    };
    tx_round_trip(&n);
    /* bins and strings past the 16-bit length forms */
    size_t big = 70000;
    char *blob = malloc(big);
    memset(blob, 'x', big);
    msn_snaprec_tx_t b = n;
    b.fragment = svn(blob, big);
    b.decoded_json = svn(blob, big);
    b.obs_count = INT64_MAX;
    tx_round_trip(&b);
    free(blob);
}

/* A record of an older layout (fewer fields) fails with EFIELDS; a field of another type
 * with ETYPE; trailing bytes with ESHAPE. */
static void test_tx_other_layouts(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* the 9 fields the tx record had before grouped_fragment and latest_ms */
    msgpack_pack_array(&pk, 9);
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "{}", 2);
    msgpack_pack_int64(&pk, 1000);
    msgpack_pack_int(&pk, 4);
    msgpack_pack_int(&pk, 1);
    msn_mpk_str(&pk, "0123456789abcdef");
    msgpack_pack_nil(&pk);
    msgpack_pack_nil(&pk);
    msgpack_pack_nil(&pk);
    msgpack_pack_uint32(&pk, 1);
    seal(&sb);
    msn_snaprec_tx_t t;
    int rc = msn_snaprec_tx_decode(sb.data, sb.size, &t);
    CHECK_EQ_INT(rc, MSN_SNAPREC_EFIELDS);
    CHECK(strstr(msn_snaprec_strerror(rc), "field count") != NULL);
    /* one more field than this binary knows */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, MSN_TXF_COUNT + 1);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_tx_decode(sb.data, sb.size, &t), MSN_SNAPREC_EFIELDS);
    /* right count, a string where first_seen_ms belongs */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, MSN_TXF_COUNT);
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "{}", 2);
    msn_mpk_str(&pk, "1000");
    for (int i = MSN_TXF_PAYLOAD_TYPE; i < MSN_TXF_COUNT; i++)
        msgpack_pack_int(&pk, 0);
    seal(&sb);
    rc = msn_snaprec_tx_decode(sb.data, sb.size, &t);
    CHECK_EQ_INT(rc, MSN_SNAPREC_ETYPE);
    CHECK(strstr(msn_snaprec_strerror(rc), "type") != NULL);
    /* not an array at all */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 0);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_tx_decode(sb.data, sb.size, &t), MSN_SNAPREC_ESHAPE);
    /* a valid record followed by garbage (inside the seal) */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, MSN_TXF_COUNT);
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "{}", 2);
    for (int i = MSN_TXF_FIRST_SEEN_MS; i < MSN_TXF_HASH; i++)
        msgpack_pack_int(&pk, 0);
    for (int i = MSN_TXF_HASH; i < MSN_TXF_OBS_COUNT; i++)
        msgpack_pack_nil(&pk);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "{}", 2);
    msgpack_pack_int(&pk, 0);
    msgpack_sbuffer sb2;
    msgpack_sbuffer_init(&sb2);
    msgpack_sbuffer_write(&sb2, sb.data, sb.size);
    seal(&sb2);
    CHECK_EQ_INT(msn_snaprec_tx_decode(sb2.data, sb2.size, &t), 0);
    msgpack_pack_nil(&pk);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_tx_decode(sb.data, sb.size, &t), MSN_SNAPREC_ESHAPE);
    msgpack_sbuffer_destroy(&sb2);
    /* a record whose bytes changed after it was sealed: found by its checksum, whatever
       byte it is (a flipped bit in a string would still decode) */
    msgpack_sbuffer_clear(&sb);
    msn_snaprec_tx_t ok = {.fragment = msn_sv("{\"id\":1}"), .grouped_fragment = msn_sv("{}"), .hash = msn_sv("ab")};
    msn_snaprec_tx_encode(&sb, &ok);
    CHECK_EQ_INT(msn_snaprec_tx_decode(sb.data, sb.size, &t), 0);
    for (size_t i = 0; i < sb.size; i++)
        for (int bit = 0; bit < 8; bit++) {
            sb.data[i] ^= (char)(1 << bit);
            int r2 = msn_snaprec_tx_decode(sb.data, sb.size, &t);
            if (r2 == 0)
                fprintf(stderr, "byte %zu bit %d flipped: still decodes\n", i, bit);
            CHECK(r2 != 0);
            sb.data[i] ^= (char)(1 << bit);
        }
    CHECK_EQ_INT(msn_snaprec_tx_decode(sb.data, sb.size - 1, &t), MSN_SNAPREC_ECHECKSUM);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- obs ---- */

static void obs_round_trip(const msn_snaprec_obs_t *in)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_snaprec_obs_encode(&sb, in);
    msn_snaprec_obs_t *out = malloc(sizeof(*out));
    memset(out, 0xa5, sizeof(*out));
    CHECK_EQ_INT(msn_snaprec_obs_decode(sb.data, sb.size, out), 0);
    CHECK(out->id == in->id && out->tx_id == in->tx_id && out->timestamp_s == in->timestamp_s);
    CHECK_EQ_INT(out->has_observer, in->has_observer);
    if (in->has_observer)
        CHECK(out->observer_rowid == in->observer_rowid);
    CHECK(sv_eq(out->direction, in->direction));
    CHECK(sv_eq(out->path_json, in->path_json));
    CHECK_EQ_INT(out->has_snr, in->has_snr);
    CHECK_EQ_INT(out->has_rssi, in->has_rssi);
    CHECK_EQ_INT(out->has_score, in->has_score);
    if (in->has_snr)
        CHECK(out->snr == in->snr || (isnan(out->snr) && isnan(in->snr)));
    if (in->has_rssi)
        CHECK(out->rssi == in->rssi);
    if (in->has_score)
        CHECK(out->score == in->score);
    CHECK_EQ_INT(out->has_rp, in->has_rp);
    CHECK_EQ_INT(out->rp_n, in->has_rp ? in->rp_n : 0);
    for (uint32_t i = 0; in->has_rp && i < in->rp_n && i < out->rp_n; i++) {
        CHECK((out->rp[i] == NULL) == (in->rp[i] == NULL));
        if (in->rp[i] && out->rp[i])
            CHECK(memcmp(out->rp[i], in->rp[i], 32) == 0);
    }
    CHECK_EQ_INT(out->raw_kind, in->raw_kind);
    if (in->raw_kind == MSN_OBS_RAW_OWN)
        CHECK(sv_eq(out->raw_hex, in->raw_hex));
    check_prefixes_fail(obs_decode_any, &sb, out);
    free(out);
    msgpack_sbuffer_destroy(&sb);
}

static void test_obs_round_trip(void)
{
    static uint8_t k1[32], k2[32];
    for (int i = 0; i < 32; i++) {
        k1[i] = (uint8_t)i;
        k2[i] = (uint8_t)(255 - i);
    }
    msn_snaprec_obs_t *o = calloc(1, sizeof(*o));
    /* everything nil */
    o->id = 1;
    o->tx_id = 2;
    o->timestamp_s = 0;
    obs_round_trip(o);
    /* everything present, a path with an unresolved hop */
    o->id = INT64_MAX;
    o->tx_id = INT64_MIN;
    o->has_observer = 1;
    o->observer_rowid = 0;
    o->direction = msn_sv("rx");
    o->has_snr = 1;
    o->snr = -12.25;
    o->has_rssi = 1;
    o->rssi = -117;
    o->has_score = 1;
    o->score = 0.5;
    o->path_json = msn_sv("[\"AB\",\"CD\",\"EF\"]");
    o->timestamp_s = -1;
    o->has_rp = 1;
    o->rp_n = 3;
    o->rp[0] = k1;
    o->rp[1] = NULL;
    o->rp[2] = k2;
    o->raw_kind = MSN_OBS_RAW_TX;
    obs_round_trip(o);
    /* its own raw_hex, an empty resolved path, NaN snr */
    o->raw_kind = MSN_OBS_RAW_OWN;
    o->raw_hex = msn_sv("deadbeef");
    o->rp_n = 0;
    o->snr = NAN;
    obs_round_trip(o);
    /* the longest path */
    o->rp_n = MSN_SNAPREC_RP_MAX;
    for (uint32_t i = 0; i < o->rp_n; i++)
        o->rp[i] = i % 3 ? k1 : NULL;
    obs_round_trip(o);
    free(o);
}

static void test_obs_other_layouts(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msn_snaprec_obs_t *o = malloc(sizeof(*o));
    /* ten fields: a layout without raw_hex */
    msgpack_pack_array(&pk, 10);
    for (int i = 0; i < 10; i++)
        msgpack_pack_nil(&pk);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_obs_decode(sb.data, sb.size, o), MSN_SNAPREC_EFIELDS);
    /* a resolved-path key that is not 32 bytes */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, MSN_OBSF_COUNT);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    for (int i = MSN_OBSF_OBSERVER_ROWID; i < MSN_OBSF_TIMESTAMP_S; i++)
        msgpack_pack_nil(&pk);
    msgpack_pack_int(&pk, 3);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_bin(&pk, 31);
    msgpack_pack_bin_body(&pk, "0123456789012345678901234567890", 31);
    msgpack_pack_nil(&pk);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_obs_decode(sb.data, sb.size, o), MSN_SNAPREC_ETYPE);
    /* raw_hex false is not a value the master writes */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, MSN_OBSF_COUNT);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    for (int i = MSN_OBSF_OBSERVER_ROWID; i < MSN_OBSF_TIMESTAMP_S; i++)
        msgpack_pack_nil(&pk);
    msgpack_pack_int(&pk, 3);
    msgpack_pack_nil(&pk);
    msgpack_pack_false(&pk);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_obs_decode(sb.data, sb.size, o), MSN_SNAPREC_ETYPE);
    free(o);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- node, orow ---- */

static void test_node_orow(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msn_snaprec_node_t n = {msn_sv("{\"public_key\":\"ab\"}"), msn_sv("{\"hash_size\":null}")}, nout;
    msn_snaprec_node_encode(&sb, &n);
    CHECK_EQ_INT(msn_snaprec_node_decode(sb.data, sb.size, &nout), 0);
    CHECK(sv_eq(nout.fragment, n.fragment));
    CHECK(sv_eq(nout.base, n.base));
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 1); /* the format-1 layout: the fragment alone */
    msgpack_pack_bin(&pk, 0);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_node_decode(sb.data, sb.size, &nout), MSN_SNAPREC_EFIELDS);

    msn_snaprec_orow_t o = {msn_sv("C0FFEE"), msn_sv(NULL), msn_sv("")}, oout;
    msgpack_sbuffer_clear(&sb);
    msn_snaprec_orow_encode(&sb, &o);
    CHECK_EQ_INT(msn_snaprec_orow_decode(sb.data, sb.size, &oout), 0);
    CHECK(sv_eq(oout.id, o.id));
    CHECK(oout.name.p == NULL);
    CHECK(oout.iata.p != NULL && oout.iata.len == 0);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 2);
    msn_mpk_str(&pk, "id");
    msn_mpk_str(&pk, "name");
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_orow_decode(sb.data, sb.size, &oout), MSN_SNAPREC_EFIELDS);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- nodes.index ---- */

static void test_nodes_index(void)
{
    msn_snaprec_nrec_t recs[3] = {
        {msn_sv("aa"), msn_sv("Alpha"), msn_sv("repeater"), INT64_MAX, 5, 7},
        {msn_sv("bb"), msn_sv(NULL), msn_sv(NULL), 10, INT64_MIN, 0},
        {msn_sv("cc"), msn_sv("Charlie"), msn_sv("room"), 9, 1, 99},
    };
    uint32_t by_name[3] = {0, 2, 1}, by_count[3] = {2, 0, 1};
    int64_t counts[MSN_NIDX_ROLES] = {1, 1, 0, INT64_MAX};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_snaprec_nidx_encode(&sb, recs, 3, by_name, by_count, counts);
    msn_nidx_reader_t it;
    uint32_t n;
    CHECK_EQ_INT(msn_snaprec_nidx_open(&it, sb.data, sb.size, &n), 0);
    CHECK_EQ_INT(n, 3);
    msn_snaprec_nrec_t x;
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(msn_snaprec_nidx_next(&it, &x), 1);
        CHECK(sv_eq(x.public_key, recs[i].public_key) && sv_eq(x.name, recs[i].name) &&
              sv_eq(x.role, recs[i].role));
        CHECK(x.last_seen_ms == recs[i].last_seen_ms && x.first_seen_ms == recs[i].first_seen_ms &&
              x.advert_count == recs[i].advert_count);
    }
    CHECK_EQ_INT(msn_snaprec_nidx_next(&it, &x), 0);
    uint32_t o1[3], o2[3];
    int64_t c[MSN_NIDX_ROLES];
    CHECK_EQ_INT(msn_snaprec_nidx_orders(&it, o1, o2, c), 0);
    CHECK(memcmp(o1, by_name, sizeof(o1)) == 0 && memcmp(o2, by_count, sizeof(o2)) == 0);
    CHECK(memcmp(c, counts, sizeof(c)) == 0);
    /* orders without reading the records first */
    CHECK_EQ_INT(msn_snaprec_nidx_open(&it, sb.data, sb.size, &n), 0);
    CHECK_EQ_INT(msn_snaprec_nidx_orders(&it, NULL, o2, NULL), 0);
    CHECK(memcmp(o2, by_count, sizeof(o2)) == 0);
    /* an empty index */
    msgpack_sbuffer_clear(&sb);
    msn_snaprec_nidx_encode(&sb, NULL, 0, NULL, NULL, counts);
    CHECK_EQ_INT(msn_snaprec_nidx_open(&it, sb.data, sb.size, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(msn_snaprec_nidx_next(&it, &x), 0);
    CHECK_EQ_INT(msn_snaprec_nidx_orders(&it, NULL, NULL, c), 0);
    /* a position outside the records */
    by_name[1] = 3;
    msgpack_sbuffer_clear(&sb);
    msn_snaprec_nidx_encode(&sb, recs, 3, by_name, by_count, counts);
    CHECK_EQ_INT(msn_snaprec_nidx_open(&it, sb.data, sb.size, &n), 0);
    CHECK_EQ_INT(msn_snaprec_nidx_orders(&it, o1, NULL, NULL), MSN_SNAPREC_ETYPE);
    /* an entry of an older layout (five fields) */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, MSN_NIDXF_COUNT);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 5);
    for (int i = 0; i < 5; i++)
        msgpack_pack_nil(&pk);
    CHECK_EQ_INT(msn_snaprec_nidx_open(&it, sb.data, sb.size, &n), 0);
    CHECK_EQ_INT(msn_snaprec_nidx_next(&it, &x), MSN_SNAPREC_EFIELDS);
    /* a container of another layout */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, MSN_NIDXF_COUNT - 1);
    CHECK_EQ_INT(msn_snaprec_nidx_open(&it, sb.data, sb.size, &n), MSN_SNAPREC_EFIELDS);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- doc, meta ---- */

static void test_doc(void)
{
    msn_doc_t d, out;
    memset(&d, 0, sizeof(d));
    d.body = "{\"a\":1}";
    d.len = 7;
    snprintf(d.etag, sizeof(d.etag), "\"0123456789abcdefghij\"");
    d.gen = UINT64_MAX;
    d.published_at_ms = INT64_MIN;
    d.expires_at_ms = 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_snaprec_doc_encode(&sb, &d);
    CHECK_EQ_INT(msn_snaprec_doc_decode(sb.data, sb.size, &out), 0);
    CHECK(out.len == 7 && memcmp(out.body, d.body, 7) == 0);
    CHECK(out.gz == NULL && out.gz_len == 0);
    CHECK_EQ_STR(out.etag, d.etag);
    CHECK(out.gen == UINT64_MAX && out.published_at_ms == INT64_MIN && out.expires_at_ms == 0);
    check_prefixes_fail(doc_decode_any, &sb, &out);
    d.gz = "\x1f\x8b";
    d.gz_len = 2;
    d.expires_at_ms = INT64_MAX;
    msgpack_sbuffer_clear(&sb);
    msn_snaprec_doc_encode(&sb, &d);
    CHECK_EQ_INT(msn_snaprec_doc_decode(sb.data, sb.size, &out), 0);
    CHECK(out.gz_len == 2 && memcmp(out.gz, "\x1f\x8b", 2) == 0 && out.expires_at_ms == INT64_MAX);
    /* the three-field document of earlier binaries */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "{}", 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 1);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_doc_decode(sb.data, sb.size, &out), MSN_SNAPREC_EFIELDS);
    msgpack_sbuffer_destroy(&sb);
}

static void test_meta(void)
{
    msn_snap_meta_t m, out;
    memset(&m, 0, sizeof(m));
    m.format = MSN_SNAP_FORMAT;
    m.gen = UINT64_MAX;
    m.published_at_ms = INT64_MAX;
    m.master_start_ms = INT64_MIN;
    m.max_tx_id = 1;
    m.max_obs_id = 2;
    m.tx_count = 3;
    m.obs_count = 4;
    m.legacy_schema = 1;
    memset(m.source_db, 'd', sizeof(m.source_db) - 1);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_snaprec_meta_encode(&sb, &m);
    CHECK_EQ_INT(msn_snaprec_meta_decode(sb.data, sb.size, &out), 0);
    CHECK(memcmp(&m, &out, sizeof(m)) == 0);
    /* unknown keys (a later format's) are skipped; the format is reported, not judged */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    msn_mpk_kv_i64(&pk, "format", 99);
    msn_mpk_str(&pk, "shards");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msn_mpk_str(&pk, "x");
    msn_mpk_kv_u64(&pk, "gen", 12);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_meta_decode(sb.data, sb.size, &out), 0);
    CHECK_EQ_INT(out.format, 99);
    CHECK_EQ_INT(out.gen, 12);
    /* the meta of format 1 (before checksums) has no seal: read, its format shown */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    msn_mpk_kv_i64(&pk, "format", 1);
    msn_mpk_kv_u64(&pk, "gen", 7);
    CHECK_EQ_INT(msn_snaprec_meta_decode(sb.data, sb.size, &out), 0);
    CHECK_EQ_INT(out.format, 1);
    /* a meta of this format without its seal, or with a changed byte, is damaged */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    msn_mpk_kv_i64(&pk, "format", MSN_SNAP_FORMAT);
    msn_mpk_kv_u64(&pk, "gen", 7);
    CHECK_EQ_INT(msn_snaprec_meta_decode(sb.data, sb.size, &out), MSN_SNAPREC_ECHECKSUM);
    seal(&sb);
    CHECK_EQ_INT(msn_snaprec_meta_decode(sb.data, sb.size, &out), 0);
    sb.data[3] ^= 0x20;
    CHECK(msn_snaprec_meta_decode(sb.data, sb.size, &out) != 0);
    /* no generation: not a meta record */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    msn_mpk_kv_i64(&pk, "format", MSN_SNAP_FORMAT);
    CHECK_EQ_INT(msn_snaprec_meta_decode(sb.data, sb.size, &out), MSN_SNAPREC_ESHAPE);
    /* a format that is not a number */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    msn_mpk_str(&pk, "format");
    msn_mpk_str(&pk, "1");
    msn_mpk_kv_u64(&pk, "gen", 12);
    CHECK_EQ_INT(msn_snaprec_meta_decode(sb.data, sb.size, &out), MSN_SNAPREC_ETYPE);
    msgpack_sbuffer_destroy(&sb);
}

/* The record layouts of format 5 (format 1 had no cmsg, om, channel index or feed
 * database, empty ft values, a node record of one field and no checksums; formats 2 to 4
 * had some of those changes). A change to any of them makes snapshots of two binaries
 * incompatible: it must come with a new MSN_SNAP_FORMAT (and this table updated). */
static void test_layouts_match_format(void)
{
    CHECK_EQ_INT(MSN_SNAP_FORMAT, 5);
    CHECK_EQ_INT(MSN_DBI_COUNT, 15);
    CHECK_EQ_INT(MSN_CMSGF_COUNT, 1);
    CHECK_EQ_INT(MSN_OMF_COUNT, 8);
    CHECK_EQ_INT(MSN_CHIDXF_COUNT, 7);
    CHECK_EQ_INT(MSN_SNAPREC_ID_LEN, 12);
    CHECK_EQ_INT(MSN_SNAPREC_KEYSUM_LEN, 4);
    CHECK_EQ_INT(MSN_TXF_COUNT, 11);
    CHECK_EQ_INT(MSN_OBSF_COUNT, 11);
    CHECK_EQ_INT(MSN_NODEF_COUNT, 2);
    CHECK_EQ_INT(MSN_OROWF_COUNT, 3);
    CHECK_EQ_INT(MSN_NIDXF_COUNT, 4);
    CHECK_EQ_INT(MSN_NRECF_COUNT, 6);
    CHECK_EQ_INT(MSN_DOCF_COUNT, 6);
    CHECK_EQ_INT(sizeof(msn_fx_rec_t), 24);
}

/* ---- fx entries and ids ---- */

static void test_fx_rec(void)
{
    msn_fx_rec_t rec;
    msn_snaprec_fx_make(&rec, 0x0102030405060708ULL, -5, 4, -1);
    CHECK(msn_snaprec_fx_id(&rec) == 0x0102030405060708ULL);
    CHECK(msn_snaprec_fx_first_seen_ms(&rec) == -5);
    CHECK_EQ_INT(rec.payload_type, 4);
    CHECK_EQ_INT(rec.route_type, 255);
    CHECK_EQ_INT(rec.id_be[0], 1); /* big-endian: entries sort by id */
    static const uint8_t zero[6];
    CHECK(memcmp(rec.sum, zero, 4) == 0 && memcmp(rec._pad, zero, 2) == 0);
    CHECK(msn_snaprec_fx_of(&rec, sizeof(rec)) == &rec);
    CHECK(msn_snaprec_fx_of(&rec, sizeof(rec) - 1) == NULL);
    /* sealed under its list key: a change of the entry or of the key is found */
    msn_snaprec_fx_seal(&rec, "t\x04", 2);
    CHECK_EQ_INT(msn_snaprec_fx_check(&rec, "t\x04", 2), 0);
    CHECK_EQ_INT(msn_snaprec_fx_check(&rec, "t\x05", 2), MSN_SNAPREC_ECHECKSUM);
    rec.first_seen_ms_be[7] ^= 0x10;
    CHECK_EQ_INT(msn_snaprec_fx_check(&rec, "t\x04", 2), MSN_SNAPREC_ECHECKSUM);
    uint8_t v[MSN_SNAPREC_ID_LEN];
    uint64_t id;
    msn_snaprec_id_encode(v, "key", 3, UINT64_MAX - 1);
    CHECK_EQ_INT(msn_snaprec_id_decode(v, sizeof(v), "key", 3, &id), 0);
    CHECK(id == UINT64_MAX - 1);
    CHECK_EQ_INT(msn_snaprec_id_decode(v, 8, "key", 3, &id), MSN_SNAPREC_ESHAPE);
    CHECK_EQ_INT(msn_snaprec_id_decode(v, sizeof(v), "kez", 3, &id), MSN_SNAPREC_ECHECKSUM);
    v[7] ^= 1;
    CHECK_EQ_INT(msn_snaprec_id_decode(v, sizeof(v), "key", 3, &id), MSN_SNAPREC_ECHECKSUM);
    uint8_t ks[MSN_SNAPREC_KEYSUM_LEN];
    msn_snaprec_keysum(ks, "abcdefgh", 8);
    CHECK_EQ_INT(msn_snaprec_keysum_check(ks, sizeof(ks), "abcdefgh", 8), 0);
    CHECK_EQ_INT(msn_snaprec_keysum_check(ks, sizeof(ks), "abcdefgi", 8), MSN_SNAPREC_ECHECKSUM);
    CHECK_EQ_INT(msn_snaprec_keysum_check(ks, 0, "abcdefgh", 8), MSN_SNAPREC_ESHAPE);
}

/* ---- keys ---- */

static void check_key(const msn_snap_key_t *k, const void *bytes, size_t len)
{
    CHECK_EQ_INT(k->len, len);
    CHECK(k->len == len && memcmp(k->b, bytes, len) == 0);
}

/* Every packet-list kind builds the bytes stored and looked up: kind byte + value. */
static void test_fx_keys(void)
{
    msn_snap_key_t k;
    uint8_t b = 4;
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_ALL, NULL, 0, &k), 0);
    check_key(&k, "a", 1);
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_TYPE, &b, 1, &k), 0);
    check_key(&k, "t\x04", 2);
    b = 255;
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_TYPE, &b, 1, &k), 0);
    check_key(&k, "t\xff", 2);
    b = 1;
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_ROUTE, &b, 1, &k), 0);
    check_key(&k, "r\x01", 2);
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_OBSERVER, "B3458DCF", 8, &k), 0);
    check_key(&k, "oB3458DCF", 9); /* observer ids as stored */
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_FROM, "D46343A3ff", 10, &k), 0);
    check_key(&k, "fd46343a3ff", 11); /* public keys lowercase */
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_NODE, "D46343A3ff", 10, &k), 0);
    check_key(&k, "nd46343a3ff", 11);
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_CHANNEL, "enc_38", 6, &k), 0);
    check_key(&k, "cenc_38", 7);
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_REGION, "SEA", 3, &k), 0);
    check_key(&k, "gSEA", 4);
    /* no such list keys */
    char longv[MSN_SNAP_KEY_MAX];
    memset(longv, 'x', sizeof(longv));
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_OBSERVER, longv, MSN_SNAP_KEY_MAX - 1, &k), 0);
    CHECK_EQ_INT(k.len, MSN_SNAP_KEY_MAX);
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_OBSERVER, longv, MSN_SNAP_KEY_MAX, &k), -1);
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_REGION, "", 0, &k), -1);
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_ALL, "x", 1, &k), -1);
    CHECK_EQ_INT(msn_snap_fx_key(MSN_FX_TYPE, "ab", 2, &k), -1);
    CHECK_EQ_INT(msn_snap_fx_key((msn_fx_kind_t)'z', "ab", 2, &k), -1);
    MDB_val v = msn_snap_key_val(&k);
    CHECK(v.mv_data == (void *)k.b);
}

static void test_fixed_keys(void)
{
    msn_snap_key_t k;
    uint64_t a, b;
    int64_t ms;
    msn_snap_tx_key(0x0102, &k);
    check_key(&k, "\0\0\0\0\0\0\x01\x02", 8);
    msn_snap_oid_key(7, &k);
    check_key(&k, "\0\0\0\0\0\0\0\x07", 8);
    msn_snap_orow_key(258, &k);
    check_key(&k, "\0\0\0\0\0\0\x01\x02", 8);
    msn_snap_obs_key(1, 2, &k);
    check_key(&k, "\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x02", 16);
    CHECK_EQ_INT(msn_snap_obs_key_parse(k.b, k.len, &a, &b), 0);
    CHECK(a == 1 && b == 2);
    CHECK_EQ_INT(msn_snap_obs_key_parse(k.b, 8, &a, &b), -1);
    msn_snap_ft_key(1764892800123LL, 42, &k);
    CHECK_EQ_INT(msn_snap_time_key_parse(k.b, k.len, &ms, &a), 0);
    CHECK(ms == 1764892800123LL && a == 42);
    msn_snap_fl_key(INT64_MAX, UINT64_MAX, &k);
    CHECK_EQ_INT(msn_snap_time_key_parse(k.b, k.len, &ms, &a), 0);
    CHECK(ms == INT64_MAX && a == UINT64_MAX);
    /* keys sort by time, then id */
    msn_snap_key_t k1, k2;
    msn_snap_ft_key(1000, 9, &k1);
    msn_snap_ft_key(1001, 1, &k2);
    CHECK(memcmp(k1.b, k2.b, 16) < 0);
}

static void test_text_keys(void)
{
    msn_snap_key_t k;
    CHECK_EQ_INT(msn_snap_hash_key("D595ACF88C9D9D50", 16, &k), 0);
    check_key(&k, "d595acf88c9d9d50", 16);
    CHECK_EQ_INT(msn_snap_hash_key("zz", 2, &k), -1);
    CHECK_EQ_INT(msn_snap_hash_key("", 0, &k), -1);
    char h65[65];
    memset(h65, 'a', sizeof(h65));
    CHECK_EQ_INT(msn_snap_hash_key(h65, 64, &k), 0);
    CHECK_EQ_INT(msn_snap_hash_key(h65, 65, &k), -1);
    CHECK_EQ_INT(msn_snap_node_key("D46343A3", 8, &k), 0);
    check_key(&k, "d46343a3", 8);
    CHECK_EQ_INT(msn_snap_node_key(h65, 65, &k), -1);
    CHECK_EQ_INT(msn_snap_node_key("", 0, &k), -1);
}

int main(void)
{
    MSN_RUN(test_tx_round_trip);
    MSN_RUN(test_tx_other_layouts);
    MSN_RUN(test_obs_round_trip);
    MSN_RUN(test_obs_other_layouts);
    MSN_RUN(test_node_orow);
    MSN_RUN(test_nodes_index);
    MSN_RUN(test_doc);
    MSN_RUN(test_meta);
    MSN_RUN(test_layouts_match_format);
    MSN_RUN(test_fx_rec);
    MSN_RUN(test_fx_keys);
    MSN_RUN(test_fixed_keys);
    MSN_RUN(test_text_keys);
    return msn_test_done();
}
