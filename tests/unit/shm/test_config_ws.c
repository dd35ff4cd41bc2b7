/*
 * test_config_ws.c: the [websocket] section of the configuration (shm/config.c): its
 * defaults, every key parsed, range errors naming the key, the rule that pong_timeout_s
 * exceeds ping_interval_s, and the dump written by --check-config -v reading back the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/config.h"
#include "testlib.h"

static void test_defaults(void)
{
    msn_config_t c;
    msn_config_defaults(&c);
    CHECK_EQ_INT(c.websocket.max_clients, 10000);
    CHECK_EQ_INT(c.websocket.client_queue_messages, 256);
    CHECK_EQ_INT(c.websocket.client_queue_bytes, 1048576);
    CHECK_EQ_INT(c.websocket.write_timeout_s, 10);
    CHECK_EQ_INT(c.websocket.ping_interval_s, 30);
    CHECK_EQ_INT(c.websocket.pong_timeout_s, 60);
    CHECK_EQ_INT(c.websocket.max_frame_bytes, 512);
    CHECK_EQ_INT(c.websocket.ring_messages, 4096);
    CHECK_EQ_INT(c.websocket.ring_seconds, 60);
    msn_config_free(&c);
}

static const char *CONF = "db = /tmp/x.db\n"
                          "state_dir = /tmp/s\n"
                          "[websocket]\n"
                          "max_clients = 3\n"
                          "client_queue_messages = 8\n"
                          "client_queue_bytes = 4096\n"
                          "write_timeout_s = 2\n"
                          "ping_interval_s = 1\n"
                          "pong_timeout_s = 2\n"
                          "max_frame_bytes = 64\n"
                          "ring_messages = 100\n"
                          "ring_seconds = 5\n";

static int load_text(msn_config_t *c, const char *text, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/m.conf", msn_test_tmpdir("cfgws"));
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -2;
    fputs(text, f);
    fclose(f);
    msn_config_defaults(c);
    return msn_config_load_file(c, path, err, errlen);
}

static void test_every_key(void)
{
    msn_config_t c, d;
    char err[512] = "";
    CHECK_EQ_INT(load_text(&c, CONF, err, sizeof(err)), 0);
    CHECK_EQ_INT(c.websocket.max_clients, 3);
    CHECK_EQ_INT(c.websocket.client_queue_messages, 8);
    CHECK_EQ_INT(c.websocket.client_queue_bytes, 4096);
    CHECK_EQ_INT(c.websocket.write_timeout_s, 2);
    CHECK_EQ_INT(c.websocket.ping_interval_s, 1);
    CHECK_EQ_INT(c.websocket.pong_timeout_s, 2);
    CHECK_EQ_INT(c.websocket.max_frame_bytes, 64);
    CHECK_EQ_INT(c.websocket.ring_messages, 100);
    CHECK_EQ_INT(c.websocket.ring_seconds, 5);
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), 0);
    /* the dump reads back the same */
    char path[1024];
    snprintf(path, sizeof(path), "%s/dump.conf", msn_test_tmpdir("cfgwsdump"));
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        msn_config_dump(&c, f);
        fclose(f);
        msn_config_defaults(&d);
        CHECK_EQ_INT(msn_config_load_file(&d, path, err, sizeof(err)), 0);
        CHECK(memcmp(&d.websocket, &c.websocket, sizeof(c.websocket)) == 0);
        msn_config_free(&d);
    }
    msn_config_free(&c);
}

static void refused(const char *line, const char *part)
{
    msn_config_t c;
    char text[512], err[512] = "";
    snprintf(text, sizeof(text), "db = /tmp/x.db\n[websocket]\n%s\n", line);
    CHECK_EQ_INT(load_text(&c, text, err, sizeof(err)), -1);
    if (strstr(err, part) == NULL)
        fprintf(stderr, "error %s lacks %s\n", err, part);
    CHECK(strstr(err, part) != NULL);
    msn_config_free(&c);
}

static void test_errors(void)
{
    refused("max_clients = 0", "[websocket] max_clients");
    refused("client_queue_bytes = 100", "client_queue_bytes");
    refused("max_frame_bytes = 2000000", "max_frame_bytes");
    refused("ring_messages = 15", "ring_messages");
    refused("ping_interval = 3", "unknown key 'ping_interval' in [websocket]");
    /* a pong timeout not above the ping interval would drop clients before their pong */
    msn_config_t c;
    char err[512] = "";
    CHECK_EQ_INT(load_text(&c,
                           "db = /tmp/x.db\nstate_dir = /tmp/s\n[websocket]\nping_interval_s = 30\n"
                           "pong_timeout_s = 30\n",
                           err, sizeof(err)),
                 0);
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), -1);
    CHECK(strstr(err, "pong_timeout_s") != NULL);
    msn_config_free(&c);
}

int main(void)
{
    MSN_RUN(test_defaults);
    MSN_RUN(test_every_key);
    MSN_RUN(test_errors);
    return msn_test_done();
}
