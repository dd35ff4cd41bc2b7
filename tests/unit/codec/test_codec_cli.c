/*
 * test_codec_cli.c: `meshsnap decode` (cli/decode.c, included white-box) run in-process
 * with stdin/stdout/stderr redirected to files: the readable dump, exit statuses, channel
 * keys from flags and from a configuration file, and the JSON-lines mode.
 */
#include "../../../cli/decode.c"
#include "../../../cli/keys.c"

#include <fcntl.h>
#include <unistd.h>

#include "testlib.h"

static msn_buf_t out_b, err_b;

static void slurp(const char *path, msn_buf_t *b)
{
    msn_buf_reset(b);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        msn_buf_append(b, tmp, n);
    fclose(f);
    msn_buf_cstr(b);
}

/* Runs `decode ARGS...` with stdin_text on stdin; captures stdout/stderr. */
static int run(const char *stdin_text, int argc, const char **args)
{
    const char *dir = msn_test_tmpdir("cli");
    char pin[600], pout[600], perr[600];
    snprintf(pin, sizeof(pin), "%s/in", dir);
    snprintf(pout, sizeof(pout), "%s/out", dir);
    snprintf(perr, sizeof(perr), "%s/err", dir);
    FILE *f = fopen(pin, "w");
    fputs(stdin_text ? stdin_text : "", f);
    fclose(f);

    fflush(stdout);
    fflush(stderr);
    int s0 = dup(0), s1 = dup(1), s2 = dup(2);
    int fi = open(pin, O_RDONLY), fo = open(pout, O_WRONLY | O_CREAT | O_TRUNC, 0600),
        fe = open(perr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fi, 0);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fi);
    close(fo);
    close(fe);
    clearerr(stdin);

    char *argv[32];
    argv[0] = (char *)"decode";
    for (int i = 0; i < argc; i++)
        argv[i + 1] = (char *)args[i];
    argv[argc + 1] = NULL;
    int rc = msn_cli_decode(argc + 1, argv);

    fflush(stdout);
    fflush(stderr);
    dup2(s0, 0);
    dup2(s1, 1);
    dup2(s2, 2);
    close(s0);
    close(s1);
    close(s2);
    clearerr(stdin);
    slurp(pout, &out_b);
    slurp(perr, &err_b);
    unlink(pin);
    unlink(pout);
    unlink(perr);
    rmdir(dir);
    return rc;
}

#define GRPTXT_TEST "1500D9C92D6AFB28B62410A4246D6A1DED871217CC48CF4A5130655B956CB7B25937646C6A"

static void test_readable_dump(void)
{
    const char *a[] = {"00ABCD1234", "42 7d1d da2a", "0D", "0001020304"};
    CHECK_EQ_INT(run(NULL, 4, a), 0);
    CHECK(strstr(out_b.data, "header       0x00  route TRANSPORT_FLOOD (0)  payload REQ (0)  version 0\n") != NULL);
    CHECK(strstr(out_b.data, "transport    code1 ABCD  code2 1234\n") != NULL);
    CHECK(strstr(out_b.data, "path         byte 0x42  hash_size 2  2 hop(s): 7D1D DA2A\n") != NULL);
    CHECK(strstr(out_b.data, "  destHash           0d\n") != NULL);
    CHECK(strstr(out_b.data, "  encryptedData      0304\n") != NULL);
    CHECK(strstr(out_b.data, "hash         ") != NULL);
    CHECK(strstr(out_b.data, "decoded_json {\"type\":\"REQ\",\"destHash\":\"0d\",\"srcHash\":\"00\",\"mac\":\"0102\","
                             "\"encryptedData\":\"0304\"}\n") != NULL);
    CHECK_EQ_STR(err_b.data ? err_b.data : "", "");
}

