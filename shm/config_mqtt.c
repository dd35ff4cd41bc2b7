/*
 * config_mqtt.c: the [mqtt] and [mqtt.NAME] sections of the configuration (config.h):
 * the ingestor's settings, the ingest rules and one broker per [mqtt.NAME] section.
 * config.c hands these sections to the msn_config__mqtt_* functions below.
 *
 *   [mqtt]
 *   batch_size = 2000          # packets per transaction
 *   batch_ms = 50              # or this many ms, whichever first
 *   rules = corescope          # then single rules: packet_time = receive, ...
 *
 *   [mqtt.local]
 *   url = mqtt://127.0.0.1:1883
 *   topics = meshcore/#
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"

static const struct {
    const char *name;
    size_t off;
    int min, max;
} INTS[] = {
    {"batch_size", offsetof(msn_config_t, mqtt.batch_size), 1, 100000},
    {"batch_ms", offsetof(msn_config_t, mqtt.batch_ms), 1, 10000},
    {"reconnect_max_s", offsetof(msn_config_t, mqtt.reconnect_max_s), 1, 3600},
    {"resolver_refresh_s", offsetof(msn_config_t, mqtt.resolver_refresh_s), 1, 86400},
    {"edges_interval_s", offsetof(msn_config_t, mqtt.edges_interval_s), 0, 86400},
};
#define N_INTS (sizeof(INTS) / sizeof(INTS[0]))

void msn_config__mqtt_defaults(msn_config_t *c)
{
    c->mqtt.batch_size = 2000;
    c->mqtt.batch_ms = 50;
    c->mqtt.reconnect_max_s = 30;
    c->mqtt.resolver_refresh_s = 60;
    c->mqtt.edges_interval_s = 60;
    msn_ingest_rules_corescope(&c->mqtt.rules);
}

int msn_config__mqtt_section(const char *section)
{
    if (strcmp(section, "mqtt") == 0)
        return 1;
    if (strncmp(section, "mqtt.", 5) != 0 || section[5] == '\0' || strlen(section) > 5 + 31)
        return 0;
    for (const char *p = section + 5; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return 0;
    return 1;
}

static int parse_int(const char *what, const char *v, int min, int max, int *out, char *err, size_t errlen)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0') {
        snprintf(err, errlen, "%s: '%s' is not an integer (allowed %d..%d)", what, v, min, max);
        return -1;
    }
    if (x < min || x > max) {
        snprintf(err, errlen, "%s: %s is out of range (allowed %d..%d)", what, v, min, max);
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* Parses url into b's host, port and tls. */
static int parse_url(msn_mqtt_broker_t *b, const char *what, const char *v, char *err, size_t errlen)
{
    static const struct {
        const char *scheme;
        int tls;
    } schemes[] = {{"mqtt://", 0}, {"tcp://", 0}, {"mqtts://", 1}, {"ssl://", 1}};
    const char *rest = NULL;
    int tls = 0;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].scheme);
        if (strncasecmp(v, schemes[i].scheme, n) == 0) {
            rest = v + n;
            tls = schemes[i].tls;
        }
    }
    if (rest == NULL) {
        snprintf(err, errlen, "%s: '%s' is not an MQTT URL (mqtt://host[:port] or mqtts://host[:port];"
                 " websockets are not supported)", what, v);
        return -1;
    }
    if (strchr(rest, '@') != NULL) {
        snprintf(err, errlen, "%s: put credentials in username and password, not in the URL", what);
        return -1;
    }
    char host[256];
    int port = tls ? 8883 : 1883;
    const char *end = rest + strcspn(rest, "/");
    if (*end == '/' && end[1] != '\0') {
        snprintf(err, errlen, "%s: '%s' has a path; topics go in `topics`", what, v);
        return -1;
    }
    size_t hl = (size_t)(end - rest);
    const char *colon = NULL;
    if (hl > 0 && rest[0] == '[') {
        const char *close = memchr(rest, ']', hl);
        if (close == NULL) {
            snprintf(err, errlen, "%s: '%s': missing ']'", what, v);
            return -1;
        }
        if (close + 1 < end && close[1] == ':')
            colon = close + 1;
        hl = (size_t)(close - rest - 1);
        rest++;
    } else {
        colon = memchr(rest, ':', hl);
        if (colon != NULL)
            hl = (size_t)(colon - rest);
    }
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(err, errlen, "%s: '%s' has no host", what, v);
        return -1;
    }
    memcpy(host, rest, hl);
    host[hl] = '\0';
    if (colon != NULL) {
        char pb[16];
        size_t pl = (size_t)(end - colon - 1);
        if (pl == 0 || pl >= sizeof(pb)) {
            snprintf(err, errlen, "%s: '%s' has a bad port", what, v);
            return -1;
        }
        memcpy(pb, colon + 1, pl);
        pb[pl] = '\0';
        if (parse_int(what, pb, 1, 65535, &port, err, errlen) < 0)
            return -1;
    }
    free(b->host);
    b->host = msn_xstrdup(host);
    b->port = port;
    b->tls = tls;
    free(b->url);
    b->url = msn_xstrdup(v);
    return 0;
}

