/* entdoc.c: see entdoc.h. */
#include "entdoc.h"

#include <stdio.h>
#include <string.h>

int msn_entdoc_name(char *out, size_t n, const char *kind, const char *doc, const char *id, size_t id_len)
{
    if (id_len == 0 || id_len > MSN_ENTDOC_NAME_MAX)
        return -1;
    int w = snprintf(out, n, MSN_ENTDOC_PREFIX "%s/%s/%.*s", kind, doc, (int)id_len, id);
    if (w < 0 || (size_t)w >= n || w > MSN_ENTDOC_NAME_MAX || memchr(id, '\0', id_len) != NULL)
        return -1;
    return w;
}

int msn_entdoc_node_id(const char *pubkey, size_t len, char out[65])
{
    if (pubkey == NULL || len != 64)
        return -1;
    for (size_t i = 0; i < 64; i++) {
        char c = pubkey[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
        out[i] = c;
    }
    out[64] = '\0';
    return 0;
}