static void test_malformed_and_usage(void)
{
    const char *bad[] = {"09C0AABBCCDD"};
    CHECK_EQ_INT(run(NULL, 1, bad), 1);
    CHECK_EQ_STR(out_b.data ? out_b.data : "", "");
    CHECK(strstr(err_b.data, "malformed packet: invalid path length byte") != NULL);
    CHECK(strchr(err_b.data, '\n') == err_b.data + err_b.len - 1); /* one line */
    const char *hexerr[] = {"zz"};
    CHECK_EQ_INT(run(NULL, 1, hexerr), 1);
    CHECK(strstr(err_b.data, "invalid hex") != NULL);
    CHECK_EQ_INT(run(NULL, 0, NULL), 2);
    CHECK(strstr(err_b.data, "missing HEX") != NULL);
    const char *unk[] = {"--bogus", "0900AABBCCDD"};
    CHECK_EQ_INT(run(NULL, 2, unk), 2);
    const char *noval[] = {"0900AABBCCDD", "--channel"};
    CHECK_EQ_INT(run(NULL, 2, noval), 2);
    const char *badch[] = {"--channel", "nokey", "0900AABBCCDD"};
    CHECK_EQ_INT(run(NULL, 3, badch), 2);
    CHECK(strstr(err_b.data, "--channel") != NULL);
    const char *help[] = {"--help"};
    CHECK_EQ_INT(run(NULL, 1, help), 0);
    CHECK(strstr(out_b.data, "usage: meshsnap decode") != NULL);
}

