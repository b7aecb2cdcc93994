/* bslab campaign: run seeded campaigns (lab/lab.h), show
 * progress on stderr, print the summary and every failure with the command
 * that reproduces it.  Exit 1 if any invariant was violated.  SIGINT stops
 * the campaign: what ran is summarised (and written to --json, marked
 * interrupted), then bslab ends by that signal (exit status 130). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab.h"
#include "backstore/sim.h"
#include "tools/bslab/bslab.h"

typedef struct progress_state {
  FILE *text; /* the summary and digests: stdout, or stderr when --json - has it */
  bool tty, quiet, digest, shown;
  unsigned decile; /* last 10% mark printed when stderr is not a terminal */
  bool done;       /* the 100% line was printed */
  uint64_t *dseed, *dig; /* every finished seed's digest, for --json (room for all seeds) */
  size_t nd;
} progress_state;

static void on_progress(void *ctx, const bs_campaign_progress *p) {
  progress_state *ps = ctx;
  if (ps->quiet || p->ops_total == 0)
    return;
  unsigned pct = (unsigned)(100 * p->ops_done / p->ops_total);
  bool done = p->seeds_done == p->seeds_total;
  if (!ps->tty) { /* a line at each new 10% mark, and one when all seeds are done */
    if (ps->done || (!done && (pct / 10 <= ps->decile || pct == 100)))
      return;
    ps->decile = pct / 10;
    ps->done = done;
  }
  fprintf(stderr, "%scampaign: %3u%%  seeds done %" PRIu32 "/%" PRIu32 "  ops %" PRIu64 "/%" PRIu64
          "  failures %" PRIu32 "%s",
          ps->tty ? "\r" : "", pct, p->seeds_done, p->seeds_total, p->ops_done, p->ops_total,
          p->failures, ps->tty ? "\033[K" : "\n");
  ps->shown = true;
}

static void on_seed(void *ctx, const bs_campaign_result *r) {
  progress_state *ps = ctx;
  if (ps->dig) {
    ps->dseed[ps->nd] = r->seed;
    ps->dig[ps->nd++] = r->digest;
  }
  if (!ps->digest)
    return;
  if (ps->tty && ps->shown)
    fputs("\r\033[K", stderr);
  fprintf(ps->text, "seed %" PRIu64 " digest %016" PRIx64 "\n", r->seed, r->digest);
  fflush(ps->text);
}

void bslab_shard_slice(uint32_t seeds, uint32_t index, uint32_t count, uint64_t *from, uint32_t *n) {
  /* Contiguous slices, the first seeds % count of them one seed longer:
   * together exactly the seeds, in order, whatever the count. */
  uint32_t base = seeds / count, extra = seeds % count;
  *from = (uint64_t)index * base + (index < extra ? index : extra);
  *n = base + (index < extra ? 1 : 0);
}

void bslab_campaign_reproduce(char *buf, size_t cap, const bs_campaign_opts *o, uint64_t seed) {
  char backend[96] = "";
  if (o->backend && strcmp(o->backend, "sim") != 0)
    snprintf(backend, sizeof(backend), " --backend %s", o->backend);
  char bug[96] = "";
  if (o->sim_bug)
    snprintf(bug, sizeof(bug), " --sim-bug %s", o->sim_bug);
  const char *faults = o->faults && o->faults[0] ? o->faults : NULL;
  snprintf(buf, cap, "bslab campaign%s --profile %s --seed %" PRIu64 " --ops %" PRIu32 "%s%s%s%s%s",
           backend, o->profile ? o->profile : "apfs", seed, o->ops ? o->ops : BS_CAMPAIGN_DEFAULT_OPS,
           o->overlay_mix ? " --mix overlay" : "", bug, faults ? " --faults '" : "", faults ? faults : "", faults ? "'" : "");
}

static void print_failure(FILE *out, const bs_campaign_opts *o, const bs_campaign_failure *f) {
  char cmd[256];
  bslab_campaign_reproduce(cmd, sizeof(cmd), o, f->seed);
  fprintf(out, "\nFAIL seed %" PRIu64 ", op %" PRIu32 ": %s\n", f->seed, f->op_index, f->op);
  fprintf(out, "  invariant  %s\n", f->check);
  fprintf(out, "  expected   %s\n", f->expected);
  fprintf(out, "  actual     %s\n", f->actual);
  fprintf(out, "  message    %s\n", f->message);
  fprintf(out, "  reproduce  %s\n", cmd);
  if (f->trace[0])
    fprintf(out, "  replay     bslab replay %s\n", f->trace);
}

