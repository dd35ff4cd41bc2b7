/* test_query.c: the worker's query-string parser (worker/query.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "worker/query.h"

#define MAX 8

typedef struct {
    char buf[4096];
    msn_qparam_t q[MAX];
    int n;
    char err[200];
    int rc;
} parsed_t;

/* Parses text (len bytes, may hold NULs) with a limit of max parameters. */
static void parse_n(parsed_t *p, const char *text, size_t len, int max)
{
    memset(p, 0xAA, sizeof(*p)); /* no terminator comes for free */
    memcpy(p->buf, text, len);
    p->err[0] = '\0';
    p->rc = msn_query_parse(p->buf, len, p->q, max, &p->n, p->err, sizeof(p->err));
}

static void parse(parsed_t *p, const char *text)
{
    parse_n(p, text, strlen(text), MAX);
}

static void check_refused(const char *text, size_t len, const char *want)
{
    parsed_t p;
    parse_n(&p, text, len, MAX);
    CHECK_EQ_INT(p.rc, -1);
    if (strstr(p.err, want) == NULL)
        fprintf(stderr, "  %.*s: error \"%s\" lacks \"%s\"\n", (int)len, text, p.err, want);
    CHECK(strstr(p.err, want) != NULL);
}

static void test_split_and_decode(void)
{
    parsed_t p;
    parse(&p, "limit=10&region=sea%2C%20yvr&q=a+b&flag&empty=&x=%41%62%7e");
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_INT(p.n, 6);
    CHECK_EQ_STR(p.q[0].name, "limit");
    CHECK_EQ_STR(p.q[0].value, "10");
    CHECK_EQ_STR(p.q[1].name, "region");
    CHECK_EQ_STR(p.q[1].value, "sea, yvr");
    CHECK_EQ_STR(p.q[2].value, "a b");
    CHECK_EQ_STR(p.q[3].name, "flag");
    CHECK_EQ_STR(p.q[3].value, "");
    CHECK_EQ_STR(p.q[4].name, "empty");
    CHECK_EQ_STR(p.q[4].value, "");
    CHECK_EQ_STR(p.q[5].value, "Ab~");
    /* encoded names, '=' inside a value, empty pairs, a lone '=' */
    parse(&p, "&&gr%6FupByHash=true&&a=b=c&=v&");
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_INT(p.n, 3);
    CHECK_EQ_STR(p.q[0].name, "groupByHash");
    CHECK_EQ_STR(p.q[1].name, "a");
    CHECK_EQ_STR(p.q[1].value, "b=c");
    CHECK_EQ_STR(p.q[2].name, "");
    CHECK_EQ_STR(p.q[2].value, "v");
    /* nothing at all */
    parse(&p, "");
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_INT(p.n, 0);
    parse(&p, "&&&");
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_INT(p.n, 0);
    /* a name given twice keeps both, in order */
    parse(&p, "a=1&a=2");
    CHECK_EQ_INT(p.n, 2);
    CHECK_EQ_STR(p.q[1].value, "2");
    /* UTF-8 passes through */
    parse(&p, "search=%C3%A9t%C3%A9");
    CHECK_EQ_STR(p.q[0].value, "\xC3\xA9t\xC3\xA9");
}

static void test_limit(void)
{
    parsed_t p;
    parse(&p, "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8");
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_INT(p.n, MAX);
    /* one more is refused, naming the limit: nothing is dropped silently */
    check_refused("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9", 35, "too many query parameters (the limit is 8)");
    /* empty pairs do not count */
    parse(&p, "a=1&&b=2&&c=3&&d=4&&e=5&&f=6&&g=7&&h=8&&");
    CHECK_EQ_INT(p.rc, 0);
    parse_n(&p, "a&b", 3, 1);
    CHECK_EQ_INT(p.rc, -1);
    CHECK(strstr(p.err, "the limit is 1") != NULL);
}

static void test_refused_values(void)
{
    /* a NUL byte: %00 or raw; the error names the parameter */
    check_refused("limit=1%00abc", 13, "invalid limit: it contains a NUL byte");
    check_refused("limit=1\0abc", 11, "invalid limit: it contains a NUL byte");
    /* malformed escapes, anywhere in the value */
    check_refused("since=%zz", 9, "invalid since: malformed percent-encoding");
    check_refused("since=abc%4", 11, "invalid since: malformed percent-encoding");
    check_refused("since=abc%", 10, "invalid since: malformed percent-encoding");
    check_refused("node=%g0&limit=1", 16, "invalid node: malformed percent-encoding");
    /* control characters, raw or encoded */
    check_refused("region=a%0Ab", 12, "invalid region: it contains a control character");
    check_refused("region=a\tb", 10, "invalid region: it contains a control character");
    check_refused("region=%7f", 10, "invalid region: it contains a control character");
    /* a bad name is named as sent */
    check_refused("li%zzmit=5", 10, "invalid parameter name 'li%zzmit'");
    check_refused("a%00b=5", 7, "invalid parameter name 'a%00b': it contains a NUL byte");
    /* the value's error names the decoded name */
    check_refused("%6Cimit=%", 9, "invalid limit:");
}

static void test_terminated_in_place(void)
{
    /* the parameters point into the buffer, each NUL-terminated within its own bytes */
    parsed_t p;
    parse(&p, "a=%41%41%41&b=x");
    CHECK_EQ_INT(p.rc, 0);
    CHECK(p.q[0].value >= p.buf && p.q[0].value < p.buf + 16);
    CHECK_EQ_STR(p.q[0].value, "AAA");
    CHECK_EQ_STR(p.q[1].name, "b");
    CHECK_EQ_STR(p.q[1].value, "x");
    CHECK_EQ_INT(p.buf[15], '\0');
}

int main(void)
{
    MSN_RUN(test_split_and_decode);
    MSN_RUN(test_limit);
    MSN_RUN(test_refused_values);
    MSN_RUN(test_terminated_in_place);
    return msn_test_done();
}
