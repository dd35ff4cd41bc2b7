/* rules.c: the switches where CoreScope's ingestor and `meshsnap import` differ; see ingest.h. */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const msn_ingest_rule_names[] = {
    "packet_time",  "observer_first",    "packet_count",       "missing_name",
    "repeat_last_seen", "bad_signature", "verify_signatures", "metrics_interval_s", NULL,
};

void msn_ingest_rules_corescope(msn_ingest_rules_t *r)
{
    memset(r, 0, sizeof(*r));
    r->receive_time = 1;
    r->observer_first = 0;
    r->count_messages = 1;
    r->blank_missing = 1;
    r->repeat_raises_last_seen = 1;
    r->dropped_packets = 1;
    r->verify = 1;
    r->metrics_interval_s = 300;
}

void msn_ingest_rules_import(msn_ingest_rules_t *r)
{
    memset(r, 0, sizeof(*r));
    r->receive_time = 0;
    r->observer_first = 1;
    r->count_messages = 0;
    r->blank_missing = 0;
    r->repeat_raises_last_seen = 0;
    r->dropped_packets = 0;
    r->verify = 1;
    r->metrics_interval_s = 300;
}

/* One of two words: 1 for `one`, 0 for `zero`, -1 otherwise (yes/no also read as 1/0). */
static int word(const char *v, const char *one, const char *zero)
{
    if (strcasecmp(v, one) == 0)
        return 1;
    if (strcasecmp(v, zero) == 0)
        return 0;
    return -1;
}

int msn_ingest_rule_set(msn_ingest_rules_t *r, const char *name, const char *value, char *err, size_t errlen)
{
    static const struct {
        const char *name, *one, *zero;
        size_t off;
    } sw[] = {
        {"packet_time", "receive", "message", offsetof(msn_ingest_rules_t, receive_time)},
        {"observer_first", "yes", "no", offsetof(msn_ingest_rules_t, observer_first)},
        {"packet_count", "messages", "observations", offsetof(msn_ingest_rules_t, count_messages)},
        {"missing_name", "blank", "keep", offsetof(msn_ingest_rules_t, blank_missing)},
        {"repeat_last_seen", "yes", "no", offsetof(msn_ingest_rules_t, repeat_raises_last_seen)},
        {"bad_signature", "dropped_packets", "reject", offsetof(msn_ingest_rules_t, dropped_packets)},
        {"verify_signatures", "yes", "no", offsetof(msn_ingest_rules_t, verify)},
    };
    if (strcmp(name, "rules") == 0) {
        if (strcmp(value, "corescope") == 0)
            msn_ingest_rules_corescope(r);
        else if (strcmp(value, "import") == 0)
            msn_ingest_rules_import(r);
        else {
            snprintf(err, errlen, "rules: '%s' is not a preset (allowed corescope, import)", value);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "metrics_interval_s") == 0) {
        char *end;
        long v = strtol(value, &end, 10);
        if (*value == '\0' || *end != '\0' || v < 1 || v > 86400) {
            snprintf(err, errlen, "metrics_interval_s: '%s' is not a number of seconds in 1..86400", value);
            return -1;
        }
        r->metrics_interval_s = (int)v;
        return 0;
    }
    for (size_t i = 0; i < sizeof(sw) / sizeof(sw[0]); i++) {
        if (strcmp(name, sw[i].name) != 0)
            continue;
        int v = word(value, sw[i].one, sw[i].zero);
        if (v < 0 && strcmp(sw[i].one, "yes") == 0)
            v = word(value, "true", "false");
        if (v < 0) {
            snprintf(err, errlen, "%s: '%s' is neither %s nor %s", name, value, sw[i].one, sw[i].zero);
            return -1;
        }
        *(int *)(void *)((char *)r + sw[i].off) = v;
        return 0;
    }
    return 1;
}

const char *msn_ingest_rule_value(const msn_ingest_rules_t *r, const char *name, char *out, size_t n)
{
    const char *v = "";
    char num[16];
    if (strcmp(name, "packet_time") == 0)
        v = r->receive_time ? "receive" : "message";
    else if (strcmp(name, "observer_first") == 0)
        v = r->observer_first ? "yes" : "no";
    else if (strcmp(name, "packet_count") == 0)
        v = r->count_messages ? "messages" : "observations";
    else if (strcmp(name, "missing_name") == 0)
        v = r->blank_missing ? "blank" : "keep";
    else if (strcmp(name, "repeat_last_seen") == 0)
        v = r->repeat_raises_last_seen ? "yes" : "no";
    else if (strcmp(name, "bad_signature") == 0)
        v = r->dropped_packets ? "dropped_packets" : "reject";
    else if (strcmp(name, "verify_signatures") == 0)
        v = r->verify ? "yes" : "no";
    else if (strcmp(name, "metrics_interval_s") == 0) {
        snprintf(num, sizeof(num), "%d", r->metrics_interval_s);
        v = num;
    }
    snprintf(out, n, "%s", v);
    return out;
}
