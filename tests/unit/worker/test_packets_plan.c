/* test_packets_plan.c: the /api/packets parameter parser and query planner
 * (worker/packets_plan.c), without a snapshot. */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "worker/packets_plan.h"
#include "worker/query.h"

/* A request with the parameters of a query string ("a=1&b=2"), split and decoded by the
 * worker's query parser (a refused query string is a test error). */
typedef struct {
    msn_api_req_t r;
    msn_qparam_t params[32];
    char text[1024];
} req_t;

static const msn_api_req_t *req(req_t *q, const char *query)
{
    char err[200];
    memset(q, 0, sizeof(*q));
    snprintf(q->text, sizeof(q->text), "%s", query);
    q->r.q = q->params;
    if (msn_query_parse(q->text, strlen(q->text), q->params, 32, &q->r.nq, err, sizeof(err)) < 0) {
        fprintf(stderr, "  %s: the query parser refused it: %s\n", query, err);
        msn_test_failures++;
    }
    return &q->r;
}

/* Parses query; returns the parse result, with the query in *out and the error in err. */
static int parse(const char *query, msn_pk_query_t *out, char err[256])
{
    req_t q;
    err[0] = '\0';
    return msn_pk_parse(req(&q, query), out, err, 256);
}

/* Parses (expecting success) and plans query, with `node` resolved to node_key. */
static void plan(const char *query, const char *node_key, int node_missing, msn_pk_query_t *q,
                 msn_pk_plan_t *p)
{
    char err[256];
    CHECK_EQ_INT(parse(query, q, err), 0);
    msn_pk_plan(q, node_key, node_missing, p);
}

static void check_error(const char *query, const char *want)
{
    msn_pk_query_t q;
    char err[256];
    CHECK_EQ_INT(parse(query, &q, err), -1);
    if (strstr(err, want) == NULL)
        fprintf(stderr, "  %s: error \"%s\" lacks \"%s\"\n", query, err, want);
    CHECK(strstr(err, want) != NULL);
}

static void test_defaults(void)
{
    msn_pk_query_t q;
    char err[256];
    CHECK_EQ_INT(parse("", &q, err), 0);
    CHECK_EQ_INT(q.limit, 50);
    CHECK_EQ_INT(q.offset, 0);
    CHECK_EQ_INT(q.asc, 0);
    CHECK_EQ_INT(q.grouped, 0);
    CHECK_EQ_INT(q.expand, 0);
    CHECK_EQ_INT(q.default_page, 1);
    CHECK(!msn_pk_filter_active(&q.filter));
    CHECK(q.hash[0] == '\0' && q.region[0] == '\0' && q.observer == NULL && q.channel == NULL &&
          q.node == NULL);
    /* the published first page answers only the first page in the default order */
    CHECK_EQ_INT(parse("limit=50&offset=0&order=desc", &q, err), 0);
    CHECK_EQ_INT(q.default_page, 1);
    CHECK_EQ_INT(parse("order=asc", &q, err), 0);
    CHECK_EQ_INT(q.default_page, 0);
    CHECK_EQ_INT(parse("limit=20", &q, err), 0);
    CHECK_EQ_INT(q.default_page, 0);
    CHECK_EQ_INT(parse("observer=", &q, err), 0);
    CHECK_EQ_INT(q.default_page, 0);
    CHECK(q.observer == NULL);
}

