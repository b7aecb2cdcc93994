/* bslab diff: the same seeded operation stream against a sim profile and the
 * real kernel (lab/diff.h, docs/diff.md).  Progress on stderr,
 * a summary on stdout, the first divergence with its trace and the command
 * that reproduces it; its trace goes to the trace directory (--trace-dir,
 * $BSLAB_TRACE_DIR, ./bslab-traces) unless --trace wrote every seed's.  Exit
 * 1 on a divergence, 2 on usage or environment, a full real volume included. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lab/diff.h"
#include "tools/bslab/bslab.h"

typedef struct progress_state {
  bool tty, quiet, shown;
  uint64_t seeds_done, seeds_total;
  uint32_t ops;
} progress_state;

static void on_progress(void *ctx, uint64_t seed, uint32_t done) {
  progress_state *ps = ctx;
  if (ps->quiet || !ps->tty)
    return;
  fprintf(stderr, "\rdiff: seed %" PRIu64 " (%" PRIu64 "/%" PRIu64 ")  op %" PRIu32 "/%" PRIu32 "\033[K",
          seed, ps->seeds_done + 1, ps->seeds_total, done, ps->ops);
  ps->shown = true;
}

static void seed_line(progress_state *ps, const bs_diff_result *r) {
  if (ps->quiet)
    return;
  if (ps->tty) {
    fputs("\r\033[K", stderr);
    ps->shown = false;
  }
  /* Not a terminal: a line per seed, at most about 20 in all. */
  uint64_t every = ps->seeds_total / 20 + 1;
  if (ps->tty || r->diverged || ps->seeds_done % every == 0 || ps->seeds_done == ps->seeds_total)
    fprintf(stderr, "diff: seed %" PRIu64 " (%" PRIu64 "/%" PRIu64 ") %s, %" PRIu32 " ops\n",
            r->seed, ps->seeds_done, ps->seeds_total, r->diverged ? "DIVERGED" : "ok", r->ops_run);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_divergence(const bslab_args *a, const char *profile, uint32_t ops,
                             const bs_diff_divergence *d, const char *trace) {
  printf("\nDIVERGENCE seed %" PRIu64 ", op %" PRIu32 ": %s\n", d->seed, d->op_index, d->op);
  printf("  what       %s%s%s\n", d->what, d->subject[0] ? " of " : "", d->subject);
  printf("  sim        %s\n", d->sim);
  printf("  real       %s\n", d->real);
  if (trace)
    printf("  trace      %s\n", trace);
  printf("  reproduce  bslab diff --profile %s --root %s --seed %" PRIu64 " --ops %" PRIu32 "%s%s\n",
         profile, a->root, d->seed, ops, a->mix && strcmp(a->mix, "default") != 0 ? " --mix " : "",
         a->mix && strcmp(a->mix, "default") != 0 ? a->mix : "");
}

/* Write a diverging seed's trace into the trace directory (made when
 * missing), its path into @path; false after a message. */
static bool save_trace(const bslab_args *a, const char *profile, uint64_t seed, const char *buf,
                       size_t len, char *path, size_t cap) {
  const char *dir = bslab_trace_dir(a);
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    bslab_env_error(a, "cannot make trace directory '%s': %s", dir, strerror(errno));
    return false;
  }
  if ((size_t)snprintf(path, cap, "%s/diff-%s-seed-%" PRIu64 ".trace", dir, profile, seed) >= cap) {
    bslab_env_error(a, "trace directory name too long: '%s'", dir);
    return false;
  }
  return bslab_write_file(a, path, buf, len, "trace");
}

/* The real volume filled up: an environment problem, not a divergence. */
static void print_volume_full(const bslab_args *a, const bs_diff_divergence *d) {
  char where[sizeof(d->op) + sizeof(d->sim) + 96];
  if (d->op[0] == '(')
    snprintf(where, sizeof(where), "seed %" PRIu64 " %s", d->seed, d->op);
  else
    snprintf(where, sizeof(where), "seed %" PRIu64 ", op %" PRIu32 ": %s: sim %s, real NO_SPACE",
             d->seed, d->op_index, d->op, d->sim);
  bslab_env_error(a, "real volume full (%s), not a divergence: %s.  The sim does not model this "
                  "volume's size: free space or inodes on it, or give a --root on a larger volume",
                  d->real, where);
}

/* Run one seed with its trace in memory; on a divergence the trace goes to
 * a file.  Returns the bs_diff_run_seed() code. */
static int run_seed(const bslab_args *a, bs_diff_opts *o, uint64_t seed, bs_diff_result *r,
                    FILE *all, char *trace_path, size_t cap) {
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  if (!mem)
    return BS_ENO_MEMORY;
  /* The header is bslab's (docs/diff.md, "Trace"), the operation lines the lab's. */
  fprintf(mem, "# bslab diff trace 1 (a plain op list)\n# profile %s seed %" PRIu64 " ops %" PRIu32 "\n",
          o->profile, seed, o->ops);
  long head = ftell(mem);
  o->trace = mem;
  int rc = bs_diff_run_seed(r, o, seed);
  o->trace = NULL;
  if (fclose(mem) != 0 || head < 0) {
    free(buf);
    return BS_ENO_MEMORY;
  }
  /* A seed that never started (its stores could not be opened) has no trace. */
  size_t from = r->ops_run ? 0 : (size_t)head;
  if (all && fwrite(buf + from, 1, len - from, all) != len - from)
    rc = rc ? rc : BS_EIO;
  trace_path[0] = '\0';
  if (rc == 0 && r->diverged) {
    if (a->trace) { /* already written, with every other seed's */
      snprintf(trace_path, cap, "%s", strcmp(a->trace, "-") == 0 ? "(standard output)" : a->trace);
    } else if (!save_trace(a, o->profile, seed, buf, len, trace_path, cap)) {
      trace_path[0] = '\0';
    }
  }
  free(buf);
  return rc;
}

