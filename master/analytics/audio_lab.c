/*
 * audio_lab.c: /api/audio-lab/buckets (CoreScope handleAudioLabBuckets).
 *
 * Every transmission with a raw_hex, grouped by its decoded_json "type" (else its payload
 * type's name, else "UNKNOWN"); in each group, ordered by raw_hex length (then id: the Go
 * sort is not stable, ties are ours), 8 evenly spaced picks (index i * n / 8). Each pick:
 * hash, raw_hex, decoded_json, observation_count (at least 1), payload_type (0 when
 * unknown), the best observation's path_json and observer id, and first_seen as timestamp.
 * Groups in key order (a Go map).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_int.h"
#include "shm/json.h"

#define PICKS 8

typedef struct {
    size_t len;
    uint32_t ti;
} ent_t;

typedef struct {
    ent_t *e;
    size_t n, cap;
} group_t;

static int cmp_ent(const void *a, const void *b)
{
    const ent_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->ti < y->ti ? -1 : x->ti > y->ti;
}

static const char *type_name(int pt)
{
    static const char *const names[16] = {"REQ",      "RESPONSE", "TXT_MSG", "ACK",   "ADVERT",    "GRP_TXT",
                                          "GRP_DATA", "ANON_REQ", "PATH",    "TRACE", "MULTIPART", "CONTROL",
                                          NULL,       NULL,       NULL,      "RAW_CUSTOM"};
    return pt >= 0 && pt < 16 ? names[pt] : NULL;
}

static void str_or_null(msn_buf_t *b, const char *s)
{
    msn_json_str_or_null(b, s && s[0] ? s : NULL);
}

int msn_an__audio_lab(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    an_map_t types;
    msn_an__map_init(&types, c->arena, sizeof(group_t));
    msn_jsonr_obj_t jo;
    msn_buf_t *scratch = msn_an__buf(c);
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (t->raw_hex == NULL || t->raw_hex[0] == 0)
            continue;
        const char *name = NULL;
        size_t nl = 0;
        if (t->decoded_json && t->decoded_json[0] == '{' &&
            msn_jsonr_obj_parse(&jo, t->decoded_json, strlen(t->decoded_json)) >= 0)
            name = msn_jsonr_obj_str(&jo, "type", scratch, &nl);
        if (name == NULL || nl == 0) {
            name = type_name(t->payload_type);
            name = name ? name : "UNKNOWN";
            nl = strlen(name);
        }
        uint32_t e = msn_an__map_intern(&types, name, nl, NULL);
        group_t *g = msn_an__map_val(&types, e);
        AN_GROW(c->arena, g->e, g->cap, g->n + 1);
        g->e[g->n].len = strlen(t->raw_hex);
        g->e[g->n].ti = ti;
        g->n++;
    }
    uint32_t *ord = msn_an__map_sorted(&types);
    msn_buf_puts(out, "{\"buckets\":{");
    for (uint32_t k = 0; k < types.n; k++) {
        uint32_t e = ord[k];
        group_t *g = msn_an__map_val(&types, e);
        msn_an__qsort(g->e, g->n, sizeof(ent_t), cmp_ent);
        if (k)
            msn_buf_putc(out, ',');
        msn_json_strn(out, types.keys[e], types.klen[e]);
        msn_buf_puts(out, ":[");
        size_t count = g->n < PICKS ? g->n : PICKS;
        for (size_t i = 0; i < count; i++) {
            const msn_tx_t *t = &s->tx[g->e[i * g->n / count].ti];
            const msn_obs_t *best = t->best >= 0 && (uint32_t)t->best < s->n_obs ? &s->obs[t->best] : NULL;
            const msn_observer_t *ob = best ? msn_store_observer(s, best->observer_rowid) : NULL;
            msn_buf_puts(out, i ? ",{\"hash\":" : "{\"hash\":");
            str_or_null(out, t->hash);
            msn_buf_puts(out, ",\"raw_hex\":");
            str_or_null(out, t->raw_hex);
            msn_buf_puts(out, ",\"decoded_json\":");
            str_or_null(out, t->decoded_json);
            msn_buf_printf(out, ",\"observation_count\":%u,\"payload_type\":%d,\"path_json\":",
                           t->n_obs > 1 ? t->n_obs : 1, t->payload_type >= 0 ? t->payload_type : 0);
            str_or_null(out, best ? best->path_json : NULL);
            msn_buf_puts(out, ",\"observer_id\":");
            str_or_null(out, ob ? ob->id : NULL);
            msn_buf_puts(out, ",\"timestamp\":");
            str_or_null(out, t->first_seen);
            msn_buf_putc(out, '}');
        }
        msn_buf_putc(out, ']');
    }
    msn_buf_puts(out, "}}");
    return 0;
}
