/* snapkey.c: see snapkey.h. */
#include "snapkey.h"

#include <ctype.h>
#include <string.h>

MDB_val msn_snap_key_val(const msn_snap_key_t *k)
{
    MDB_val v = {k->len, (void *)k->b};
    return v;
}

static void lower_into(uint8_t *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (uint8_t)tolower((unsigned char)src[i]);
}

int msn_snap_fx_key(msn_fx_kind_t kind, const void *value, size_t len, msn_snap_key_t *out)
{
    out->len = 0;
    switch (kind) {
    case MSN_FX_ALL:
        if (len != 0)
            return -1;
        break;
    case MSN_FX_TYPE:
    case MSN_FX_ROUTE:
        if (len != 1)
            return -1;
        break;
    case MSN_FX_OBSERVER:
    case MSN_FX_FROM:
    case MSN_FX_NODE:
    case MSN_FX_CHANNEL:
    case MSN_FX_REGION:
        if (len == 0 || len > MSN_SNAP_KEY_MAX - 1)
            return -1;
        break;
    default:
        return -1;
    }
    out->b[0] = (uint8_t)kind;
    if (kind == MSN_FX_FROM || kind == MSN_FX_NODE)
        lower_into(out->b + 1, value, len);
    else if (len)
        memcpy(out->b + 1, value, len);
    out->len = 1 + len;
    return 0;
}

static void id_key(uint64_t id, msn_snap_key_t *out)
{
    msn_be64_put(out->b, id);
    out->len = 8;
}

static void pair_key(uint64_t a, uint64_t b, msn_snap_key_t *out)
{
    msn_be64_put(out->b, a);
    msn_be64_put(out->b + 8, b);
    out->len = 16;
}

void msn_snap_tx_key(uint64_t id, msn_snap_key_t *out)
{
    id_key(id, out);
}

void msn_snap_obs_key(uint64_t tx_id, uint64_t obs_id, msn_snap_key_t *out)
{
    pair_key(tx_id, obs_id, out);
}

void msn_snap_oid_key(uint64_t obs_id, msn_snap_key_t *out)
{
    id_key(obs_id, out);
}

void msn_snap_orow_key(int64_t rowid, msn_snap_key_t *out)
{
    id_key((uint64_t)rowid, out);
}

void msn_snap_ft_key(int64_t first_seen_ms, uint64_t id, msn_snap_key_t *out)
{
    pair_key((uint64_t)first_seen_ms, id, out);
}

void msn_snap_fl_key(int64_t latest_ms, uint64_t id, msn_snap_key_t *out)
{
    pair_key((uint64_t)latest_ms, id, out);
}

int msn_snap_obs_key_parse(const void *k, size_t len, uint64_t *tx_id, uint64_t *obs_id)
{
    if (len != 16)
        return -1;
    *tx_id = msn_be64_get(k);
    *obs_id = msn_be64_get((const uint8_t *)k + 8);
    return 0;
}

int msn_snap_time_key_parse(const void *k, size_t len, int64_t *ms, uint64_t *id)
{
    if (len != 16)
        return -1;
    *ms = (int64_t)msn_be64_get(k);
    *id = msn_be64_get((const uint8_t *)k + 8);
    return 0;
}

int msn_snap_hash_key(const char *hash, size_t len, msn_snap_key_t *out)
{
    out->len = 0;
    if (len == 0 || len > 64)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)hash[i]))
            return -1;
    lower_into(out->b, hash, len);
    out->len = len;
    return 0;
}

int msn_snap_node_key(const char *pubkey, size_t len, msn_snap_key_t *out)
{
    out->len = 0;
    if (len == 0 || len > 64)
        return -1;
    lower_into(out->b, pubkey, len);
    out->len = len;
    return 0;
}

int msn_snap_chl_key(const char *channel, size_t len, const char *region, size_t rlen, msn_snap_key_t *out)
{
    out->len = 0;
    if (len == 0 || len + 1 + rlen > MSN_SNAP_KEY_MAX || memchr(channel, 0, len) != NULL)
        return -1;
    memcpy(out->b, channel, len);
    out->b[len] = 0;
    if (rlen)
        memcpy(out->b + len + 1, region, rlen);
    out->len = len + 1 + rlen;
    return 0;
}

void msn_snap_chl_val(int64_t latest_s, uint64_t id, uint8_t out[16])
{
    msn_be64_put(out, (uint64_t)latest_s);
    msn_be64_put(out + 8, id);
}

int msn_snap_chl_val_parse(const void *v, size_t len, int64_t *latest_s, uint64_t *id)
{
    if (len != 16)
        return -1;
    *latest_s = (int64_t)msn_be64_get(v);
    *id = msn_be64_get((const uint8_t *)v + 8);
    return 0;
}

int msn_snap_om_key(const char *observer_id, size_t len, int64_t ts_ms, msn_snap_key_t *out)
{
    out->len = 0;
    if (len == 0 || len + 9 > MSN_SNAP_KEY_MAX || memchr(observer_id, 0, len) != NULL)
        return -1;
    memcpy(out->b, observer_id, len);
    out->b[len] = 0;
    msn_be64_put(out->b + len + 1, (uint64_t)ts_ms ^ (1ull << 63));
    out->len = len + 9;
    return 0;
}

int msn_snap_om_key_parse(const void *k, size_t klen, const char *observer_id, size_t len, int64_t *ts_ms)
{
    const uint8_t *b = k;
    if (klen != len + 9 || memcmp(b, observer_id, len) != 0 || b[len] != 0)
        return -1;
    *ts_ms = (int64_t)(msn_be64_get(b + len + 1) ^ (1ull << 63));
    return 0;
}

int msn_snap_famdoc_name(const char *family, const char *id, size_t len, char *out, size_t n)
{
    size_t fl = strlen(family);
    if (len == 0 || memchr(id, 0, len) != NULL || fl + 1 + len + 1 > n || fl + 1 + len > 511)
        return -1;
    memcpy(out, family, fl);
    out[fl] = '/';
    memcpy(out + fl + 1, id, len);
    out[fl + 1 + len] = 0;
    return 0;
}
