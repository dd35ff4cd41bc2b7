/*
 * meshsnap: the command-line tool. One subcommand per file in cli/:
 *   meshsnap decode HEX | --json     decode MeshCore packets (cli/decode.c)
 *   meshsnap init-db PATH            create a database with the current CoreScope schema
 *   meshsnap gen --db PATH ...       generate a realistic CoreScope database (cli/gen.c)
 */
#include <stdio.h>
#include <string.h>

#include "decode.h"
#include "gen.h"
#include "import.h"
#include "shm/schema.h"
#include "status.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: meshsnap COMMAND [ARGS]\n"
               "\n"
               "Commands:\n"
               "  decode HEX            print a decoded MeshCore packet (see meshsnap decode --help)\n"
               "  decode --json         decode {\"hex\": ...} lines from standard input\n"
               "  import --db PATH [F]  import JSON-lines packets (see meshsnap import --help)\n"
               "  init-db PATH          create a new database with the current CoreScope schema\n"
               "  gen --db PATH ...     generate a realistic CoreScope database (see meshsnap gen --help)\n"
               "  status [--json]       what a running meshsnapd is doing (see meshsnap status --help)\n"
               "  version               print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "decode") == 0)
        return msn_cli_decode(argc - 1, argv + 1);
    if (strcmp(cmd, "gen") == 0)
        return msn_cli_gen(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0)
        return msn_cli_import(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return msn_cli_status(argc - 1, argv + 1);
    if (strcmp(cmd, "init-db") == 0) {
        if (argc != 3) {
            fprintf(stderr, "usage: meshsnap init-db PATH\n");
            return 2;
        }
        char err[512];
        if (msn_schema_init_db(argv[2], err, sizeof(err)) < 0) {
            fprintf(stderr, "meshsnap init-db: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("meshsnap %s\n", MESHSNAP_VERSION);
        return 0;
    }
    fprintf(stderr, "meshsnap: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
