/*
 * test_ingest_msg.c: the message layer of the shared writer (shm/ingest/msg.c, included
 * white-box): the strict JSON object parser and its field aliases, the timestamp rules,
 * and msn_ingest_prepare (rejection reasons, the first line of a hash, adverts built with
 * the codec's encoders, path_json and resolved_path); and that the writer counts only
 * what it has committed.
 */
#include "../../../shm/ingest/msg.c"

#include "shm/schema.h"
#include "testlib.h"

static msn_ingest_fields_t L;
static char why[256];

static int parse(const char *s)
{
    why[0] = '\0';
    return msn_ingest_parse_json(&L, s, strlen(s), why, sizeof(why));
}

static void test_parse_fields(void)
{
    CHECK_EQ_INT(
        parse(" {\"raw\":\"11AB\", \"observer\":\"OBS\", \"origin\":\"Name\", \"region\":\" sjc \","
              " \"SNR\": -7.25, \"RSSI\": \"-101dBm\", \"Score\": 3, \"Direction\":\"rx\","
              " \"timestamp\": 1780000000, \"extra\": {\"a\": [1, 2, {\"b\": null}]}, \"t\": true} "),
        0);
    CHECK(L.has_raw && L.has_observer && L.has_name && L.has_iata && L.has_direction);
    CHECK_EQ_STR(L.raw.data, "11AB");
    CHECK_EQ_STR(L.observer.data, "OBS");
    CHECK_EQ_STR(L.name.data, "Name");
    CHECK_EQ_STR(L.iata.data, " sjc ");
    CHECK_EQ_STR(L.direction.data, "rx");
    CHECK(L.has_snr && L.snr == -7.25);
    CHECK(L.has_rssi && L.rssi == -101.0);
    CHECK(L.has_score && L.score == 3.0);
    CHECK_EQ_INT(L.ts_kind, 1);

    /* a later key wins; null and other types count as absent; fields reset per line */
    CHECK_EQ_INT(parse("{\"raw\":\"AA\",\"raw\":\"BB\",\"observer\":null,\"snr\":\"loud\",\"rssi\":[1],"
                       "\"observer_name\":5}"),
                 0);
    CHECK_EQ_STR(L.raw.data, "BB");
    CHECK(!L.has_observer && !L.has_snr && !L.has_rssi && !L.has_name && !L.has_iata && !L.has_direction);
    CHECK_EQ_INT(L.ts_kind, 0);
    CHECK_EQ_INT(parse("{}"), 0);
    CHECK(!L.has_raw);
}

static void test_parse_strings(void)
{
    CHECK_EQ_INT(parse("{\"observer\":\"a\\n\\t\\\"\\\\\\/\\u00e9\\ud83d\\ude00\\ud800x\"}"), 0);
    CHECK_EQ_STR(L.observer.data, "a\n\t\"\\/\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx");
    CHECK_EQ_INT(parse("{\"observer\":\"caf\xc3\xa9\"}"), 0); /* raw UTF-8 passes through */
    CHECK_EQ_STR(L.observer.data, "caf\xc3\xa9");
}

static void test_parse_rejects(void)
{
    static const char *const bad[] = {
        "",
        "   ",
        "[1,2]",
        "\"raw\"",
        "{\"raw\":\"11\",}",
        "{'raw':'11'}",
        "{\"raw\":\"1\x01\"}",
        "{\"raw\":\"\\x41\"}",
        "{\"raw\":\"\\u12G4\"}",
        "{\"raw\":\"11\"} x",
        "{\"raw\":\"11\"",
        "{\"raw\" \"11\"}",
        "{\"n\":01}",
        "{\"n\":1.}",
        "{\"n\":-}",
        "{\"n\":1e}",
        "{\"n\":tru}",
        "{\"n\":[1,]}",
        "{raw:1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i]) != -1) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            msn_test_failures++;
        }
        CHECK(why[0] != '\0');
    }
    /* depth: 63 nested arrays inside the object are fine, 64 are not */
    char deep[400];
    for (int depth = 63; depth <= 64; depth++) {
        size_t k = 0;
        k += (size_t)snprintf(deep + k, sizeof(deep) - k, "{\"d\":");
        for (int i = 0; i < depth; i++)
            deep[k++] = '[';
        for (int i = 0; i < depth; i++)
            deep[k++] = ']';
        deep[k++] = '}';
        deep[k] = '\0';
        CHECK_EQ_INT(parse(deep), depth == 63 ? 0 : -1);
    }
    CHECK_EQ_INT(parse("{\"n\":-0.5e+3, \"m\": 0, \"k\": 1E-2}"), 0);
    CHECK_EQ_INT(parse("{\"raw\":\"11\"}"), 0);
    CHECK(strstr(why, "column") == NULL);
    CHECK_EQ_INT(parse("{\"raw\":\"11\", 5}"), -1);
    CHECK_EQ_STR(why, "expected a key at column 14");
}

