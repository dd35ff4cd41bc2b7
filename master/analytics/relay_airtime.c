/*
 * relay_airtime.c: /api/analytics/relay-airtime-share (CoreScope relay_airtime_share.go,
 * internal/lora/toa.go).
 *
 * Per distinct content hash among the transmissions whose first_seen lies in the window:
 * score = LoRa time on air (ns) of len(raw_hex)/2 bytes under CoreScope's default preset
 * (869.6 MHz, BW 62.5 kHz, SF 8, CR 4/5, 32 preamble symbols; CRC on, explicit header,
 * low-data-rate optimisation when a symbol lasts 16 ms or more) times the number of
 * distinct node keys in the resolved paths of all its observations (the relays that
 * forwarded it). Rows per payload type: count, score, their shares in percent; sorted by
 * airtime share, then count (descending), then name. Region and area are ignored, as
 * CoreScope ignores them. `cached` is false: the document is the computation.
 */
#include <math.h>
#include <string.h>

#include "an_int.h"
#include "shm/json.h"

#define FREQ_HZ 869.6e6
#define BW_KHZ 62.5
#define SF 8
#define CR 5
#define PREAMBLE 32 /* MeshCore's preamble for SF <= 8 */

/* lora.TimeOnAir in nanoseconds (Go's time.Duration of the float seconds). */
static int64_t toa_ns(int payload_bytes)
{
    if (payload_bytes < 0)
        return 0;
    double tsym = exp2(SF) / (BW_KHZ * 1000.0);
    int de = tsym * 1000.0 >= 16.0;
    int num = 8 * payload_bytes - 4 * SF + 28 + 16;
    int den = 4 * (SF - 2 * de);
    double sym_payload = num <= 0 ? 8 : 8 + ceil((double)num / (double)den) * CR;
    double secs = ((double)PREAMBLE + 4.25 + sym_payload) * tsym;
    return (int64_t)(secs * 1e9);
}

typedef struct {
    int type;
    int64_t count, score;
    double count_pct, airtime_pct;
    const char *name;
} row_t;

static int cmp_row(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->airtime_pct != y->airtime_pct)
        return x->airtime_pct > y->airtime_pct ? -1 : 1;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* CoreScope's payloadTypeNames (types 12-14 have none: "UNK" here). */
static const char *type_name(int pt)
{
    static const char *const names[16] = {"REQ",   "RESPONSE", "TXT_MSG",   "ACK",     "ADVERT", "GRP_TXT",
                                          "GRP_DATA", "ANON_REQ", "PATH",   "TRACE",   "MULTIPART", "CONTROL",
                                          NULL,    NULL,       NULL,        "RAW_CUSTOM"};
    return pt >= 0 && pt < 16 && names[pt] ? names[pt] : "UNK";
}

/* Distinct node keys over the resolved paths of t's observations. */
static int64_t relays(const an_ctx_t *c, const msn_tx_t *t, uint32_t *seen, uint32_t cap)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < t->n_obs; k++) {
        const msn_obs_t *o = &c->s->obs[t->obs[k]];
        for (uint32_t h = 0; o->rp && h < o->rp_n; h++) {
            uint32_t id = o->rp[h];
            if (id == MSN_KEY_NONE)
                continue;
            uint32_t j = 0;
            while (j < n && seen[j] != id)
                j++;
            if (j == n && n < cap)
                seen[n++] = id;
        }
    }
    return n;
}

int msn_an__relay_airtime_share(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    row_t *rows = NULL;
    size_t cap = 0;
    int nrows = 0;
    int64_t total_count = 0, total_score = 0;
    an_map_t hashes;
    msn_an__map_init(&hashes, c->arena, 0);
    uint32_t seen[1024];
    for (uint32_t i = 0; i < s->n_tx; i++) {
        const msn_tx_t *t = &s->tx[i];
        if (t->payload_type < 0 || !msn_an__tx_in_window(c, t))
            continue;
        if (t->hash && t->hash[0]) {
            int is_new;
            msn_an__map_intern(&hashes, t->hash, strlen(t->hash), &is_new);
            if (!is_new)
                continue;
        }
        int k = 0;
        while (k < nrows && rows[k].type != t->payload_type)
            k++;
        if (k == nrows) {
            AN_GROW(c->arena, rows, cap, (size_t)nrows + 1);
            memset(&rows[nrows], 0, sizeof(rows[nrows]));
            rows[nrows].type = t->payload_type;
            rows[nrows].name = type_name(t->payload_type);
            nrows++;
        }
        row_t *r = &rows[k];
        int64_t score = toa_ns((int)(strlen(t->raw_hex) / 2)) * relays(c, t, seen, 1024);
        r->count++;
        r->score += score;
        total_count++;
        total_score += score;
    }
    for (int k = 0; k < nrows; k++) {
        rows[k].count_pct = total_count > 0 ? (double)rows[k].count / (double)total_count * 100.0 : 0;
        rows[k].airtime_pct = total_score > 0 ? (double)rows[k].score / (double)total_score * 100.0 : 0;
    }
    msn_an__qsort(rows, (size_t)nrows, sizeof(row_t), cmp_row);
    msn_buf_puts(out, "{\"cached\":false,\"preset\":{\"freq_hz\":");
    msn_json_double(out, FREQ_HZ);
    msn_buf_puts(out, ",\"bw_khz\":");
    msn_json_double(out, BW_KHZ);
    msn_buf_printf(out, ",\"sf\":%d,\"cr\":%d,\"preamble\":%d},\"rows\":[", SF, CR, PREAMBLE);
    for (int k = 0; k < nrows; k++) {
        msn_buf_puts(out, k ? ",{\"airtime_pct\":" : "{\"airtime_pct\":");
        msn_json_double(out, rows[k].airtime_pct);
        msn_buf_printf(out, ",\"count\":%lld,\"count_pct\":", (long long)rows[k].count);
        msn_json_double(out, rows[k].count_pct);
        msn_buf_printf(out, ",\"payload_type\":\"%s\",\"score\":%lld,\"type\":%d}", rows[k].name,
                       (long long)rows[k].score, rows[k].type);
    }
    msn_buf_printf(out, "],\"total_count\":%lld,\"total_score\":%lld,\"window\":", (long long)total_count,
                   (long long)total_score);
    const char *label = c->shape->window;
    msn_json_strn(out, label ? label : "", label ? strlen(label) : 0);
    msn_buf_putc(out, '}');
    return 0;
}
