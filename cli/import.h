/*
 * import.h: `meshsnap import`, the crash-safe bulk importer that writes packets into a
 * CoreScope database the way CoreScope's ingestor does.
 *
 *   meshsnap import --db PATH [--batch N] [--config FILE] [--channel NAME]... [--no-verify]
 *                   [--progress[=SECONDS]] [FILE|-]
 *
 * Input: JSON lines, one packet reception per line, with the fields an MQTT observer
 * publishes:
 *   {"raw": HEX, "observer": ID, "observer_name"?: NAME, "iata"?: CODE, "snr"?: N,
 *    "rssi"?: N, "score"?: N, "direction"?: "rx", "timestamp"?: T}
 * (aliases: observer_id, origin for observer_name, region for iata, SNR, RSSI, Score,
 * Direction). Blank lines are skipped. FILE defaults to standard input ("-").
 *
 * What one line writes (data-model spec §1-§5, cmd/ingestor InsertTransmission,
 * UpsertNode, UpsertObserverAt):
 *  - the packet is decoded (channel keys: Public, the --config [channels], then the
 *    --channel flags; advert signatures are checked unless --no-verify) and hashed; a
 *    new hash inserts one transmission (raw_hex as given, decoded_json, route/payload
 *    type and version, channel_hash, from_pubkey, scope_name, first_seen, last_seen), a
 *    known one only lowers first_seen when the line is older;
 *  - one observation per (transmission, observer, path): path_json from the line's own
 *    raw bytes, resolved_path by the §4.2 conservative resolver, snr/rssi/score/direction,
 *    timestamp, raw_hex; a repeated (transmission, observer, path) updates snr, rssi,
 *    score, raw_hex and resolved_path as the ingestor's upsert does;
 *  - the observer is created when new and gets name, iata (trimmed, uppercase),
 *    last_seen/last_packet_at (never moving back), inactive = 0, and packet_count + 1
 *    for every observation inserted;
 *  - an ADVERT upserts its node (name, role, lat/lon, battery/temperature, last_seen never
 *    moving back) and adds 1 to advert_count when it created a new transmission;
 *  - transmissions.last_seen is the newest timestamp of its observations (a stored 0,
 *    "not backfilled yet", becomes the maximum over all of them once a line touches it).
 * Time: the line's "timestamp" (unix seconds as a number or digit string, or RFC3339;
 * zone-less times are UTC) is the packet's time everywhere the ingestor uses its clock:
 * first_seen, observation timestamp, last_seen of transmission, node and observer. A line
 * without one gets the current time when it is read. (The ingestor ignores observer
 * clocks for live traffic; an import of recorded traffic wants them.)
 *
 * Resolver: node keys come from the database and from every valid advert in the input
 * (collected in a first pass), plus the neighbor_edges graph, so an import resolves the
 * same way however often it is interrupted and re-run. Standard input is copied to an
 * unlinked temporary file ($TMPDIR, default /tmp) during that pass.
 *
 * Crash safety: rows are committed every --batch input lines (default 5000) in short
 * transactions (WAL, busy timeout), so a crash or kill -9 loses at most the batch in
 * flight, and running the same import again gives exactly the database an uninterrupted
 * import gives, ids included: transmissions are found by hash, observations by
 * (transmission, observer, path), counters only move with rows really inserted, and every
 * other column is a minimum, a maximum or last-writer-wins. A running meshsnapd may serve
 * the same database; it sees the new rows at its next poll. Each batch starts with BEGIN
 * IMMEDIATE (waiting for another writer) and first follows a schema change another writer
 * made since the previous batch (a column added by a migration is then written too).
 *
 * Differences from the ingestor, on purpose: observers are created before their first
 * observation (so observer_idx is never NULL); a missing observer_name or iata leaves the
 * stored one alone; last_seen columns take the maximum without the ingestor's clamp to
 * its own clock (which would make a re-run non-idempotent); a repeated reception does not
 * raise transmissions.last_seen (its observation keeps its first timestamp, and last_seen
 * is the newest observation timestamp, §5.1); adverts with a bad signature
 * are rejected lines, not rows of dropped_packets; no region keys are configured, so a
 * transport-scoped packet gets scope_name "" (unknown region).
 *
 * Bad lines (not JSON, no "raw", bad hex, a packet the decoder rejects, no "observer", a
 * bad "timestamp", a corrupted advert, a bad advert signature) are skipped, counted by
 * reason and listed with their line numbers (the first 50) at the end.
 *
 * Output: a progress line every 2 s on stderr when it is a terminal (or with --progress,
 * every SECONDS when given): lines, lines/s, the share of the input read and an ETA; a
 * summary always (rows written by kind, lines imported and rejected).
 *
 * Work is split over two threads: one reads and prepares lines (JSON, decode, signature,
 * path resolution), the other writes them to SQLite in input order.
 *
 * Exit status: 0 when every line was imported, 1 when some lines were rejected, 2 on a
 * usage or fatal error (database cannot be opened or written, input unreadable,
 * interrupted by SIGINT/SIGTERM after committing the current batch).
 */
#ifndef MSN_CLI_IMPORT_H
#define MSN_CLI_IMPORT_H

/** Runs the subcommand; argv[0] is "import". Returns the process exit status (0, 1 or 2
 *  as described above). Writes only to stderr (and to the database). */
int msn_cli_import(int argc, char **argv);

#endif