static int ts_of(const char *json, int64_t *out)
{
    CHECK_EQ_INT(parse(json), 0);
    return msn_ingest_fields_time(&L, out);
}

static void test_timestamps(void)
{
    int64_t t = 0;
    CHECK_EQ_INT(ts_of("{\"timestamp\": 1780000000.9}", &t), 0);
    CHECK_EQ_INT(t, 1780000000);
    CHECK_EQ_INT(ts_of("{\"timestamp\": \"1780000001\"}", &t), 0);
    CHECK_EQ_INT(t, 1780000001);
    CHECK_EQ_INT(ts_of("{\"timestamp\": \"2026-05-17T16:01:39Z\"}", &t), 0);
    CHECK_EQ_INT(t, 1779033699);
    CHECK_EQ_INT(ts_of("{\"timestamp\": \"2026-05-17T18:01:39.999+02:00\"}", &t), 0);
    CHECK_EQ_INT(t, 1779033699);
    CHECK_EQ_INT(ts_of("{\"timestamp\": \"2026-05-17T16:01:39\"}", &t), 0); /* zone-less: UTC */
    CHECK_EQ_INT(t, 1779033699);
    CHECK_EQ_INT(ts_of("{\"timestamp\": 0}", &t), 0);
    CHECK_EQ_INT(t, 0);
    CHECK_EQ_INT(ts_of("{\"x\": 1}", &t), 1);
    CHECK_EQ_INT(ts_of("{\"timestamp\": null}", &t), 1);
    static const char *const bad[] = {
        "{\"timestamp\": -1}",
        "{\"timestamp\": 1780000000000000}",
        "{\"timestamp\": \"\"}",
        "{\"timestamp\": \"yesterday\"}",
        "{\"timestamp\": true}",
        "{\"timestamp\": [1]}",
        "{\"timestamp\": \"17800000000000\"}",
        "{\"timestamp\": \"2026-13-01T00:00:00Z\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ts_of(bad[i], &t) != -1) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            msn_test_failures++;
        }
    }
}

/* ---- msn_ingest_prepare ----------------------------------------------------------------- */

static char *hex_of(const uint8_t *b, size_t n)
{
    char *h = msn_xmalloc(2 * n + 1);
    msn_hex_encode(b, n, h, 0);
    return h;
}

/* A flood advert of seed (pubkey derived), via the codec's encoders. */
static char *advert_hex(const uint8_t seed[32], uint32_t ts, const char *name, const uint8_t *path, int hops,
                        int corrupt_sig)
{
    uint8_t app[64], payload[MSN_MAX_PAYLOAD], pkt[MSN_MAX_PACKET];
    msn_appdata_t a = {.type = 2, .has_location = 1, .lat_e6 = 37500000, .lon_e6 = -122250000, .name = name};
    int na = msn_encode_appdata(&a, app, sizeof(app));
    int np = msn_encode_advert(seed, ts, app, (size_t)na, payload, sizeof(payload));
    if (corrupt_sig)
        payload[40] ^= 1;
    msn_frame_t f = {.route_type = MSN_ROUTE_FLOOD,
                     .payload_type = MSN_PT_ADVERT,
                     .hash_size = 1,
                     .hash_count = hops,
                     .path = path};
    int n = msn_encode_packet(&f, payload, (size_t)np, pkt, sizeof(pkt));
    CHECK(na > 0 && np > 0 && n > 0);
    return hex_of(pkt, (size_t)n);
}

static void prep_line(msn_ingest_prep_t *p, msn_ingest_item_t *it, const char *raw, const char *extra)
{
    char line[1024];
    snprintf(line, sizeof(line), "{\"raw\":\"%s\",\"observer\":\"O1\",\"timestamp\":1780000000%s}", raw,
             extra);
    msn_ingest_prepare(p, it, line, strlen(line), 42, NULL);
}

