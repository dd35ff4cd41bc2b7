/* an_util.c: the analytics' per-job context (arena, observers, region, window, node
 * lookup), path hops, hour buckets, roles and numbers. See an_int.h. */
#include "an_int.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "shm/jsonr.h"

#define AN_PI 3.14159265358979323846

/* ---- context ----------------------------------------------------------------------------- */

typedef struct {
    const char *key;
    uint32_t idx;
} keyidx_t;

static int keyidx_cmp(const void *a, const void *b)
{
    const keyidx_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Upper-cased, trimmed copy of s[0..n) into out (cap bytes, cut if longer); returns the
 * trimmed length before any cut. */
static size_t trim_upper(const char *s, size_t n, char *out, size_t cap)
{
    while (n > 0 && isspace((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    size_t full = n;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[n] = 0;
    return full;
}

/* The shape's region codes (normalizeRegionCodes): comma-separated, trimmed, upper-case,
 * without empty codes and "ALL"; codes of 16 characters or more are left out (they match
 * no IATA code). */
static void region_codes(an_ctx_t *c)
{
    const char *r = c->shape ? c->shape->region : NULL;
    if (r == NULL)
        return;
    int cap = 1;
    for (const char *p = r; *p; p++)
        cap += *p == ',';
    c->codes = AN_ARRAY(c->arena, const char *, cap);
    for (const char *p = r; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char code[16];
        size_t cl = trim_upper(p, l, code, sizeof(code));
        if (code[0] && cl < sizeof(code) && strcmp(code, "ALL") != 0)
            c->codes[c->n_codes++] = msn_arena_strdup(c->arena, code);
        p += l;
        if (*p == ',')
            p++;
    }
}

int msn_an__region_has(const an_ctx_t *c, const char *code)
{
    if (code == NULL || code[0] == 0)
        return 0;
    for (int k = 0; k < c->n_codes; k++)
        if (strcasecmp(c->codes[k], code) == 0)
            return 1;
    return 0;
}

/* The observers of the region (in_region), CoreScope's resolveRegionObservers. */
static void region_init(an_ctx_t *c)
{
    const msn_store_t *s = c->s;
    const char *r = c->shape ? c->shape->region : NULL;
    if (r == NULL || *r == 0)
        return;
    region_codes(c);
    if (s->n_observers == 0)
        c->region_asked = 1;
    if (c->n_codes == 0 || s->n_observers == 0)
        return;
    c->region_asked = 1;
    c->in_region = AN_ARRAY(c->arena, uint8_t, s->n_observers);
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const char *iata = s->observers[i].iata;
        if (iata == NULL)
            continue;
        /* SQL TRIM drops spaces only */
        size_t l = strlen(iata);
        while (l > 0 && *iata == ' ') {
            iata++;
            l--;
        }
        while (l > 0 && iata[l - 1] == ' ')
            l--;
        if (l == 0 || l >= 16)
            continue;
        char up[16];
        for (size_t k = 0; k < l; k++)
            up[k] = (char)toupper((unsigned char)iata[k]);
        up[l] = 0;
        for (int k = 0; k < c->n_codes; k++)
            if (strcmp(up, c->codes[k]) == 0) {
                c->in_region[i] = 1;
                c->region_active = 1;
                break;
            }
    }
}

static void observers_init(an_ctx_t *c)
{
    const msn_store_t *s = c->s;
    int64_t max_rowid = -1, min_rowid = INT64_MAX;
    for (uint32_t i = 0; i < s->n_observers; i++) {
        if (s->observers[i].rowid > max_rowid)
            max_rowid = s->observers[i].rowid;
        if (s->observers[i].rowid < min_rowid)
            min_rowid = s->observers[i].rowid;
    }
    if (s->n_observers == 0 || min_rowid < 0 || max_rowid >= (1 << 24))
        return; /* msn_an__obs_observer falls back to the store's lookup */
    c->n_rowid = max_rowid + 1;
    c->obs_by_rowid = AN_ARRAY(c->arena, int32_t, c->n_rowid);
    for (int64_t r = 0; r < c->n_rowid; r++)
        c->obs_by_rowid[r] = -1;
    for (uint32_t i = 0; i < s->n_observers; i++)
        if (c->obs_by_rowid[s->observers[i].rowid] < 0)
            c->obs_by_rowid[s->observers[i].rowid] = (int32_t)i;
}

static void nodes_init(an_ctx_t *c)
{
    const msn_store_t *s = c->s;
    keyidx_t *ki = AN_ARRAY(c->arena, keyidx_t, s->n_nodes);
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++)
        if (s->nodes[i].public_key != NULL)
            ki[n++] = (keyidx_t){s->nodes[i].public_key, i};
    msn_an__qsort(ki, n, sizeof(*ki), keyidx_cmp);
    c->node_by_key = AN_ARRAY(c->arena, uint32_t, n);
    for (uint32_t i = 0; i < n; i++)
        c->node_by_key[i] = ki[i].idx;
    c->n_node_by_key = n;
}

void msn_an__ctx_init(an_ctx_t *c, const msn_store_t *s, const msn_an_shape_t *shape, int64_t now_ms)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->shape = shape;
    c->now_ms = now_ms;
    c->arena = msn_arena_new();
    observers_init(c);
    region_init(c);
    nodes_init(c);
}

void msn_an__ctx_free(an_ctx_t *c)
{
    msn_arena_free(c->arena);
    memset(c, 0, sizeof(*c));
}

static void buf_dispose(void *p)
{
    msn_buf_free(p);
}

msn_buf_t *msn_an__buf(const an_ctx_t *c)
{
    msn_buf_t *b = AN_NEW(c, msn_buf_t);
    msn_arena_defer(c->arena, buf_dispose, b);
    return b;
}

int32_t msn_an__obs_observer(const an_ctx_t *c, const msn_obs_t *o)
{
    if (o->observer_rowid < 0)
        return -1;
    if (c->obs_by_rowid != NULL)
        return o->observer_rowid < c->n_rowid ? c->obs_by_rowid[o->observer_rowid] : -1;
    const msn_observer_t *ob = msn_store_observer(c->s, o->observer_rowid);
    return ob ? (int32_t)(ob - c->s->observers) : -1;
}

const char *msn_an__obs_observer_id(const an_ctx_t *c, const msn_obs_t *o)
{
    int32_t k = msn_an__obs_observer(c, o);
    return k < 0 ? "" : msn_an__s(c->s->observers[k].id);
}

int msn_an__tx_in_region(const an_ctx_t *c, const msn_tx_t *t)
{
    if (!c->region_active)
        return 1;
    for (uint32_t i = 0; i < t->n_obs; i++) {
        int32_t k = msn_an__obs_observer(c, &c->s->obs[t->obs[i]]);
        if (k >= 0 && c->in_region[k])
            return 1;
    }
    return 0;
}

int msn_an__window_set(const an_ctx_t *c)
{
    return c->shape != NULL && (c->shape->from_ms != 0 || c->shape->to_ms != 0);
}

int msn_an__in_window(const an_ctx_t *c, int64_t ms)
{
    if (c->shape == NULL)
        return 1;
    if (c->shape->from_ms != 0 && ms < c->shape->from_ms)
        return 0;
    if (c->shape->to_ms != 0 && ms > c->shape->to_ms)
        return 0;
    return 1;
}

int msn_an__tx_in_window(const an_ctx_t *c, const msn_tx_t *t)
{
    if (!msn_an__window_set(c) || t->first_seen == NULL || t->first_seen[0] == 0)
        return 1;
    return msn_an__in_window(c, t->first_seen_ms);
}

int32_t msn_an__node_find(const an_ctx_t *c, const char *pk, size_t n)
{
    uint32_t lo = 0, hi = c->n_node_by_key;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *k = c->s->nodes[c->node_by_key[mid]].public_key;
        int cmp = strncmp(k, pk, n);
        if (cmp == 0 && k[n] != 0)
            cmp = 1;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->n_node_by_key) {
        const char *k = c->s->nodes[c->node_by_key[lo]].public_key;
        if (strncmp(k, pk, n) == 0 && k[n] == 0)
            return (int32_t)c->node_by_key[lo];
    }
    return -1;
}