static void test_channels_and_verify(void)
{
    const char *no[] = {GRPTXT_TEST};
    CHECK_EQ_INT(run(NULL, 1, no), 0);
    CHECK(strstr(out_b.data, "decryption_failed") != NULL);
    CHECK(strstr(out_b.data, "channel_hash enc_D9\n") != NULL);
    const char *yes[] = {"--channel=#test", GRPTXT_TEST};
    CHECK_EQ_INT(run(NULL, 2, yes), 0);
    CHECK(strstr(out_b.data, "  sender             Alice\n") != NULL);
    CHECK(strstr(out_b.data, "channel_hash #test\n") != NULL);
    const char *named[] = {"--channel", "mine=9cd8fcf22a47333b591d96a2b848b73f", GRPTXT_TEST};
    CHECK_EQ_INT(run(NULL, 3, named), 0);
    CHECK(strstr(out_b.data, "  channel            mine\n") != NULL);

    /* Keys from a configuration file. */
    const char *dir = msn_test_tmpdir("clicfg");
    char path[600];
    snprintf(path, sizeof(path), "%s/meshsnap.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("db = /nonexistent.db\n[channels]\nhashtags = #test\n", f);
    fclose(f);
    const char *cfg[] = {"--config", path, GRPTXT_TEST};
    CHECK_EQ_INT(run(NULL, 3, cfg), 0);
    CHECK(strstr(out_b.data, "  channel            #test\n") != NULL);
    f = fopen(path, "w");
    fputs("[channels]\nbroken line\n", f);
    fclose(f);
    CHECK_EQ_INT(run(NULL, 3, cfg), 2);
    CHECK(strstr(err_b.data, "meshsnap.conf:2") != NULL);
    unlink(path);
    rmdir(dir);
    const char *missing[] = {"--config", "/nonexistent/meshsnap.conf", GRPTXT_TEST};
    CHECK_EQ_INT(run(NULL, 3, missing), 2);

    /* Signature check on by default, off with --no-verify. */
    char adv[512] = "1100";
    for (int i = 0; i < 100; i++)
        strcat(adv, "01");
    const char *v[] = {adv};
    CHECK_EQ_INT(run(NULL, 1, v), 0);
    CHECK(strstr(out_b.data, "  signatureValid     false\n") != NULL);
    CHECK(strstr(out_b.data, "from_pubkey  0101010101") != NULL);
    const char *nv[] = {"--no-verify", adv};
    CHECK_EQ_INT(run(NULL, 2, nv), 0);
    CHECK(strstr(out_b.data, "signatureValid") == NULL);
}

static void test_trace_dump(void)
{
    const char *a[] = {"2602 28F5 01000000 02000000 01 AABBCCDDEE"};
    CHECK_EQ_INT(run(NULL, 1, a), 0);
    CHECK(strstr(out_b.data, "path         byte 0x02  2 SNR byte(s) 28 F5\n") != NULL);
    CHECK(strstr(out_b.data, "route        2 hop(s) of 2 byte(s), 2 completed: AABB CCDD\n") != NULL);
    CHECK(strstr(out_b.data, "  snrValues          10 -2.75 dB\n") != NULL);
}

static void test_json_lines(void)
{
    const char *in = "{\"hex\":\"0D0001020304\"}\n"
                     "\n"
                     "{\"id\": 3, \"hex\" : \"2502AABBDEADBEEF\"}\r\n"
                     "{\"hex\":\"09C0AABBCCDD\"}\n"
                     "{\"nohex\":1}\n"
                     "{\"hex\": 12}\n"
                     "{\"hex\":\"0900 AABB\\nCCDD\"}\n"
                     "{\"hex\":\"" GRPTXT_TEST "\"}\n"
                     "{\"hex\":\"unterminated\n"
                     "not json at all";
    const char *a[] = {"--json", "--channel", "#test"};
    CHECK_EQ_INT(run(in, 3, a), 0);
    const char *want =
        "{\"hash\":\"" /* ACK */
        "%s\",\"route_type\":1,\"payload_type\":3,\"path\":[],\"decoded_json\":"
        "\"{\\\"type\\\":\\\"ACK\\\",\\\"extraHash\\\":\\\"04030201\\\",\\\"ackLen\\\":4}\"}\n";
    char line[1024], h[17];
    msn_codec_content_hash("0D0001020304", 12, h);
    snprintf(line, sizeof(line), want, h);
    CHECK(strncmp(out_b.data, line, strlen(line)) == 0);
    const char *rest = out_b.data + strlen(line);
    const char *expect_rest =
        "{\"hash\":\"b1baaf3bf0d0726c\",\"route_type\":1,\"payload_type\":9,\"path\":[\"AA\",\"BB\"],\"decoded_json\":"
        "\"{\\\"type\\\":\\\"TRACE\\\",\\\"raw\\\":\\\"deadbeef\\\",\\\"error\\\":\\\"too short\\\"}\"}\n"
        "{\"error\":\"invalid path length byte (reserved hash size or more than 64 path bytes)\"}\n"
        "{\"error\":\"no \\\"hex\\\" string in input line\"}\n"
        "{\"error\":\"\\\"hex\\\" is not a string\"}\n"
        /* The hash of a string with whitespace falls back to its first 16 characters. */
        "{\"hash\":\"0900 AABB\\nCCDD\",\"route_type\":1,\"payload_type\":2,\"path\":[],\"decoded_json\":"
        "\"{\\\"type\\\":\\\"TXT_MSG\\\",\\\"destHash\\\":\\\"aa\\\",\\\"srcHash\\\":\\\"bb\\\",\\\"mac\\\":\\\"ccdd\\\"}\"}\n";
    CHECK(strncmp(rest, expect_rest, strlen(expect_rest)) == 0);
    if (strncmp(rest, expect_rest, strlen(expect_rest)) != 0)
        fprintf(stderr, "got:\n%s\n", rest);
    rest += strlen(expect_rest);
    CHECK(strncmp(rest, "{\"hash\":\"", 9) == 0);
    CHECK(strstr(rest, "\\\"channel\\\":\\\"#test\\\",\\\"text\\\":\\\"Alice: Hi \\\\u003cb\\\\u003e") != NULL);
    const char *tail = "{\"error\":\"not JSON: unterminated string at the end of the line\"}\n"
                       "{\"error\":\"not a JSON object\"}\n";
    CHECK(out_b.len >= strlen(tail) && strcmp(out_b.data + out_b.len - strlen(tail), tail) == 0);
    /* One output line per non-blank input line. */
    int lines = 0;
    for (size_t i = 0; i < out_b.len; i++)
        lines += out_b.data[i] == '\n';
    CHECK_EQ_INT(lines, 9);
    const char *bad[] = {"--json", "0900"};
    CHECK_EQ_INT(run("", 2, bad), 2);
}

int main(void)
{
    MSN_RUN(test_readable_dump);
    MSN_RUN(test_malformed_and_usage);
    MSN_RUN(test_channels_and_verify);
    MSN_RUN(test_trace_dump);
    MSN_RUN(test_json_lines);
    msn_buf_free(&out_b);
    msn_buf_free(&err_b);
    msn_codec_thread_cleanup();
    return msn_test_done();
}
