/* bslab replay and bslab shrink: thin layers over lab/trace.h.
 * replay exits 1 when the run fails (the recorded failure or another), 0 when
 * the trace now passes, 2 for a malformed trace (with its line number) or a
 * trace that cannot run.  shrink exits 0 with the minimal trace written. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/trace.h"
#include "tools/bslab/bslab.h"

/* A trace error as "FILE:LINE: message" (exit 2). */
static int trace_error(const bslab_args *a, const char *file, const bs_trace_error *e, int rc) {
  if (e->line)
    return bslab_env_error(a, "%s:%" PRIu32 ": %s", file, e->line, e->message);
  return bslab_env_error(a, "%s: %s", file, e->message[0] ? e->message : bs_strerror(rc));
}

/* Load the trace named by the one positional argument; --faults overrides
 * the header's fault spec. */
static int load(const bslab_args *a, bs_trace **t) {
  bs_trace_error e;
  int rc = bs_trace_load(t, a->pos[0], &e);
  if (rc != 0)
    return trace_error(a, a->pos[0], &e, rc);
  if (a->faults) {
    free((*t)->faults);
    (*t)->faults = strcmp(a->faults, "none") == 0 ? NULL : strdup(a->faults);
    if (strcmp(a->faults, "none") != 0 && !(*t)->faults) {
      bs_trace_free(*t);
      return bslab_env_error(a, "out of memory");
    }
  }
  return 0;
}

static void print_failure(const bs_campaign_failure *f) {
  printf("FAIL op %" PRIu32 ": %s\n", f->op_index, f->op);
  printf("  invariant  %s\n", f->check);
  printf("  expected   %s\n", f->expected);
  printf("  actual     %s\n", f->actual);
  printf("  message    %s\n", f->message);
}

/* The kind of a failure: the first word of its operation. */
static int kind_len(const bs_campaign_failure *f) { return (int)strcspn(f->op, " "); }

int bslab_replay(bslab_args *a) {
  bs_trace *t;
  int status = load(a, &t);
  if (status != 0)
    return status;
  bs_replay_result r;
  bs_trace_error e;
  /* --image FILE: a mount trace's replayed volume, saved to compare with the mount's. */
  int rc = a->image ? bs_trace_replay_save(&r, t, a->image, &e) : bs_trace_replay(&r, t, NULL, &e);
  if (rc != 0) {
    status = trace_error(a, a->pos[0], &e, rc);
    bs_trace_free(t);
    return status;
  }
  printf("replay: %s%s\n", a->pos[0], t->mount ? " (a mount trace)" : "");
  printf("  seed %" PRIu64 ", backend %s, profile %s, faults %s%s%s\n", t->seed, t->backend,
         t->profile, t->faults ? t->faults : "none", t->sim_bug[0] ? ", sim bug " : "", t->sim_bug);
  printf("  ops run          %" PRIu32 " of %" PRIu32 "\n", r.ops_run, t->n_ops);
  printf("  faults fired     %" PRIu32 "\n", r.faults_fired);
  if (r.differences == 0) {
    printf("  results          every line as recorded\n");
  } else {
    printf("  results          %" PRIu32 " lines differ from the recording; the first, line %" PRIu32
           ":\n", r.differences, r.first_difference);
    printf("    recorded  %s\n    now       %s\n", r.recorded, r.actual);
  }
  if (a->image)
    printf("  volume saved to  %s\n", a->image);
  if (r.failed) {
    putchar('\n');
    print_failure(&r.failure);
  }
  const bs_campaign_failure *want = &t->failure;
  if (r.reproduced)
    printf("\nREPRODUCED: the recorded failure (%.*s, invariant %s)\n", kind_len(want), want->op,
           want->check);
  else if (r.failed && t->failed)
    printf("\nFAILED differently: the trace records %.*s, invariant %s\n", kind_len(want), want->op,
           want->check);
  else if (r.failed)
    printf("\nFAILED: the trace records no failure\n");
  else if (t->failed)
    printf("\nPASSED: the recorded failure (%.*s, invariant %s) no longer happens\n", kind_len(want),
           want->op, want->check);
  else
    printf("\nPASSED\n");
  bs_trace_free(t);
  return r.failed ? BSLAB_FAILED : BSLAB_OK;
}

static void on_shrink(void *ctx, const bs_shrink_progress *p) {
  const bslab_args *a = ctx;
  if (a->quiet)
    return;
  bool tty = isatty(2) == 1;
  fprintf(stderr, "%sshrink: %" PRIu32 " replays, %" PRIu32 " ops (%" PRIu32
          " lines) still fail, granularity %" PRIu32 ", %.1fs%s",
          tty ? "\r" : "", p->tests, p->ops, p->lines, p->chunks, p->seconds, tty ? "\033[K" : "\n");
}

int bslab_shrink(bslab_args *a) {
  if (!a->output)
    return bslab_usage_error(a, "missing -o MIN_TRACE (where to write the shrunk trace)");
  bs_trace *t;
  int status = load(a, &t);
  if (status != 0)
    return status;
  bs_shrink_opts o = {.progress = on_shrink, .ctx = a, .max_tests = (uint32_t)a->max_tests};
  bs_shrink_progress p;
  bs_trace *min = NULL;
  bs_trace_error e;
  int rc = bs_trace_shrink(&min, t, &o, &p, &e);
  if (!a->quiet && isatty(2) == 1)
    fputs("\r\033[K", stderr);
  if (rc == 0)
    rc = bs_trace_save(min, a->output, &e);
  if (rc != 0) {
    status = trace_error(a, a->pos[0], &e, rc);
  } else {
    printf("shrink: %" PRIu32 " -> %" PRIu32 " operations (%zu -> %zu lines) in %" PRIu32
           " replays, %.1fs\n", t->n_ops, min->n_ops, t->n_lines, min->n_lines, p.tests, p.seconds);
    printf("  failure    %s (invariant %s)\n", min->failure.op, min->failure.check);
    printf("  wrote      %s\n", a->output);
    printf("  replay     bslab replay %s\n", a->output);
  }
  bs_trace_free(min);
  bs_trace_free(t);
  return status;
}
