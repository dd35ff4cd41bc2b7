/*
 * nodes_index.h: the layout of the "nodes.index" document, with which a worker answers
 * /api/nodes (filters, sort orders, paging) without scanning the node table:
 *
 *   [ records, by_name, by_advert_count, counts ]
 *   records          array of [public_key, name|nil, role|nil, last_seen_ms,
 *                    first_seen_ms, advert_count], sorted by last_seen descending
 *                    (the default sortBy=lastSeen)
 *   by_name          positions into records, sorted by name ascending
 *   by_advert_count  positions into records, sorted by advert_count descending
 *   counts           all-time [repeaters, rooms, companions, sensors]
 *
 * The node objects themselves are in the `node` database under their public key.
 */
#ifndef MSN_NODES_INDEX_H
#define MSN_NODES_INDEX_H

#define MSN_NIDX_FIELDS 4
#define MSN_NREC_FIELDS 6

#endif
