/*
 * decode.c: `meshsnap decode` (see decode.h): the codec on the command line, as a
 * readable dump of one packet or as a JSON-lines filter.
 */
#include "decode.h"
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"
#include "shm/buf.h"
#include "shm/codec/codec.h"
#include "shm/config.h"
#include "shm/json.h"
#include "shm/jsonr.h"

static const char usage[] =
    "usage: meshsnap decode [--channel NAME]... [--config FILE] [--no-verify] HEX...\n"
    "       meshsnap decode --json [--channel NAME]... [--config FILE] [--no-verify] < lines\n"
    "  HEX          a raw packet in hex (spaces allowed; several arguments are joined)\n"
    "  --json       read {\"hex\": \"...\"} lines on stdin, write one JSON result per line\n"
    "  --channel N  add a channel key: #hashtag (derived) or name=HEXKEY (repeatable)\n"
    "  --config F   add the [channels] keys of a meshsnap configuration file\n"
    "  --no-verify  do not check advert signatures\n";

typedef struct {
    int json;
    int verify;
    const char *config;
    const char **channels;
    int n_channels;
    msn_buf_t hex;
} opts_t;

static int usage_error(const char *fmt, const char *arg)
{
    return msn_cli_usage_error("decode", usage, 2, fmt, arg);
}

/* Returns 0, 2 on a usage error, or -1 after printing help (exit 0). */
static int parse_args(int argc, char **argv, opts_t *o)
{
    int only_args = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_args && a[0] == '-' && a[1] != '\0') {
            const char *val = NULL;
            if (strcmp(a, "--") == 0) {
                only_args = 1;
            } else if (strcmp(a, "--json") == 0) {
                o->json = 1;
            } else if (strcmp(a, "--no-verify") == 0) {
                o->verify = 0;
            } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                fputs(usage, stdout);
                return -1;
            } else if (strncmp(a, "--channel", 9) == 0 || strncmp(a, "--config", 8) == 0) {
                int is_channel = strncmp(a, "--channel", 9) == 0;
                const char *rest = a + (is_channel ? 9 : 8);
                if (*rest == '=') {
                    val = rest + 1;
                } else if (*rest == '\0') {
                    if (i + 1 >= argc)
                        return usage_error("%s needs a value", a);
                    val = argv[++i];
                } else {
                    return usage_error("unknown option %s", a);
                }
                if (is_channel)
                    o->channels[o->n_channels++] = val;
                else
                    o->config = val;
            } else {
                return usage_error("unknown option %s", a);
            }
            continue;
        }
        msn_buf_puts(&o->hex, a);
    }
    if (!o->json && o->hex.len == 0)
        return usage_error("%s", "missing HEX packet");
    if (o->json && o->hex.len > 0)
        return usage_error("%s", "--json reads packets from stdin; give no HEX argument");
    return 0;
}

static msn_chankeys_t *load_keys(const opts_t *o)
{
    return msn_cli_load_keys("meshsnap decode", o->config, (const char *const *)o->channels, o->n_channels);
}

/* ---- the readable dump ------------------------------------------------------------------ */

/* Text safe for a terminal: control bytes (and DEL) as \xNN, the rest as is. */
static void put_text(msn_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            msn_buf_printf(b, "\\x%02x", c);
        else
            msn_buf_putc(b, (char)c);
    }
}

static void put_hops(msn_buf_t *b, const uint8_t *p, unsigned count, unsigned size)
{
    for (unsigned i = 0; i < count; i++) {
        char h[8];
        msn_hex_encode(p + (size_t)i * size, size, h, 1);
        msn_buf_putc(b, ' ');
        msn_buf_puts(b, h);
    }
}

static void text_field(void *ctx, const char *key, const msn_field_t *f)
{
    msn_buf_t *b = ctx;
    msn_buf_printf(b, "  %-18s ", key);
    switch (f->kind) {
    case MSN_FV_STR:
        put_text(b, f->s, f->n);
        break;
    case MSN_FV_HEX: {
        for (size_t i = 0; i < f->n; i++)
            msn_buf_printf(b, "%02x", f->bytes[i]);
        break;
    }
    case MSN_FV_INT:
        msn_buf_put_i64(b, f->i);
        break;
    case MSN_FV_DOUBLE:
    case MSN_FV_DECIMAL:
        msn_json_double(b, f->d);
        break;
    case MSN_FV_BOOL:
        msn_buf_puts(b, f->i ? "true" : "false");
        break;
    case MSN_FV_SNR:
        for (size_t i = 0; i < f->n; i++) {
            if (i)
                msn_buf_putc(b, ' ');
            msn_json_double(b, (double)(int8_t)f->bytes[i] / 4.0);
        }
        msn_buf_puts(b, " dB");
        break;
    case MSN_FV_FLAGS: {
        static const char *const roles[] = {"none", "companion", "repeater", "room", "sensor"};
        unsigned fl = (unsigned)f->i, t = fl & 0x0F;
        msn_buf_printf(b, "0x%02x type %u", fl, t);
        if (t < 5)
            msn_buf_printf(b, " (%s)", roles[t]);
        else
            msn_buf_printf(b, " (type-%u)", t);
        if (fl & 0x10)
            msn_buf_puts(b, " location");
        if (fl & 0x20)
            msn_buf_puts(b, " feat1");
        if (fl & 0x40)
            msn_buf_puts(b, " feat2");
        if (fl & 0x80)
            msn_buf_puts(b, " name");
        break;
    }
    }
    msn_buf_putc(b, '\n');
}