/* CoreScope's clamping of limit and offset stays; numbers out of range are refused. */
static void test_limit_offset(void)
{
    msn_pk_query_t q;
    char err[256];
    const char *to_default[] = {"limit=abc", "limit=0", "limit=-5", "limit=", "limit=x5", "limit=%2B5"};
    for (size_t i = 0; i < sizeof(to_default) / sizeof(to_default[0]); i++) {
        CHECK_EQ_INT(parse(to_default[i], &q, err), 0);
        CHECK_EQ_INT(q.limit, MSN_PK_LIMIT_DEFAULT);
    }
    CHECK_EQ_INT(parse("limit=20000", &q, err), 0);
    CHECK_EQ_INT(q.limit, MSN_PK_LIMIT_MAX);
    CHECK_EQ_INT(parse("limit=9223372036854775807", &q, err), 0);
    CHECK_EQ_INT(q.limit, MSN_PK_LIMIT_MAX);
    CHECK_EQ_INT(parse("limit=7&offset=13", &q, err), 0);
    CHECK(q.limit == 7 && q.offset == 13);
    const char *to_zero[] = {"offset=-3", "offset=abc", "offset=", "offset=-9223372036854775808"};
    for (size_t i = 0; i < sizeof(to_zero) / sizeof(to_zero[0]); i++) {
        CHECK_EQ_INT(parse(to_zero[i], &q, err), 0);
        CHECK_EQ_INT(q.offset, 0);
    }
    CHECK_EQ_INT(parse("offset=9007199254740991", &q, err), 0);
    CHECK(q.offset == MSN_API_MAX_OFFSET);
    check_error("offset=9007199254740992", "invalid offset: out of range");
    check_error("offset=9223372036854775807&type=4", "invalid offset: out of range");
    check_error("offset=99999999999999999999", "invalid offset");
    check_error("offset=-99999999999999999999", "invalid offset");
    check_error("limit=99999999999999999999", "invalid limit: out of range");
    /* a number with anything after it is refused, not read as its leading digits */
    check_error("limit=5x", "invalid limit: characters after the number");
    check_error("limit=1%20", "invalid limit: characters after the number");
    check_error("offset=10abc", "invalid offset: characters after the number");
    check_error("type=4.0", "invalid type: characters after the number");
    check_error("route=1e0", "invalid route: characters after the number");
}

static void test_filters(void)
{
    msn_pk_query_t q;
    char err[256];
    CHECK_EQ_INT(parse("type=4&route=1", &q, err), 0);
    CHECK(q.filter.has_type && q.filter.type == 4 && q.filter.has_route && q.filter.route == 1);
    check_error("type=16", "invalid type: expected a payload type number 0-15");
    check_error("type=-1", "invalid type");
    check_error("type=x", "invalid type");
    check_error("type=99999999999999999999", "invalid type");
    check_error("route=4", "invalid route: expected a route type number 0-3");
    /* since/until: ISO-8601, exclusive, years 0000-9999 */
    CHECK_EQ_INT(parse("since=2026-11-30T00:33:46Z&until=2026-12-03", &q, err), 0);
    CHECK(q.filter.has_since && q.filter.since_ms == 1795998826000LL);
    CHECK(q.filter.has_until && q.filter.until_ms == 1796256000000LL);
    check_error("since=bogus", "invalid since: expected an ISO-8601 time");
    check_error("until=2026-13-01", "invalid until");
    check_error("since=0000-01-01T00:00:00%2B01:00", "invalid since: out of range");
    check_error("until=9999-12-31T23:59:60Z", "invalid until: out of range");
    CHECK_EQ_INT(parse("since=0000-01-01T00:00:00Z&until=9999-12-31T23:59:59.999Z", &q, err), 0);
    /* region: IATA codes, upper-cased; ALL is no filter */
    CHECK_EQ_INT(parse("region=sea,%20yvr", &q, err), 0); /* decoded by the query parser */
    CHECK_EQ_STR(q.region, "SEA, YVR");
    CHECK_EQ_INT(parse("region=sea,+yvr", &q, err), 0);
    CHECK_EQ_STR(q.region, "SEA, YVR");
    CHECK_EQ_INT(parse("region=all", &q, err), 0);
    CHECK_EQ_STR(q.region, "");
    check_error("region=S*A", "invalid region");
    /* hash: hex, lowercased */
    CHECK_EQ_INT(parse("hash=D595ACF88C9D9D50", &q, err), 0);
    CHECK_EQ_STR(q.hash, "d595acf88c9d9d50");
    CHECK_EQ_INT(q.hash_nomatch, 0);
    /* not a hex hash (the search box sends any text): no error, nothing matches */
    CHECK_EQ_INT(parse("hash=Gilroy", &q, err), 0);
    CHECK(q.hash_nomatch && q.hash[0] == '\0');
    CHECK_EQ_INT(parse("hash=00000000000000000000000000000000000000000000000000000000000000000", &q, err), 0);
    CHECK(q.hash_nomatch);
    /* flags */
    CHECK_EQ_INT(parse("groupByHash=1&expand=observations&order=asc", &q, err), 0);
    CHECK(q.grouped && q.expand && q.asc);
    CHECK_EQ_INT(parse("groupByHash=yes&order=ASC", &q, err), 0);
    CHECK(!q.grouped && !q.asc);
}

