/*
 * test_entity_records.c: the shared pieces of the observer, channel and packet-tool
 * endpoints: the analytics parameters (shm/anparam.c, the p= field of shm/anshape.c),
 * and the snapshot records and keys of channel messages,
 * observer metrics, the channel index and entity documents (shm/snaprec.c, snapkey.c).
 */
#include <stdlib.h>
#include <string.h>

#include "shm/anparam.h"
#include "shm/anshape.h"
#include "shm/config.h"
#include "shm/snaprec.h"
#include "testlib.h"

/* ---- analytics parameters ---- */

static void test_groups(void)
{
    msn_spgroup_t g[MSN_SUBPATH_GROUPS_MAX];
    char err[200], text[120];
    int n = msn_anparam_groups(MSN_SUBPATH_GROUPS_DEFAULT, g, err, sizeof(err));
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(g[3].min_len, 5);
    CHECK_EQ_INT(g[3].max_len, 8);
    CHECK_EQ_INT(g[3].limit, 15);
    msn_anparam_groups_text(g, n, text, sizeof(text));
    CHECK_EQ_STR(text, MSN_SUBPATH_GROUPS_DEFAULT);
    /* Go's Atoi accepts a sign and leading zeros; the limit is capped at 200 */
    CHECK_EQ_INT(msn_anparam_groups("+02-03:0999", g, err, sizeof(err)), 1);
    msn_anparam_groups_text(g, 1, text, sizeof(text));
    CHECK_EQ_STR(text, "2-3:200");
    /* CoreScope's messages, which it answers with status 200 */
    CHECK_EQ_INT(msn_anparam_groups("2-2", g, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "invalid group format: 2-2");
    CHECK_EQ_INT(msn_anparam_groups("22:5", g, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "invalid range format: 22");
    CHECK_EQ_INT(msn_anparam_groups("1-2:5", g, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "invalid group: 1-2:5");
    CHECK_EQ_INT(msn_anparam_groups("3-2:5", g, err, sizeof(err)), -1);
    CHECK_EQ_INT(msn_anparam_groups("2-3:0", g, err, sizeof(err)), -1);
    CHECK_EQ_INT(msn_anparam_groups("2-3:x", g, err, sizeof(err)), -1);
    CHECK_EQ_INT(msn_anparam_groups("2-3:99999999999999999999", g, err, sizeof(err)), -1);
    CHECK_EQ_INT(msn_anparam_groups("2-2:5,", g, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "invalid group format: ");
    /* more groups than a request may ask for */
    CHECK_EQ_INT(msn_anparam_groups("2-2:1,2-2:1,2-2:1,2-2:1,2-2:1,2-2:1,2-2:1,2-2:1,2-2:1", g, err, sizeof(err)), -2);
}

static void test_window_seconds(void)
{
    int64_t s;
    CHECK(msn_anparam_window_s("24h", &s) == 0 && s == 86400);
    CHECK(msn_anparam_window_s("3d", &s) == 0 && s == 3 * 86400);
    CHECK(msn_anparam_window_s("90m", &s) == 0 && s == 5400);
    CHECK(msn_anparam_window_s("1h30m", &s) == 0 && s == 5400);
    CHECK(msn_anparam_window_s("1.5h", &s) == 0 && s == 5400);
    CHECK(msn_anparam_window_s("-2h", &s) == 0 && s == -7200);
    CHECK(msn_anparam_window_s("0", &s) == 0 && s == 0);
    CHECK(msn_anparam_window_s("500ms", &s) == 0 && s == 0);
    static const char *const bad[] = {"", "d", "0d", "-1d", "1.5d", "abc", "10", "5x", "h", "99999999999d", "1e9h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (msn_anparam_window_s(bad[i], &s) == 0) {
            fprintf(stderr, "accepted window %s\n", bad[i]);
            msn_test_failures++;
        }
}

static void test_shape_param(void)
{
    msn_anshape_t sh, back;
    char err[100], key[MSN_ANSHAPE_KEY_MAX], p[200];
    CHECK_EQ_INT(msn_anshape_parse("sjc", "24h", NULL, NULL, NULL, &sh, err, sizeof(err)), 0);
    /* the parameter is last and may hold any byte, ';' and '=' included */
    const char *odd = "7:id;w=1h;p=x";
    CHECK_EQ_INT(msn_anshape_set_param(&sh, odd, strlen(odd), err, sizeof(err)), 0);
    msn_anshape_key(&sh, key, sizeof(key));
    CHECK_EQ_STR(key, "r=SJC;w=24h;p=7:id;w=1h;p=x");
    CHECK_EQ_INT(msn_anshape_from_key(key, &back), 0);
    CHECK_EQ_STR(back.param, odd);
    CHECK_EQ_STR(back.region, "SJC");
    CHECK_EQ_STR(back.window, "24h");
    CHECK(!msn_anshape_is_default(&back));
    CHECK_EQ_INT(msn_anshape_from_key("p=abc", &back), 0);
    CHECK_EQ_STR(back.param, "abc");
    CHECK_EQ_INT(msn_anshape_from_key("p=", &back), -1);
    /* too long for a shape key: refused, the shape is left as it was */
    memset(p, 'x', sizeof(p) - 1);
    p[sizeof(p) - 1] = 0;
    CHECK_EQ_INT(msn_anshape_set_param(&sh, p, 110, err, sizeof(err)), -1);
    CHECK_EQ_STR(sh.param, odd);
    /* only the analytics that take a parameter keep it */
    msn_anshape_restrict(MSN_AN_RF, &sh);
    CHECK_EQ_STR(sh.param, "");
    CHECK_EQ_INT(msn_anshape_set_param(&sh, "1:abc", 5, err, sizeof(err)), 0);
    msn_anshape_restrict(MSN_AN_OBSERVER_ANALYTICS, &sh);
    CHECK_EQ_STR(sh.param, "1:abc");
    CHECK_EQ_STR(sh.region, "");
    CHECK_EQ_STR(sh.window, "");
    char name[200];
    msn_anshape_doc_name(MSN_AN_OBSERVER_ANALYTICS, &sh, name, sizeof(name));
    CHECK_EQ_STR(name, "an/observer-analytics?p=1:abc");
    CHECK(!msn_anshape_has_default(MSN_AN_OBSERVER_ANALYTICS));
    CHECK(msn_anshape_has_default(MSN_AN_SCOPE_STATS));
    CHECK_EQ_INT(msn_anparam_observer(30, "ID", p, sizeof(p)), 0);
    CHECK_EQ_STR(p, "30:ID");
    CHECK_EQ_INT(msn_anparam_observer(30, "ID", p, 4), -1);
}

/* ---- snapshot records and keys ---- */

static void test_cmsg_om(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_snaprec_cmsg_t m = {msn_sv("{\"text\":\"hi\"}")}, m2;
    msn_snaprec_cmsg_encode(&sb, &m);
    CHECK_EQ_INT(msn_snaprec_cmsg_decode(sb.data, sb.size, &m2), 0);
    CHECK(m2.fragment.len == m.fragment.len && memcmp(m2.fragment.p, m.fragment.p, m.fragment.len) == 0);
    msn_snaprec_om_t o, o2;
    memset(&o, 0, sizeof(o));
    o.timestamp = msn_sv("2026-01-01T00:05:00Z");
    o.noise_floor = -104.5;
    o.has_noise_floor = 1;
    o.v[MSN_OM_TX_AIR] = 12;
    o.has[MSN_OM_TX_AIR] = 1;
    o.v[MSN_OM_RECV] = -3;
    o.has[MSN_OM_RECV] = 1;
    msgpack_sbuffer_clear(&sb);
    msn_snaprec_om_encode(&sb, &o);
    CHECK_EQ_INT(msn_snaprec_om_decode(sb.data, sb.size, &o2), 0);
    CHECK(o2.has_noise_floor && o2.noise_floor == -104.5);
    CHECK(o2.has[MSN_OM_TX_AIR] && o2.v[MSN_OM_TX_AIR] == 12);
    CHECK(o2.has[MSN_OM_RECV] && o2.v[MSN_OM_RECV] == -3);
    CHECK(!o2.has[MSN_OM_BATTERY]);
    CHECK(o2.timestamp.len == 20 && memcmp(o2.timestamp.p, "2026-01-01T00:05:00Z", 20) == 0);
    /* a cmsg value is not an om value */
    msgpack_sbuffer_clear(&sb);
    msn_snaprec_cmsg_encode(&sb, &m);
    CHECK_EQ_INT(msn_snaprec_om_decode(sb.data, sb.size, &o2), MSN_SNAPREC_EFIELDS);
    msgpack_sbuffer_destroy(&sb);
}

static void test_channel_index(void)
{
    msn_snaprec_chreg_t regs[2] = {{msn_sv("SJC"), msn_sv("2026-01-02T00:00:00Z"), 7},
                                   {msn_sv("SFO"), {NULL, 0}, 1}};
    msn_snaprec_chan_t ch[2];
    memset(ch, 0, sizeof(ch));
    ch[0].hash = msn_sv("#test");
    ch[0].tx_count = 3;
    ch[0].last_activity = msn_sv("2026-01-02T00:00:00Z");
    ch[0].last_message = msn_sv("hello");
    ch[0].regions = regs;
    ch[0].n_regions = 2;
    ch[1].hash = msn_sv("enc_3A");
    ch[1].encrypted = 1;
    ch[1].tx_count = 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_snaprec_chidx_encode(&sb, ch, 2);
    msn_chidx_reader_t it;
    uint32_t n;
    CHECK_EQ_INT(msn_snaprec_chidx_open(&it, sb.data, sb.size, &n), 0);
    CHECK_EQ_INT(n, 2);
    msn_snaprec_chan_t c;
    msn_snaprec_chreg_t rg;
    CHECK_EQ_INT(msn_snaprec_chidx_next(&it, &c), 1);
    CHECK(c.hash.len == 5 && !c.encrypted && c.tx_count == 3 && c.n_regions == 2 && c.last_sender.p == NULL);
    CHECK_EQ_INT(msn_snaprec_chidx_region(&it, &rg), 1);
    CHECK(rg.code.len == 3 && memcmp(rg.code.p, "SJC", 3) == 0 && rg.obs_count == 7);
    /* the next channel may be read without reading every region of this one */
    CHECK_EQ_INT(msn_snaprec_chidx_next(&it, &c), 1);
    CHECK(c.encrypted && c.tx_count == 1 && c.n_regions == 0 && c.last_activity.p == NULL);
    CHECK_EQ_INT(msn_snaprec_chidx_region(&it, &rg), 0);
    CHECK_EQ_INT(msn_snaprec_chidx_next(&it, &c), 0);
    /* a cut document is an error, not a crash */
    for (size_t cut = 0; cut < sb.size; cut++) {
        int rc = msn_snaprec_chidx_open(&it, sb.data, cut, &n);
        while (rc == 0 && (rc = msn_snaprec_chidx_next(&it, &c)) == 1)
            while ((rc = msn_snaprec_chidx_region(&it, &rg)) == 1)
                ;
        CHECK(rc < 0 || (rc == 0 && cut == sb.size));
    }
    msgpack_sbuffer_destroy(&sb);
}

static void test_keys(void)
{
    msn_snap_key_t k, k2;
    CHECK_EQ_INT(msn_snap_chl_key("#test", 5, "", 0, &k), 0);
    CHECK(k.len == 6 && memcmp(k.b, "#test\0", 6) == 0);
    CHECK_EQ_INT(msn_snap_chl_key("#test", 5, "SJC", 3, &k2), 0);
    CHECK(k2.len == 9 && memcmp(k2.b, "#test\0SJC", 9) == 0);
    CHECK_EQ_INT(msn_snap_chl_key("", 0, "", 0, &k), -1);
    char big[300];
    memset(big, 'a', sizeof(big));
    CHECK_EQ_INT(msn_snap_chl_key(big, sizeof(big), "", 0, &k), -1);
    uint8_t v1[16], v2[16];
    msn_snap_chl_val(100, 7, v1);
    msn_snap_chl_val(100, 8, v2);
    CHECK(memcmp(v1, v2, 16) < 0); /* same second: by id */
    msn_snap_chl_val(99, 900, v2);
    CHECK(memcmp(v2, v1, 16) < 0); /* by second first */
    int64_t ls;
    uint64_t id;
    CHECK(msn_snap_chl_val_parse(v1, 16, &ls, &id) == 0 && ls == 100 && id == 7);
    CHECK(msn_snap_chl_val_parse(v1, 15, &ls, &id) < 0);
    /* om keys sort by time, negative times before positive ones, per observer */
    msn_snap_key_t a, b;
    CHECK_EQ_INT(msn_snap_om_key("obs", 3, -5000, &a), 0);
    CHECK_EQ_INT(msn_snap_om_key("obs", 3, 5000, &b), 0);
    CHECK(memcmp(a.b, b.b, a.len) < 0);
    int64_t ts;
    CHECK(msn_snap_om_key_parse(a.b, a.len, "obs", 3, &ts) == 0 && ts == -5000);
    CHECK(msn_snap_om_key_parse(a.b, a.len, "ob", 2, &ts) < 0);
    CHECK(msn_snap_om_key_parse(a.b, a.len, "obt", 3, &ts) < 0);
    CHECK_EQ_INT(msn_snap_om_key("a\0b", 3, 0, &a), -1);
    /* entity document names */
    char name[64];
    CHECK_EQ_INT(msn_snap_famdoc_name("observer", "AB CD", 5, name, sizeof(name)), 0);
    CHECK_EQ_STR(name, "observer/AB CD");
    CHECK_EQ_INT(msn_snap_famdoc_name("observer", "", 0, name, sizeof(name)), -1);
    CHECK_EQ_INT(msn_snap_famdoc_name("observer", big, sizeof(big), name, sizeof(name)), -1);
}

int main(void)
{
    MSN_RUN(test_groups);
    MSN_RUN(test_window_seconds);
    MSN_RUN(test_shape_param);
    MSN_RUN(test_cmsg_om);
    MSN_RUN(test_channel_index);
    MSN_RUN(test_keys);
    return msn_test_done();
}
