/*
 * frontend_doc.h: what the web pages' configuration derives from the data, rendered by
 * the master at publish time into two documents (shm/snapkey.h) that the workers merge
 * with the [frontend] section (worker/api_config.c):
 *
 *   MSN_DOC_FRONTEND_IATAS   a JSON array of the observers' distinct IATA codes, sorted
 *                            byte-wise; empty codes, and codes with characters other than
 *                            letters, digits, '-' and '_' (which the region filters of the
 *                            API refuse), are left out. /api/config/regions lists them.
 *   MSN_DOC_FRONTEND_CENTER  [lat, lon]: the centroid of the nodes' positions (nodes at
 *                            0,0 or outside the valid range left out), or null without
 *                            any. /api/config/map uses it when map_center is not set.
 *
 * Master process (publisher thread).
 */
#ifndef MSN_FRONTEND_DOC_H
#define MSN_FRONTEND_DOC_H

#include "shm/buf.h"
#include "store.h"

/** Appends the MSN_DOC_FRONTEND_IATAS body. */
void msn_render_frontend_iatas(msn_buf_t *b, const msn_store_t *s);
/** Appends the MSN_DOC_FRONTEND_CENTER body. */
void msn_render_frontend_center(msn_buf_t *b, const msn_store_t *s);

#endif
