/* A whole campaign: with one job the seeds run here, one after the other;
 * with J > 1 jobs they run in J forked processes, job j taking the seeds
 * j, j + J, j + 2J, ... and reporting each result (and progress ticks)
 * through its own pipe.  This process merges the reports and calls back,
 * folds and reports results in seed order, whatever order they arrive in:
 * every seed is independent (its own store, model and PRNG), so the result
 * of a seed does not depend on the number of jobs.  A process per job also
 * isolates seeds: one that crashes the library is reported as a failure of
 * that seed (invariant "signal") instead of ending the campaign.
 *
 * o->stop (a signal handler's flag) ends a campaign early: one job stops
 * between two operations; with J jobs this process kills the job processes
 * (which ignore SIGINT, so that a terminal's ^C reaches only this one).  The
 * seeds that finished are summarised, those that were running are not. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/campaign_internal.h"

/* What a job sends: progress, a seed's result, or why it stopped. */
enum { MSG_TICK = 1, MSG_RESULT = 2, MSG_ERROR = 3 };
typedef struct msg {
  uint32_t type, idx, ops;
  int32_t rc;
  bs_campaign_result res;
  char error[256];
} msg;

typedef struct runner {
  const bs_campaign_opts *o;
  bs_campaign_summary *sum;
  uint32_t seeds, emitted, ops_per_seed;
  bs_campaign_result **slot; /* arrived, not yet emitted, by seed index */
  bs_campaign_progress prog;
  int error;
  bool stopped; /* o->stop ended the campaign */
  int fd;       /* in a job: where its messages go */
} runner;