static void test_prepare(void)
{
    uint8_t seed_a[32], seed_b[32], pub_a[32], pub_b[32];
    memset(seed_a, 0xA1, 32);
    memset(seed_b, 0xB2, 32);
    CHECK_EQ_INT(msn_ed25519_public(seed_a, pub_a), 0);
    CHECK_EQ_INT(msn_ed25519_public(seed_b, pub_b), 0);
    char *ka = hex_of(pub_a, 32), *kb = hex_of(pub_b, 32);

    /* the resolver knows both keys: 1-byte hops of them resolve unless they collide */
    msn_pathres_t *pr = msn_pathres_new();
    msn_pathres_add_node(pr, ka);
    msn_pathres_add_node(pr, kb);
    msn_pathres_finish(pr);
    msn_ingest_rules_t rules;
    msn_ingest_rules_import(&rules);
    msn_ingest_prep_t *p = msn_ingest_prep_new(NULL, &rules, pr);
    msn_ingest_item_t it;
    msn_ingest_item_init(&it);

    uint8_t path1[2] = {pub_b[0], 0x00}; /* B, then a hop nobody has (unless B starts 00) */
    char *adv = advert_hex(seed_a, 1780000000, "Alpha", path1, 2, 0);
    prep_line(p, &it, adv, "");
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    CHECK_EQ_INT(it.first, 1);
    CHECK_EQ_INT(it.keyed, 1);
    CHECK_EQ_STR(it.pubkey, ka);
    CHECK_EQ_INT(it.ts, 1780000000);
    CHECK(strstr(msn_buf_cstr(&it.decoded_json), "\"signatureValid\":true") != NULL);
    CHECK(strstr(msn_buf_cstr(&it.decoded_json), "\"name\":\"Alpha\"") != NULL);
    char want[256];
    snprintf(want, sizeof(want), "[\"%02X\",\"00\"]", pub_b[0]);
    CHECK_EQ_STR(it.path_json.data, want);
    if (pub_a[0] != pub_b[0] && pub_b[0] != 0) {
        snprintf(want, sizeof(want), "[\"%s\",null]", kb);
        CHECK_EQ_STR(msn_buf_cstr(&it.resolved), want);
    }
    char hash1[17];
    memcpy(hash1, it.hash, sizeof(hash1));
    CHECK_EQ_INT((int)strlen(hash1), 16);

    /* another copy over another path: same hash, not first, nothing rendered */
    char *adv2 = advert_hex(seed_a, 1780000000, "Alpha", NULL, 0, 0);
    prep_line(p, &it, adv2, ",\"snr\":1.5");
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    CHECK_EQ_STR(it.hash, hash1);
    CHECK_EQ_INT(it.first, 0);
    CHECK_EQ_INT(it.keyed, 1);
    CHECK_EQ_INT((int)it.decoded_json.len, 0);
    CHECK_EQ_STR(it.path_json.data, "[]");
    CHECK_EQ_INT((int)it.resolved.len, 0);

    /* a bad signature is rejected, and does not make its hash "seen" */
    char *bad = advert_hex(seed_b, 1780000001, "Beta", NULL, 0, 1);
    prep_line(p, &it, bad, "");
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_SIG);
    prep_line(p, &it, bad, "");
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_SIG);

    /* the other reasons, in the order they are checked */
    prep_line(p, &it, "zz", "");
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_HEX);
    prep_line(p, &it, "11", "");
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_DECODE);
    const char *no_obs = "{\"raw\":\"0D00AABBCCDD\"}";
    msn_ingest_prepare(p, &it, no_obs, strlen(no_obs), 42, NULL);
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_OBSERVER);
    prep_line(p, &it, "0D00AABBCCDD", ",\"timestamp\":\"soon\"");
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_TIME);
    CHECK_EQ_STR(it.why, "soon");
    const char *no_ts = "{\"raw\":\"0D00AABBCCDD\",\"observer\":\"O\"}";
    msn_ingest_prepare(p, &it, no_ts, strlen(no_ts), 42, NULL);
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    CHECK_EQ_INT(it.ts, 42);
    CHECK_EQ_INT(it.first, 1);
    CHECK_EQ_INT(it.keyed, 0);
    CHECK_EQ_INT(it.scope_null, 1);
    CHECK_EQ_INT((int)it.channel_hash.len, 0);

    /* an all-zero advert key is the ingestor's corrupted advert */
    uint8_t payload[MSN_MAX_PAYLOAD] = {0}, pkt[MSN_MAX_PACKET];
    msn_frame_t f = {.route_type = MSN_ROUTE_FLOOD, .payload_type = MSN_PT_ADVERT, .hash_size = 1};
    int n = msn_encode_packet(&f, payload, 101, pkt, sizeof(pkt));
    char *zero = hex_of(pkt, (size_t)n);
    prep_line(p, &it, zero, "");
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_ADVERT);

    /* without verification the bad advert goes through, without signatureValid */
    msn_ingest_rules_t noverify = rules;
    noverify.verify = 0;
    msn_ingest_prep_t *p2 = msn_ingest_prep_new(NULL, &noverify, NULL);
    prep_line(p2, &it, bad, "");
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    CHECK(strstr(msn_buf_cstr(&it.decoded_json), "signatureValid") == NULL);

    /* a transport-scoped packet: scope_name "" (no region keys) */
    uint8_t ack[4] = {1, 2, 3, 4};
    msn_frame_t tf = {.route_type = MSN_ROUTE_TRANSPORT_FLOOD,
                      .payload_type = MSN_PT_ACK,
                      .hash_size = 1,
                      .transport = {0x12, 0x34, 0x56, 0x78}};
    n = msn_encode_packet(&tf, ack, 4, pkt, sizeof(pkt));
    char *scoped = hex_of(pkt, (size_t)n);
    prep_line(p2, &it, scoped, "");
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    CHECK_EQ_INT(it.scope_null, 0);

    msn_ingest_prep_free(p2);
    msn_ingest_item_free(&it);
    msn_ingest_prep_free(p);
    msn_pathres_free(pr);
    free(ka);
    free(kb);
    free(adv);
    free(adv2);
    free(bad);
    free(zero);
    free(scoped);
}

