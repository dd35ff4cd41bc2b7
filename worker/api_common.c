/* api_common.c: parameter helpers and error bodies shared by the handlers. */
#include <errno.h>
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
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end != '\0' || end == v)
        return -1;
    if (errno == ERANGE)
        return -2;
    *out = x;
    return 0;
}

int msn_api_limit(const msn_api_req_t *r, int64_t def, int64_t cap, int64_t *out, char *err, size_t errlen)
{
    int64_t v;
    int rc = msn_api_int_param(r, "limit", &v);
    if (rc == -2) {
        snprintf(err, errlen, "invalid limit: out of range");
        return -1;
    }
    *out = rc != 0 || v <= 0 ? def : v > cap ? cap : v;
    return 0;
}

int msn_api_offset(const msn_api_req_t *r, int64_t *out, char *err, size_t errlen)
{
    int64_t v;
    int rc = msn_api_int_param(r, "offset", &v);
    if (rc == -2 || (rc == 0 && v > MSN_API_MAX_OFFSET)) {
        snprintf(err, errlen, "invalid offset: out of range (at most %lld)", (long long)MSN_API_MAX_OFFSET);
        return -1;
    }
    *out = rc != 0 || v < 0 ? 0 : v;
    return 0;
}