/* Splits a blank- or comma-separated list into dst (replacing it). */
static int set_list(char **dst, int *n, int max, const char *what, const char *v, char *err, size_t errlen)
{
    char *copy = msn_xstrdup(v), *save = NULL;
    char *items[64];
    int k = 0;
    for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
        if (k == max) {
            snprintf(err, errlen, "%s: too many entries (at most %d)", what, max);
            free(copy);
            return -1;
        }
        items[k++] = tok;
    }
    if (k == 0) {
        snprintf(err, errlen, "%s: empty value", what);
        free(copy);
        return -1;
    }
    for (int i = 0; i < *n; i++)
        free(dst[i]);
    for (int i = 0; i < k; i++)
        dst[i] = msn_xstrdup(items[i]);
    *n = k;
    free(copy);
    return 0;
}

static msn_mqtt_broker_t *broker_of(msn_config_t *c, const char *name, char *err, size_t errlen)
{
    for (int i = 0; i < c->mqtt.n_brokers; i++)
        if (strcmp(c->mqtt.brokers[i].name, name) == 0)
            return &c->mqtt.brokers[i];
    if (c->mqtt.n_brokers >= MSN_MAX_MQTT) {
        snprintf(err, errlen, "[mqtt.%s]: too many brokers (at most %d)", name, MSN_MAX_MQTT);
        return NULL;
    }
    msn_mqtt_broker_t *b = &c->mqtt.brokers[c->mqtt.n_brokers++];
    memset(b, 0, sizeof(*b));
    b->name = msn_xstrdup(name);
    b->tls_verify = 1;
    b->keepalive_s = 30;
    b->protocol = 5;
    return b;
}

static int set_str(char **dst, const char *what, const char *v, int path, char *err, size_t errlen)
{
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20) {
            snprintf(err, errlen, "%s: control character in the value", what);
            return -1;
        }
    if (path && strstr(v, " #") != NULL) {
        snprintf(err, errlen, "%s: '%s' holds ' #': comments must be on their own line", what, v);
        return -1;
    }
    free(*dst);
    *dst = msn_xstrdup(v);
    return 0;
}