/* MQTT messages are read as CoreScope's ingestor reads them: the topic gives the observer
 * and its region, the first spelling of an aliased pair wins, status topics are status
 * messages, some topics are ignored, the broker's iata filter applies to packets only. */
static void test_mqtt_reading(void)
{
    msn_ingest_rules_t cs;
    msn_ingest_rules_corescope(&cs);
    msn_ingest_prep_t *p = msn_ingest_prep_new(NULL, &cs, NULL);
    msn_ingest_item_t it;
    msn_ingest_item_init(&it);
    const char *filter[] = {"SJC"};
    msn_ingest_src_t src = {.topic = "meshcore/sjc/ABCD/packets", .region = "MRY"};
    const char *m = "{\"raw\":\"0D00AABBCCDD\",\"SNR\":null,\"snr\":5,\"rssi\":-90,\"RSSI\":-80,"
                    "\"Score\":2,\"score\":7,\"observer\":\"IGNORED\",\"observer_name\":\"X\","
                    "\"timestamp\":\"garbage\"}";
    msn_ingest_prepare(p, &it, m, strlen(m), 1234, &src);
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    CHECK_EQ_INT(it.kind, MSN_INGEST_PACKET);
    CHECK_EQ_STR(msn_buf_cstr(&it.obs_id), "ABCD");
    CHECK_EQ_INT(it.ts, 1234); /* receive time; the bad timestamp does not matter */
    CHECK(!it.l.has_snr);      /* SNR present (null) hides snr */
    CHECK(it.l.has_rssi && it.l.rssi == -80);
    CHECK(it.l.has_score && it.l.score == 7);
    CHECK(it.set_name && it.obs_name.len == 0); /* no origin: blanked */
    CHECK(it.set_iata);
    CHECK_EQ_STR(msn_buf_cstr(&it.obs_iata), "SJC");

    /* JSON region overrides the topic's; an empty topic region falls back to the broker's */
    m = "{\"raw\":\"0D00AABBCCDD\",\"origin\":\"Obs\",\"region\":\" oak \"}";
    msn_ingest_prepare(p, &it, m, strlen(m), 1, &src);
    CHECK_EQ_STR(msn_buf_cstr(&it.obs_iata), "OAK");
    CHECK_EQ_STR(msn_buf_cstr(&it.obs_name), "Obs");
    src.topic = "meshcore//ABCD/packets";
    m = "{\"raw\":\"0D00AABBCCDD\"}";
    msn_ingest_prepare(p, &it, m, strlen(m), 1, &src);
    CHECK_EQ_STR(msn_buf_cstr(&it.obs_iata), "MRY");
    /* no observer segment: no observer */
    src.topic = "meshcore/SJC";
    msn_ingest_prepare(p, &it, m, strlen(m), 1, &src);
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    CHECK_EQ_INT((int)it.obs_id.len, 0);

    /* the iata filter: exact and case-sensitive, packets only */
    src.iata_filter = filter;
    src.n_iata_filter = 1;
    src.topic = "meshcore/sjc/ABCD/packets";
    msn_ingest_prepare(p, &it, m, strlen(m), 1, &src);
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_FILTER);
    src.topic = "meshcore/SJC/ABCD/packets";
    msn_ingest_prepare(p, &it, m, strlen(m), 1, &src);
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);

    /* status: stats object first, the later spelling of firmware, repeat as a word */
    src.topic = "meshcore/sjc/ABCD/status";
    m = "{\"origin\":\"Obs\",\"model\":\"T1000\",\"firmware\":\"a\",\"firmware_version\":\"b\","
        "\"battery_mv\":3000,\"stats\":{\"battery_mv\":\"4100 mV\",\"noise_floor\":\"-110dBm\"},"
        "\"repeat\":\"OFF\",\"uptime_secs\":12.6}";
    msn_ingest_prepare(p, &it, m, strlen(m), 99, &src);
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    CHECK_EQ_INT(it.kind, MSN_INGEST_STATUS);
    CHECK_EQ_STR(msn_buf_cstr(&it.obs_iata), "SJC");
    CHECK_EQ_STR(msn_buf_cstr(&it.l.st_str[MSN_ST_MODEL]), "T1000");
    CHECK_EQ_STR(msn_buf_cstr(&it.l.st_str[MSN_ST_FIRMWARE]), "b");
    /* "4100 mV" is no number (mV is not a unit it strips): the top level's value stands */
    CHECK(it.l.has_st_num[MSN_ST_BATTERY_MV] && it.l.st_num[MSN_ST_BATTERY_MV] == 3000);
    CHECK(it.l.has_st_num[MSN_ST_NOISE_FLOOR] && it.l.st_num[MSN_ST_NOISE_FLOOR] == -110);
    CHECK(it.l.has_st_num[MSN_ST_UPTIME_SECS] && it.l.st_num[MSN_ST_UPTIME_SECS] == 12.6);
    CHECK_EQ_INT(it.l.repeat, 0);
    m = "{\"stats\":{\"battery_mv\":4100},\"battery_mv\":3000,\"repeat\":true}";
    msn_ingest_prepare(p, &it, m, strlen(m), 99, &src);
    CHECK(it.l.has_st_num[MSN_ST_BATTERY_MV] && it.l.st_num[MSN_ST_BATTERY_MV] == 4100);
    CHECK_EQ_INT(it.l.repeat, 1);

    /* ignored topics; a topic without a packet */
    src.n_iata_filter = 0;
    src.topic = "meshcore/status";
    msn_ingest_prepare(p, &it, m, strlen(m), 1, &src);
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_TOPIC);
    src.topic = "meshcore/message/channel/3";
    msn_ingest_prepare(p, &it, m, strlen(m), 1, &src);
    CHECK_EQ_INT(it.reason, MSN_INGEST_R_TOPIC);

    /* an import line with a topic is that MQTT message */
    m = "{\"topic\":\"meshcore/LAX/EF01/packets\",\"raw\":\"0D00AABBCCDD\",\"origin\":\"E\"}";
    msn_ingest_prepare(p, &it, m, strlen(m), 5, NULL);
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    CHECK_EQ_STR(msn_buf_cstr(&it.obs_id), "EF01");
    CHECK_EQ_STR(msn_buf_cstr(&it.obs_iata), "LAX");
    msn_ingest_item_free(&it);
    msn_ingest_prep_free(p);
}

