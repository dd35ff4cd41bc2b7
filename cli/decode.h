/*
 * decode.h: `meshsnap decode`, the packet decoder on the command line.
 *
 *   meshsnap decode [options] HEX...     one packet for a person to read; HEX may be split
 *                                        over several arguments (spaces are ignored)
 *   meshsnap decode --json [options]     reads {"hex": "..."} lines on stdin and writes one
 *                                        JSON line per input line:
 *       {"hash":H,"route_type":N,"payload_type":N,"path":[hops],"decoded_json":"<text>"}
 *       or {"error":"<reason>"} (blank input lines are skipped)
 *
 * Options: --channel NAME (repeatable; "#hashtag" derives the key, "name=HEXKEY" gives it),
 * --config FILE (the [channels] of a meshsnap.conf), --no-verify (skip the advert
 * signature check, leaving signatureValid out). Keys are tried in the order Public, the
 * configuration's channels, then the --channel flags.
 */
#ifndef MSN_CLI_DECODE_H
#define MSN_CLI_DECODE_H

/** Runs the subcommand; argv[0] is "decode". Returns the process exit status: 0 on
 *  success, 1 when the packet is malformed (a one-line reason on stderr) or output failed,
 *  2 on a usage or configuration error. In --json mode a malformed line gives an error
 *  line, not a failure status. */
int msn_cli_decode(int argc, char **argv);

#endif