static int set_broker_key(msn_config_t *c, const char *name, const char *key, const char *v, char *err,
                          size_t errlen)
{
    char what[96];
    snprintf(what, sizeof(what), "[mqtt.%s] %s", name, key);
    if (*v == '\0') {
        snprintf(err, errlen, "%s: empty value", what);
        return -1;
    }
    msn_mqtt_broker_t *b = broker_of(c, name, err, errlen);
    if (b == NULL)
        return -1;
    if (strcmp(key, "url") == 0)
        return parse_url(b, what, v, err, errlen);
    if (strcmp(key, "username") == 0)
        return set_str(&b->username, what, v, 0, err, errlen);
    if (strcmp(key, "password") == 0)
        return set_str(&b->password, what, v, 0, err, errlen);
    if (strcmp(key, "client_id") == 0) {
        if (strlen(v) > 64 || strpbrk(v, " \t#+/") != NULL) {
            snprintf(err, errlen, "%s: '%s' is not a client id (at most 64 characters, no blanks, #, + or /)",
                     what, v);
            return -1;
        }
        return set_str(&b->client_id, what, v, 0, err, errlen);
    }
    if (strcmp(key, "ca_file") == 0)
        return set_str(&b->ca_file, what, v, 1, err, errlen);
    if (strcmp(key, "cert_file") == 0)
        return set_str(&b->cert_file, what, v, 1, err, errlen);
    if (strcmp(key, "key_file") == 0)
        return set_str(&b->key_file, what, v, 1, err, errlen);
    if (strcmp(key, "region") == 0)
        return set_str(&b->region, what, v, 0, err, errlen);
    if (strcmp(key, "tls_verify") == 0) {
        if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
            b->tls_verify = 1;
        else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
            b->tls_verify = 0;
        else {
            snprintf(err, errlen, "%s: '%s' is not a boolean (allowed yes/no, true/false, 1/0)", what, v);
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "topics") == 0) {
        if (set_list(b->topics, &b->n_topics, MSN_MQTT_MAX_TOPICS, what, v, err, errlen) < 0)
            return -1;
        for (int i = 0; i < b->n_topics; i++) {
            const char *t = b->topics[i], *h = strchr(t, '#');
            if (h != NULL && (h[1] != '\0' || (h > t && h[-1] != '/'))) {
                snprintf(err, errlen, "%s: '%s': '#' must be the last level of a topic filter", what, t);
                return -1;
            }
        }
        return 0;
    }
    if (strcmp(key, "iata_filter") == 0)
        return set_list(b->iata_filter, &b->n_iata_filter, MSN_MQTT_MAX_IATA, what, v, err, errlen);
    if (strcmp(key, "keepalive_s") == 0)
        return parse_int(what, v, 5, 3600, &b->keepalive_s, err, errlen);
    if (strcmp(key, "protocol") == 0) {
        if (strcmp(v, "5") == 0 || strcmp(v, "5.0") == 0)
            b->protocol = 5;
        else if (strcmp(v, "3.1.1") == 0 || strcmp(v, "4") == 0)
            b->protocol = 4;
        else {
            snprintf(err, errlen, "%s: '%s' is not an MQTT version (allowed 5, 3.1.1)", what, v);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen,
             "unknown key '%s' in [mqtt.%s] (known: url, username, password, client_id, ca_file, cert_file,"
             " key_file, tls_verify, topics, iata_filter, region, keepalive_s, protocol)",
             key, name);
    return -1;
}

int msn_config__mqtt_set(msn_config_t *c, const char *section, const char *key, const char *value, char *err,
                         size_t errlen)
{
    if (strcmp(section, "mqtt") != 0)
        return set_broker_key(c, section + 5, key, value, err, errlen);
    for (size_t i = 0; i < N_INTS; i++) {
        if (strcmp(INTS[i].name, key) == 0) {
            char what[64];
            snprintf(what, sizeof(what), "[mqtt] %s", key);
            return parse_int(what, value, INTS[i].min, INTS[i].max, (int *)(void *)((char *)c + INTS[i].off), err,
                             errlen);
        }
    }
    char why[256];
    int r = msn_ingest_rule_set(&c->mqtt.rules, key, value, why, sizeof(why));
    if (r == 0)
        return 0;
    if (r < 0) {
        snprintf(err, errlen, "[mqtt] %s", why);
        return -1;
    }
    snprintf(err, errlen,
             "unknown key '%s' in [mqtt] (brokers go in [mqtt.NAME] sections; known keys: batch_size, batch_ms,"
             " reconnect_max_s, resolver_refresh_s, edges_interval_s, rules, packet_time, observer_first,"
             " packet_count, missing_name, repeat_last_seen, bad_signature, verify_signatures,"
             " metrics_interval_s)",
             key);
    return -1;
}

static int readable(const char *what, const char *key, const char *path, char *err, size_t errlen)
{
    if (path != NULL && access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s %s: cannot read %s", what, key, path);
        return -1;
    }
    return 0;
}

int msn_config__mqtt_validate(const msn_config_t *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_INTS; i++) {
        int v = *(const int *)(const void *)((const char *)c + INTS[i].off);
        if (v < INTS[i].min || v > INTS[i].max) {
            snprintf(err, errlen, "[mqtt] %s: %d is out of range (allowed %d..%d)", INTS[i].name, v, INTS[i].min,
                     INTS[i].max);
            return -1;
        }
    }
    for (int i = 0; i < c->mqtt.n_brokers; i++) {
        const msn_mqtt_broker_t *b = &c->mqtt.brokers[i];
        char what[64];
        snprintf(what, sizeof(what), "[mqtt.%s]", b->name);
        if (b->url == NULL) {
            snprintf(err, errlen, "%s: url is not set (mqtt://host[:port] or mqtts://host[:port])", what);
            return -1;
        }
        if (b->password != NULL && b->username == NULL) {
            snprintf(err, errlen, "%s: password without username", what);
            return -1;
        }
        if ((b->cert_file == NULL) != (b->key_file == NULL)) {
            snprintf(err, errlen, "%s: cert_file and key_file go together (a client certificate and its key)",
                     what);
            return -1;
        }
        if (!b->tls && (b->ca_file || b->cert_file)) {
            snprintf(err, errlen, "%s: ca_file/cert_file need a TLS url (mqtts://)", what);
            return -1;
        }
        if (readable(what, "ca_file", b->ca_file, err, errlen) < 0 ||
            readable(what, "cert_file", b->cert_file, err, errlen) < 0 ||
            readable(what, "key_file", b->key_file, err, errlen) < 0)
            return -1;
        for (int j = 0; j < i; j++) {
            const msn_mqtt_broker_t *o = &c->mqtt.brokers[j];
            if (b->client_id && o->client_id && strcmp(b->client_id, o->client_id) == 0 &&
                strcmp(b->host, o->host) == 0 && b->port == o->port) {
                snprintf(err, errlen, "%s and [mqtt.%s]: the same client_id on the same broker", what, o->name);
                return -1;
            }
        }
    }
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? msn_xstrdup(s) : NULL;
}

