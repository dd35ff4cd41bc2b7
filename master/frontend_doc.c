/* frontend_doc.c: see frontend_doc.h. */
#include "frontend_doc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "shm/json.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int region_code(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return 0;
    return 1;
}

void msn_render_frontend_iatas(msn_buf_t *b, const msn_store_t *s)
{
    const char **codes = msn_xcalloc(s->n_observers + 1, sizeof(*codes));
    size_t n = 0;
    for (uint32_t i = 0; i < s->n_observers; i++)
        if (region_code(s->observers[i].iata))
            codes[n++] = s->observers[i].iata;
    qsort(codes, n, sizeof(*codes), cmp_str);
    msn_buf_putc(b, '[');
    for (size_t i = 0, out = 0; i < n; i++) {
        if (i > 0 && strcmp(codes[i], codes[i - 1]) == 0)
            continue;
        if (out++)
            msn_buf_putc(b, ',');
        msn_json_strn(b, codes[i], strlen(codes[i]));
    }
    msn_buf_putc(b, ']');
    free(codes);
}

void msn_render_frontend_center(msn_buf_t *b, const msn_store_t *s)
{
    double lat = 0, lon = 0;
    long n = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *nd = &s->nodes[i];
        if (!nd->has_lat || !nd->has_lon || (nd->lat == 0 && nd->lon == 0))
            continue;
        if (!(nd->lat >= -90 && nd->lat <= 90 && nd->lon >= -180 && nd->lon <= 180))
            continue; /* also NaN */
        lat += nd->lat;
        lon += nd->lon;
        n++;
    }
    if (n == 0) {
        msn_buf_puts(b, "null");
        return;
    }
    /* four decimals (about 10 m) are plenty for a map's centre */
    msn_buf_putc(b, '[');
    msn_json_double(b, (double)(long long)(lat / (double)n * 10000 + (lat >= 0 ? 0.5 : -0.5)) / 10000);
    msn_buf_putc(b, ',');
    msn_json_double(b, (double)(long long)(lon / (double)n * 10000 + (lon >= 0 ? 0.5 : -0.5)) / 10000);
    msn_buf_putc(b, ']');
}
