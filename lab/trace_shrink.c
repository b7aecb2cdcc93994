/* Shrinking a failing trace by delta debugging (Zeller's ddmin) over its
 * operation and sweep lines: test each of n chunks alone, then each
 * complement; keep the first that still fails the same way; otherwise double
 * n.  It ends 1-minimal: removing any single line loses the failure.  Fired
 * faults are results, not inputs: every candidate is replayed afresh and the
 * final trace is the recording of the last replay, with its own fault lines. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/trace_internal.h"

typedef struct shrinker {
  const bs_trace *t;
  const bs_shrink_opts *o;
  bs_shrink_progress prog;
  struct timespec t0;
  bs_trace cand; /* shares the line texts of t */
  bs_trace_error *err;
  int error;
} shrinker;

static void report(shrinker *s, bool always) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  s->prog.seconds = (double)(now.tv_sec - s->t0.tv_sec) + (double)(now.tv_nsec - s->t0.tv_nsec) * 1e-9;
  if (s->o && s->o->progress && (always || s->prog.tests % 64 == 0))
    s->o->progress(s->o->ctx, &s->prog);
}

/* Does the trace made of lines @idx[0..n) fail as the original does? */
static bool fails(shrinker *s, const size_t *idx, size_t n) {
  if (s->error || (s->o && s->o->max_tests && s->prog.tests >= s->o->max_tests))
    return false;
  s->cand.n_lines = n;
  s->cand.n_ops = 0;
  for (size_t i = 0; i < n; i++) {
    s->cand.lines[i] = s->t->lines[idx[i]];
    s->cand.n_ops += s->cand.lines[i].kind == BS_TRACE_OP;
  }
  bs_replay_result r;
  int rc = bs_trace_replay(&r, &s->cand, NULL, s->err);
  s->prog.tests++;
  if (rc != 0 && rc != BS_EINVALID)
    s->error = rc; /* out of memory, the store cannot open: stop */
  bool same = rc == 0 && r.reproduced;
  if (same) {
    s->prog.ops = s->cand.n_ops;
    s->prog.lines = (uint32_t)n;
  }
  report(s, same);
  return same;
}

/* ddmin over @u[0..*n); the result is left in @u, *n updated. */
static void ddmin(shrinker *s, size_t *u, size_t *n, size_t *scratch) {
  size_t chunks = 2;
  while (*n >= 2 && !s->error) {
    if (chunks > *n)
      chunks = *n;
    s->prog.chunks = (uint32_t)chunks;
    bool reduced = false;
    /* Each chunk alone, then each complement. */
    for (int pass = 0; pass < 2 && !reduced; pass++) {
      if (pass == 0 && chunks == 2)
        continue; /* with two chunks the complements are the chunks */
      for (size_t k = 0; k < chunks && !reduced; k++) {
        size_t lo = *n * k / chunks, hi = *n * (k + 1) / chunks, m = 0;
        for (size_t i = 0; i < *n; i++)
          if ((pass == 0) == (i >= lo && i < hi))
            scratch[m++] = u[i];
        if (m == 0 || m == *n || !fails(s, scratch, m))
          continue;
        memcpy(u, scratch, m * sizeof(*u));
        *n = m;
        chunks = pass == 0 ? 2 : (chunks - 1 > 2 ? chunks - 1 : 2);
        reduced = true;
      }
    }
    if (!reduced) {
      if (chunks >= *n)
        break;
      chunks = 2 * chunks < *n ? 2 * chunks : *n;
    }
  }
}

int bs_trace_shrink(bs_trace **out, const bs_trace *t, const bs_shrink_opts *o,
                    bs_shrink_progress *stats, bs_trace_error *err) {
  bs_trace_error dummy;
  if (!err)
    err = &dummy;
  memset(err, 0, sizeof(*err));
  if (!out || !t)
    return BS_EINVALID;
  *out = NULL;
  /* A trace that records no failure (a mount trace: bslab mount judges
   * nothing) is shrunk to the failure its replay shows, if it shows one. */
  bs_trace judged;
  if (!t->failed) {
    bs_replay_result r0;
    int rc0 = bs_trace_replay(&r0, t, NULL, err);
    if (rc0 != 0)
      return rc0;
    if (!r0.failed) {
      snprintf(err->message, sizeof(err->message),
               "the trace records no failure and its replay passes: nothing to shrink");
      return BS_EINVALID;
    }
    judged = *t;
    judged.failed = true;
    judged.failure = r0.failure;
    t = &judged;
  }
  shrinker s = {.t = t, .o = o, .err = err, .cand = *t, .prog = {.chunks = 1}};
  clock_gettime(CLOCK_MONOTONIC, &s.t0);
  size_t *u = malloc((t->n_lines + 1) * sizeof(*u));
  size_t *scratch = malloc((t->n_lines + 1) * sizeof(*scratch));
  s.cand.lines = malloc((t->n_lines + 1) * sizeof(*s.cand.lines));
  int rc = 0;
  if (!u || !scratch || !s.cand.lines) {
    rc = BS_ENO_MEMORY;
    goto out;
  }
  size_t n = 0;
  for (size_t i = 0; i < t->n_lines; i++)
    if (t->lines[i].kind != BS_TRACE_FAULT)
      u[n++] = i;
  if (!fails(&s, u, n)) {
    rc = s.error ? s.error : BS_EINVALID;
    if (!s.error && err->message[0] == '\0')
      snprintf(err->message, sizeof(err->message),
               "the recorded failure (%s, invariant %s) does not reproduce", t->failure.op,
               t->failure.check);
    goto out;
  }
  ddmin(&s, u, &n, scratch);
  if (s.error) {
    rc = s.error;
    goto out;
  }
  /* The final trace is the recording of the smallest failing candidate. */
  s.cand.n_lines = n;
  s.cand.n_ops = 0;
  for (size_t i = 0; i < n; i++) {
    s.cand.lines[i] = t->lines[u[i]];
    s.cand.n_ops += s.cand.lines[i].kind == BS_TRACE_OP;
  }
  bs_replay_result r;
  rc = bs_trace_replay(&r, &s.cand, out, err);
  if (rc == 0 && !r.reproduced) {
    bs_trace_free(*out);
    *out = NULL;
    snprintf(err->message, sizeof(err->message), "the shrunk trace no longer fails the same way");
    rc = BS_EINVALID; /* replay is deterministic: this is a bug */
  }
  report(&s, true);
out:
  if (stats)
    *stats = s.prog;
  free(u);
  free(scratch);
  free(s.cand.lines);
  return rc;
}
