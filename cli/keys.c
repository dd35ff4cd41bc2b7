/* keys.c: see keys.h. */
#include "keys.h"

#include <stdio.h>

#include "shm/config.h"

msn_chankeys_t *msn_cli_load_keys(const char *tool, const char *config, const char *const *channels, int n)
{
    char err[512];
    msn_chankeys_t *ks = msn_chankeys_new();
    if (config != NULL) {
        msn_config_t cfg;
        msn_config_defaults(&cfg);
        int rc = msn_config_load_file(&cfg, config, err, sizeof(err));
        if (rc == 0)
            rc = msn_chankeys_add_config(ks, &cfg, err, sizeof(err));
        msn_config_free(&cfg);
        if (rc < 0) {
            fprintf(stderr, "%s: %s\n", tool, err);
            goto fail;
        }
    } else {
        msn_chankeys_add_builtin(ks);
    }
    for (int i = 0; i < n; i++) {
        if (msn_chankeys_add_spec(ks, channels[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: --channel: %s\n", tool, err);
            goto fail;
        }
    }
    return ks;
fail:
    msn_chankeys_free(ks);
    return NULL;
}