static void render_text(const msn_packet_t *pkt, const char *hash, msn_buf_t *b)
{
    msn_buf_printf(b, "packet       %u bytes\n", pkt->raw_len);
    msn_buf_printf(b, "header       0x%02x  route %s (%u)  payload %s (%u)  version %u\n", pkt->header,
                   msn_route_type_name(pkt->route_type), pkt->route_type,
                   msn_payload_type_name(pkt->payload_type), pkt->payload_type, pkt->payload_version);
    if (pkt->has_transport)
        msn_buf_printf(b, "transport    code1 %02X%02X  code2 %02X%02X\n", pkt->transport[0], pkt->transport[1],
                       pkt->transport[2], pkt->transport[3]);
    const uint8_t *path = msn_span_ptr(pkt, pkt->path);
    if (pkt->payload_type == MSN_PT_TRACE) {
        msn_buf_printf(b, "path         byte 0x%02x  %u SNR byte(s)", pkt->path_byte, pkt->hash_count);
        put_hops(b, path, pkt->hash_count, pkt->hash_size);
        msn_buf_putc(b, '\n');
        if (pkt->hops_completed >= 0) {
            msn_buf_printf(b, "route        %u hop(s) of %u byte(s), %d completed:", pkt->hop_count, pkt->hop_size,
                           pkt->hops_completed);
            put_hops(b, msn_span_ptr(pkt, pkt->hops), pkt->hop_count, pkt->hop_size);
            msn_buf_putc(b, '\n');
        }
    } else {
        msn_buf_printf(b, "path         byte 0x%02x  hash_size %u  %u hop(s)%s", pkt->path_byte, pkt->hash_size,
                       pkt->hash_count, pkt->hash_count ? ":" : "");
        put_hops(b, path, pkt->hash_count, pkt->hash_size);
        msn_buf_putc(b, '\n');
    }
    msn_buf_printf(b, "payload      %u bytes\n", pkt->payload.len);
    msn_packet_fields(pkt, text_field, b);
    if (pkt->anomaly)
        msn_buf_printf(b, "anomaly      %s\n", pkt->anomaly);
    msn_buf_printf(b, "hash         %s\n", hash);
    char tmp[8], pk[65];
    const char *ch = msn_packet_channel_hash(pkt, tmp);
    if (ch != NULL) {
        msn_buf_puts(b, "channel_hash ");
        put_text(b, ch, strlen(ch));
        msn_buf_putc(b, '\n');
    }
    if (msn_packet_from_pubkey(pkt, pk))
        msn_buf_printf(b, "from_pubkey  %s\n", pk);
    msn_buf_puts(b, "decoded_json ");
    msn_packet_render_json(pkt, b);
    msn_buf_putc(b, '\n');
}

static int write_out(msn_buf_t *b)
{
    if (b->len > 0 && fwrite(b->data, 1, b->len, stdout) != b->len)
        return -1;
    msn_buf_reset(b);
    return 0;
}

static int decode_one(const opts_t *o, const msn_decode_opts_t *dopts)
{
    msn_packet_t *pkt = msn_xmalloc(sizeof(*pkt));
    int status = 0;
    int rc = msn_packet_decode_hex(pkt, o->hex.data, o->hex.len, dopts);
    if (rc < 0) {
        fprintf(stderr, "meshsnap decode: malformed packet: %s\n", msn_codec_strerror(rc));
        status = 1;
        goto out;
    }
    char hash[17];
    msn_packet_content_hash(pkt, hash);
    msn_buf_t b = MSN_BUF_INIT;
    render_text(pkt, hash, &b);
    if (write_out(&b) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "meshsnap decode: writing output failed\n");
        status = 1;
    }
    msn_buf_free(&b);