static void print_summary(FILE *out, const bslab_args *a, const bs_campaign_opts *o,
                          const bs_campaign_summary *s) {
  uint64_t last = o->first_seed + o->seeds - 1;
  char shard[64] = "";
  if (a->shard_set)
    snprintf(shard, sizeof(shard), " (shard %" PRIu32 "/%" PRIu32 ")", a->shard_index, a->shard_count);
  fprintf(out, "campaign: backend %s, profile %s, seeds %" PRIu64 "..%" PRIu64 "%s, %" PRIu32
          " ops per seed%s%s%s\n", o->backend ? o->backend : "sim", o->profile, o->first_seed, last, shard,
          o->ops, o->overlay_mix ? ", overlay mix" : "", a->sim_bug ? ", sim bug " : "", a->sim_bug ? a->sim_bug : "");
  if (s->interrupted)
    fprintf(out, "  seeds run             %" PRIu32 " of %" PRIu32 " (interrupted; seeds that "
            "were running are not counted)\n", s->seeds_run, o->seeds);
  else
    fprintf(out, "  seeds run             %" PRIu32 "\n", s->seeds_run);
  fprintf(out, "  ops                   %" PRIu64 "\n", s->ops);
  /* What depends on the run (wall time) on one line; the simulated time is
   * the campaign's, as deterministic as the digests. */
  if (s->sim_ns)
    fprintf(out, "  ops/s                 %.0f (simulated time %.0fx wall time)\n", s->ops_per_sec,
            s->time_compression);
  else
    fprintf(out, "  ops/s                 %.0f\n", s->ops_per_sec);
  if (s->sim_ns)
    fprintf(out, "  simulated time        %.3f s (virtual clock, all seeds)\n", (double)s->sim_ns * 1e-9);
  fprintf(out, "  power losses          %" PRIu64 " (faults fired)\n", s->power_losses);
  if (o->faults)
    fprintf(out, "  injected faults       %" PRIu64 " (faults fired: %s)\n", s->faults_fired, o->faults);
  fprintf(out, "  expected errors       %" PRIu64 " (failures the model predicted)\n", s->expected_errors);
  fprintf(out, "  invariant violations  %" PRIu64 "\n", s->violations);
  for (size_t i = 0; i < s->n_failures; i++)
    print_failure(out, o, &s->failures[i]);
  if (s->violations > s->n_failures)
    fprintf(out, "\n(%" PRIu64 " more failing seeds not shown)\n", s->violations - s->n_failures);
  fprintf(out, "%s\n", s->interrupted ? "\nINTERRUPTED" : s->violations ? "\nFAILED" : "PASSED");
}

/* Set by SIGINT while the campaign runs: bs_campaign_opts.stop. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* The campaign runs on the sim (wrapped in faults:sim by --faults). */
static int check_campaign_backend(const bslab_args *a, const char *backend) {
  if (strcmp(backend, "sim") == 0)
    return 0;
  if (bslab_check_backend_name(a, backend) != 0)
    return BSLAB_USAGE;
  if (strncmp(backend, "faults", 6) == 0 && (backend[6] == '\0' || backend[6] == ':'))
    return bslab_env_error(a, "the campaign runs on the sim only, not backend '%s': for faults, "
                              "give --faults SPEC (each store is then opened as faults:sim)", backend);
  return bslab_env_error(a, "the campaign runs on the sim only, not backend '%s': to run the same "
                            "operations on the sim and a real volume and compare them, use "
                            "'bslab diff --root DIR'", backend);
}

