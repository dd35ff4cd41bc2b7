/*
 * anparam.h: the parameters (anshape.h p=) of the analytics that take one, as the workers
 * read them from a query and the master reads them back from a shape key: their grammar
 * (CoreScope's), their canonical form, and the errors CoreScope answers for them.
 *
 * Any process; nothing is allocated.
 */
#ifndef MSN_ANPARAM_H
#define MSN_ANPARAM_H

#include <stddef.h>
#include <stdint.h>

/* ---- /api/analytics/subpaths-bulk: groups=min-max:limit,... ---- */

/** The groups the dashboard's Route Patterns tab asks for: the default shape. */
#define MSN_SUBPATH_GROUPS_DEFAULT "2-2:50,3-3:30,4-4:20,5-8:15"
#define MSN_SUBPATH_GROUPS_MAX 8

typedef struct {
    int min_len, max_len, limit;
} msn_spgroup_t;

/** Parses groups as CoreScope does (each "min-max:limit", decimal integers as Go's Atoi
 *  reads them, min >= 2, max >= min, limit >= 1, limit capped at 200) into out (at most
 *  MSN_SUBPATH_GROUPS_MAX). Returns the group count; or -1 with err set to CoreScope's
 *  message ("invalid group format: ...", "invalid range format: ...", "invalid group: ...",
 *  which it answers with status 200); or -2 with err set when there are more groups than
 *  MSN_SUBPATH_GROUPS_MAX (a 400 here). */
int msn_anparam_groups(const char *groups, msn_spgroup_t *out, char *err, size_t errlen);

/** Writes the canonical text of n groups ("2-2:50,3-3:30") into out (n bytes); returns its
 *  length. */
size_t msn_anparam_groups_text(const msn_spgroup_t *g, int n, char *out, size_t size);

/* ---- /api/observers/:id/analytics: "<days>:<observer id>" ---- */

/** Writes the parameter of days (1..365) and an observer id into out (size bytes).
 *  Returns 0, or -1 when it does not fit. */
int msn_anparam_observer(int days, const char *id, char *out, size_t size);

/* ---- /api/observers/metrics/summary: window ---- */

/** Parses a metrics window as CoreScope does: "<N>d" (N > 0, whole days) or a Go duration
 *  ("90m", "1h30m", "1.5h", "-2h", "300s", ...), into whole seconds (rounded toward zero).
 *  Returns 0, or -1 when it is neither or its magnitude exceeds 100 years. */
int msn_anparam_window_s(const char *w, int64_t *secs);

#endif