int bslab_diff(bslab_args *a) {
  if (!a->root)
    return bslab_usage_error(a, "--root DIR is needed: a directory on a real volume");
  if (a->seed_set && a->seeds_set && a->seed > UINT64_MAX - (a->seeds - 1))
    return bslab_usage_error(a, "--seed %" PRIu64 " --seeds %" PRIu64 " runs past the last seed",
                             a->seed, a->seeds);
  const char *profile = a->profile;
  bs_store *st = NULL;
  if (!profile) { /* the filesystem holding --root */
    bs_fs_type t = BS_FS_OTHER;
    if (bs_open(&st, "real", &(bs_open_opts){.root = a->root}) != 0 ||
        bs_probe_fs_type(st, a->root, &t) != 0 || t == BS_FS_OTHER) {
      bs_close(st);
      return bslab_env_error(a, "%s: not a directory on btrfs, xfs, ext4 or tmpfs; give --profile "
                                "and a --root on that filesystem", a->root);
    }
    bs_close(st);
    profile = bs_fs_type_name(t);
  }
  char why[600];
  if (bs_diff_check_root(why, sizeof(why), profile, a->root) != 0)
    return bslab_env_error(a, "%s", why);
  bool links = a->mix && strcmp(a->mix, "links") == 0;
  bool overlay = a->mix && strcmp(a->mix, "overlay") == 0;
  if (a->mix && !links && !overlay && strcmp(a->mix, "default") != 0)
    return bslab_usage_error(a, "unknown --mix '%s' (default, links or overlay)", a->mix);

  bslab_out all = {0};
  if (a->trace && bslab_out_open(&all, a, a->trace, "--trace") != 0)
    return BSLAB_USAGE;
  uint64_t first = a->seed_set ? a->seed : 1, n = a->seeds_set ? a->seeds : 1;
  uint32_t ops = a->ops_set ? (uint32_t)a->ops : BS_DIFF_DEFAULT_OPS;
  progress_state ps = {.tty = isatty(2) == 1, .quiet = a->quiet, .seeds_total = n, .ops = ops};
  bs_diff_opts o = {.profile = profile, .root = a->root, .ops = ops, .links = links, .overlay = overlay,
                    .progress = on_progress, .ctx = &ps};
  uint64_t total_ops = 0, agreed = 0, masked = 0;
  int status = BSLAB_OK;
  double t0 = now_s();
  bs_diff_result r;
  char trace_path[4096];
  for (uint64_t i = 0; i < n; i++) {
    int rc = run_seed(a, &o, first + i, &r, all.f, trace_path, sizeof(trace_path));
    if (rc != 0) {
      if (ps.tty && ps.shown)
        fputs("\r\033[K", stderr);
      if (rc == BS_ENO_SPACE && strcmp(r.div.what, "volume full") == 0)
        print_volume_full(a, &r.div);
      else
        bslab_env_error(a, "seed %" PRIu64 ": %s", first + i, r.div.real[0] ? r.div.real : bs_strerror(rc));
      status = BSLAB_USAGE;
      break;
    }
    ps.seeds_done = i + 1;
    total_ops += r.ops_run;
    agreed += r.errors_agreed;
    masked += r.masked;
    seed_line(&ps, &r);
    if (r.diverged) {
      status = BSLAB_FAILED;
      break;
    }
  }
  double secs = now_s() - t0;
  /* A run that could not finish leaves an old --trace FILE as it was. */
  if (bslab_out_close(&all, a, status != BSLAB_USAGE) != 0)
    status = BSLAB_USAGE;
  if (status == BSLAB_USAGE)
    return status;
  printf("diff: profile %s, root %s, seeds %" PRIu64 "..%" PRIu64 ", %" PRIu32 " ops per seed\n",
         profile, a->root, first, first + n - 1, ops);
  printf("  seeds run          %" PRIu64 "\n", ps.seeds_done);
  printf("  ops                %" PRIu64 "\n", total_ops);
  printf("  ops/s              %.0f\n", secs > 0 ? (double)total_ops / secs : 0.0);
  printf("  errors agreed      %" PRIu64 " (failed the same way on both)\n", agreed);
  printf("  masked             %" PRIu64 " (differences not modelled on purpose, docs/diff.md)\n", masked);
  printf("  divergences        %d\n", status == BSLAB_FAILED);
  if (status == BSLAB_FAILED)
    print_divergence(a, profile, ops, &r.div, trace_path[0] ? trace_path : NULL);
  printf("%s\n", status == BSLAB_FAILED ? "\nDIVERGED" : "AGREED");
  return status;
}
