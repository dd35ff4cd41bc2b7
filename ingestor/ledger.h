/*
 * ledger.h: the QoS 1 messages of one MQTT session that are already in the database, so
 * that a message the broker sends again is acknowledged without being written twice.
 *
 * The broker resends a message, with the same packet id (mid), until our PUBACK for it
 * has reached it; we send PUBACKs only after a commit (ingestor.c). A committed message
 * is therefore resent when the process or the connection dies after the commit and
 * before the broker has read our PUBACK: whether a PUBACK written to the socket was read
 * by the broker is never known for sure (a connection reset discards what the peer has
 * not read yet).
 *
 * So the ledger remembers, for every mid, the digest (topic and payload) of the last
 * message written with it: a table _meshsnap_mqtt_acks (session, mid, digest) written
 * in the same transaction as the message's rows, so it always agrees with them, also
 * after kill -9. An entry stays until the broker gives its mid to another message; the
 * broker reuses a mid only after it has our PUBACK for the message that had it. A message
 * whose mid is in the ledger with the same digest is a resend.
 *
 * The one case taken wrongly: a new message with the same topic and the same payload as
 * the one that last had its mid (65,535 messages ago at most) is taken for a resend and
 * not written. It would carry nothing new (same packet, same observer, same fields); with
 * CoreScope's rules it would only have added 1 to the observer's packet_count.
 *
 * Cost: one small row upsert per message (mids are allocated in sequence, so a batch
 * touches a few neighbouring pages), at most 65,535 rows per session. One thread.
 */
#ifndef MSN_INGESTOR_LEDGER_H
#define MSN_INGESTOR_LEDGER_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

typedef struct msn_ledger msn_ledger_t;

/** A ledger for the session `session` (client id and broker: another client id is
 *  another session), on db (borrowed, read-write). NULL never (aborts on OOM). */
msn_ledger_t *msn_ledger_new(sqlite3 *db, const char *session);
void msn_ledger_free(msn_ledger_t *l);

/** The digest of a message (FNV-1a 64 over topic, a NUL, payload). */
uint64_t msn_ledger_digest(const char *topic, const void *payload, size_t len);

/** 1 when (mid, digest) is in the ledger: a message sent again. */
int msn_ledger_resend(const msn_ledger_t *l, int mid, uint64_t digest);

/** Notes a message taken into the batch (memory only: a resend before the commit is then
 *  recognised too; a rollback forgets it, msn_ledger_reload). */
void msn_ledger_note(msn_ledger_t *l, int mid, uint64_t digest);

/** Records a message written into the open transaction. Returns 0, or -1 with err set. */
int msn_ledger_put(msn_ledger_t *l, int mid, uint64_t digest, char *err, size_t errlen);

/** The open transaction was rolled back: reads the ledger again. Returns 0, or -1. */
int msn_ledger_reload(msn_ledger_t *l, char *err, size_t errlen);

/** The broker has no session for us (it will resend nothing): empties the ledger. */
int msn_ledger_reset(msn_ledger_t *l, char *err, size_t errlen);

/** Number of entries. */
size_t msn_ledger_count(const msn_ledger_t *l);

/** Creates _meshsnap_mqtt_acks when missing. Returns 0, or -1 with err set. */
int msn_ledger_ensure_table(sqlite3 *db, char *err, size_t errlen);

#endif
