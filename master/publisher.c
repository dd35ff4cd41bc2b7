/* publisher.c: see publisher.h. */
#include "publisher.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/log.h"
#include "shm/sched.h"

static void *thread_main(void *arg)
{
    msn_publisher_thread_t *pt = arg;
    /* loading and publishing are background work: readers go first on a busy machine (the
       supervisor thread keeps the default priority: it must react to a dead worker at once) */
    (void)msn_sched_background(5);
    msn_pubctx_t c;
    msn_pubctx_init(&c, &pt->cfg, pt->st, &pt->ctl, pt->started_at_ms);
    for (;;) {
        msn_pub_plan_t p = msn_pub_step(&c, msn_now_ms());
        if (p.action == MSN_PUB_STOP)
            break;
        if (p.action == MSN_PUB_SLEEP) {
            struct timespec ts = {p.sleep_ms / 1000, (long)(p.sleep_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    msn_pubctx_free(&c);
    atomic_store(&pt->finished, 1);
    return NULL;
}

int msn_publisher_finished(msn_publisher_thread_t *pt)
{
    return atomic_load(&pt->finished);
}

int msn_publisher_start(msn_publisher_thread_t *pt, const msn_config_t *cfg, msn_status_t *st,
                        int64_t started_at_ms)
{
    msn_config_copy(&pt->cfg, cfg);
    pt->st = st;
    pt->started_at_ms = started_at_ms;
    atomic_store(&pt->ctl.stop, 0);
    atomic_store(&pt->finished, 0);
    atomic_store(&pt->ctl.reader_check, 0);
    atomic_store(&pt->ctl.poll_interval_ms, cfg->poll_interval_ms);
    int rc = pthread_create(&pt->thread, NULL, thread_main, pt);
    if (rc)
        msn_config_free(&pt->cfg);
    return rc ? -rc : 0;
}

void msn_publisher_request_stop(msn_publisher_thread_t *pt)
{
    atomic_store(&pt->ctl.stop, 1);
}

void msn_publisher_stop(msn_publisher_thread_t *pt)
{
    msn_publisher_request_stop(pt);
    pthread_join(pt->thread, NULL);
    msn_config_free(&pt->cfg);
}
