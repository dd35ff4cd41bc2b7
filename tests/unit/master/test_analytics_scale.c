/*
 * test_analytics_scale.c: every analytic on a synthetic store shaped like an operator's
 * database (2,600 nodes, 100 observers, 325K transmissions with about 22 observations
 * each at scale 1). The default scale is small so the suite stays quick; set
 * MESHSNAP_AN_SCALE (e.g. 1) to run the full size, and MESHSNAP_AN_ONLY to one analytic
 * name to time just that one. Compute times are printed, never
 * asserted; the test checks that every body is valid JSON and a few invariants.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "master/analytics/analytics.h"
#include "master/arena.h"
#include "master/store.h"
#include "shm/timeutil.h"
#include "test_analytics_json.h"
#include "testlib.h"

#define NOW_MS 1784376000000LL

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static double rndf(void)
{
    return (double)rnd() / 2097152.0 / 1048576.0 * 1024; /* about [0,1) */
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(((const msn_node_t *)a)->public_key, ((const msn_node_t *)b)->public_key);
}

static void build(msn_store_t *s, double scale)
{
    msn_store_init(s);
    const int n_nodes = 2600, n_obsv = 100;
    static const char *const roles[] = {"repeater", "repeater", "repeater", "repeater", "repeater", "repeater",
                                        "repeater", "repeater", "repeater", "room",     "companion", "companion",
                                        "companion", "companion", "companion", "companion", "companion",
                                        "companion", "companion", "sensor"};
    s->nodes = msn_xcalloc(n_nodes, sizeof(msn_node_t));
    for (int i = 0; i < n_nodes; i++) {
        msn_node_t *n = &s->nodes[i];
        char k[65], name[32];
        for (int q = 0; q < 64; q++)
            k[q] = "0123456789abcdef"[rnd() & 15];
        k[64] = 0;
        n->public_key = msn_arena_strdup(s->arena, k);
        snprintf(name, sizeof(name), "Node %04d", i);
        n->name = msn_arena_strdup(s->arena, name);
        n->role = roles[rnd() % 20];
        if (rnd() % 10 < 8) {
            n->has_lat = n->has_lon = 1;
            n->lat = 36 + 3 * rndf();
            n->lon = -123 + 3 * rndf();
        }
        n->advert_count = rnd() % 500;
        n->last_seen_ms = NOW_MS - (int64_t)(rnd() % (14 * 86400)) * 1000;
        char iso[32];
        msn_format_iso_ms(iso, n->last_seen_ms);
        n->last_seen = msn_arena_strdup(s->arena, iso);
    }
    s->n_nodes = (uint32_t)n_nodes;
    qsort(s->nodes, s->n_nodes, sizeof(msn_node_t), key_cmp);
    uint32_t *relays = msn_xmalloc(n_nodes * sizeof(uint32_t));
    uint32_t n_relays = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++)
        if (strcmp(s->nodes[i].role, "repeater") == 0 || strcmp(s->nodes[i].role, "room") == 0)
            relays[n_relays++] = i;
    static const char *const iatas[] = {"SJC", "SFO", "OAK", "LAX", "SEA"};
    s->observers = msn_xcalloc(n_obsv, sizeof(msn_observer_t));
    for (int i = 0; i < n_obsv; i++) {
        msn_observer_t *o = &s->observers[i];
        o->rowid = i + 1;
        char id[65];
        const char *pk = s->nodes[relays[rnd() % n_relays]].public_key;
        for (int q = 0; q < 64; q++)
            id[q] = (char)(pk[q] >= 'a' ? pk[q] - 32 : pk[q]);
        id[64] = 0;
        o->id = msn_arena_strdup(s->arena, id);
        char name[32];
        snprintf(name, sizeof(name), "Observer %d", i);
        o->name = msn_arena_strdup(s->arena, name);
        o->iata = iatas[i % 5];
        o->has_can_relay = 1;
        o->can_relay = i % 20 != 0;
    }
    s->n_observers = (uint32_t)n_obsv;

    uint32_t n_tx = (uint32_t)(325000 * scale);
    if (n_tx < 50)
        n_tx = 50;
    s->tx = msn_xcalloc(n_tx, sizeof(msn_tx_t));
    s->cap_obs = (uint32_t)(n_tx * 23);
    s->obs = msn_xmalloc((size_t)s->cap_obs * sizeof(msn_obs_t));
    int64_t start_s = NOW_MS / 1000 - 10 * 86400;
    char buf[1024];
    for (uint32_t i = 0; i < n_tx; i++) {
        msn_tx_t *t = &s->tx[i];
        t->id = i + 1;
        t->best = -1;
        int64_t fs = start_s + (int64_t)i * (10 * 86400) / n_tx;
        char iso[32];
        msn_format_iso_s(iso, fs);
        t->first_seen = msn_arena_strdup(s->arena, iso);
        t->first_seen_ms = fs * 1000;
        snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)rnd() << 20 ^ i);
        t->hash = msn_arena_strdup(s->arena, buf);
        uint32_t r = rnd() % 100;
        int pt = r < 25 ? 4 : r < 55 ? 5 : r < 70 ? 2 : r < 80 ? 0 : r < 90 ? 1 : r < 95 ? 8 : 9;
        int route = (pt == 4 && rnd() % 10 == 0) ? 2 : 1;
        int hs = rnd() % 100 < 85 ? 1 : (rnd() % 4 ? 2 : 3);
        int nh = route == 2 ? 0 : (int)(rnd() % 11);
        uint32_t route_nodes[16];
        for (int h = 0; h < nh; h++)
            route_nodes[h] = relays[rnd() % n_relays];
        /* raw: header, path byte, hops, payload */
        int len = snprintf(buf, sizeof(buf), "%02X%02X", (pt << 2) | route, ((hs - 1) << 6) | nh);
        for (int h = 0; h < nh; h++)
            for (int b = 0; b < hs * 2; b++) {
                char c = s->nodes[route_nodes[h]].public_key[b];
                buf[len++] = (char)(c >= 'a' ? c - 32 : c);
            }
        int plen = 10 + (int)(rnd() % 90);
        for (int b = 0; b < plen * 2; b++)
            buf[len++] = "0123456789ABCDEF"[rnd() & 15];
        buf[len] = 0;
        t->raw_hex = msn_arena_strndup(s->arena, buf, (size_t)len);
        t->route_type = route;
        t->payload_type = pt;
        uint32_t origin = rnd() % s->n_nodes;
        if (pt == 4) {
            int64_t skew = rnd() % 50 == 0 ? -(int64_t)(rnd() % 100000000) : (int64_t)(rnd() % 20) - 10;
            snprintf(buf, sizeof(buf), "{\"type\":\"ADVERT\",\"pubKey\":\"%s\",\"timestamp\":%lld,\"name\":\"%s\"}",
                     s->nodes[origin].public_key, (long long)(fs + skew), s->nodes[origin].name);
        } else if (pt == 5) {
            int ch = (int)(rnd() % 40);
            if (ch < 30)
                snprintf(buf, sizeof(buf),
                         "{\"type\":\"CHAN\",\"channel\":\"#ch%d\",\"channelHash\":%d,\"decryptionStatus\":"
                         "\"decrypted\",\"text\":\"message %u\",\"sender\":\"user%u\"}",
                         ch, ch, rnd() % 1000, rnd() % 300);
            else
                snprintf(buf, sizeof(buf), "{\"type\":\"GRP_TXT\",\"channelHash\":%d,\"channelHashHex\":\"%02X\"}",
                         ch + 100, ch + 100);
        } else {
            snprintf(buf, sizeof(buf), "{\"type\":\"OTHER\",\"destHash\":\"%02x\"}", rnd() & 255);
        }
        t->decoded_json = msn_arena_strdup(s->arena, buf);
        int n_obs = 1 + (int)(rnd() % 43);
        t->obs = msn_xmalloc((size_t)n_obs * sizeof(uint32_t));
        t->cap_obs = (uint32_t)n_obs;
        for (int q = 0; q < n_obs && s->n_obs < s->cap_obs; q++) {
            msn_obs_t *o = &s->obs[s->n_obs];
            memset(o, 0, sizeof(*o));
            o->id = s->n_obs + 1;
            o->tx_id = t->id;
            o->observer_rowid = 1 + (int64_t)(rnd() % n_obsv);
            o->timestamp = fs + (int64_t)(rnd() % 30);
            if (rnd() % 10 < 8) {
                o->has_snr = o->has_rssi = 1;
                o->snr = -20 + 0.25 * (rnd() % 140);
                o->rssi = -130 + (double)(rnd() % 110);
            }
            int k = nh ? (int)(rnd() % (uint32_t)(nh + 1)) : 0;
            int pl = 0;
            buf[pl++] = '[';
            for (int h = 0; h < k; h++) {
                if (h)
                    buf[pl++] = ',';
                buf[pl++] = '"';
                for (int b = 0; b < hs * 2; b++) {
                    char c = s->nodes[route_nodes[h]].public_key[b];
                    buf[pl++] = (char)(c >= 'a' ? c - 32 : c);
                }
                buf[pl++] = '"';
            }
            buf[pl++] = ']';
            buf[pl] = 0;
            o->path_json = msn_arena_strndup(s->arena, buf, (size_t)pl);
            o->hops = (uint8_t)k;
            t->obs[t->n_obs++] = s->n_obs;
            if (t->best < 0 || o->hops > s->obs[t->best].hops ||
                (o->hops == s->obs[t->best].hops && o->timestamp >= s->obs[t->best].timestamp))
                t->best = (int32_t)s->n_obs;
            s->n_obs++;
        }
    }
    s->n_tx = n_tx;
    s->cap_tx = n_tx;
    free(relays);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_all(msn_store_t *s, const msn_an_shape_t *shape, const char *label)
{
    const char *only = getenv("MESHSNAP_AN_ONLY"); /* one analytic by name, for profiling */
    for (int an = 0; an < MSN_AN_COUNT; an++) {
        if (only && *only && strcmp(only, msn_analytic_names[an]) != 0)
            continue;
        msn_buf_t b = MSN_BUF_INIT;
        char err[256];
        double t0 = now_s();
        int rc = msn_analytic_compute(an, s, shape, NOW_MS, &b, err, sizeof(err));
        double dt = now_s() - t0;
        CHECK_EQ_INT(rc, 0);
        jv_t *v = jv_parse(b.data ? b.data : "", b.len);
        CHECK(v != NULL);
        if (an == MSN_AN_RF && v != NULL && shape == NULL)
            CHECK_EQ_INT(jv_num(jv_get(v, "totalAllPackets")), s->n_obs);
        if (an == MSN_AN_ROLES && v != NULL)
            CHECK_EQ_INT(jv_num(jv_get(v, "totalNodes")), s->n_nodes);
        printf("%-8s %-22s %8.3f s %10zu bytes\n", label, msn_analytic_names[an], dt, b.len);
        jv_free(v);
        msn_buf_free(&b);
    }
}

static void test_scale(void)
{
    const char *e = getenv("MESHSNAP_AN_SCALE");
    double scale = e && *e ? atof(e) : 0.01;
    if (scale <= 0)
        scale = 0.01;
    msn_store_t s;
    double t0 = now_s();
    build(&s, scale);
    printf("store: %u transmissions, %u observations, %u nodes, %u observers (built in %.1f s)\n", s.n_tx, s.n_obs,
           s.n_nodes, s.n_observers, now_s() - t0);
    run_all(&s, NULL, "default");
    msn_an_shape_t region = {"SJC,SFO", 0, 0, NULL, NULL, NULL};
    run_all(&s, &region, "region");
    msn_an_shape_t window = {NULL, NOW_MS - 3 * 86400000LL, NOW_MS, NULL, NULL, NULL};
    run_all(&s, &window, "window");
    msn_store_free(&s);
}

int main(void)
{
    MSN_RUN(test_scale);
    return msn_test_done();
}
