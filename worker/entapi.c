/* entapi.c: see entapi.h. */
#include "entapi.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shm/entdoc.h"

int msn_api_entdoc_get(msn_api_req_t *r, const char *kind, const char *doc, const char *id, size_t id_len,
                       msn_doc_t *d)
{
    char name[MSN_ENTDOC_NAME_MAX + 1];
    if (msn_entdoc_name(name, sizeof(name), kind, doc, id, id_len) < 0)
        return MDB_NOTFOUND;
    return msn_snap_doc_get_full(r->txn, r->snap, name, d) == 0 ? 0 : MDB_NOTFOUND;
}

int msn_api_send_nodedoc(msn_api_req_t *r, const char *doc, const char *id)
{
    if (msn_api_entdoc_get(r, MSN_ENT_NODE, doc, id, strlen(id), &r->doc) != 0)
        return MDB_NOTFOUND;
    r->use_doc = 1;
    r->status = 200;
    return 0;
}

int msn_api_node_known(msn_api_req_t *r, const char *id)
{
    msn_snaprec_node_t n;
    return msn_snap_node_get(r->txn, r->snap, id, strlen(id), &n) == 0;
}

void msn_api_nodedocs_pending(msn_api_req_t *r)
{
    r->retry_after = 2;
    msn_api_error(r, 503, "this node's documents are being computed; retry shortly");
}

int msn_api_go_atoi(const char *v, int64_t *out)
{
    if (v == NULL || *v == '\0')
        return -1;
    const char *p = v;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '\0')
        return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    errno = 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return -1;
    *out = x;
    return 0;
}

int msn_api_go_float(const char *v, double *out)
{
    if (v == NULL || *v == '\0' || *v == ' ' || *v == '\t' || *v == '\n')
        return -1;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*end != '\0' || end == v)
        return -1;
    if (errno == ERANGE && !isinf(x) && x != 0)
        return -1;
    *out = x;
    return 0;
}

/* ---- relays ---- */

int msn_api_relays(msn_api_req_t *r, msn_relay_t **out)
{
    const void *body;
    size_t len;
    *out = NULL;
    if (msn_snap_doc_get(r->txn, r->snap, MSN_DOC_RELAYS, &body, &len, NULL, NULL) != 0)
        return -1;
    msn_mpk_reader_t it;
    uint32_t n;
    msn_mpk_reader_init(&it, body, len);
    if (msn_mpk_read_array(&it, &n) < 0 || n > len)
        return -1;
    msn_relay_t *rl = msn_xcalloc((size_t)n + 1, sizeof(*rl));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t f, pl;
        const char *pk;
        msn_relay_t *x = &rl[i];
        if (msn_mpk_read_array(&it, &f) < 0 || f != MSN_RLYF_COUNT_ || msn_mpk_read_str(&it, &pk, &pl) < 0 ||
            pl != 64)
            goto bad;
        x->pk = pk;
        if (msn_mpk_peek(&it) == MSN_MPK_NIL)
            msn_mpk_read_nil(&it);
        else if (msn_mpk_read_str(&it, &x->name, &x->name_len) < 0)
            goto bad;
        if (msn_mpk_peek(&it) == MSN_MPK_NIL) {
            if (msn_mpk_read_nil(&it) < 0 || msn_mpk_read_nil(&it) < 0)
                goto bad;
        } else {
            if (msn_mpk_read_double(&it, &x->lat) < 0 || msn_mpk_read_double(&it, &x->lon) < 0)
                goto bad;
            x->gps = 1;
        }
        if (msn_mpk_read_int(&it, &x->adverts) < 0 || msn_mpk_read_bool(&it, &x->listener) < 0)
            goto bad;
    }
    *out = rl;
    return (int)n;
bad:
    free(rl);
    return -1;
}

uint32_t msn_api_relay_range(const msn_relay_t *rl, uint32_t n, const char *hop, size_t len, uint32_t *first)
{
    *first = 0;
    if (len < 2 || len > 64)
        return 0;
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(rl[mid].pk, hop, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    uint32_t e = lo;
    if (len <= 8 || len == 64)
        while (e < n && memcmp(rl[e].pk, hop, len) == 0)
            e++;
    return e - lo;
}

/* ---- neighbours ---- */

int msn_api_nbr_open(msn_api_req_t *r, const char *id, msn_mpk_reader_t *it, uint32_t *n)
{
    msn_doc_t d;
    if (msn_api_entdoc_get(r, MSN_ENT_NODE, MSN_NODEDOC_NEIGHBORS, id, strlen(id), &d) != 0)
        return MDB_NOTFOUND;
    msn_mpk_reader_init(it, d.body, d.len);
    return msn_mpk_read_array(it, n) < 0 ? -1 : 0;
}

static int str_or_nil(msn_mpk_reader_t *it, const char **s, uint32_t *n)
{
    if (msn_mpk_peek(it) == MSN_MPK_NIL) {
        *s = NULL;
        *n = 0;
        return msn_mpk_read_nil(it);
    }
    return msn_mpk_read_str(it, s, n);
}

int msn_api_nbr_next(msn_mpk_reader_t *it, msn_nbr_t *e)
{
    uint32_t f, m;
    memset(e, 0, sizeof(*e));
    if (msn_mpk_read_array(it, &f) < 0 || f != MSN_NBRF_COUNT_ || str_or_nil(it, &e->pk, &e->pk_len) < 0 ||
        msn_mpk_read_str(it, &e->prefix, &e->prefix_len) < 0 || msn_mpk_read_int(it, &e->count) < 0 ||
        msn_mpk_read_int(it, &e->first_s) < 0 || msn_mpk_read_int(it, &e->last_s) < 0 ||
        msn_mpk_read_double(it, &e->snr_sum) < 0 || msn_mpk_read_int(it, &e->snr_n) < 0)
        return -1;
    e->observers = *it;
    if (msn_mpk_skip(it) < 0 || msn_mpk_read_bool(it, &e->ambiguous) < 0)
        return -1;
    e->candidates = *it;
    if (msn_mpk_skip(it) < 0 || msn_mpk_read_array(it, &m) < 0 || m != 4)
        return -1;
    for (int i = 0; i < 4; i++)
        if (msn_mpk_read_int(it, &e->modes[i]) < 0)
            return -1;
    if (str_or_nil(it, &e->name, &e->name_len) < 0 || str_or_nil(it, &e->role, &e->role_len) < 0)
        return -1;
    if (msn_mpk_peek(it) == MSN_MPK_NIL)
        return msn_mpk_read_nil(it);
    e->has_dist = 1;
    return msn_mpk_read_double(it, &e->dist_km);
}

double msn_api_nbr_score(int64_t count, int64_t last_s, int64_t now_ms)
{
    double cf = (double)count / 100.0;
    if (cf > 1)
        cf = 1;
    double hours = ((double)now_ms / 1000.0 - (double)last_s) / 3600.0;
    if (hours < 0)
        hours = 0;
    return cf * exp(-(0.69314718055994530942 / 168.0) * hours);
}
