/* source.c: one MQTT broker of the ingestor; see source.h. */
#include "ingestor/source.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "shm/buf.h"
#include "shm/log.h"

#define CONNECT_TIMEOUT_MS 10000
#define SESSION_EXPIRY_S (7 * 86400)
#define RING 300 /* seconds of the messages_last5m count */

enum { S_IDLE, S_THREAD, S_CONNECTING, S_CONNECTED };

struct msn_source {
    const msn_mqtt_broker_t *b;
    struct mosquitto *m;
    mosquitto_property *props; /* CONNECT properties (MQTT 5) */
    char client_id[96];
    char broker[160];
    msn_source_msg_fn fn;
    void *ud;
    int reconnect_max_ms;
    int state;
    int started;          /* a first connect was made: later ones are reconnects */
    int64_t next_try_ms;  /* S_IDLE: the next attempt */
    int64_t attempt_ms;   /* S_CONNECTING: when the attempt started */
    int backoff_ms;
    pthread_t th;
    atomic_int th_done;
    int th_rc;
    int new_session;
    int n_read;
    /* status */
    int64_t last_connect_ms, last_disconnect_ms, last_message_ms;
    int64_t connect_count, disconnect_count, messages_total, redelivered;
    uint32_t ring_n[RING];
    int64_t ring_s[RING];
    int session_present;
    char last_error[160];
};

void msn_source_lib_init(void)
{
    mosquitto_lib_init();
}

void msn_source_lib_cleanup(void)
{
    mosquitto_lib_cleanup();
}

static void set_error(msn_source_t *s, const char *fmt, const char *arg)
{
    snprintf(s->last_error, sizeof(s->last_error), fmt, arg);
}

/* Schedules the next attempt after the backoff (1 s, doubling, capped). */
static void retry_later(msn_source_t *s)
{
    s->state = S_IDLE;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 1000;
    if (s->backoff_ms > s->reconnect_max_ms)
        s->backoff_ms = s->reconnect_max_ms;
    s->next_try_ms = msn_now_ms() + s->backoff_ms;
}

/* The connection is gone (libmosquitto closed the socket). */
static void lost(msn_source_t *s, const char *why)
{
    if (s->state == S_CONNECTED) {
        s->disconnect_count++;
        s->last_disconnect_ms = msn_now_ms();
        msn_warn("mqtt %s: disconnected from %s: %s", s->b->name, s->broker, why);
    } else if (s->state == S_CONNECTING) {
        msn_warn("mqtt %s: cannot connect to %s: %s", s->b->name, s->broker, why);
    }
    set_error(s, "%s", why);
    retry_later(s);
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *props)
{
    msn_source_t *s = ud;
    (void)props;
    if (rc != 0) {
        char why[128];
        snprintf(why, sizeof(why), "connection refused: %s",
                 s->b->protocol == 5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc));
        /* the broker closes the connection; make sure nothing else is sent */
        msn_source_drop(s, why);
        return;
    }
    s->state = S_CONNECTED;
    s->connect_count++;
    s->last_connect_ms = msn_now_ms();
    s->last_error[0] = '\0';
    s->backoff_ms = 0;
    s->session_present = (flags & 1) != 0;
    s->new_session = !s->session_present;
    static char *const dflt[] = {"meshcore/#"};
    char *const *topics = s->b->n_topics > 0 ? s->b->topics : dflt;
    int n = s->b->n_topics > 0 ? s->b->n_topics : 1;
    int src = mosquitto_subscribe_multiple(m, NULL, n, topics, 1, 0, NULL);
    if (src != MOSQ_ERR_SUCCESS)
        msn_warn("mqtt %s: subscribe failed: %s", s->b->name, mosquitto_strerror(src));
    msn_info("mqtt %s: connected to %s as %s (%s session), subscribing to %d topic(s)", s->b->name, s->broker,
             s->client_id, s->session_present ? "resumed" : "new", n);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc, const mosquitto_property *props)
{
    msn_source_t *s = ud;
    (void)m;
    (void)props;
    if (s->state == S_CONNECTED || s->state == S_CONNECTING)
        lost(s, rc == 0 ? "closed" : mosquitto_strerror(rc));
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    msn_source_t *s = ud;
    (void)m;
    (void)props;
    int64_t now = msn_now_ms();
    s->messages_total++;
    s->last_message_ms = now;
    int64_t sec = now / 1000;
    int slot = (int)(sec % RING);
    if (s->ring_s[slot] != sec) {
        s->ring_s[slot] = sec;
        s->ring_n[slot] = 0;
    }
    s->ring_n[slot]++;
    s->n_read++;
    s->fn(s->ud, s, msg->topic, msg->payload, msg->payloadlen, msg->qos > 0 ? msg->mid : 0, msg->qos);
}