static void test_rules(void)
{
    msn_ingest_rules_t r, imp;
    char err[256], v[32];
    msn_ingest_rules_import(&imp);
    msn_ingest_rules_corescope(&r);
    CHECK(r.receive_time && !r.observer_first && r.count_messages && r.blank_missing &&
          r.repeat_raises_last_seen && r.dropped_packets && r.verify);
    CHECK(!imp.receive_time && imp.observer_first && !imp.count_messages && !imp.blank_missing &&
          !imp.repeat_raises_last_seen && !imp.dropped_packets && imp.verify);
    CHECK_EQ_INT(msn_ingest_rule_set(&r, "rules", "import", err, sizeof(err)), 0);
    CHECK(memcmp(&r, &imp, sizeof(r)) == 0);
    /* every name round-trips through its value */
    msn_ingest_rules_import(&r);
    for (int i = 0; msn_ingest_rule_names[i]; i++) {
        msn_ingest_rules_t c;
        msn_ingest_rules_corescope(&c);
        msn_ingest_rule_value(&c, msn_ingest_rule_names[i], v, sizeof(v));
        CHECK_EQ_INT(msn_ingest_rule_set(&r, msn_ingest_rule_names[i], v, err, sizeof(err)), 0);
    }
    msn_ingest_rules_corescope(&imp);
    CHECK(memcmp(&r, &imp, sizeof(r)) == 0);
    CHECK_EQ_INT(msn_ingest_rule_set(&r, "packet_time", "later", err, sizeof(err)), -1);
    CHECK(strstr(err, "receive") != NULL);
    CHECK_EQ_INT(msn_ingest_rule_set(&r, "no_such_rule", "x", err, sizeof(err)), 1);
    CHECK_EQ_INT(msn_ingest_rule_set(&r, "rules", "mine", err, sizeof(err)), -1);
}

