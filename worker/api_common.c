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
    const char *d = v + (*v == '-');
    if (*d < '0' || *d > '9')
        return -1;
    const char *e = d;
    while (*e >= '0' && *e <= '9')
        e++;
    if (*e != '\0')
        return -3;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
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
    if (rc == -3) {
        snprintf(err, errlen, "invalid limit: characters after the number");
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
    if (rc == -3) {
        snprintf(err, errlen, "invalid offset: characters after the number");
        return -1;
    }
    *out = rc != 0 || v < 0 ? 0 : v;
    return 0;
}

/* Whether word w (n bytes, no blank) is a file system path: after any opening quote or
 * bracket it starts with '/', "./", "../" or "~/" ("I/O" or "1/2" are not paths). */
static int is_path(const char *w, size_t n)
{
    size_t i = 0;
    while (i < n && strchr("'\"([<", w[i]) != NULL)
        i++;
    if (i >= n)
        return 0;
    const char *p = w + i;
    size_t m = n - i;
    return p[0] == '/' || (m >= 2 && p[0] == '~' && p[1] == '/') || (m >= 2 && p[0] == '.' && p[1] == '/') ||
           (m >= 3 && p[0] == '.' && p[1] == '.' && p[2] == '/');
}

void msn_api_json_text(const msn_api_req_t *r, msn_buf_t *b, const char *text, size_t len)
{
    if (r->admin) {
        msn_json_strn(b, text, len);
        return;
    }
    msn_buf_t t = MSN_BUF_INIT;
    for (size_t i = 0; i < len;) {
        if (text[i] == ' ') {
            msn_buf_putc(&t, ' ');
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && text[j] != ' ')
            j++;
        if (!is_path(text + i, j - i)) {
            msn_buf_append(&t, text + i, j - i);
        } else {
            size_t k = j; /* keep the punctuation that ends the word */
            while (k > i && strchr(":,;)]'\"", text[k - 1]) != NULL)
                k--;
            msn_buf_puts(&t, "[path]");
            msn_buf_append(&t, text + k, j - k);
        }
        i = j;
    }
    msn_json_strn(b, t.data ? t.data : "", t.len);
    msn_buf_free(&t);
}