msn_source_t *msn_source_new(const msn_mqtt_broker_t *b, int reconnect_max_s, msn_source_msg_fn fn, void *ud,
                             char *err, size_t errlen)
{
    msn_source_t *s = msn_xcalloc(1, sizeof(*s));
    char host[64] = "";
    int rc;
    s->b = b;
    s->fn = fn;
    s->ud = ud;
    s->reconnect_max_ms = reconnect_max_s * 1000;
    if (b->client_id != NULL) {
        snprintf(s->client_id, sizeof(s->client_id), "%s", b->client_id);
    } else {
        gethostname(host, sizeof(host) - 1);
        snprintf(s->client_id, sizeof(s->client_id), "meshsnap-%s-%s", b->name, host[0] ? host : "host");
    }
    snprintf(s->broker, sizeof(s->broker), "%s://%s:%d", b->tls ? "mqtts" : "mqtt", b->host, b->port);
    s->m = mosquitto_new(s->client_id, false, s);
    if (s->m == NULL) {
        snprintf(err, errlen, "[mqtt.%s]: cannot create the MQTT client: %s", b->name, strerror(errno));
        goto fail;
    }
    mosquitto_threaded_set(s->m, true); /* queue everything; we write when allowed */
    if (b->protocol == 5) {
        mosquitto_int_option(s->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        mosquitto_int_option(s->m, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);
        mosquitto_property_add_int32(&s->props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY_S);
    } else {
        mosquitto_int_option(s->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    }
    mosquitto_int_option(s->m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(s->m, on_connect);
    mosquitto_disconnect_v5_callback_set(s->m, on_disconnect);
    mosquitto_message_v5_callback_set(s->m, on_message);
    if (b->username != NULL && (rc = mosquitto_username_pw_set(s->m, b->username, b->password)) != 0) {
        snprintf(err, errlen, "[mqtt.%s]: username: %s", b->name, mosquitto_strerror(rc));
        goto fail;
    }
    if (b->tls) {
        rc = mosquitto_tls_set(s->m, b->ca_file, b->ca_file ? NULL : "/etc/ssl/certs", b->cert_file, b->key_file,
                               NULL);
        if (rc != 0) {
            snprintf(err, errlen, "[mqtt.%s]: TLS: %s", b->name, mosquitto_strerror(rc));
            goto fail;
        }
        if (!b->tls_verify) {
            mosquitto_tls_opts_set(s->m, 0 /* SSL_VERIFY_NONE */, NULL, NULL);
            mosquitto_tls_insecure_set(s->m, true);
        }
    }
    return s;
fail:
    msn_source_free(s);
    return NULL;
}

static void *first_connect(void *arg)
{
    msn_source_t *s = arg;
    const msn_mqtt_broker_t *b = s->b;
    s->th_rc = mosquitto_connect_bind_v5(s->m, b->host, b->port, b->keepalive_s, NULL, s->props);
    atomic_store(&s->th_done, 1);
    return NULL;
}

void msn_source_tick(msn_source_t *s, int64_t now_ms)
{
    const msn_mqtt_broker_t *b = s->b;
    int rc;
    if (s->state == S_THREAD) {
        if (!atomic_load(&s->th_done))
            return;
        pthread_join(s->th, NULL);
        s->started = 1;
        rc = s->th_rc;
        goto started;
    }
    if (s->state == S_CONNECTING && now_ms - s->attempt_ms > CONNECT_TIMEOUT_MS) {
        msn_source_drop(s, "no CONNACK within 10 s");
        return;
    }
    if (s->state != S_IDLE || now_ms < s->next_try_ms)
        return;
    s->attempt_ms = now_ms;
    if (!s->started && b->protocol == 5) {
        /* the blocking call is the only one that takes the CONNECT properties; later
         * reconnects reuse them */
        atomic_store(&s->th_done, 0);
        if (pthread_create(&s->th, NULL, first_connect, s) == 0) {
            s->state = S_THREAD;
            return;
        }
        set_error(s, "%s", "cannot start the connect thread");
        retry_later(s);
        return;
    }
    rc = s->started ? mosquitto_reconnect_async(s->m) : mosquitto_connect_async(s->m, b->host, b->port, b->keepalive_s);
    s->started = 1;
started:
    if (rc == MOSQ_ERR_SUCCESS) {
        s->state = S_CONNECTING;
        return;
    }
    s->state = S_CONNECTING; /* for the log line */
    lost(s, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
}

void msn_source_pollfd(msn_source_t *s, struct pollfd *pfd, int may_write)
{
    pfd->fd = -1;
    pfd->events = 0;
    pfd->revents = 0;
    if (s->state != S_CONNECTING && s->state != S_CONNECTED)
        return;
    pfd->fd = mosquitto_socket(s->m);
    pfd->events = POLLIN;
    if (may_write && mosquitto_want_write(s->m))
        pfd->events |= POLLOUT;
}

int msn_source_readable(msn_source_t *s)
{
    if (s->state != S_CONNECTING && s->state != S_CONNECTED)
        return 0;
    struct pollfd p = {mosquitto_socket(s->m), POLLIN, 0};
    return p.fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

int msn_source_read(msn_source_t *s, int max)
{
    s->n_read = 0;
    if (s->state != S_CONNECTING && s->state != S_CONNECTED)
        return 0;
    /* one packet per call; a call that hands over no message (nothing more to read, a
     * partial packet, or a packet that is not a message) ends the round: no poll per
     * message */
    for (int calls = 0; s->n_read < max && calls < 4 * max; calls++) {
        int before = s->n_read;
        int rc = mosquitto_loop_read(s->m, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            /* libmosquitto closed the socket (and called on_disconnect) */
            if (s->state == S_CONNECTED || s->state == S_CONNECTING)
                lost(s, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            return -1;
        }
        if (s->state != S_CONNECTING && s->state != S_CONNECTED)
            return -1; /* refused in CONNACK */
        if (s->n_read == before)
            break;
    }
    return s->n_read;
}

int msn_source_flush(msn_source_t *s)
{
    if (s->state != S_CONNECTING && s->state != S_CONNECTED)
        return 1;
    if (!mosquitto_want_write(s->m))
        return 1;
    int rc = mosquitto_loop_write(s->m, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
        if (s->state == S_CONNECTED || s->state == S_CONNECTING)
            lost(s, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        return -1;
    }
    return mosquitto_want_write(s->m) ? 0 : 1;
}

void msn_source_misc(msn_source_t *s)
{
    if (s->state == S_CONNECTED)
        mosquitto_loop_misc(s->m); /* a keep-alive timeout closes the socket: on_disconnect */
}

void msn_source_drop(msn_source_t *s, const char *why)
{
    if (s->state != S_CONNECTING && s->state != S_CONNECTED)
        return;
    /* Nothing queued may leave any more (our acknowledgements among it): shut the socket
     * down under libmosquitto; the reconnect after the backoff closes it and discards
     * the queue. */
    int fd = mosquitto_socket(s->m);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    lost(s, why);
}

int msn_source_connected(const msn_source_t *s)
{
    return s->state == S_CONNECTED;
}

int msn_source_take_new_session(msn_source_t *s)
{
    int v = s->new_session;
    s->new_session = 0;
    return v;
}

const msn_mqtt_broker_t *msn_source_broker(const msn_source_t *s)
{
    return s->b;
}

const char *msn_source_client_id(const msn_source_t *s)
{
    return s->client_id;
}

void msn_source_count_redelivered(msn_source_t *s)
{
    s->redelivered++;
}

void msn_source_status(msn_source_t *s, msn_mqtt_source_status_t *out, int64_t now_ms)
{
    snprintf(out->name, sizeof(out->name), "%s", s->b->name);
    snprintf(out->broker, sizeof(out->broker), "%s", s->broker);
    out->connected = s->state == S_CONNECTED;
    out->session_present = s->session_present;
    out->last_connect_ms = s->last_connect_ms;
    out->last_disconnect_ms = s->last_disconnect_ms;
    out->last_message_ms = s->last_message_ms;
    out->connect_count = s->connect_count;
    out->disconnect_count = s->disconnect_count;
    out->messages_total = s->messages_total;
    out->redelivered = s->redelivered;
    out->next_retry_ms = s->state == S_IDLE ? s->next_try_ms : 0;
    int64_t sum = 0, sec = now_ms / 1000;
    for (int i = 0; i < RING; i++)
        if (sec - s->ring_s[i] < RING)
            sum += s->ring_n[i];
    out->messages_last5m = sum;
    snprintf(out->last_error, sizeof(out->last_error), "%s", s->last_error);
}

void msn_source_free(msn_source_t *s)
{
    if (s == NULL)
        return;
    if (s->state == S_THREAD)
        pthread_join(s->th, NULL);
    if (s->m != NULL) {
        if (s->state == S_CONNECTED) {
            s->state = S_IDLE; /* leaving on purpose: no "disconnected" warning */
            mosquitto_disconnect(s->m);
            for (int i = 0; i < 20 && mosquitto_want_write(s->m); i++)
                if (mosquitto_loop_write(s->m, 1) != MOSQ_ERR_SUCCESS)
                    break;
        }
        mosquitto_destroy(s->m);
    }
    mosquitto_property_free_all(&s->props);
    free(s);
}