int msn_an__node_gps(const msn_node_t *nd)
{
    if (!nd->has_lat || !nd->has_lon || !isfinite(nd->lat) || !isfinite(nd->lon))
        return 0;
    return !(nd->lat == 0 && nd->lon == 0);
}

int msn_an__role_has(const char *role, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = role; p && *p; p++)
        if (strncasecmp(p, word, wl) == 0)
            return 1;
    return 0;
}

/* ---- hops -------------------------------------------------------------------------------- */

void msn_an__hops_init(an_hops_t *hops, const an_ctx_t *c)
{
    memset(hops, 0, sizeof(*hops));
    hops->arena = c->arena;
}

static void hop_cb(void *ctx, int idx, const char *s, size_t n)
{
    an_hops_t *h = ctx;
    (void)idx;
    AN_GROW(h->arena, h->h, h->cap, (size_t)h->n + 1);
    h->h[h->n].p = s;
    h->h[h->n].n = (uint32_t)n;
    h->n++;
}

int msn_an__hops_parse(an_hops_t *hops, const char *path_json)
{
    hops->n = 0;
    if (path_json == NULL || path_json[0] == 0)
        return 0;
    if (msn_json_str_array_each(path_json, strlen(path_json), hop_cb, hops) < 0)
        hops->n = 0;
    return hops->n;
}

