/*
 * render_channels.h: what the channel endpoints read from a snapshot, rendered by the
 * publisher: the message object of each channel message (the `cmsg` record) and the
 * channel index (the "channels.index" document); layouts in shm/snapshot.h.
 */
#ifndef MSN_RENDER_CHANNELS_H
#define MSN_RENDER_CHANNELS_H

#include <msgpack.h>

#include "shm/buf.h"
#include "store.h"

/** 1 when t is a channel message (payload type 5 with a channel hash). */
int msn_is_channel_message(const msn_tx_t *t);

/** 1 when a channel hash names an undecrypted channel: SQL `LIKE 'enc_%'` (ASCII
 *  case-insensitive "enc", then any character, then anything). */
int msn_channel_is_encrypted(const char *hash);

/** Appends the /api/channels/:hash/messages object of channel message t, as CoreScope's
 *  GetChannelMessages builds it from its first observation (by id). Returns 0, or -1 when
 *  there is none: decoded_json is not a JSON object (or null), or t has no observation
 *  (nothing appended then). */
int msn_render_channel_message(msn_buf_t *b, const msn_store_t *s, const msn_tx_t *t);

/** Writes the upper-case, trimmed IATA code of an observer into out (n bytes); returns its
 *  length, 0 when it has none. */
size_t msn_observer_region(const msn_observer_t *o, char *out, size_t n);

/** The channels.index document (shm/snaprec.h) of the whole store. */
void msn_render_channels_index(msgpack_sbuffer *sb, const msn_store_t *s);

#endif
