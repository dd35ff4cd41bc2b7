/*
 * keys.h: the channel keys a command-line tool decrypts with: those of a configuration
 * file (--config: built-in Public first, then the configured channels), else the built-in
 * Public key, plus each --channel (a #hashtag, or name=HEXKEY).
 */
#ifndef MSN_CLI_KEYS_H
#define MSN_CLI_KEYS_H

#include "shm/codec/codec.h"

/** Builds the key set. tool names the command in error messages ("meshsnap decode").
 *  Returns the set (the caller frees it with msn_chankeys_free), or NULL after printing
 *  the reason on standard error. */
msn_chankeys_t *msn_cli_load_keys(const char *tool, const char *config, const char *const *channels, int n);

#endif