static void test_plan_strategies(void)
{
    msn_pk_query_t q;
    msn_pk_plan_t p;
    const char *key = "d46343a3614db0620b82d3ea22348ac94e02744a1dcfd2e2e7e6b6c22e05463c";
    /* no filter: the all-packets list, newest first */
    plan("", NULL, 0, &q, &p);
    CHECK_EQ_INT(p.strategy, MSN_PK_WALK);
    CHECK_EQ_INT(p.walk_kind, MSN_FX_ALL);
    CHECK_EQ_INT(p.order, MSN_PK_BY_ID_DESC);
    CHECK_EQ_INT(p.rows, MSN_PK_ROWS_PLAIN);
    CHECK(!msn_pk_filter_active(&p.filter));
    plan("order=asc&expand=observations&limit=5&offset=7", NULL, 0, &q, &p);
    CHECK_EQ_INT(p.order, MSN_PK_BY_ID_ASC);
    CHECK_EQ_INT(p.rows, MSN_PK_ROWS_EXPANDED);
    CHECK(p.limit == 5 && p.offset == 7);
    /* type: the type list; the entries still check route and time */
    plan("type=4&route=1&since=2026-01-01", NULL, 0, &q, &p);
    CHECK_EQ_INT(p.strategy, MSN_PK_WALK);
    CHECK_EQ_INT(p.walk_kind, MSN_FX_TYPE);
    CHECK_EQ_INT(p.walk_value, 4);
    CHECK(!p.filter.has_type && p.filter.has_route && p.filter.has_since);
    plan("route=2", NULL, 0, &q, &p);
    CHECK_EQ_INT(p.walk_kind, MSN_FX_ROUTE);
    CHECK_EQ_INT(p.walk_value, 2);
    CHECK(!msn_pk_filter_active(&p.filter));
    /* time alone: the first-seen index */
    plan("since=2026-01-01&until=2026-02-01", NULL, 0, &q, &p);
    CHECK_EQ_INT(p.strategy, MSN_PK_TIME);
    /* groupByHash: newest sighting first */
    plan("groupByHash=true&expand=observations&type=4", NULL, 0, &q, &p);
    CHECK_EQ_INT(p.strategy, MSN_PK_LATEST);
    CHECK_EQ_INT(p.order, MSN_PK_BY_LATEST);
    CHECK_EQ_INT(p.rows, MSN_PK_ROWS_GROUPED);
    CHECK(p.filter.has_type);
    /* list filters: intersected in the order observer, region, node, channel */
    plan("channel=enc_38&node=x&region=sea,yvr&observer=A,B&type=4&groupByHash=1", key, 0, &q, &p);
    CHECK_EQ_INT(p.strategy, MSN_PK_LISTS);
    CHECK_EQ_INT(p.order, MSN_PK_BY_LATEST);
    CHECK_EQ_INT(p.n_lists, 4);
    CHECK(p.lists[0].kind == MSN_FX_OBSERVER && p.lists[0].split && strcmp(p.lists[0].values, "A,B") == 0);
    CHECK(p.lists[1].kind == MSN_FX_REGION && p.lists[1].split && strcmp(p.lists[1].values, "SEA,YVR") == 0);
    CHECK(p.lists[2].kind == MSN_FX_NODE && !p.lists[2].split && p.lists[2].values == key);
    CHECK(p.lists[3].kind == MSN_FX_CHANNEL && !p.lists[3].split && strcmp(p.lists[3].values, "enc_38") == 0);
    CHECK(p.filter.has_type); /* checked on every list entry */
    plan("region=all&channel=c1", NULL, 0, &q, &p);
    CHECK_EQ_INT(p.n_lists, 1);
    CHECK_EQ_INT(p.lists[0].kind, MSN_FX_CHANNEL);
    /* hash: one lookup; the list filters become membership checks */
    plan("hash=ABCDEF&observer=A&since=2026-01-01&order=asc", NULL, 0, &q, &p);
    CHECK_EQ_INT(p.strategy, MSN_PK_HASH);
    CHECK_EQ_STR(p.hash, "abcdef");
    CHECK_EQ_INT(p.n_lists, 1);
    CHECK(p.filter.has_since);
    CHECK_EQ_INT(p.order, MSN_PK_BY_ID_ASC);
    /* a node that does not exist: nothing, whatever else is asked */
    plan("node=nosuch&hash=abcdef&groupByHash=true", NULL, 1, &q, &p);
    CHECK_EQ_INT(p.strategy, MSN_PK_EMPTY);
    CHECK_EQ_INT(p.n_lists, 0);
    /* a hash that is no hex hash (text typed into the search box): nothing */
    plan("limit=5&hash=Gilroy&observer=A", NULL, 0, &q, &p);
    CHECK_EQ_INT(p.strategy, MSN_PK_EMPTY);
    CHECK_EQ_INT(p.n_lists, 0);
}

