/* an_emit.c: JSON emission for the analytics' renderers (see an_int.h). */
#include "an_int.h"

#include <string.h>

#include "shm/json.h"

void msn_an__str(msn_buf_t *b, const char *s)
{
    if (s == NULL)
        s = "";
    msn_json_strn(b, s, strlen(s));
}

void msn_an__strn(msn_buf_t *b, const char *p, size_t n)
{
    if (p == NULL) {
        p = "";
        n = 0;
    }
    msn_json_strn(b, p, n);
}

void msn_an__sep(msn_buf_t *b)
{
    char last = b->len ? b->data[b->len - 1] : '[';
    if (last != '{' && last != '[')
        msn_buf_putc(b, ',');
}

void msn_an__key(msn_buf_t *b, const char *key)
{
    msn_an__sep(b);
    msn_json_key(b, key);
}

void msn_an__open(msn_buf_t *b, const char *key, char bracket)
{
    if (key != NULL)
        msn_an__key(b, key);
    else
        msn_an__sep(b);
    msn_buf_putc(b, bracket);
}

void msn_an__ki64(msn_buf_t *b, const char *key, int64_t v)
{
    msn_an__key(b, key);
    msn_buf_put_i64(b, v);
}

void msn_an__kdbl(msn_buf_t *b, const char *key, double v)
{
    msn_an__key(b, key);
    msn_json_double(b, v);
}

void msn_an__kstr(msn_buf_t *b, const char *key, const char *s)
{
    msn_an__key(b, key);
    msn_an__str(b, s);
}

void msn_an__kstrn(msn_buf_t *b, const char *key, const char *p, size_t n)
{
    msn_an__key(b, key);
    msn_an__strn(b, p, n);
}

void msn_an__kbool(msn_buf_t *b, const char *key, int v)
{
    msn_an__key(b, key);
    msn_buf_puts(b, v ? "true" : "false");
}

void msn_an__knull(msn_buf_t *b, const char *key)
{
    msn_an__key(b, key);
    msn_buf_puts(b, "null");
}

void msn_an__kname(msn_buf_t *b, const char *key, const msn_store_t *s, int32_t node)
{
    if (node < 0)
        msn_an__knull(b, key);
    else
        msn_an__kstr(b, key, s->nodes[node].name);
}

void msn_an__kpubkey(msn_buf_t *b, const char *key, const msn_store_t *s, int32_t node)
{
    if (node < 0)
        msn_an__knull(b, key);
    else
        msn_an__kstr(b, key, s->nodes[node].public_key);
}

void msn_an__kdyn(msn_buf_t *b, const char *p, size_t n)
{
    msn_an__sep(b);
    msn_an__strn(b, p, n);
    msn_buf_putc(b, ':');
}

void msn_an__ei64(msn_buf_t *b, int64_t v)
{
    msn_an__sep(b);
    msn_buf_put_i64(b, v);
}