void msn_config__mqtt_copy(msn_config_t *dst, const msn_config_t *src)
{
    for (int i = 0; i < src->mqtt.n_brokers; i++) {
        const msn_mqtt_broker_t *s = &src->mqtt.brokers[i];
        msn_mqtt_broker_t *d = &dst->mqtt.brokers[i];
        *d = *s;
        d->name = dup_or_null(s->name);
        d->url = dup_or_null(s->url);
        d->host = dup_or_null(s->host);
        d->username = dup_or_null(s->username);
        d->password = dup_or_null(s->password);
        d->client_id = dup_or_null(s->client_id);
        d->ca_file = dup_or_null(s->ca_file);
        d->cert_file = dup_or_null(s->cert_file);
        d->key_file = dup_or_null(s->key_file);
        d->region = dup_or_null(s->region);
        for (int k = 0; k < s->n_topics; k++)
            d->topics[k] = dup_or_null(s->topics[k]);
        for (int k = 0; k < s->n_iata_filter; k++)
            d->iata_filter[k] = dup_or_null(s->iata_filter[k]);
    }
}

void msn_config__mqtt_free(msn_config_t *c)
{
    for (int i = 0; i < c->mqtt.n_brokers; i++) {
        msn_mqtt_broker_t *b = &c->mqtt.brokers[i];
        char **s[] = {&b->name,    &b->url,     &b->host,    &b->username, &b->password,
                      &b->client_id, &b->ca_file, &b->cert_file, &b->key_file, &b->region};
        for (size_t k = 0; k < sizeof(s) / sizeof(s[0]); k++) {
            free(*s[k]);
            *s[k] = NULL;
        }
        for (int k = 0; k < b->n_topics; k++)
            free(b->topics[k]);
        for (int k = 0; k < b->n_iata_filter; k++)
            free(b->iata_filter[k]);
        b->n_topics = b->n_iata_filter = 0;
    }
    c->mqtt.n_brokers = 0;
}

void msn_config__mqtt_dump(const msn_config_t *c, FILE *f)
{
    char v[32];
    fprintf(f, "\n[mqtt]\n");
    for (size_t i = 0; i < N_INTS; i++)
        fprintf(f, "%s = %d\n", INTS[i].name, *(const int *)(const void *)((const char *)c + INTS[i].off));
    for (int i = 0; msn_ingest_rule_names[i]; i++)
        fprintf(f, "%s = %s\n", msn_ingest_rule_names[i],
                msn_ingest_rule_value(&c->mqtt.rules, msn_ingest_rule_names[i], v, sizeof(v)));
    for (int i = 0; i < c->mqtt.n_brokers; i++) {
        const msn_mqtt_broker_t *b = &c->mqtt.brokers[i];
        fprintf(f, "\n[mqtt.%s]\n", b->name);
        const struct {
            const char *k, *v;
        } strs[] = {{"url", b->url},         {"username", b->username}, {"password", b->password},
                    {"client_id", b->client_id}, {"ca_file", b->ca_file}, {"cert_file", b->cert_file},
                    {"key_file", b->key_file}, {"region", b->region}};
        for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
            if (strs[k].v != NULL)
                fprintf(f, "%s = %s\n", strs[k].k, strs[k].v);
        fprintf(f, "tls_verify = %s\n", b->tls_verify ? "yes" : "no");
        if (b->n_topics > 0) {
            fprintf(f, "topics =");
            for (int k = 0; k < b->n_topics; k++)
                fprintf(f, " %s", b->topics[k]);
            fputc('\n', f);
        }
        if (b->n_iata_filter > 0) {
            fprintf(f, "iata_filter =");
            for (int k = 0; k < b->n_iata_filter; k++)
                fprintf(f, " %s", b->iata_filter[k]);
            fputc('\n', f);
        }
        fprintf(f, "keepalive_s = %d\nprotocol = %s\n", b->keepalive_s, b->protocol == 5 ? "5" : "3.1.1");
    }
}
