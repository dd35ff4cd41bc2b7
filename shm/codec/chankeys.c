/*
 * chankeys.c: the set of channel keys tried on group messages (GRP_TXT, GRP_DATA).
 *
 * Order is the order of addition; msn_chankeys_add_config() puts the builtin Public key
 * first and then the configured channels, which is the order the decoder tries them in.
 * Each entry lazily owns a reusable HMAC context (keyed with key ‖ 16 zero bytes).
 */
#include "codec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

msn_chankeys_t *msn_chankeys_new(void)
{
    return msn_xcalloc(1, sizeof(msn_chankeys_t));
}

void msn_chankeys_free(msn_chankeys_t *ks)
{
    if (ks == NULL)
        return;
    for (int i = 0; i < ks->n; i++) {
        free(ks->v[i].name);
        msn_codec__mac_free(ks->v[i].mac);
    }
    free(ks->v);
    free(ks);
}

int msn_chankeys_add(msn_chankeys_t *ks, const char *name, const uint8_t key[16], char *err, size_t errlen)
{
    if (name == NULL || name[0] == '\0') {
        snprintf(err, errlen, "empty channel name");
        return -1;
    }
    const char *canon = strcasecmp(name, "public") == 0 ? "Public" : name;
    for (int i = 0; i < ks->n; i++) {
        if (strcmp(ks->v[i].name, canon) != 0)
            continue;
        if (strcmp(name, canon) != 0)
            return 0; /* "public" never overrides an existing "Public" */
        memcpy(ks->v[i].key, key, 16);
        msn_codec__mac_free(ks->v[i].mac);
        ks->v[i].mac = NULL;
        uint8_t d[32];
        if (msn_sha256(key, 16, d) < 0) {
            snprintf(err, errlen, "SHA-256 failed");
            return -1;
        }
        ks->v[i].hash = d[0];
        return 0;
    }
    uint8_t d[32];
    if (msn_sha256(key, 16, d) < 0) {
        snprintf(err, errlen, "SHA-256 failed");
        return -1;
    }
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 8;
        ks->v = msn_xrealloc(ks->v, (size_t)ks->cap * sizeof(ks->v[0]));
    }
    msn_codec__chankey_t *e = &ks->v[ks->n++];
    e->name = msn_xstrdup(canon);
    memcpy(e->key, key, 16);
    e->hash = d[0];
    e->mac = NULL;
    return 0;
}

int msn_chankeys_add_hex(msn_chankeys_t *ks, const char *name, const char *hex, char *err, size_t errlen)
{
    uint8_t key[16];
    if (hex == NULL || msn_hex_decode(hex, strlen(hex), key, 16) < 0) {
        snprintf(err, errlen, "channel %s: bad key '%s' (expected 32 hex characters)", name ? name : "",
                 hex ? hex : "");
        return -1;
    }
    return msn_chankeys_add(ks, name, key, err, errlen);
}

int msn_chankeys_add_hashtag(msn_chankeys_t *ks, const char *tag, char *err, size_t errlen)
{
    if (tag == NULL || tag[0] == '\0' || (tag[0] == '#' && tag[1] == '\0')) {
        snprintf(err, errlen, "empty hashtag channel name");
        return -1;
    }
    size_t n = strlen(tag);
    char *name = msn_xmalloc(n + 2);
    if (tag[0] == '#') {
        memcpy(name, tag, n + 1);
    } else {
        name[0] = '#';
        memcpy(name + 1, tag, n + 1);
    }
    uint8_t d[32];
    int rc = -1;
    if (msn_sha256(name, strlen(name), d) < 0)
        snprintf(err, errlen, "SHA-256 failed");
    else
        rc = msn_chankeys_add(ks, name, d, err, errlen);
    free(name);
    return rc;
}

void msn_chankeys_add_builtin(msn_chankeys_t *ks)
{
    char err[160];
    (void)msn_chankeys_add_hex(ks, "Public", MSN_PUBLIC_CHANNEL_KEY, err, sizeof(err));
}

int msn_chankeys_add_spec(msn_chankeys_t *ks, const char *spec, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    if (eq == NULL) {
        if (spec[0] != '#') {
            snprintf(err, errlen, "bad channel '%s' (expected #hashtag or NAME=HEXKEY)", spec);
            return -1;
        }
        return msn_chankeys_add_hashtag(ks, spec, err, errlen);
    }
    if (eq == spec) {
        snprintf(err, errlen, "bad channel '%s' (empty name)", spec);
        return -1;
    }
    char *name = msn_xstrndup(spec, (size_t)(eq - spec));
    int rc = msn_chankeys_add_hex(ks, name, eq + 1, err, errlen);
    free(name);
    return rc;
}

int msn_chankeys_add_config(msn_chankeys_t *ks, const msn_config_t *cfg, char *err, size_t errlen)
{
    msn_chankeys_add_builtin(ks);
    for (int i = 0; i < cfg->n_channels; i++)
        if (msn_chankeys_add_hex(ks, cfg->channels[i].name, cfg->channels[i].key_hex, err, errlen) < 0)
            return -1;
    return 0;
}

int msn_chankeys_count(const msn_chankeys_t *ks)
{
    return ks ? ks->n : 0;
}

const char *msn_chankeys_name(const msn_chankeys_t *ks, int i)
{
    return ks->v[i].name;
}

const uint8_t *msn_chankeys_key(const msn_chankeys_t *ks, int i)
{
    return ks->v[i].key;
}

uint8_t msn_chankeys_hash_byte(const msn_chankeys_t *ks, int i)
{
    return ks->v[i].hash;
}
