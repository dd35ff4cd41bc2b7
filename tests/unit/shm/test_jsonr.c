/* test_jsonr.c: the JSON reader (shm/jsonr.c) and UTF-8 by Go's rules (shm/utf8.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shm/jsonr.h"
#include "shm/utf8.h"
#include "testlib.h"

/* The decoded value of string v, in a static buffer. */
static const char *str_of(const msn_jsonr_val_t *v)
{
    static msn_buf_t b = MSN_BUF_INIT;
    msn_buf_reset(&b);
    if (msn_jsonr_str(v, &b) < 0)
        return "(not a string)";
    return msn_buf_cstr(&b);
}

/* The decoded value of a whole JSON string literal such as "\"a\\n\"". */
static const char *decode(const char *literal)
{
    msn_jsonr_t r;
    msn_jsonr_val_t v;
    msn_jsonr_init(&r, literal, strlen(literal));
    if (msn_jsonr_value(&r, &v) < 0 || msn_jsonr_end(&r) < 0)
        return "(error)";
    return str_of(&v);
}

/* 0 when text is one valid JSON value, else -1 (why/err_at in *r). */
static int validate(const char *text, msn_jsonr_t *r)
{
    msn_jsonr_init(r, text, strlen(text));
    if (msn_jsonr_value(r, NULL) < 0 || msn_jsonr_end(r) < 0)
        return -1;
    return 0;
}