int bslab_campaign(bslab_args *a) {
  const char *backend = a->backend ? a->backend : "sim";
  if (check_campaign_backend(a, backend) != 0)
    return BSLAB_USAGE;
  const char *profile = a->profile ? a->profile : "apfs";
  if (!bslab_is_profile(profile))
    return bslab_env_error(a, "unknown profile '%s' (apfs, hfs, btrfs, xfs, ext4 or tmpfs)", profile);
  bs_sim_bug bug;
  if (a->sim_bug && bs_sim_bug_from_name(a->sim_bug, &bug) != 0)
    return bslab_usage_error(a, "unknown --sim-bug '%s' (cow-in-place, leak-block, copy-up-order or stray-write)", a->sim_bug);
  bool overlay_mix = a->mix && strcmp(a->mix, "overlay") == 0;
  if (a->mix && !overlay_mix && strcmp(a->mix, "default") != 0)
    return bslab_usage_error(a, "unknown --mix '%s' (default or overlay)", a->mix);
  if (overlay_mix && a->faults && strcmp(a->faults, "none") != 0)
    return bslab_usage_error(a, "--mix overlay cannot run with --faults (a faults store has no "
                             "overlay branches)");

  /* bs_campaign_run refuses these two as well, but only after the trace
   * file below has been opened: check first. */
  if (a->seed_set && a->seeds_set && a->seed > UINT64_MAX - (a->seeds - 1))
    return bslab_usage_error(a, "--seed %" PRIu64 " --seeds %" PRIu64 " runs past the last seed, %"
                             PRIu64, a->seed, a->seeds, UINT64_MAX);
  if (a->trace && a->jobs_set && a->jobs > 1)
    return bslab_usage_error(a, "--trace needs --jobs 1 (trace lines of seeds would interleave)");
  bool json_out = a->json && strcmp(a->json, "-") == 0;
  if (json_out && a->trace && strcmp(a->trace, "-") == 0)
    return bslab_usage_error(a, "--json - and --trace - cannot both have standard output");
  bslab_out trace = {0};
  if (a->trace && bslab_out_open(&trace, a, a->trace, "--trace") != 0)
    return BSLAB_USAGE;

  /* The whole campaign's seeds, and the slice this run takes of them. */
  uint64_t first = a->seed_set ? a->seed : 1;
  uint32_t seeds = a->seeds_set ? (uint32_t)a->seeds : 1, count = seeds;
  uint64_t from = first;
  if (a->shard_set) {
    if (a->shard_count > seeds) {
      bslab_out_close(&trace, a, false);
      return bslab_usage_error(a, "--shard %" PRIu32 "/%" PRIu32 ": more shards than the %" PRIu32
                               " seeds", a->shard_index, a->shard_count, seeds);
    }
    bslab_shard_slice(seeds, a->shard_index, a->shard_count, &from, &count);
    from += first;
  }

  /* With --json -, standard output is the JSON's alone. */
  progress_state ps = {.text = json_out ? stderr : stdout, .tty = isatty(2) == 1,
                       .quiet = a->quiet, .digest = a->digest};
  if (a->json) {
    ps.dseed = calloc(count, sizeof(*ps.dseed));
    ps.dig = calloc(count, sizeof(*ps.dig));
    if (!ps.dseed || !ps.dig) {
      free(ps.dseed);
      free(ps.dig);
      bslab_out_close(&trace, a, false);
      return bslab_env_error(a, "out of memory for the digests of %" PRIu32 " seeds", count);
    }
  }
  bs_campaign_opts o = {
    .backend = a->backend,
    .profile = profile,
    .first_seed = from,
    .seeds = count,
    .ops = a->ops_set ? (uint32_t)a->ops : BS_CAMPAIGN_DEFAULT_OPS,
    .jobs = a->jobs_set ? (uint32_t)a->jobs : 1,
    .sim_bug = a->sim_bug,
    .overlay_mix = overlay_mix,
    .faults = a->faults && strcmp(a->faults, "none") != 0 ? a->faults : NULL,
    .trace = trace.f,
    .trace_dir = bslab_trace_dir(a),
    .trace_all = a->trace_all,
    .progress = on_progress,
    .seed_done = on_seed,
    .ctx = &ps,
    .stop = &interrupted,
  };
  struct sigaction sa = {.sa_handler = on_sigint}, old;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  bs_campaign_summary s;
  int rc = bs_campaign_run(&s, &o);
  sigaction(SIGINT, &old, NULL);
  if (ps.tty && ps.shown)
    fputs("\r\033[K", stderr);
  /* A campaign that could not run leaves an old --trace FILE as it was. */
  int status = BSLAB_USAGE;
  if (bslab_out_close(&trace, a, rc == 0) != 0)
    goto out;
  if (rc != 0) {
    bslab_env_error(a, "%s", s.error[0] ? s.error : bs_strerror(rc));
    goto out;
  }
  print_summary(ps.text, a, &o, &s);
  status = s.interrupted ? BSLAB_INTERRUPTED : s.violations ? BSLAB_FAILED : BSLAB_OK;
  bslab_report r = {.o = &o, .first_seed = first, .seeds = seeds, .s = &s, .digest_seed = ps.dseed,
                    .digest = ps.dig, .n_digests = ps.nd};
  if (a->shard_set) {
    r.shard_index = a->shard_index;
    r.shard_count = a->shard_count;
  }
  if (a->json && bslab_campaign_json(a, &r) != 0 && !s.interrupted)
    status = BSLAB_USAGE;
out:
  free(ps.dseed);
  free(ps.dig);
  bs_campaign_summary_free(&s);
  return status;
}
