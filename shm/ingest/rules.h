/*
 * rules.h: the switches where CoreScope's ingestor and `meshsnap import` differ, for the
 * shared writer (ingest.h) and the configuration ([mqtt], config.h). Plain data.
 */
#ifndef MSN_INGEST_RULES_H
#define MSN_INGEST_RULES_H

#include <stddef.h>

/* ----------------------------------------------------------------------------- */

typedef struct {
    /* packet_time: 1 "receive" = every stored time is when the message is written
       (CoreScope: the observer's clock is not trusted; MIN(x, now) clamps); 0 "message" =
       the message's timestamp (unix seconds or RFC3339; without one, when it is read) */
    int receive_time;
    /* observer_first: 1 = the observer row is created before its first observation
       (import); 0 = looked up first, so an unknown observer's first packet gets
       observer_idx NULL (CoreScope) */
    int observer_first;
    /* packet_count: 1 "messages" = +1 per message that reaches the observer upsert,
       status messages and repeats included (CoreScope); 0 "observations" = +1 per
       observation inserted (import) */
    int count_messages;
    /* missing_name: 1 "blank" = a message without origin/region writes '' over the
       observer's name/iata (CoreScope); 0 "keep" = leaves them (import) */
    int blank_missing;
    /* repeat_last_seen: 1 = a repeated reception (existing observation) still raises
       transmissions.last_seen (CoreScope); 0 = only inserted observations do (import) */
    int repeat_raises_last_seen;
    /* bad_signature: 1 "dropped_packets" = an advert whose signature fails becomes a
       dropped_packets row (CoreScope); 0 "reject" = the message is rejected (import) */
    int dropped_packets;
    /* verify_signatures: check advert signatures (both default to yes) */
    int verify;
    /* metrics_interval_s: observer_metrics bucket (CoreScope's sampleIntervalSec, 300) */
    int metrics_interval_s;
} msn_ingest_rules_t;

/** CoreScope's ingestor's rules (the ingestor's defaults). */
void msn_ingest_rules_corescope(msn_ingest_rules_t *r);
/** `meshsnap import`'s documented rules (its defaults). */
void msn_ingest_rules_import(msn_ingest_rules_t *r);
/** Sets one switch by name: packet_time (receive|message), observer_first (yes|no),
 *  packet_count (messages|observations), missing_name (blank|keep), repeat_last_seen
 *  (yes|no), bad_signature (dropped_packets|reject), verify_signatures (yes|no),
 *  metrics_interval_s (1..86400); or `rules` = corescope|import (the whole preset).
 *  Returns 0, 1 when name is not a rule (r unchanged), -1 with err set for a bad value. */
int msn_ingest_rule_set(msn_ingest_rules_t *r, const char *name, const char *value, char *err, size_t errlen);
/** The rule names msn_ingest_rule_set takes (NULL-terminated), for docs and dumps. */
extern const char *const msn_ingest_rule_names[];
/** Writes rule `name`'s value as msn_ingest_rule_set reads it into out; returns out
 *  ("" for an unknown name). */
const char *msn_ingest_rule_value(const msn_ingest_rules_t *r, const char *name, char *out, size_t n);

#endif