static void test_pull_object(void)
{
    const char *doc =
        " {\"raw\" : \"11AB\", \"n\": -1.5e2, \"deep\": {\"a\": [1, {\"b\": null}], \"c\": \"}\"},"
        " \"list\": [true, false, \"x\"], \"k\\u0065y\": 7} ";
    msn_jsonr_t r;
    msn_jsonr_val_t k, v;
    msn_jsonr_init(&r, doc, strlen(doc));
    CHECK_EQ_INT(msn_jsonr_object(&r), 0);
    int members = 0, rc;
    double num = 0;
    while ((rc = msn_jsonr_member(&r, &k)) == 1) {
        members++;
        if (msn_jsonr_is(&k, "list")) {
            /* open the array and step through it */
            CHECK_EQ_INT(msn_jsonr_array(&r), 0);
            int types[4] = {0}, n = 0, e;
            while ((e = msn_jsonr_element(&r)) == 1) {
                CHECK_EQ_INT(msn_jsonr_value(&r, &v), 0);
                if (n < 4)
                    types[n] = v.type;
                n++;
            }
            CHECK_EQ_INT(e, 0);
            CHECK_EQ_INT(n, 3);
            CHECK_EQ_INT(types[0], MSN_JSONR_TRUE);
            CHECK_EQ_INT(types[1], MSN_JSONR_FALSE);
            CHECK_EQ_INT(types[2], MSN_JSONR_STR);
            continue;
        }
        CHECK_EQ_INT(msn_jsonr_value(&r, &v), 0);
        if (msn_jsonr_is(&k, "raw")) {
            CHECK_EQ_INT(v.type, MSN_JSONR_STR);
            CHECK_EQ_INT(v.plain, 1);
            CHECK_EQ_STR(str_of(&v), "11AB");
        } else if (msn_jsonr_is(&k, "n")) {
            CHECK_EQ_INT(msn_jsonr_num(&v, &num), 0);
        } else if (msn_jsonr_is(&k, "deep")) {
            /* read whole: its text, nested values included */
            CHECK_EQ_INT(v.type, MSN_JSONR_OBJ);
            CHECK_EQ_INT(v.n, strlen("{\"a\": [1, {\"b\": null}], \"c\": \"}\"}"));
        } else if (msn_jsonr_is(&k, "key")) { /* the key's escape is decoded */
            CHECK_EQ_INT(k.plain, 0);
            CHECK_EQ_INT(v.type, MSN_JSONR_NUM);
        } else {
            fprintf(stderr, "unexpected key %s\n", str_of(&k));
            msn_test_failures++;
        }
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(members, 5);
    CHECK(num == -150.0);
    CHECK_EQ_INT(msn_jsonr_end(&r), 0);
    CHECK(r.err == NULL);

    /* empty containers */
    msn_jsonr_init(&r, "{ }", 3);
    CHECK_EQ_INT(msn_jsonr_object(&r), 0);
    CHECK_EQ_INT(msn_jsonr_member(&r, &k), 0);
    CHECK_EQ_INT(msn_jsonr_end(&r), 0);
    msn_jsonr_init(&r, "[]", 2);
    CHECK_EQ_INT(msn_jsonr_array(&r), 0);
    CHECK_EQ_INT(msn_jsonr_element(&r), 0);
    CHECK_EQ_INT(msn_jsonr_end(&r), 0);
}

static void test_errors(void)
{
    /* what Go's encoding/json refuses */
    static const char *const bad[] = {
        "",          "   ",         "{\"a\":1,}",  "{'a':1}",  "{\"a\":\"1\x01\"}",
        "\"\\x41\"", "\"\\u12G4\"", "{\"a\":1} x", "{\"a\":1", "{\"a\" 1}",
        "01",        "1.",          "-",           "1e",       "tru",
        "[1,]",      "{a:1}",       "[1 2]",       "\"abc",    "nul",
        "\"\\",      "{\"a\":}",    "+1",          ".5",
    };
    msn_jsonr_t r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (validate(bad[i], &r) == 0) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            msn_test_failures++;
        }
        CHECK(r.err != NULL && r.err_at >= r.s && r.err_at <= r.end);
    }
    static const char *const good[] = {
        "0",
        "-0",
        "-0.5e+3",
        "1E-2",
        "12345678901234567890",
        "true",
        "null",
        "\"\"",
        "[]",
        "{}",
        " [ 1 , [ ] , { } , \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\" ] ",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (validate(good[i], &r) != 0) {
            fprintf(stderr, "refused: %s (%s)\n", good[i], r.err);
            msn_test_failures++;
        }
    }
    /* where and why */
    CHECK_EQ_INT(validate("{\"raw\":\"11\", 5}", &r), -1);
    CHECK_EQ_STR(r.err, "expected a key");
    CHECK_EQ_INT(r.err_at - r.s, 13);
    CHECK_EQ_INT(validate("[\"a\x1f\"]", &r), -1);
    CHECK_EQ_STR(r.err, "control character in a string");
    CHECK_EQ_INT(r.err_at - r.s, 3);
    CHECK_EQ_INT(validate("\"abc", &r), -1);
    CHECK_EQ_STR(r.err, "unterminated string");
    CHECK(r.err_at == r.end);
    CHECK_EQ_INT(validate("[1] [2]", &r), -1);
    CHECK_EQ_STR(r.err, "text after the JSON value");
    /* a failed reader stays failed */
    msn_jsonr_val_t v;
    CHECK_EQ_INT(msn_jsonr_value(&r, &v), -1);
    CHECK_EQ_STR(r.err, "text after the JSON value");
    /* misuse: member() in an array */
    msn_jsonr_init(&r, "[1]", 3);
    CHECK_EQ_INT(msn_jsonr_array(&r), 0);
    CHECK_EQ_INT(msn_jsonr_member(&r, &v), -1);
    /* an object is not an array and the other way round */
    msn_jsonr_init(&r, "[1]", 3);
    CHECK_EQ_INT(msn_jsonr_object(&r), -1);
    CHECK_EQ_STR(r.err, "expected a JSON object");
}

static void test_depth(void)
{
    char deep[200];
    msn_jsonr_t r;
    for (int depth = MSN_JSONR_MAX_DEPTH; depth <= MSN_JSONR_MAX_DEPTH + 1; depth++) {
        int k = 0;
        for (int i = 0; i < depth; i++)
            deep[k++] = '[';
        for (int i = 0; i < depth; i++)
            deep[k++] = ']';
        deep[k] = '\0';
        CHECK_EQ_INT(validate(deep, &r), depth <= MSN_JSONR_MAX_DEPTH ? 0 : -1);
        /* the same through the pull reader: opened containers count */
        msn_jsonr_init(&r, deep, (size_t)k);
        int rc = 0, opened = 0;
        while (rc == 0 && opened < depth) {
            rc = msn_jsonr_array(&r);
            opened += rc == 0;
            if (rc == 0 && opened < depth)
                CHECK_EQ_INT(msn_jsonr_element(&r), 1);
        }
        CHECK_EQ_INT(opened, depth <= MSN_JSONR_MAX_DEPTH ? depth : MSN_JSONR_MAX_DEPTH);
    }
    CHECK_EQ_STR(r.err, "nested too deep");
}

