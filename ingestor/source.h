/*
 * source.h: one MQTT broker of the ingestor ([mqtt.NAME]), a libmosquitto client driven
 * by the ingestor's own poll loop (no libmosquitto thread).
 *
 * The client is put in "external threading" mode (mosquitto_threaded_set): everything
 * libmosquitto wants to send, PUBACKs included, is only queued, and leaves the process
 * when the ingestor calls msn_source_flush. The ingestor calls it only after the batch
 * holding every message received so far is committed (ingestor.c explains why).
 *
 * Connection: MQTT 5 (or 3.1.1), a stable client id, a persistent session (clean start
 * off; MQTT 5 with a session expiry of 7 days and a receive maximum of 65535, so that the
 * broker keeps sending while our acknowledgements wait for a commit), subscriptions at
 * QoS 1 on every connect, TLS with a CA file or the system's CAs, an optional client
 * certificate, verification on unless tls_verify = no, username/password. A lost or
 * refused connection is retried after 1 s, doubling up to [mqtt] reconnect_max_s.
 * The first MQTT 5 connect goes through libmosquitto's blocking call (the only one that
 * takes CONNECT properties), run on a short-lived thread so the loop never waits on it;
 * every later connect is non-blocking.
 *
 * Messages are handed to the callback given at msn_source_new, from inside
 * msn_source_read. One thread (the ingestor's) uses a source, apart from that first
 * connect.
 */
#ifndef MSN_INGESTOR_SOURCE_H
#define MSN_INGESTOR_SOURCE_H

#include <poll.h>
#include <stdint.h>

#include "shm/config.h"
#include "shm/status.h"

typedef struct msn_source msn_source_t;

/** Called for each message: topic (NUL-terminated), payload[0..len), mid (0 for QoS 0),
 *  qos. Runs inside msn_source_read. */
typedef void (*msn_source_msg_fn)(void *ud, msn_source_t *s, const char *topic, const void *payload, int len,
                                  int mid, int qos);

/** Creates the client for broker b (borrowed: must outlive the source); nothing is
 *  connected yet. reconnect_max_s caps the retry backoff. Returns NULL with err set
 *  (libmosquitto refused an option). */
msn_source_t *msn_source_new(const msn_mqtt_broker_t *b, int reconnect_max_s, msn_source_msg_fn fn, void *ud,
                             char *err, size_t errlen);

/** Starts a connection attempt when none is under way and the backoff allows it. */
void msn_source_tick(msn_source_t *s, int64_t now_ms);

/** Fills pfd with the socket to poll (fd -1 when there is none). POLLOUT is asked for only
 *  when may_write is set and libmosquitto has something queued. */
void msn_source_pollfd(msn_source_t *s, struct pollfd *pfd, int may_write);

/** Reads what the socket has (at most max messages; a partial packet waits for more).
 *  Returns the messages handed to the callback, or -1 when the connection was lost (a
 *  reconnect is scheduled; queued acknowledgements are discarded by it). */
int msn_source_read(msn_source_t *s, int max);

/** 1 when the socket has data to read now (poll with no wait). */
int msn_source_readable(msn_source_t *s);

/** Sends what is queued (acknowledgements, pings, subscriptions). Returns 1 when the queue
 *  is empty afterwards, 0 when the socket took only part, -1 when the connection was lost. */
int msn_source_flush(msn_source_t *s);

/** Keep-alive: queues a ping when due and notices a broker that stopped answering. */
void msn_source_misc(msn_source_t *s);

/** Drops the connection without sending anything queued (the broker then resends every
 *  message not acknowledged) and schedules a reconnect after the backoff. */
void msn_source_drop(msn_source_t *s, const char *why);

/** 1 while connected (CONNACK received). */
int msn_source_connected(const msn_source_t *s);

/** 1 once per new connection whose CONNACK said the broker had no session for us (the
 *  caller forgets what it knew of the old session's messages); clears the flag. */
int msn_source_take_new_session(msn_source_t *s);

/** The broker's settings. */
const msn_mqtt_broker_t *msn_source_broker(const msn_source_t *s);
/** The client id used. */
const char *msn_source_client_id(const msn_source_t *s);

/** Copies the source's state into its status-block entry (the caller holds the section's
 *  write lock); now_ms for the last-5-minutes count. */
void msn_source_status(msn_source_t *s, msn_mqtt_source_status_t *out, int64_t now_ms);

/** Counts a message found already committed (status only). */
void msn_source_count_redelivered(msn_source_t *s);

/** Disconnects cleanly (DISCONNECT after everything queued; the session stays on the
 *  broker) and frees the source (NULL is fine). */
void msn_source_free(msn_source_t *s);

/** libmosquitto's global init/cleanup (once per process). */
void msn_source_lib_init(void);
void msn_source_lib_cleanup(void);

#endif
