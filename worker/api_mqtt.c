/*
 * api_mqtt.c: what the workers show of the ingestor, all from the status block's ingest
 * section (never SQLite): GET /api/mqtt/status in CoreScope's shape, the "ingestor"
 * object of /api/healthz and the meshsnap_ingest_* / meshsnap_mqtt_* lines of /metrics.
 *
 * /api/mqtt/status (CoreScope server/mqtt_status.go): {"sources":[{name, broker,
 * connected, lastConnectUnix, lastDisconnectUnix, lastPacketUnix, connectCount,
 * disconnectCount, packetsTotal, packetsLast5m, lastError (only when set)}], "sampleAt"}.
 * Without a configured broker: {"sources":[],"sampleAt":""}, as CoreScope answers
 * without an ingestor stats file. Broker URLs carry no credentials here (username and
 * password are separate keys), so there is nothing to mask.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "shm/json.h"
#include "shm/timeutil.h"

static void read_ingest(const msn_api_req_t *r, msn_ingest_status_t *in)
{
    memset(in, 0, sizeof(*in));
    if (r->st != NULL)
        msn_status_read_ingest(r->st, in);
    if (in->n_sources < 0 || in->n_sources > MSN_STATUS_MAX_MQTT)
        in->n_sources = 0;
}

static void jstr(msn_buf_t *b, const char *s, size_t cap)
{
    msn_json_strn(b, s, strnlen(s, cap));
}

void msn_api_mqtt_status(msn_api_req_t *r)
{
    msn_ingest_status_t in;
    read_ingest(r, &in);
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"sources\":[");
    for (int i = 0; i < in.n_sources; i++) {
        const msn_mqtt_source_status_t *s = &in.src[i];
        int up = in.pid > 0 && s->connected;
        msn_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        jstr(b, s->name, sizeof(s->name));
        msn_buf_puts(b, ",\"broker\":");
        jstr(b, s->broker, sizeof(s->broker));
        msn_buf_printf(b,
                       ",\"connected\":%s,\"lastConnectUnix\":%lld,\"lastDisconnectUnix\":%lld,\"lastPacketUnix\":%lld,"
                       "\"connectCount\":%lld,\"disconnectCount\":%lld,\"packetsTotal\":%lld,\"packetsLast5m\":%lld",
                       up ? "true" : "false", (long long)(s->last_connect_ms / 1000),
                       (long long)(s->last_disconnect_ms / 1000), (long long)(s->last_message_ms / 1000),
                       (long long)s->connect_count, (long long)s->disconnect_count, (long long)s->messages_total,
                       (long long)s->messages_last5m);
        if (s->last_error[0]) {
            msn_buf_puts(b, ",\"lastError\":");
            jstr(b, s->last_error, sizeof(s->last_error));
        } else if (in.pid <= 0) {
            msn_buf_puts(b, ",\"lastError\":\"the ingestor is not running\"");
        }
        msn_buf_putc(b, '}');
    }
    msn_buf_puts(b, "],\"sampleAt\":");
    if (in.n_sources > 0 && in.sampled_at_ms > 0) {
        char t[32];
        msn_format_iso_s(t, in.sampled_at_ms / 1000);
        msn_buf_printf(b, "\"%s\"}", t);
    } else {
        msn_buf_puts(b, "\"\"}");
    }
    r->status = 200;
}

void msn_api_ingest_health_json(const msn_api_req_t *r, msn_buf_t *b)
{
    msn_ingest_status_t in;
    read_ingest(r, &in);
    msn_buf_printf(b, "{\"enabled\":%s,\"pid\":%d,\"restarts\":%lld,\"received\":%lld,\"packets\":%lld,"
                      "\"statusMessages\":%lld,\"rejected\":%lld,\"pending\":%lld,\"batches\":%lld,\"lastCommitAt\":",
                   in.n_sources > 0 ? "true" : "false", (int)in.pid, (long long)in.restarts, (long long)in.received,
                   (long long)in.packets, (long long)in.status_msgs, (long long)in.rejected, (long long)in.pending,
                   (long long)in.batches);
    if (in.last_commit_ms > 0) {
        char t[32];
        msn_format_iso_ms(t, in.last_commit_ms);
        msn_buf_printf(b, "\"%s\"", t);
    } else {
        msn_buf_puts(b, "null");
    }
    msn_buf_puts(b, ",\"lastError\":");
    if (in.last_error[0])
        jstr(b, in.last_error, sizeof(in.last_error));
    else
        msn_buf_puts(b, "null");
    msn_buf_puts(b, ",\"brokers\":[");
    for (int i = 0; i < in.n_sources; i++) {
        const msn_mqtt_source_status_t *s = &in.src[i];
        msn_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        jstr(b, s->name, sizeof(s->name));
        msn_buf_printf(b, ",\"connected\":%s,\"lastError\":", in.pid > 0 && s->connected ? "true" : "false");
        if (s->last_error[0])
            jstr(b, s->last_error, sizeof(s->last_error));
        else
            msn_buf_puts(b, "null");
        msn_buf_putc(b, '}');
    }
    msn_buf_puts(b, "]}");
}

static void label(msn_buf_t *b, const char *s, size_t cap)
{
    for (size_t i = 0; i < cap && s[i]; i++) {
        if (s[i] == '\\' || s[i] == '"')
            msn_buf_putc(b, '\\');
        if (s[i] == '\n') {
            msn_buf_puts(b, "\\n");
            continue;
        }
        msn_buf_putc(b, s[i]);
    }
}

void msn_api_ingest_metrics(const msn_api_req_t *r, msn_buf_t *b)
{
    msn_ingest_status_t in;
    read_ingest(r, &in);
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } m[] = {
        {"meshsnap_ingest_messages_total", "counter", "MQTT messages received by the ingestor.",
         offsetof(msn_ingest_status_t, received)},
        {"meshsnap_ingest_packets_total", "counter", "Packet messages written.", offsetof(msn_ingest_status_t, packets)},
        {"meshsnap_ingest_status_messages_total", "counter", "Observer status messages written.",
         offsetof(msn_ingest_status_t, status_msgs)},
        {"meshsnap_ingest_rejected_total", "counter", "Bad messages skipped (not JSON, bad hex, ...).",
         offsetof(msn_ingest_status_t, rejected)},
        {"meshsnap_ingest_ignored_total", "counter", "Messages on topics or regions not ingested.",
         offsetof(msn_ingest_status_t, ignored)},
        {"meshsnap_ingest_transmissions_total", "counter", "Transmissions inserted by the ingestor.",
         offsetof(msn_ingest_status_t, tx_new)},
        {"meshsnap_ingest_observations_total", "counter", "Observations inserted by the ingestor.",
         offsetof(msn_ingest_status_t, obs_new)},
        {"meshsnap_ingest_batches_total", "counter", "Ingest transactions committed.",
         offsetof(msn_ingest_status_t, batches)},
        {"meshsnap_ingest_write_errors_total", "counter", "Ingest batches rolled back.",
         offsetof(msn_ingest_status_t, write_errors)},
        {"meshsnap_ingest_restarts_total", "counter", "Times the ingestor was restarted after it ended.",
         offsetof(msn_ingest_status_t, restarts)},
        {"meshsnap_ingest_pending", "gauge", "Messages received and not committed yet.",
         offsetof(msn_ingest_status_t, pending)},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        msn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", m[i].name, m[i].help, m[i].name, m[i].type,
                       m[i].name, (long long)*(const int64_t *)(const void *)((const char *)&in + m[i].off));
    msn_buf_printf(b, "# HELP meshsnap_ingest_up Whether the ingestor process runs.\n"
                      "# TYPE meshsnap_ingest_up gauge\nmeshsnap_ingest_up %d\n",
                   in.pid > 0);
    msn_buf_printf(b,
                   "# HELP meshsnap_ingest_commit_seconds Ingest transaction hold time (BEGIN to COMMIT).\n"
                   "# TYPE meshsnap_ingest_commit_seconds summary\n"
                   "meshsnap_ingest_commit_seconds{quantile=\"0.5\"} %.6f\n"
                   "meshsnap_ingest_commit_seconds{quantile=\"0.99\"} %.6f\n",
                   in.commit_p50_us / 1e6, in.commit_p99_us / 1e6);
    static const struct {
        const char *name, *type, *help;
    } per[] = {
        {"meshsnap_mqtt_connected", "gauge", "1 while connected to the broker."},
        {"meshsnap_mqtt_messages_total", "counter", "Messages received from the broker."},
        {"meshsnap_mqtt_connects_total", "counter", "Connections made to the broker."},
        {"meshsnap_mqtt_disconnects_total", "counter", "Connections to the broker lost."},
        {"meshsnap_mqtt_redelivered_total", "counter", "Resent messages already committed (acknowledged unwritten)."},
    };
    for (size_t k = 0; k < sizeof(per) / sizeof(per[0]); k++) {
        msn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", per[k].name, per[k].help, per[k].name, per[k].type);
        for (int i = 0; i < in.n_sources; i++) {
            const msn_mqtt_source_status_t *s = &in.src[i];
            int64_t v = k == 0   ? (in.pid > 0 && s->connected)
                        : k == 1 ? s->messages_total
                        : k == 2 ? s->connect_count
                        : k == 3 ? s->disconnect_count
                                 : s->redelivered;
            msn_buf_printf(b, "%s{broker=\"", per[k].name);
            label(b, s->name, sizeof(s->name));
            msn_buf_printf(b, "\"} %lld\n", (long long)v);
        }
    }
}
