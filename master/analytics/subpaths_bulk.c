/*
 * subpaths_bulk.c: /api/analytics/subpaths-bulk (CoreScope handleAnalyticsSubpathsBulk):
 * one /api/analytics/subpaths body per group of the parameter (anparam.h; none: the
 * dashboard's groups), for the shape's region and window, as {"results":[...]}.
 */
#include <stdio.h>

#include "an_int.h"
#include "shm/anparam.h"

int msn_an__subpaths_bulk(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    msn_spgroup_t g[MSN_SUBPATH_GROUPS_MAX];
    const char *p = c->shape->param && c->shape->param[0] ? c->shape->param : MSN_SUBPATH_GROUPS_DEFAULT;
    int n = msn_anparam_groups(p, g, err, errlen);
    if (n < 0)
        return -1;
    msn_buf_puts(out, "{\"results\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            msn_buf_putc(out, ',');
        if (msn_an__subpaths(c, g[i].min_len, g[i].max_len, g[i].limit, out, err, errlen) < 0)
            return -1;
    }
    msn_buf_puts(out, "]}");
    return 0;
}
