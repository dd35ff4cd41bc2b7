/*
 * meshsnapd: the daemon's entry point, and nothing else.
 *
 * It parses the command line and the configuration file once, handles the options that
 * exit at once (--help, --version, --check-config, --init-db), and hands the process to
 * one role. Each role's main sets up its own process (log role, title, signals, priority,
 * status block) in its own folder:
 *   (no --role)                                   master/      msn_master_main
 *   --role worker --slot N --listen-fds 3,4 ...   worker/      msn_worker_main
 *   --role backfiller --slot 0 ...                backfiller/  msn_backfiller_main
 *   --role ingestor --slot 0 ...                  ingestor/    msn_ingestor_main
 * Started by a user or systemd it is the master: it binds the listening sockets and
 * fork+execs this same binary with --role for the children, followed by the same options,
 * so every child re-reads the same configuration. This is the only file that knows all
 * the roles; the role libraries never include one another.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfiller/backfiller.h"
#include "ingestor/ingestor.h"
#include "master/supervisor.h"
#include "shm/config.h"
#include "shm/log.h"
#include "shm/proc.h"
#include "shm/schema.h"
#include "worker/worker.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: meshsnapd [OPTIONS]\n"
            "Serve MeshCore packet analytics from a CoreScope SQLite database.\n"
            "\n"
            "  --config FILE     read the configuration file (default: none; see conf/meshsnap.conf)\n"
            "  --db PATH         the CoreScope SQLite database (overrides `db`)\n"
            "  --listen ADDR     listen on host:port, [v6]:port or :port; repeat for several\n"
            "                    (overrides `listen`; default 127.0.0.1:3000)\n"
            "  --workers N       number of HTTP worker processes, or `auto` (one per core)\n"
            "  --state-dir DIR   where snapshots and the status block live (overrides `state_dir`;\n"
            "                    default: the database's directory + /meshsnap-state)\n"
            "  --web-root DIR    serve this web app (a directory with an index.html, e.g.\n"
            "                    CoreScope's public/) at / (overrides [http] web_root)\n"
            "  --ui-root DIR     meshsnap's dashboard, served at / without a web root\n"
            "                    (overrides [http] ui_root; default " MESHSNAP_UI_DIR ")\n"
            "  --check-config    validate the configuration and exit (0 = valid); with -v, print it\n"
            "  -v, --verbose     log debug messages (or print the configuration with --check-config)\n"
            "  --init-db PATH    create a new database with the current CoreScope schema and exit\n"
            "  --version         print the version and exit\n"
            "  -h, --help        this help\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop (in-flight requests finish, the backfiller stops at a\n"
            "chunk boundary, the ingestor commits and acknowledges what it read); SIGHUP reloads\n"
            "the configuration (new workers on the shared sockets, old ones drained, backfiller and\n"
            "ingestor restarted; an invalid file is refused and the old configuration kept); SIGUSR1\n"
            "is passed to the workers (log reopening).\n");
}

typedef struct {
    const char *role; /* NULL = master */
    int slot;
    const char *listen_fds;
    int check_config, verbose;
    const char *init_db;
} opts_t;

