/*
 * ledger.h: which QoS 1 messages of one broker the database already holds but the broker
 * may still resend, so that a resend is acknowledged without being written twice.
 *
 * The broker resends a message (with the same packet id) until it gets our PUBACK, and
 * we send PUBACKs only after a commit (ingestor.c). So between a commit and the moment
 * its PUBACKs reach the socket, and whenever a connection or the process dies in that
 * window, the broker will deliver again messages whose rows are committed. The ledger
 * keeps, per packet id (mid), a digest of the message (topic and payload) and where it
 * stands; it is stored in the database in the same transaction as the rows
 * (_meshsnap_mqtt_inflight: one row per broker, keyed by its name and client id), so the
 * rows and the ledger always agree, also after kill -9.
 *
 * A message is a resend when its mid is in the ledger with the same digest. A mid is
 * never reused by the broker while our PUBACK for it is outstanding, so a different
 * digest means a new message, which takes the slot over. An entry whose PUBACK was
 * written is removed; entries loaded at start stay until the broker resends them, a new
 * message takes their mid, or the broker says it has no session for us. (An entry whose
 * PUBACK was written just before a crash is thus kept: a later message with the same mid
 * AND the same topic and payload would be taken for a resend. Such a message carries
 * nothing new: same packet, same observer.)
 *
 * One ledger per broker; one thread.
 */
#ifndef MSN_INGESTOR_LEDGER_H
#define MSN_INGESTOR_LEDGER_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

typedef struct msn_ledger msn_ledger_t;

msn_ledger_t *msn_ledger_new(void);
void msn_ledger_free(msn_ledger_t *l);

/** The digest of a message (FNV-1a 64 over topic, a NUL, payload). */
uint64_t msn_ledger_digest(const char *topic, const void *payload, size_t len);

/** 1 when (mid, digest) is a message the database holds or the open batch holds (a
 *  resend): the entry then waits for this connection's next commit to be acknowledged. */
int msn_ledger_resend(msn_ledger_t *l, int mid, uint64_t digest);

/** Records a message written into the open batch (its PUBACK queued on this connection). */
void msn_ledger_add(msn_ledger_t *l, int mid, uint64_t digest);

/** The open batch committed: its messages are now in the database. */
void msn_ledger_committed(msn_ledger_t *l);
/** The open batch rolled back: its messages are forgotten (the broker resends them after
 *  the caller drops the connection). */
void msn_ledger_rolled_back(msn_ledger_t *l);
/** Every PUBACK queued on the connection was written: those entries are done. */
void msn_ledger_acked(msn_ledger_t *l);
/** The connection was lost: queued PUBACKs are gone; the broker will resend. */
void msn_ledger_conn_lost(msn_ledger_t *l);
/** The broker has no session for us: it will resend nothing; forget everything. */
void msn_ledger_reset(msn_ledger_t *l);

/** Number of entries. */
size_t msn_ledger_count(const msn_ledger_t *l);

/** Creates _meshsnap_mqtt_inflight when missing. Returns 0, or -1 with err set. */
int msn_ledger_ensure_table(sqlite3 *db, char *err, size_t errlen);
/** Loads broker `source`'s entries (ignored when stored for another client id). Returns 0,
 *  or -1 with err set. */
int msn_ledger_load(msn_ledger_t *l, sqlite3 *db, const char *source, const char *client_id, char *err,
                    size_t errlen);
/** Writes the entries (inside the caller's open transaction) when they changed since the
 *  last store. Returns 0, or -1 with err set. */
int msn_ledger_store(msn_ledger_t *l, sqlite3 *db, const char *source, const char *client_id, char *err,
                     size_t errlen);

#endif