/* Fold one result into the summary and report it (in seed order). */
static void emit(runner *r, const bs_campaign_result *res) {
  bs_campaign_summary *s = r->sum;
  s->seeds_run++;
  s->ops += res->ops_run;
  s->power_losses += res->power_losses;
  s->faults_fired += res->faults_fired;
  s->expected_errors += res->expected_errors;
  s->sim_ns += res->sim_ns;
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

static void set_error(runner *r, int rc, const char *text) {
  if (r->error)
    return;
  r->error = rc;
  snprintf(r->sum->error, sizeof(r->sum->error), "%s", text && text[0] ? text : bs_strerror(rc));
}

/* Keep @res (taking it) and emit every result that is now next in order. */
static void arrived(runner *r, uint32_t idx, bs_campaign_result *res) {
  r->slot[idx] = res;
  while (r->emitted < r->seeds && r->slot[r->emitted]) {
    emit(r, r->slot[r->emitted]);
    free(r->slot[r->emitted]);
    r->slot[r->emitted++] = NULL;
  }
}

/* After a stop: the results that arrived after a seed that never finished,
 * still in seed order. */
static void emit_the_rest(runner *r) {
  for (; r->emitted < r->seeds; r->emitted++) {
    if (!r->slot[r->emitted])
      continue;
    emit(r, r->slot[r->emitted]);
    free(r->slot[r->emitted]);
    r->slot[r->emitted] = NULL;
  }
}

static bool stop_asked(const runner *r) { return r->o->stop && *r->o->stop; }

static void tick_local(void *ctx, uint32_t ops) {
  runner *r = ctx;
  r->prog.ops_done += ops;
  if (r->o->progress)
    r->o->progress(r->o->ctx, &r->prog);
}

static int send_all(int fd, const void *p, size_t n) {
  const char *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

static void tick_job(void *ctx, uint32_t ops) {
  runner *r = ctx;
  msg m = {.type = MSG_TICK, .ops = ops};
  send_all(r->fd, &m, offsetof(msg, res)); /* a tick is the header only */
}

/* One job: its slice of the seeds, each result sent as it finishes. */
static int job(runner *r, uint32_t j, uint32_t jobs) {
  msg *m = malloc(sizeof(*m));
  if (!m)
    return 1;
  for (uint32_t idx = j; idx < r->seeds; idx += jobs) {
    memset(m, 0, sizeof(*m));
    int rc = bs__campaign_seed(&m->res, r->o, r->o->first_seed + idx, tick_job, r);
    if (rc == BS__CAMPAIGN_STOPPED)
      break; /* not from SIGINT, which a job ignores; the parent stops too */
    m->type = rc ? MSG_ERROR : MSG_RESULT;
    m->idx = idx;
    m->rc = rc;
    if (rc)
      snprintf(m->error, sizeof(m->error), "%s", m->res.failure.message);
    if (send_all(r->fd, m, sizeof(*m)) != 0 || rc)
      break;
  }
  free(m);
  return 0;
}

typedef struct child {
  pid_t pid;
  int fd;
  uint32_t j, next; /* its seeds: j, j + jobs, ...; next = first not reported */
  size_t have;      /* bytes of buf filled */
  msg buf;
} child;

/* A message from @c is complete: act on it. */
static void handle(runner *r, child *c, uint32_t jobs) {
  msg *m = &c->buf;
  if (m->type == MSG_TICK) {
    tick_local(r, m->ops);
    return;
  }
  if (m->type == MSG_ERROR) {
    set_error(r, m->rc, m->error);
    return;
  }
  bs_campaign_result *res = malloc(sizeof(*res));
  if (!res || m->idx >= r->seeds || m->idx != c->next) {
    free(res);
    set_error(r, res ? BS_EIO : BS_ENO_MEMORY, res ? "a job sent a result out of turn" : NULL);
    return;
  }
  *res = m->res;
  c->next += jobs;
  arrived(r, m->idx, res);
}

/* A job ended: every seed it did not report becomes a failure of its own
 * ("signal"), as that process died while running it. */
static void reap(runner *r, child *c, uint32_t jobs) {
  int ws = 0;
  while (waitpid(c->pid, &ws, 0) < 0 && errno == EINTR)
    ;
  if (r->error || r->stopped || c->next >= r->seeds)
    return; /* after a stop, this process killed it */
  bs_campaign_result *res = calloc(1, sizeof(*res));
  if (!res) {
    set_error(r, BS_ENO_MEMORY, NULL);
    return;
  }
  uint64_t seed = r->o->first_seed + c->next;
  res->seed = res->failure.seed = seed;
  res->failed = true;
  snprintf(res->failure.op, sizeof(res->failure.op), "(unknown: the process died)");
  snprintf(res->failure.check, sizeof(res->failure.check), "signal");
  snprintf(res->failure.expected, sizeof(res->failure.expected), "exit 0");
  if (WIFSIGNALED(ws))
    snprintf(res->failure.actual, sizeof(res->failure.actual), "signal %d", WTERMSIG(ws));
  else
    snprintf(res->failure.actual, sizeof(res->failure.actual), "exit %d", WEXITSTATUS(ws));
  snprintf(res->failure.message, sizeof(res->failure.message),
           "the job running seed %" PRIu64 " died; run that seed alone to see where", seed);
  uint32_t idx = c->next;
  c->next += jobs;
  arrived(r, idx, res);
  if (c->next < r->seeds) /* the job's later seeds never ran */
    set_error(r, BS_EIO, "a job died; its remaining seeds did not run");
}

static void run_jobs(runner *r, uint32_t jobs) {
  child *ch = calloc(jobs, sizeof(*ch));
  struct pollfd *pf = calloc(jobs, sizeof(*pf));
  if (!ch || !pf) {
    free(ch);
    free(pf);
    set_error(r, BS_ENO_MEMORY, NULL);
    return;
  }
  uint32_t started = 0;
  fflush(NULL); /* or buffered output would be written twice */
  for (; started < jobs; started++) {
    int p[2];
    if (pipe(p) != 0)
      break;
    pid_t pid = fork();
    if (pid < 0) {
      close(p[0]);
      close(p[1]);
      break;
    }
    if (pid == 0) {
      if (r->o->stop)
        signal(SIGINT, SIG_IGN); /* the parent stops the campaign, and this job */
      close(p[0]);
      for (uint32_t k = 0; k < started; k++)
        close(ch[k].fd);
      r->fd = p[1];
      _exit(job(r, started, jobs));
    }
    close(p[1]);
    ch[started] = (child){.pid = pid, .fd = p[0], .j = started, .next = started};
  }
  if (started < jobs) {
    set_error(r, BS_EIO, "cannot start the job processes (pipe or fork failed)");
    for (uint32_t k = 0; k < started; k++)
      kill(ch[k].pid, SIGKILL);
  }
  uint32_t open_n = started;
  while (open_n > 0) {
    if (!r->stopped && stop_asked(r)) {
      r->stopped = true;
      for (uint32_t k = 0; k < started; k++)
        if (ch[k].fd >= 0)
          kill(ch[k].pid, SIGKILL);
    }
    nfds_t n = 0;
    for (uint32_t k = 0; k < started; k++)
      if (ch[k].fd >= 0)
        pf[n++] = (struct pollfd){.fd = ch[k].fd, .events = POLLIN};
    /* A stop flag set just before poll() is seen at the next wake-up. */
    if (poll(pf, n, r->o->stop ? 100 : -1) < 0 && errno != EINTR)
      break;
    for (uint32_t k = 0; k < started; k++) {
      child *c = &ch[k];
      nfds_t q = 0;
      while (q < n && pf[q].fd != c->fd)
        q++;
      if (c->fd < 0 || q == n || !(pf[q].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      size_t want = c->have < offsetof(msg, res) ? offsetof(msg, res) : sizeof(msg);
      ssize_t got = read(c->fd, (char *)&c->buf + c->have, want - c->have);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0) {
        close(c->fd);
        c->fd = -1;
        open_n--;
        reap(r, c, jobs);
        continue;
      }
      c->have += (size_t)got;
      if (c->have == offsetof(msg, res) && c->buf.type == MSG_TICK) {
        handle(r, c, jobs);
        c->have = 0;
      } else if (c->have == sizeof(msg)) {
        handle(r, c, jobs);
        c->have = 0;
      }
      if (r->error) /* stop the others: the campaign cannot complete */
        for (uint32_t x = 0; x < started; x++)
          if (ch[x].fd >= 0)
            kill(ch[x].pid, SIGTERM);
    }
  }
  free(ch);
  free(pf);
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
              .ops_per_seed = o->ops ? o->ops : BS_CAMPAIGN_DEFAULT_OPS, .fd = -1};
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
  r.prog.seeds_total = r.seeds;
  r.prog.ops_total = (uint64_t)r.seeds * r.ops_per_seed;
  r.slot = calloc(r.seeds, sizeof(*r.slot));
  out->failures = calloc(BS_CAMPAIGN_MAX_FAILURES, sizeof(*out->failures));
  if (!r.slot || !out->failures) {
    free(r.slot);
    bs_campaign_summary_free(out);
    snprintf(out->error, sizeof(out->error), "out of memory");
    return BS_ENO_MEMORY;
  }
  double t0 = now_s();
  if (jobs == 1) {
    for (uint32_t idx = 0; idx < r.seeds && !r.error && !r.stopped; idx++) {
      if ((r.stopped = stop_asked(&r)))
        break;
      bs_campaign_result *res = malloc(sizeof(*res));
      int rc = res ? bs__campaign_seed(res, o, o->first_seed + idx, tick_local, &r) : BS_ENO_MEMORY;
      if (rc == BS__CAMPAIGN_STOPPED) {
        free(res);
        r.stopped = true;
        break;
      }
      if (rc != 0) {
        set_error(&r, rc, res ? res->failure.message : NULL);
        free(res);
        break;
      }
      arrived(&r, idx, res);
    }
  } else {
    run_jobs(&r, jobs);
  }
  if (r.stopped && !r.error)
    emit_the_rest(&r);
  out->interrupted = r.stopped;
  out->seconds = now_s() - t0;
  out->ops_per_sec = out->seconds > 0 ? (double)out->ops / out->seconds : 0;
  out->time_compression = bs_campaign_time_compression(out->sim_ns, out->seconds);
  for (uint32_t i = 0; i < r.seeds; i++)
    free(r.slot[i]);
  free(r.slot);
  return r.error;
}

double bs_campaign_time_compression(uint64_t sim_ns, double wall_seconds) {
  return wall_seconds > 0 ? (double)sim_ns * 1e-9 / wall_seconds : 0;
}

void bs_campaign_summary_free(bs_campaign_summary *s) {
  if (!s)
    return;
  free(s->failures);
  s->failures = NULL;
  s->n_failures = 0;
}
