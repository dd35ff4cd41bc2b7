/*
 * test_gojson.c: decoded_json as CoreScope's Go server re-marshals it (master/gojson.c):
 * keys sorted at every level, duplicates keep the last value, numbers as float64,
 * strings re-escaped by encoding/json's rules, and what Go's Unmarshal into a map refuses.
 */
#include <stdlib.h>
#include <string.h>

#include "master/gojson.h"
#include "testlib.h"

static void same(const char *in, const char *want)
{
    msn_buf_t b = MSN_BUF_INIT;
    msn_buf_puts(&b, "x"); /* appends after what is there */
    int rc = msn_gojson_object(&b, in, strlen(in));
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        const char *got = msn_buf_cstr(&b) + 1;
        if (strcmp(got, want) != 0)
            fprintf(stderr, "in:   %s\ngot:  %s\nwant: %s\n", in, got, want);
        CHECK_EQ_STR(got, want);
    }
    msn_buf_free(&b);
}

static void refused(const char *in)
{
    msn_buf_t b = MSN_BUF_INIT;
    msn_buf_puts(&b, "keep");
    int rc = msn_gojson_object(&b, in, strlen(in));
    if (rc != -1)
        fprintf(stderr, "accepted: %s\n", in);
    CHECK_EQ_INT(rc, -1);
    CHECK_EQ_STR(msn_buf_cstr(&b), "keep"); /* out unchanged */
    msn_buf_free(&b);
}

static void test_sorting(void)
{
    same("{}", "{}");
    same("{\"type\":\"ADVERT\",\"pubKey\":\"ab\",\"lat\":37.5,\"flags\":{\"raw\":146,\"chat\":false}}",
         "{\"flags\":{\"chat\":false,\"raw\":146},\"lat\":37.5,\"pubKey\":\"ab\",\"type\":\"ADVERT\"}");
    /* byte order: upper case before lower case, a prefix before its extensions */
    same("{\"b\":1,\"B\":2,\"ab\":3,\"a\":4,\"\":5}", "{\"\":5,\"B\":2,\"a\":4,\"ab\":3,\"b\":1}");
    /* a key given twice keeps its last value */
    same("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}");
    /* arrays keep their order; objects inside them are sorted */
    same("{\"l\":[3,{\"z\":1,\"y\":2},[],\"s\",null,true]}",
         "{\"l\":[3,{\"y\":2,\"z\":1},[],\"s\",null,true]}");
    same(" { \"a\" : [ 1 , 2 ] , \"b\" : { } } ", "{\"a\":[1,2],\"b\":{}}");
}

static void test_numbers(void)
{
    same("{\"a\":1.50,\"b\":1e3,\"c\":-0.0,\"d\":1770451532,\"e\":37.20149,\"f\":1E-7,\"g\":"
         "123456789012345678901}",
         "{\"a\":1.5,\"b\":1000,\"c\":-0,\"d\":1770451532,\"e\":37.20149,\"f\":1e-7,\"g\":"
         "123456789012345680000}");
    same("{\"a\":-121.681909,\"b\":0.25,\"c\":1e21}", "{\"a\":-121.681909,\"b\":0.25,\"c\":1e+21}");
}

static void test_strings(void)
{
    same("{\"t\":\"a<b>&c\"}", "{\"t\":\"a\\u003cb\\u003e\\u0026c\"}");
    same("{\"t\":\"\\u00e9\\/\\n\\\"\"}", "{\"t\":\"\xc3\xa9/\\n\\\"\"}");
    same("{\"t\":\"\\ud83d\\ude00\"}", "{\"t\":\"\xf0\x9f\x98\x80\"}");
    same("{\"t\":\"\\ud83dx\"}", "{\"t\":\"\xef\xbf\xbdx\"}"); /* a lone surrogate */
    same("{\"t\":\"\\u2028\"}", "{\"t\":\"\\u2028\"}");
    same("{\"t\":\"\xff\"}", "{\"t\":\"\\ufffd\"}"); /* invalid UTF-8 */
    same("{\"k\\u0041\":1}", "{\"kA\":1}");
}

static void test_refused(void)
{
    refused("");
    refused("[1,2]");
    refused("\"s\"");
    refused("{\"a\":1");
    refused("{\"a\":1}x");
    refused("{\"a\":01}");
    refused("{\"a\":1.}");
    refused("{\"a\":1e}");
    refused("{\"a\":1e400}"); /* beyond float64 */
    refused("{\"a\":tru}");
    refused("{\"a\":\"x\ty\"}"); /* a raw control character */
    refused("{\"a\":\"\\x\"}");
    refused("{a:1}");
    refused("{\"a\":1,}");
    refused("{\"a\":[1,]}");
    char deep[400];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a\":");
    for (int i = 0; i < 70; i++)
        deep[n++] = '[';
    for (int i = 0; i < 70; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    refused(deep);
}

int main(void)
{
    MSN_RUN(test_sorting);
    MSN_RUN(test_numbers);
    MSN_RUN(test_strings);
    MSN_RUN(test_refused);
    return msn_test_done();
}
