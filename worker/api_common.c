/* api_common.c: parameter helpers and error bodies shared by the handlers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "shm/json.h"

const char *msn_api_param(const msn_api_req_t *r, const char *name)
{
    for (int i = 0; i < r->nq; i++)
        if (strcmp(r->q[i].name, name) == 0)
            return r->q[i].value;
    return NULL;
}

const char *msn_api_path_param(const msn_api_req_t *r, const char *name)
{
    int i = msn_route_param_index(r->route, name);
    return i >= 0 ? r->params[i] : NULL;
}

void msn_api_error(msn_api_req_t *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    msn_buf_reset(r->body);
    msn_buf_puts(r->body, "{\"error\":");
    msn_json_strn(r->body, msg, strlen(msg));
    msn_buf_putc(r->body, '}');
    r->status = status;
}

int msn_api_int_param(const msn_api_req_t *r, const char *name, int64_t *out)
{
    const char *v = msn_api_param(r, name);
    if (v == NULL || *v == '\0')
        return 1;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end != '\0')
        return -1;
    *out = x;
    return 0;
}

int64_t msn_api_limit(const msn_api_req_t *r, int64_t def, int64_t cap)
{
    int64_t v;
    if (msn_api_int_param(r, "limit", &v) != 0 || v <= 0)
        return def;
    return v > cap ? cap : v;
}

int64_t msn_api_offset(const msn_api_req_t *r)
{
    int64_t v;
    if (msn_api_int_param(r, "offset", &v) != 0 || v < 0)
        return 0;
    return v;
}
