/* fxlists.c: see fxlists.h. */
#include "fxlists.h"

#include <string.h>

/* A list named by a string; none for a NULL one. */
static int str_list(msn_fxlists_cb cb, void *ctx, msn_fx_kind_t kind, const char *value)
{
    return value ? cb(ctx, kind, value, strlen(value)) : 0;
}

int msn_fxlists_tx(const msn_tx_t *t, const msn_fx_rec_t *rec, msn_fxlists_cb cb, void *ctx)
{
    int rc;
    if ((rc = cb(ctx, MSN_FX_ALL, NULL, 0)) || (rc = cb(ctx, MSN_FX_TYPE, &rec->payload_type, 1)) ||
        (rc = cb(ctx, MSN_FX_ROUTE, &rec->route_type, 1)))
        return rc;
    if (t->payload_type == 4 &&
        ((rc = str_list(cb, ctx, MSN_FX_FROM, t->from_pubkey)) || (rc = str_list(cb, ctx, MSN_FX_NODE, t->from_pubkey))))
        return rc;
    return str_list(cb, ctx, MSN_FX_CHANNEL, t->channel_hash);
}

int msn_fxlists_obs(const msn_store_t *s, const msn_obs_t *o, msn_fxlists_cb cb, void *ctx)
{
    int rc;
    const msn_observer_t *ob = msn_store_observer(s, o->observer_rowid);
    if (ob && ((rc = str_list(cb, ctx, MSN_FX_OBSERVER, ob->id)) || (rc = str_list(cb, ctx, MSN_FX_REGION, ob->iata))))
        return rc;
    for (int i = 0; o->rp && i < o->rp_n; i++)
        if (o->rp[i] != MSN_KEY_NONE && (rc = cb(ctx, MSN_FX_NODE, s->keys[o->rp[i]], 64)))
            return rc;
    return 0;
}
