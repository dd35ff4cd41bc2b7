/* handoff.c: see handoff.h. */
#include "handoff.h"

void msn_handoff_init(msn_handoff_t *h)
{
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->filled, NULL);
    pthread_cond_init(&h->freed, NULL);
    h->quit = 0;
}

void msn_handoff_destroy(msn_handoff_t *h)
{
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->filled);
    pthread_cond_destroy(&h->freed);
}

int msn_handoff_wait_free(msn_handoff_t *h, const int *ready)
{
    pthread_mutex_lock(&h->mu);
    while (*ready && !h->quit)
        pthread_cond_wait(&h->freed, &h->mu);
    int quit = h->quit;
    pthread_mutex_unlock(&h->mu);
    return quit ? -1 : 0;
}

void msn_handoff_fill(msn_handoff_t *h, int *ready)
{
    pthread_mutex_lock(&h->mu);
    *ready = 1;
    pthread_cond_signal(&h->filled);
    pthread_mutex_unlock(&h->mu);
}

void msn_handoff_wait_filled(msn_handoff_t *h, const int *ready)
{
    pthread_mutex_lock(&h->mu);
    while (!*ready)
        pthread_cond_wait(&h->filled, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

void msn_handoff_give_back(msn_handoff_t *h, int *ready)
{
    pthread_mutex_lock(&h->mu);
    *ready = 0;
    pthread_cond_signal(&h->freed);
    pthread_mutex_unlock(&h->mu);
}

void msn_handoff_quit(msn_handoff_t *h)
{
    pthread_mutex_lock(&h->mu);
    h->quit = 1;
    pthread_cond_broadcast(&h->freed);
    pthread_mutex_unlock(&h->mu);
}
