/* test_anshape.c: the analytics shapes' canonical keys and normal form (shm/anshape.c). */
#include <stdio.h>
#include <string.h>

#include "shm/anshape.h"
#include "shm/config.h"
#include "testlib.h"

#define MIN_MS 60000LL
#define INTERVAL (5 * MIN_MS)
#define NOW 1796461870000LL /* 2026-12-05T09:11:10Z */

/* The normal key of the query values for analytic an, or "ERR: reason". */
static const char *key_of(int an, const char *region, const char *window, const char *from, const char *to,
                          const char *area)
{
    static char out[200];
    char err[160];
    msn_anshape_t sh;
    if (msn_anshape_parse(region, window, from, to, area, &sh, err, sizeof(err)) < 0) {
        snprintf(out, sizeof(out), "ERR: %s", err);
        return out;
    }
    msn_anshape_restrict(an, &sh);
    if (msn_anshape_normalise(&sh, INTERVAL, NOW, err, sizeof(err)) < 0) {
        snprintf(out, sizeof(out), "ERR: %s", err);
        return out;
    }
    CHECK(msn_anshape_is_normal(&sh, INTERVAL, NOW));
    msn_anshape_key(&sh, out, sizeof(out));
    return out;
}

static void test_canonical_region_and_window(void)
{
    CHECK_EQ_STR(key_of(MSN_AN_RF, " sjc,SFO ,sjc", NULL, NULL, NULL, NULL), "r=SFO,SJC");
    CHECK_EQ_STR(key_of(MSN_AN_RF, "All", "1d", NULL, NULL, NULL), "w=24h");
    CHECK_EQ_STR(key_of(MSN_AN_ROLES, "SFO", "7d", NULL, NULL, NULL), ""); /* roles takes neither */
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, "2h", NULL, NULL, NULL),
                 "ERR: invalid window: expected 1h, 24h, 3d, 7d or 30d");
}

static void test_times_rounded_to_the_interval(void)
{
    /* every from within one interval gives the same shape: rounded down */
    const char *froms[] = {"2026-12-04T10:00:00Z", "2026-12-04T10:00:01Z", "2026-12-04T10:02:30Z",
                           "2026-12-04T10:04:59.999Z", "2026-12-04T11:04:59+01:00"};
    for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++)
        CHECK_EQ_STR(key_of(MSN_AN_TOPOLOGY, NULL, "24h", froms[i], NULL, NULL), "f=1796378400000");
    CHECK_EQ_STR(key_of(MSN_AN_TOPOLOGY, NULL, NULL, "2026-12-04T10:05:00Z", NULL, NULL), "f=1796378700000");
    /* to is rounded up */
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, "2026-12-04T10:00:00Z", "2026-12-04T12:00:01Z", NULL),
                 "f=1796378400000;t=1796385900000");
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, NULL, "2026-12-04T12:00:00Z", NULL), "t=1796385600000");
    /* a to that is not in the past means "until now": dropped */
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, "2026-12-04T10:00:00Z", "2026-12-05T09:11:09Z", NULL),
                 "f=1796378400000");
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, NULL, "2030-01-01T00:00:00Z", NULL), "");
    /* a from at or before the epoch means "from the start" */
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, "1970-01-01T00:00:00Z", NULL, NULL), "");
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, "1969-07-20T20:17:00Z", NULL, NULL), "");
    /* analytics that take no time window ignore from and to */
    CHECK_EQ_STR(key_of(MSN_AN_DISTANCE, "SFO", NULL, "2026-12-04T10:00:01Z", NULL, NULL), "r=SFO");
}

static void test_nonsense_refused(void)
{
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, "2026-12-04T12:00:00Z", "2026-12-04T10:00:00Z", NULL),
                 "ERR: invalid from: after to");
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, "2027-01-01T00:00:00Z", NULL, NULL),
                 "ERR: invalid from: in the future");
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, NULL, "1960-01-01T00:00:00Z", NULL),
                 "ERR: invalid to: before the epoch");
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, "yesterday", NULL, NULL),
                 "ERR: invalid from: expected an RFC3339 time");
    /* a from just ahead of now (clock skew between client and server) is fine */
    CHECK_EQ_STR(key_of(MSN_AN_RF, NULL, NULL, "2026-12-05T09:12:00Z", NULL, NULL), "f=1796461800000");
}

static void test_area_dropped(void)
{
    /* no areas are configured: an area filters nothing, so it makes no shape of its own */
    CHECK_EQ_STR(key_of(MSN_AN_TOPOLOGY, NULL, NULL, NULL, NULL, "bay-area"), "");
    CHECK_EQ_STR(key_of(MSN_AN_NODES_CLOCK_SKEW, NULL, NULL, NULL, NULL, "x1"), "");
}

static void test_is_normal(void)
{
    msn_anshape_t sh;
    memset(&sh, 0, sizeof(sh));
    sh.from_ms = 1796378400001LL; /* not on the interval */
    CHECK(!msn_anshape_is_normal(&sh, INTERVAL, NOW));
    sh.from_ms = 1796378400000LL;
    CHECK(msn_anshape_is_normal(&sh, INTERVAL, NOW));
    sh.to_ms = NOW + INTERVAL; /* in the future */
    CHECK(!msn_anshape_is_normal(&sh, INTERVAL, NOW));
    sh.to_ms = 0;
    snprintf(sh.area, sizeof(sh.area), "x");
    CHECK(!msn_anshape_is_normal(&sh, INTERVAL, NOW));
}

int main(void)
{
    MSN_RUN(test_canonical_region_and_window);
    MSN_RUN(test_times_rounded_to_the_interval);
    MSN_RUN(test_nonsense_refused);
    MSN_RUN(test_area_dropped);
    MSN_RUN(test_is_normal);
    return msn_test_done();
}
