/*
 * nodemesh.h: the hand-made mesh of the per-node document tests (master/test_pernode.c,
 * worker/test_api_nodes.c): three nodes, two observers, four transmissions, described
 * with the figures they give in test_pernode.c. NODEMESH_SQL fills a database created
 * with the current schema.
 */
#ifndef MSN_NODEMESH_H
#define MSN_NODEMESH_H

#define R1 "aa11111111111111111111111111111111111111111111111111111111111111"
#define R2 "bb22222222222222222222222222222222222222222222222222222222222222"
#define C1 "cc33333333333333333333333333333333333333333333333333333333333333"
#define NODEMESH_NOW_MS 1774612800000LL /* 2026-03-27T12:00:00Z */

static const char *const NODEMESH_SQL =
    "INSERT INTO observers (rowid, id, name, iata, last_seen, first_seen, can_relay, can_relay_seen) VALUES"
    " (1, 'O1-OBSERVER', 'Obs One', 'SJC', '2026-03-27T11:00:00Z', '2026-03-20T00:00:00Z', 1, 1),"
    " (2, 'obs-two', 'Obs Two', 'SFO', '2026-03-27T11:00:00Z', '2026-03-20T00:00:00Z', 0, 1);"
    "INSERT INTO nodes (public_key, name, role, lat, lon, last_seen, first_seen, advert_count) VALUES"
    " ('" R1 "', 'R One', 'repeater', 37.5, -122.0, '2026-03-27T10:00:00Z', '2026-03-20T00:00:00Z', 5),"
    " ('" R2 "', 'R Two', 'repeater', 37.6, -122.1, '2026-03-27T09:00:00Z', '2026-03-20T00:00:00Z', 3),"
    " ('" C1 "', 'Cee', 'companion', 37.55, -122.05, '2026-03-26T06:00:00Z', '2026-03-20T00:00:00Z', 2);"
    "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json, from_pubkey,"
    " last_seen) VALUES"
    " (1, '0a00dd', '00000000000000a1', '2026-03-24T12:00:00Z', 2, 2, '{\"type\":\"TXT_MSG\",\"destPubKey\":\"" R1
    "\",\"srcPubKey\":\"" C1 "\",\"sender_key\":\"" C1 "\",\"sender_name\":\"Cee\"}', NULL, 0),"
    " (2, '1100cc', '00000000000000a2', '2026-03-26T06:00:00Z', 1, 4, '{\"type\":\"ADVERT\",\"pubKey\":\"" C1
    "\"}', '" C1 "', 0),"
    " (3, '1100aa', '00000000000000a3', '2026-03-27T10:00:00Z', 1, 4, '{\"type\":\"ADVERT\",\"pubKey\":\"" R1
    "\"}', '" R1 "', 0),"
    " (4, '1501ee', '00000000000000a4', '2026-03-27T11:30:00Z', 1, 5, '{\"type\":\"GRP_TXT\",\"channel\":\"x\"}',"
    " NULL, 0);"
    "INSERT INTO observations (id, transmission_id, observer_idx, snr, rssi, path_json, timestamp, resolved_path)"
    " VALUES"
    " (1, 1, 1, 10, -70, '[]', 1774353600, NULL),"
    " (2, 2, 1, 4, -95, '[\"AA\"]', 1774504800, '[\"" R1 "\"]'),"
    " (3, 3, 1, 8, -90, '[]', 1774605600, NULL),"
    " (4, 3, 2, 2, -100, '[\"BB\"]', 1774605601, '[\"" R2 "\"]'),"
    " (5, 4, 2, -2, -105, '[\"AA\",\"BB\"]', 1774611000, '[\"" R1 "\",\"" R2 "\"]');";

#endif
