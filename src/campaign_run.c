/* A whole campaign: seeds handed out to o->jobs worker threads, results
 * reported and summarised in seed order whatever order they finish in.
 * Every seed is independent (its own store, model and PRNG), so the result of
 * a seed does not depend on the number of jobs. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/campaign.h"

typedef struct runner {
  const bs_campaign_opts *o;
  bs_campaign_summary *sum;
  pthread_mutex_t mu;
  pthread_cond_t room;       /* signalled when the in-order window moves */
  uint32_t seeds, next, emitted, window, ops_per_seed;
  bs_campaign_result **ring; /* finished, not yet emitted; slot = index % window */
  bs_campaign_progress prog;
  int error;
} runner;

static void tick(void *ctx, uint32_t ops) {
  runner *r = ctx;
  pthread_mutex_lock(&r->mu);
  r->prog.ops_done += ops;
  if (r->o->progress)
    r->o->progress(r->o->ctx, &r->prog);
  pthread_mutex_unlock(&r->mu);
}

/* Fold one result into the summary and report it (lock held). */
static void emit(runner *r, const bs_campaign_result *res) {
  bs_campaign_summary *s = r->sum;
  s->seeds_run++;
  s->ops += res->ops_run;
  s->power_losses += res->power_losses;
  s->expected_errors += res->expected_errors;
  /* A seed that stopped at a failure will not run the rest of its ops. */
  r->prog.ops_total -= r->ops_per_seed - res->ops_run;
  if (res->failed) {
    s->violations++;
    r->prog.failures++;
    if (s->n_failures < BS_CAMPAIGN_MAX_FAILURES)
      s->failures[s->n_failures++] = res->failure;
  }
  r->prog.seeds_done++;
  if (r->o->seed_done)
    r->o->seed_done(r->o->ctx, res);
  if (r->o->progress)
    r->o->progress(r->o->ctx, &r->prog);
}

static void *worker(void *arg) {
  runner *r = arg;
  pthread_mutex_lock(&r->mu);
  for (;;) {
    while (!r->error && r->next < r->seeds && r->next >= r->emitted + r->window)
      pthread_cond_wait(&r->room, &r->mu);
    if (r->error || r->next >= r->seeds)
      break;
    uint32_t idx = r->next++;
    pthread_mutex_unlock(&r->mu);

    bs_campaign_result *res = malloc(sizeof(*res));
    int rc = res ? bs__campaign_seed(res, r->o, r->o->first_seed + idx, tick, r) : BS_ENO_MEMORY;

    pthread_mutex_lock(&r->mu);
    if (rc != 0) {
      if (!r->error) {
        r->error = rc;
        snprintf(r->sum->error, sizeof(r->sum->error), "%s",
                 res && res->failure.message[0] ? res->failure.message : bs_strerror(rc));
      }
      free(res);
      pthread_cond_broadcast(&r->room);
      break;
    }
    r->ring[idx % r->window] = res;
    while (r->emitted < r->seeds && r->ring[r->emitted % r->window]) {
      bs_campaign_result **slot = &r->ring[r->emitted % r->window];
      emit(r, *slot);
      free(*slot);
      *slot = NULL;
      r->emitted++;
    }
    pthread_cond_broadcast(&r->room);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bs_campaign_run(bs_campaign_summary *out, const bs_campaign_opts *o) {
  if (!out)
    return BS_EINVALID;
  memset(out, 0, sizeof(*out));
  if (!o)
    return BS_EINVALID;
  runner r = {.o = o, .sum = out, .seeds = o->seeds ? o->seeds : 1,
              .ops_per_seed = o->ops ? o->ops : BS_CAMPAIGN_DEFAULT_OPS};
  uint32_t jobs = o->jobs ? o->jobs : 1;
  if (o->first_seed > UINT64_MAX - (r.seeds - 1)) {
    snprintf(out->error, sizeof(out->error),
             "%" PRIu32 " seeds from %" PRIu64 " run past the last seed, %" PRIu64, r.seeds,
             o->first_seed, UINT64_MAX);
    return BS_EINVALID;
  }
  if (o->trace && jobs > 1) {
    snprintf(out->error, sizeof(out->error),
             "a trace needs jobs 1 (the trace lines of seeds would interleave)");
    return BS_EINVALID;
  }
  if (jobs > r.seeds)
    jobs = r.seeds;
  r.window = 4 * jobs + 4;
  r.prog.seeds_total = r.seeds;
  r.prog.ops_total = (uint64_t)r.seeds * r.ops_per_seed;
  r.ring = calloc(r.window, sizeof(*r.ring));
  out->failures = calloc(BS_CAMPAIGN_MAX_FAILURES, sizeof(*out->failures));
  pthread_t *th = calloc(jobs, sizeof(*th));
  if (!r.ring || !out->failures || !th) {
    free(r.ring);
    free(th);
    snprintf(out->error, sizeof(out->error), "out of memory");
    return BS_ENO_MEMORY;
  }
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.room, NULL);
  double t0 = now_s();
  uint32_t started = 0;
  if (jobs == 1) {
    worker(&r);
  } else {
    for (; started < jobs; started++)
      if (pthread_create(&th[started], NULL, worker, &r) != 0)
        break;
    if (started == 0)
      worker(&r);
    for (uint32_t i = 0; i < started; i++)
      pthread_join(th[i], NULL);
  }
  out->seconds = now_s() - t0;
  out->ops_per_sec = out->seconds > 0 ? (double)out->ops / out->seconds : 0;
  for (uint32_t i = 0; i < r.window; i++)
    free(r.ring[i]);
  free(r.ring);
  free(th);
  pthread_cond_destroy(&r.room);
  pthread_mutex_destroy(&r.mu);
  return r.error;
}

void bs_campaign_summary_free(bs_campaign_summary *s) {
  if (!s)
    return;
  free(s->failures);
  s->failures = NULL;
  s->n_failures = 0;
}