/* After a rolled-back transaction (a failed batch, whose messages the brokers resend) the
   writer remembers nothing of it: the resend writes the transmission, its observation and
   its node again, and the counters count committed rows only, the resend once. */
static void test_writer_counts_committed(void)
{
    char path[512], err[256] = "";
    snprintf(path, sizeof(path), "%s/w.db", msn_test_tmpdir("ingest-writer"));
    CHECK_EQ_INT(msn_schema_init_db(path, err, sizeof(err)), 0);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    msn_ingest_rules_t rules;
    msn_ingest_rules_import(&rules);
    msn_sqlw_opts_t wo;
    msn_sqlw_defaults(&wo);
    msn_ingest_writer_t *w = NULL;
    CHECK_EQ_INT(msn_ingest_writer_open(db, &rules, &wo, &w, err, sizeof(err)), 0);
    msn_ingest_prep_t *p = msn_ingest_prep_new(NULL, &rules, NULL);
    msn_ingest_item_t it;
    msn_ingest_item_init(&it);
    uint8_t seed[32];
    memset(seed, 0xC3, 32);
    char *adv = advert_hex(seed, 1780000000, "Gamma", NULL, 0, 0);
    prep_line(p, &it, adv, "");
    CHECK_EQ_INT(it.reason, MSN_INGEST_OK);
    if (w != NULL && it.reason == MSN_INGEST_OK) {
        CHECK_EQ_INT(msn_ingest_write(w, &it, err, sizeof(err)), 0);
        const msn_ingest_stats_t *st = msn_ingest_stats(w);
        CHECK_EQ_INT(st->tx_new, 0); /* not committed yet */
        msn_ingest_rollback(w);
        CHECK_EQ_INT(st->tx_new + st->obs_new + st->adverts + st->observers_new, 0);
        CHECK_EQ_INT(msn_test_query_int(db, "SELECT count(*) FROM transmissions"), 0);
        /* the resend: written and committed, counted once */
        CHECK_EQ_INT(msn_ingest_write(w, &it, err, sizeof(err)), 0);
        CHECK_EQ_INT(msn_ingest_commit(w, err, sizeof(err)), 0);
        CHECK_EQ_INT(st->tx_new, 1);
        CHECK_EQ_INT(st->obs_new, 1);
        CHECK_EQ_INT(st->adverts, 1);
        CHECK_EQ_INT(st->observers_new, 1);
        CHECK_EQ_INT(st->commits, 1);
        CHECK_EQ_INT(msn_test_query_int(db, "SELECT count(*) FROM transmissions"), 1);
        CHECK_EQ_INT(msn_test_query_int(db, "SELECT count(*) FROM observations o JOIN transmissions t"
                                            " ON t.id = o.transmission_id"),
                     1);
        CHECK_EQ_INT(msn_test_query_int(db, "SELECT count(*) FROM nodes"), 1);
    }
    free(adv);
    msn_ingest_item_free(&it);
    msn_ingest_prep_free(p);
    msn_ingest_writer_close(w);
    sqlite3_close(db);
}

int main(void)
{
    msn_ingest_fields_init(&L);
    MSN_RUN(test_parse_fields);
    MSN_RUN(test_parse_strings);
    MSN_RUN(test_parse_rejects);
    MSN_RUN(test_timestamps);
    MSN_RUN(test_prepare);
    MSN_RUN(test_mqtt_reading);
    MSN_RUN(test_rules);
    MSN_RUN(test_writer_counts_committed);
    msn_ingest_fields_free(&L);
    msn_codec_thread_cleanup();
    return msn_test_done();
}