int msn_an__tx_hops(an_hops_t *hops, const msn_store_t *s, const msn_tx_t *t)
{
    hops->n = 0;
    if (t->best < 0 || (uint32_t)t->best >= s->n_obs)
        return 0;
    return msn_an__hops_parse(hops, s->obs[t->best].path_json);
}

/* ---- time ------------------------------------------------------------------------------------ */

void msn_an__hour_of_s(int64_t secs, char out[16])
{
    int64_t hours = secs >= 0 ? secs / 3600 : -((-secs + 3599) / 3600);
    int64_t z = hours >= 0 ? hours / 24 : -((-hours + 23) / 24);
    int hh = (int)(hours - z * 24);
    /* civil_from_days (proleptic Gregorian) */
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    if (y < 0 || y > 9999) {
        y = y < 0 ? 0 : 9999;
    }
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = 'T';
    out[11] = (char)('0' + hh / 10);
    out[12] = (char)('0' + hh % 10);
    out[13] = 0;
}

size_t msn_an__hour_of_tx(const msn_tx_t *t, char out[16])
{
    const char *f = t->first_seen;
    if (f == NULL)
        return 0;
    size_t n = strnlen(f, 13);
    if (n < 13)
        return 0;
    memcpy(out, f, 13);
    out[13] = 0;
    return 13;
}

/* ---- numbers ------------------------------------------------------------------------------ */

static double pow10i(int p)
{
    double m = 1;
    for (int i = 0; i < p; i++)
        m *= 10;
    return m;
}

double msn_an__round_half(double v, int places)
{
    double m = pow10i(places);
    return round(v * m) / m;
}

double msn_an__round_trunc(double v, int places)
{
    double m = pow10i(places);
    double x = v * m + 0.5;
    if (!isfinite(x) || fabs(x) >= 9.2e18)
        return v;
    return (double)(int64_t)x / m;
}

double msn_an__haversine_km(double lat1, double lon1, double lat2, double lon2)
{
    const double R = 6371.0;
    double dlat = (lat2 - lat1) * AN_PI / 180;
    double dlon = (lon2 - lon1) * AN_PI / 180;
    double a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * AN_PI / 180) * cos(lat2 * AN_PI / 180) * sin(dlon / 2) * sin(dlon / 2);
    return R * 2 * atan2(sqrt(a), sqrt(1 - a));
}

static double median3(double a, double b, double c)
{
    if ((a <= b && b <= c) || (c <= b && b <= a))
        return b;
    if ((b <= a && a <= c) || (c <= a && a <= b))
        return a;
    return c;
}

double msn_an__select(double *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        double piv = median3(v[lo], v[lo + (hi - lo) / 2], v[hi]);
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < piv)
                i++;
            while (v[j] > piv)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            return v[kk];
    }
    return v[kk];
}

double msn_an__median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    double hi = msn_an__select(v, n, n / 2);
    if (n % 2 == 1)
        return hi;
    double lo = v[0];
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > lo)
            lo = v[i];
    return (lo + hi) / 2;
}

double msn_an__median_sorted(const double *v, size_t n)
{
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double msn_an__upper_median(double *v, size_t n)
{
    return n == 0 ? 0 : msn_an__select(v, n, n / 2);
}

size_t msn_an__kth_bucket(const int64_t *cnt, size_t n, int64_t k)
{
    int64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (k < pos + cnt[i])
            return i;
        pos += cnt[i];
    }
    return n;
}