/* Parses the command line into cfg (file first, then flags). Returns 0, 1 to exit 0, -1 on error. */
static int parse_args(int argc, char **argv, msn_config_t *cfg, opts_t *o)
{
    char err[512];
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
    }
    if (config && msn_config_load_file(cfg, config, err, sizeof(err)) < 0) {
        fprintf(stderr, "meshsnapd: %s\n", err);
        return -1;
    }
    int listen_seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char *key = NULL, *section = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--version") == 0) {
            printf("meshsnapd %s\n", MESHSNAP_VERSION);
            return 1;
        } else if (strcmp(a, "--check-config") == 0) {
            o->check_config = 1;
            continue;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o->verbose = 1;
            continue;
        } else if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        } else if (strcmp(a, "--db") == 0) {
            key = "db";
        } else if (strcmp(a, "--listen") == 0) {
            key = "listen";
        } else if (strcmp(a, "--workers") == 0) {
            key = "workers";
        } else if (strcmp(a, "--state-dir") == 0) {
            key = "state_dir";
        } else if (strcmp(a, "--web-root") == 0) {
            key = "web_root";
            section = "http";
        } else if (strcmp(a, "--ui-root") == 0) {
            key = "ui_root";
            section = "http";
        } else if (strcmp(a, "--role") == 0 && v) {
            o->role = v;
            i++;
            continue;
        } else if (strcmp(a, "--slot") == 0 && v) {
            o->slot = atoi(v);
            i++;
            continue;
        } else if (strcmp(a, "--listen-fds") == 0 && v) {
            o->listen_fds = v;
            i++;
            continue;
        } else if (strcmp(a, "--init-db") == 0 && v) {
            o->init_db = v;
            i++;
            continue;
        } else {
            fprintf(stderr, "meshsnapd: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        if (v == NULL) {
            fprintf(stderr, "meshsnapd: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(key, "listen") == 0 && listen_seen) {
            if (cfg->n_listen >= MSN_MAX_LISTEN ||
                msn_config_parse_listen(v, &cfg->listen[cfg->n_listen], err, sizeof(err)) < 0) {
                fprintf(stderr, "meshsnapd: --listen %s: %s\n", v, cfg->n_listen >= MSN_MAX_LISTEN ? "too many" : err);
                return -1;
            }
            cfg->n_listen++;
            continue;
        }
        if (msn_config_set(cfg, section, key, v, err, sizeof(err)) < 0) {
            fprintf(stderr, "meshsnapd: %s %s: %s\n", a, v, err);
            return -1;
        }
        if (strcmp(key, "listen") == 0)
            listen_seen = 1;
    }
    if (cfg->state_dir == NULL && cfg->db != NULL) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", cfg->db);
        char *slash = strrchr(dir, '/');
        char sd[4200];
        if (slash) {
            *slash = '\0';
            snprintf(sd, sizeof(sd), "%s/meshsnap-state", dir[0] ? dir : "/");
        } else {
            snprintf(sd, sizeof(sd), "meshsnap-state");
        }
        msn_config_set(cfg, NULL, "state_dir", sd, err, sizeof(err));
    }
    if (o->init_db)
        return 0;
    if (msn_config_validate(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "meshsnapd: invalid configuration: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **orig_argv)
{
    /* The process title reuses the memory of the original arguments: keep a copy, which the
       master also hands to its children. */
    char **argv = calloc((size_t)argc + 1, sizeof(char *));
    if (argv == NULL)
        return 2;
    for (int i = 0; i < argc; i++)
        argv[i] = strdup(orig_argv[i]);
    msn_proc_init(argc, orig_argv);
    msn_config_t cfg;
    opts_t o;
    memset(&o, 0, sizeof(o));
    msn_config_defaults(&cfg);
    int rc = parse_args(argc, argv, &cfg, &o);
    if (rc != 0) {
        msn_config_free(&cfg);
        for (int i = 0; i < argc; i++)
            free(argv[i]);
        free(argv);
        return rc > 0 ? 0 : 2;
    }
    if (o.verbose && !o.check_config)
        msn_log_set_level(MSN_LOG_DEBUG);
    else
        msn_log_set_level((msn_log_level_t)cfg.log_level);
    if (o.init_db) {
        char err[512];
        rc = msn_schema_init_db(o.init_db, err, sizeof(err)) < 0 ? 1 : 0;
        if (rc)
            fprintf(stderr, "meshsnapd: --init-db %s: %s\n", o.init_db, err);
    } else if (o.check_config) {
        if (o.verbose)
            msn_config_dump(&cfg, stdout);
        printf("configuration OK\n");
        rc = 0;
    } else if (o.role == NULL) {
        rc = msn_master_main(&cfg, argc, argv);
    } else if (strcmp(o.role, "worker") == 0) {
        rc = msn_worker_main(&cfg, o.slot, o.listen_fds);
    } else if (strcmp(o.role, "backfiller") == 0) {
        rc = msn_backfiller_main(&cfg);
    } else if (strcmp(o.role, "ingestor") == 0) {
        rc = msn_ingestor_main(&cfg);
    } else {
        fprintf(stderr, "meshsnapd: unknown role '%s'\n", o.role);
        rc = 2;
    }
    msn_config_free(&cfg);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    return rc;
}