out:
    free(pkt);
    return status;
}

/* ---- JSON lines ---------------------------------------------------------------------------- */

/* Decodes the string value of the line's top-level "hex" member into out. The members
 * before it must be JSON; the rest of the line is not read (the first "hex" counts).
 * Returns 0, or -1 with why (whylen bytes) set. */
static int extract_hex(const char *line, size_t len, msn_buf_t *out, char *why, size_t whylen)
{
    msn_jsonr_t r;
    msn_jsonr_val_t k, v;
    int rc;
    msn_jsonr_init(&r, line, len);
    if (msn_jsonr_object(&r) < 0) {
        snprintf(why, whylen, "not a JSON object");
        return -1;
    }
    while ((rc = msn_jsonr_member(&r, &k)) == 1) {
        int is_hex = msn_jsonr_is(&k, "hex");
        if (msn_jsonr_value(&r, &v) < 0)
            break;
        if (!is_hex)
            continue;
        if (v.type != MSN_JSONR_STR) {
            snprintf(why, whylen, "\"hex\" is not a string");
            return -1;
        }
        msn_jsonr_str(&v, out);
        return 0;
    }
    if (r.err == NULL)
        snprintf(why, whylen, "no \"hex\" string in input line");
    else if (r.err_at >= r.end)
        snprintf(why, whylen, "not JSON: %s at the end of the line", r.err);
    else
        snprintf(why, whylen, "not JSON: %s at column %zu", r.err, (size_t)(r.err_at - r.s) + 1);
    return -1;
}

static void json_error(msn_buf_t *b, const char *why)
{
    msn_buf_puts(b, "{\"error\":");
    msn_json_strn(b, why, strlen(why));
    msn_buf_puts(b, "}\n");
}

static int json_lines(const msn_decode_opts_t *dopts)
{
    msn_packet_t *pkt = msn_xmalloc(sizeof(*pkt));
    msn_buf_t out = MSN_BUF_INIT, hex = MSN_BUF_INIT, dj = MSN_BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len)
            continue;
        char why[128];
        msn_buf_reset(&hex);
        if (extract_hex(line, len, &hex, why, sizeof(why)) < 0) {
            json_error(&out, why);
        } else {
            int rc = msn_packet_decode_hex(pkt, hex.data ? hex.data : "", hex.len, dopts);
            if (rc < 0) {
                json_error(&out, msn_codec_strerror(rc));
            } else {
                char hash[17];
                msn_codec_content_hash(hex.data ? hex.data : "", hex.len, hash);
                msn_buf_reset(&dj);
                msn_packet_render_json(pkt, &dj);
                msn_buf_puts(&out, "{\"hash\":");
                msn_json_strn(&out, hash, strlen(hash));
                msn_buf_printf(&out, ",\"route_type\":%u,\"payload_type\":%u,\"path\":", pkt->route_type,
                               pkt->payload_type);
                msn_packet_render_path_json(pkt, &out);
                msn_buf_puts(&out, ",\"decoded_json\":");
                msn_json_strn(&out, dj.data, dj.len);
                msn_buf_puts(&out, "}\n");
            }
        }
        if (out.len >= 65536 && write_out(&out) < 0) {
            status = 1;
            break;
        }
    }
    if (status == 0 && (write_out(&out) < 0 || fflush(stdout) != 0))
        status = 1;
    if (status != 0)
        fprintf(stderr, "meshsnap decode: writing output failed\n");
    if (ferror(stdin)) {
        fprintf(stderr, "meshsnap decode: reading stdin failed\n");
        status = 1;
    }
    free(line);
    msn_buf_free(&out);
    msn_buf_free(&hex);
    msn_buf_free(&dj);
    free(pkt);
    return status;
}

int msn_cli_decode(int argc, char **argv)
{
    opts_t o = {.verify = 1, .hex = MSN_BUF_INIT};
    o.channels = msn_xcalloc((size_t)(argc > 0 ? argc : 1), sizeof(*o.channels));
    int status = parse_args(argc, argv, &o);
    msn_chankeys_t *ks = NULL;
    if (status != 0) {
        status = status < 0 ? 0 : status;
        goto out;
    }
    ks = load_keys(&o);
    if (ks == NULL) {
        status = 2;
        goto out;
    }
    msn_decode_opts_t dopts = {.keys = ks, .verify_signatures = o.verify};
    status = o.json ? json_lines(&dopts) : decode_one(&o, &dopts);
out:
    msn_chankeys_free(ks);
    msn_buf_free(&o.hex);
    free(o.channels);
    return status;
}