static void test_filter_match(void)
{
    msn_pk_query_t q;
    msn_pk_plan_t p;
    msn_fx_rec_t rec;
    plan("since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z&type=4&route=1", NULL, 0, &q, &p);
    const int64_t since = 1767225600000LL, until = since + 86400000LL;
    msn_snaprec_fx_make(&rec, 1, since + 1, 4, 1);
    CHECK(msn_pk_filter_match(&q.filter, &rec));
    msn_snaprec_fx_make(&rec, 1, since, 4, 1); /* the bounds are exclusive */
    CHECK(!msn_pk_filter_match(&q.filter, &rec));
    msn_snaprec_fx_make(&rec, 1, until, 4, 1);
    CHECK(!msn_pk_filter_match(&q.filter, &rec));
    msn_snaprec_fx_make(&rec, 1, since + 1, 5, 1);
    CHECK(!msn_pk_filter_match(&q.filter, &rec));
    msn_snaprec_fx_make(&rec, 1, since + 1, -1, 1); /* an unknown type matches no type */
    CHECK(!msn_pk_filter_match(&q.filter, &rec));
    msn_snaprec_fx_make(&rec, 1, since + 1, 4, 2);
    CHECK(!msn_pk_filter_match(&q.filter, &rec));
    /* the walked type list's entries are not checked for type again */
    msn_snaprec_fx_make(&rec, 1, since + 1, 9, 1);
    CHECK(msn_pk_filter_match(&p.filter, &rec));
}

static void test_in_page(void)
{
    CHECK(!msn_pk_in_page(2, 3, 2));
    CHECK(msn_pk_in_page(3, 3, 2));
    CHECK(msn_pk_in_page(4, 3, 2));
    CHECK(!msn_pk_in_page(5, 3, 2));
    /* no overflow at the extremes */
    CHECK(msn_pk_in_page(MSN_API_MAX_OFFSET, MSN_API_MAX_OFFSET, MSN_PK_LIMIT_MAX));
    CHECK(!msn_pk_in_page(INT64_MAX, 0, MSN_PK_LIMIT_MAX));
    CHECK(msn_pk_in_page(INT64_MAX, INT64_MAX - 1, MSN_PK_LIMIT_MAX));
    CHECK(!msn_pk_in_page(0, INT64_MAX, INT64_MAX));
}

int main(void)
{
    MSN_RUN(test_defaults);
    MSN_RUN(test_limit_offset);
    MSN_RUN(test_filters);
    MSN_RUN(test_plan_strategies);
    MSN_RUN(test_filter_match);
    MSN_RUN(test_in_page);
    return msn_test_done();
}
