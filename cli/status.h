/*
 * status.h: `meshsnap status`, what a running meshsnapd is doing, read from its shared
 * status block (shm/status.h) and its current snapshot's meta record (shm/snapshot.h).
 * It never talks HTTP and never opens SQLite.
 *
 *   meshsnap status [--state-dir DIR | --config FILE] [--interval SEC] [--json]
 *
 * The state directory is --state-dir, else the state_dir of --config FILE (or the
 * database's directory + /meshsnap-state when the file sets only db, as meshsnapd
 * derives it), else that of /etc/meshsnap/meshsnap.conf.
 *
 * It shows: whether the master is alive, its phase and what it is doing; the generation
 * being served and its age; requests per second (the counters are sampled twice,
 * --interval seconds apart, default 1; 0 skips the sampling and the rates); one row per
 * process (master, each worker slot, backfiller) with pid and whether it is alive; one
 * row per backfill migration with progress, rate and ETA; reloads and worker restarts.
 * --json writes the same as one JSON object (see the command's --help for its keys).
 *
 * Opening the status block needs read access to state_dir/status (it is mapped read-only
 * when it cannot be mapped read-write); the snapshot figures need access to the LMDB lock
 * file, and fall back to what the master section records when that is refused.
 */
#ifndef MSN_CLI_STATUS_H
#define MSN_CLI_STATUS_H

/** Exit statuses of `meshsnap status` (the LSB init-script convention for 0, 1, 3, 4). */
enum {
    MSN_STATUS_EXIT_RUNNING = 0, /* the master is alive */
    MSN_STATUS_EXIT_DEAD = 1,    /* the status block's master exited without stopping (killed, crashed) */
    MSN_STATUS_EXIT_USAGE = 2,   /* bad arguments or an unreadable configuration file */
    MSN_STATUS_EXIT_NONE = 3,    /* not running: no status block, or the daemon stopped cleanly */
    MSN_STATUS_EXIT_UNKNOWN = 4  /* the status block cannot be read (permissions, version) */
};

/** Runs the subcommand; argv[0] is "status". Writes the report to stdout, problems to
 *  stderr (with --json a JSON object is written to stdout in every case but a usage
 *  error). Returns one of MSN_STATUS_EXIT_*. */
int msn_cli_status(int argc, char **argv);

#endif