static void test_strings(void)
{
    CHECK_EQ_STR(decode("\"a\\n\\t\\\"\\\\\\/\\b\\f\\r\""), "a\n\t\"\\/\b\f\r");
    CHECK_EQ_STR(decode("\"\\u00e9\\u20AC\""), "\xc3\xa9\xe2\x82\xac");
    CHECK_EQ_STR(decode("\"\\ud83d\\ude00\""), "\xf0\x9f\x98\x80"); /* a surrogate pair */
    CHECK_EQ_STR(decode("\"\\ud800x\""), "\xef\xbf\xbdx");          /* a lone high surrogate */
    CHECK_EQ_STR(decode("\"\\ud800\\u0041\""), "\xef\xbf\xbd"
                                               "A");                      /* not followed by a low one */
    CHECK_EQ_STR(decode("\"\\udc00\""), "\xef\xbf\xbd");                  /* a lone low surrogate */
    CHECK_EQ_STR(decode("\"caf\xc3\xa9\""), "caf\xc3\xa9");               /* valid UTF-8 as is */
    CHECK_EQ_STR(decode("\"a\xff\xc3(\""), "a\xef\xbf\xbd\xef\xbf\xbd("); /* each invalid byte: U+FFFD */
    CHECK_EQ_STR(decode("\"\xed\xa0\x80\""),
                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* an encoded surrogate */

    /* strv: the text itself when plain, else a decoded copy */
    msn_jsonr_t r;
    msn_jsonr_val_t v;
    msn_buf_t scratch = MSN_BUF_INIT;
    size_t n;
    const char *plain = "\"abc\"";
    msn_jsonr_init(&r, plain, strlen(plain));
    CHECK_EQ_INT(msn_jsonr_value(&r, &v), 0);
    CHECK(msn_jsonr_strv(&v, &scratch, &n) == plain + 1);
    CHECK_EQ_INT(n, 3);
    const char *esc = "\"a\\u0062c\"";
    msn_jsonr_init(&r, esc, strlen(esc));
    CHECK_EQ_INT(msn_jsonr_value(&r, &v), 0);
    CHECK_EQ_INT(v.plain, 0);
    CHECK_EQ_STR(msn_jsonr_strv(&v, &scratch, &n), "abc");
    CHECK(msn_jsonr_is(&v, "abc"));
    CHECK(!msn_jsonr_is(&v, "ab"));
    CHECK(!msn_jsonr_is(&v, "abcd"));
    /* is() compares with raw bytes: a backslash in s is a backslash */
    const char *bs = "\"a\\\\b\"";
    msn_jsonr_init(&r, bs, strlen(bs));
    CHECK_EQ_INT(msn_jsonr_value(&r, &v), 0);
    CHECK(msn_jsonr_is(&v, "a\\b"));
    /* not strings */
    msn_jsonr_init(&r, "12", 2);
    CHECK_EQ_INT(msn_jsonr_value(&r, &v), 0);
    CHECK(msn_jsonr_strv(&v, &scratch, &n) == NULL);
    CHECK_EQ_INT(msn_jsonr_str(&v, &scratch), -1);
    CHECK(!msn_jsonr_is(&v, "12"));
    msn_buf_free(&scratch);
}

static void test_numbers(void)
{
    msn_jsonr_t r;
    msn_jsonr_val_t v;
    double d = 0;
    const char *t = "-12.5e-1";
    msn_jsonr_init(&r, t, strlen(t));
    CHECK_EQ_INT(msn_jsonr_value(&r, &v), 0);
    CHECK_EQ_INT(msn_jsonr_num(&v, &d), 0);
    CHECK(d == -1.25);
    /* a literal longer than the stack copy */
    char big[200];
    memset(big, '0', sizeof(big));
    big[0] = '1';
    big[150] = '\0';
    msn_jsonr_init(&r, big, 150);
    CHECK_EQ_INT(msn_jsonr_value(&r, &v), 0);
    CHECK_EQ_INT(msn_jsonr_num(&v, &d), 0);
    CHECK(d == 1e149);
    msn_jsonr_init(&r, "\"1\"", 3);
    CHECK_EQ_INT(msn_jsonr_value(&r, &v), 0);
    CHECK_EQ_INT(msn_jsonr_num(&v, &d), -1);
}

static void test_member_table(void)
{
    msn_jsonr_obj_t o;
    msn_buf_t scratch = MSN_BUF_INIT;
    size_t n;
    const char *doc = "{\"type\":\"ADVERT\",\"pubKey\":\"AB\\u0043\",\"timestamp\":1700000000,"
                      "\"payload\":{\"timestamp\":5},\"type\":\"TXT\",\"n\\u0061me\":\"x\",\"flag\":true}";
    CHECK_EQ_INT(msn_jsonr_obj_parse(&o, doc, strlen(doc)), 6);
    /* a later duplicate replaces the value, in the first one's place */
    const char *t = msn_jsonr_obj_str(&o, "type", &scratch, &n);
    CHECK(t != NULL && n == 3 && memcmp(t, "TXT", 3) == 0); /* plain: points into doc */
    CHECK(msn_jsonr_is(&o.m[0].key, "type"));
    CHECK_EQ_STR(msn_jsonr_obj_str(&o, "pubKey", &scratch, &n), "ABC"); /* decoded: a copy */
    CHECK_EQ_INT(n, 3);
    t = msn_jsonr_obj_str(&o, "name", &scratch, &n); /* the key has an escape */
    CHECK(t != NULL && n == 1 && t[0] == 'x');
    double d;
    CHECK_EQ_INT(msn_jsonr_obj_num(&o, "timestamp", &d), 0);
    CHECK(d == 1700000000.0);
    CHECK_EQ_INT(msn_jsonr_obj_num(&o, "type", &d), -1);
    CHECK(msn_jsonr_obj_str(&o, "flag", &scratch, &n) == NULL);
    CHECK(msn_jsonr_obj_get(&o, "missing") == NULL);
    const msn_jsonr_val_t *p = msn_jsonr_obj_get(&o, "payload");
    CHECK(p != NULL && p->type == MSN_JSONR_OBJ);
    msn_jsonr_obj_t inner;
    CHECK_EQ_INT(msn_jsonr_obj_parse(&inner, p->p, p->n), 1);
    CHECK_EQ_INT(msn_jsonr_obj_num(&inner, "timestamp", &d), 0);
    CHECK(d == 5.0);

    /* not an object, or malformed anywhere: no members */
    static const char *const bad[] = {"[1]", "", "{\"a\":1", "{\"a\":1}}", "{\"a\":[1,}", "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(msn_jsonr_obj_parse(&o, bad[i], strlen(bad[i])), -1);
        CHECK(msn_jsonr_obj_get(&o, "a") == NULL);
    }
    CHECK_EQ_INT(msn_jsonr_obj_parse(&o, NULL, 0), -1);
    CHECK_EQ_INT(msn_jsonr_obj_parse(&o, " {} ", 4), 0);

    /* more members than the table keeps: validated, the first ones kept */
    msn_buf_t big = MSN_BUF_INIT;
    msn_buf_putc(&big, '{');
    for (int i = 0; i < MSN_JSONR_OBJ_MAX + 10; i++)
        msn_buf_printf(&big, "%s\"k%d\":%d", i ? "," : "", i, i);
    msn_buf_putc(&big, '}');
    CHECK_EQ_INT(msn_jsonr_obj_parse(&o, big.data, big.len), MSN_JSONR_OBJ_MAX);
    CHECK_EQ_INT(msn_jsonr_obj_num(&o, "k0", &d), 0);
    CHECK_EQ_INT(msn_jsonr_obj_num(&o, "k50", &d), -1);
    big.data[big.len - 1] = ','; /* now malformed at the end */
    CHECK_EQ_INT(msn_jsonr_obj_parse(&o, big.data, big.len), -1);
    msn_buf_free(&big);
    msn_buf_free(&scratch);
}

static void count_cb(void *ctx, int idx, const char *s, size_t n)
{
    (void)idx;
    (void)s;
    *(size_t *)ctx += n;
}

static void test_str_arrays(void)
{
    size_t total = 0;
    CHECK_EQ_INT(msn_json_str_array_each("[\"7D1D\",\"DA\"]", 13, count_cb, &total), 2);
    CHECK_EQ_INT(total, 6);
    CHECK_EQ_INT(msn_json_str_array_each("[]", 2, NULL, NULL), 0);
    CHECK_EQ_INT(msn_json_str_array_each(" [ \"a\" , null ] ", 16, NULL, NULL), 2);
    CHECK_EQ_INT(msn_json_str_array_each("[\"a\"", 4, NULL, NULL), -1);
    CHECK_EQ_INT(msn_json_str_array_each("{}", 2, NULL, NULL), -1);
    CHECK_EQ_INT(msn_json_str_array_each("[1,2]", 5, NULL, NULL), -1);
    CHECK_EQ_INT(msn_json_str_array_each("[\"a\"] x", 7, NULL, NULL), -1);
    CHECK_EQ_INT(msn_json_str_array_each("[\"a\x01\"]", 6, NULL, NULL), -1); /* RFC 8259 strings */
    /* escapes are passed as written */
    total = 0;
    CHECK_EQ_INT(msn_json_str_array_each("[\"\\u0041\"]", 10, count_cb, &total), 1);
    CHECK_EQ_INT(total, 6);
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {
        {"A", 1},
        {"\xc3\xa9", 2},
        {"\xe2\x82\xac", 3},
        {"\xf0\x9f\x98\x80", 4},
        {"\xc0\x80", 0},
        /* overlong */ {"\xe0\x80\x80", 0},
        {"\xed\xa0\x80", 0}, /* surrogate */
        {"\xf4\x90\x80\x80", 0},
        /* above U+10FFFF */ {"\xc3", 0}, /* truncated */
        {"\x80", 0},
        {"\xf8\x88\x80\x80", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_EQ_INT(msn_utf8_len((const uint8_t *)cases[i].s, strlen(cases[i].s)), cases[i].len);
    char u[4];
    CHECK_EQ_INT(msn_utf8_encode(0x41, u), 1);
    CHECK_EQ_INT(msn_utf8_encode(0xE9, u), 2);
    CHECK(memcmp(u, "\xc3\xa9", 2) == 0);
    CHECK_EQ_INT(msn_utf8_encode(0xFFFD, u), 3);
    CHECK(memcmp(u, "\xef\xbf\xbd", 3) == 0);
    CHECK_EQ_INT(msn_utf8_encode(0x1F600, u), 4);
    CHECK(memcmp(u, "\xf0\x9f\x98\x80", 4) == 0);
}

/* msn_jsonr_get: a member of a value read whole (a nested object), exact or ASCII-folded
 * keys, the last repeat winning (the member table would keep the first position). */
static void test_get(void)
{
    const char *doc = "{\"body\":{\"hex\":\"01\",\"HEX\":\"02\",\"h\\u0065x\":\"03\",\"n\":{\"a\":[1]}},\"x\":1}";
    msn_jsonr_t r;
    msn_jsonr_val_t top, body, v, n;
    msn_jsonr_init(&r, doc, strlen(doc));
    CHECK_EQ_INT(msn_jsonr_value(&r, &top), 0);
    CHECK(msn_jsonr_get(&top, "body", 0, &body) && body.type == MSN_JSONR_OBJ);
    CHECK(msn_jsonr_get(&body, "hex", 0, &v) && msn_jsonr_is(&v, "03"));
    CHECK(msn_jsonr_get(&body, "HEX", 0, &v) && msn_jsonr_is(&v, "02"));
    CHECK(!msn_jsonr_get(&body, "Hex", 0, &v));
    CHECK(msn_jsonr_get(&body, "Hex", 1, &v) && msn_jsonr_is(&v, "03"));
    CHECK(msn_jsonr_get(&body, "n", 0, &n) && n.type == MSN_JSONR_OBJ);
    CHECK(msn_jsonr_get(&n, "a", 0, &v) && v.type == MSN_JSONR_ARR && v.n == 3);
    CHECK(!msn_jsonr_get(&body, "x", 1, &v));
    CHECK(!msn_jsonr_get(&body, "he", 1, &v));
    CHECK(!msn_jsonr_get(&v, "a", 0, &n)); /* not an object */
    CHECK(!msn_jsonr_get(NULL, "a", 0, &n));
}

int main(void)
{
    MSN_RUN(test_pull_object);
    MSN_RUN(test_errors);
    MSN_RUN(test_depth);
    MSN_RUN(test_strings);
    MSN_RUN(test_numbers);
    MSN_RUN(test_member_table);
    MSN_RUN(test_str_arrays);
    MSN_RUN(test_get);
    MSN_RUN(test_utf8);
    return msn_test_done();
}
