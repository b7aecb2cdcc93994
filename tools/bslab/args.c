/* bslab option parsing: GNU-style long options ("--ops 100", "--ops=100")
 * anywhere among the positional arguments, "--" ends the options, "-h" and
 * "--help" everywhere.  An option a verb does not take is a usage error. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bslab/bslab.h"

static const struct {
  const char *name;
  uint64_t flag;
  bool value;
} options[] = {
  {"backend", BO_BACKEND, true}, {"profile", BO_PROFILE, true}, {"image", BO_IMAGE, true},
  {"seed", BO_SEED, true},       {"format", BO_FORMAT, true},   {"root", BO_ROOT, true},
  {"seeds", BO_SEEDS, true},     {"ops", BO_OPS, true},         {"sim-bug", BO_SIM_BUG, true},
  {"digest", BO_DIGEST, false},  {"quiet", BO_QUIET, false},    {"jobs", BO_JOBS, true},
  {"faults", BO_FAULTS, true},   {"trace", BO_TRACE, true},     {"output", BO_OUTPUT, true},
  {"max-tests", BO_MAX_TESTS, true}, {"trace-dir", BO_TRACE_DIR, true}, {"json", BO_JSON, true},
  {"trace-all", BO_TRACE_ALL, false},
  {"copy-snapshots", BO_COPY_SNAPSHOTS, false}, {"wait", BO_WAIT, true},
  {"symbolic", BO_SYMBOLIC, false},
  {"shard", BO_SHARD, true},
  {"kind", BO_KIND, true},       {"lower-dir", BO_LOWER_DIR, true},
  {"foreground", BO_FOREGROUND, false}, {"reap", BO_REAP, false},
  {"direct-io", BO_DIRECT_IO, false}, {"power-loss-after", BO_POWER_AFTER, true},
  {"power-loss", BO_POWER_MODE, true},
  {"mix", BO_MIX, true},         {"branch", BO_BRANCH, true},
  {"fs", BO_FS, true},           {"size-mb", BO_SIZE_MB, true}, {"label", BO_LABEL, true},
};

int bslab_usage_error(const bslab_args *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  bslab_vmessage(a, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'bslab %s%s--help'.\n", a->verb ? a->verb : "", a->verb ? " " : "");
  return BSLAB_USAGE;
}

const char *bslab_trace_dir(const bslab_args *a) {
  if (a->trace_dir)
    return a->trace_dir;
  const char *d = getenv("BSLAB_TRACE_DIR");
  return d && d[0] ? d : "bslab-traces";
}

bool bslab_parse_u64(const char *s, uint64_t *out) {
  if (!s || *s < '0' || *s > '9')
    return false;
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end)
    return false;
  *out = v;
  return true;
}

/* A numeric option in [lo, hi]. */
static int number(const bslab_args *a, const char *name, const char *s, uint64_t lo, uint64_t hi,
                  uint64_t *out, bool *set) {
  if (!bslab_parse_u64(s, out) || *out < lo || *out > hi)
    return bslab_usage_error(a, "--%s needs a number from %llu to %llu, got '%s'", name,
                             (unsigned long long)lo, (unsigned long long)hi, s);
  if (set)
    *set = true;
  return 0;
}

/* --shard I/N: N from 1 to BSLAB_SHARDS_MAX, I from 0 to N - 1. */
static int shard(bslab_args *a, const char *v) {
  const char *slash = strchr(v, '/');
  char idx[24];
  uint64_t i = 0, n = 0;
  if (!slash || (size_t)(slash - v) >= sizeof(idx))
    return bslab_usage_error(a, "--shard needs I/N (0 <= I < N), got '%s'", v);
  memcpy(idx, v, (size_t)(slash - v));
  idx[slash - v] = '\0';
  if (!bslab_parse_u64(idx, &i) || !bslab_parse_u64(slash + 1, &n) || n < 1 || n > BSLAB_SHARDS_MAX ||
      i >= n)
    return bslab_usage_error(a, "--shard needs I/N with 1 <= N <= %u and 0 <= I < N, got '%s'",
                             BSLAB_SHARDS_MAX, v);
  a->shard_index = (uint32_t)i;
  a->shard_count = (uint32_t)n;
  a->shard_set = true;
  return 0;
}

static int set_option(bslab_args *a, uint64_t flag, const char *name, const char *v) {
  a->given |= flag;
  switch (flag) {
  case BO_BACKEND: a->backend = v; return 0;
  case BO_PROFILE: a->profile = v; return 0;
  case BO_IMAGE: a->image = v; return 0;
  case BO_FORMAT: a->format = v; return 0;
  case BO_ROOT: a->root = v; return 0;
  case BO_SIM_BUG: a->sim_bug = v; return 0;
  case BO_FAULTS: a->faults = v; return 0;
  case BO_TRACE: a->trace = v; return 0;
  case BO_OUTPUT: a->output = v; return 0;
  case BO_TRACE_DIR: a->trace_dir = v; return 0;
  case BO_KIND: a->kind = v; return 0;
  case BO_LOWER_DIR: a->lower_dir = v; return 0;
  case BO_MIX: a->mix = v; return 0;
  case BO_BRANCH: a->branch = v; return 0;
  case BO_JSON: a->json = v; return 0;
  case BO_TRACE_ALL: a->trace_all = true; return 0;
  case BO_MAX_TESTS: return number(a, name, v, 1, UINT32_MAX, &a->max_tests, NULL);
  case BO_DIGEST: a->digest = true; return 0;
  case BO_QUIET: a->quiet = true; return 0;
  case BO_COPY_SNAPSHOTS: a->copy_snapshots = true; return 0;
  case BO_SYMBOLIC: a->symbolic = true; return 0;
  case BO_FOREGROUND: a->foreground = true; return 0;
  case BO_REAP: a->reap = true; return 0;
  case BO_DIRECT_IO: a->direct_io = true; return 0;
  case BO_POWER_MODE: a->power_mode = v; return 0;
  case BO_POWER_AFTER:
    return number(a, name, v, 1, UINT64_MAX, &a->power_after, &a->power_after_set);
  case BO_SEED: return number(a, name, v, 0, UINT64_MAX, &a->seed, &a->seed_set);
  case BO_SEEDS: return number(a, name, v, 1, UINT32_MAX, &a->seeds, &a->seeds_set);
  case BO_OPS: return number(a, name, v, 1, UINT32_MAX, &a->ops, &a->ops_set);
  case BO_JOBS: return number(a, name, v, 1, 256, &a->jobs, &a->jobs_set);
  case BO_WAIT: return number(a, name, v, 0, BSLAB_WAIT_MAX, &a->wait, &a->wait_set);
  case BO_SHARD: return shard(a, v);
  case BO_FS: a->fs = v; return 0;
  /* 0 and sizes past the memory reach the library, which says why not. */
  case BO_SIZE_MB: return number(a, name, v, 0, UINT64_MAX, &a->size_mb, &a->size_mb_set);
  case BO_LABEL: a->label = v; return 0;
  default: return BSLAB_USAGE;
  }
}

/* Parse options and positional arguments of @argv[0..argc).  With @stop,
 * stop at the first positional argument and report its index in *@next. */
static int parse(bslab_args *a, int argc, char **argv, uint64_t allowed, bool stop, int *next) {
  int npos = 0, i = 0;
  bool only_pos = false;
  for (; i < argc; i++) {
    char *arg = argv[i];
    if (!only_pos && strcmp(arg, "--") == 0) {
      only_pos = true;
      continue;
    }
    if (!only_pos && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
      a->help = true;
      continue;
    }
    if (only_pos || arg[0] != '-' || arg[1] == '\0') {
      if (stop)
        break;
      argv[npos++] = arg; /* compact in place: npos <= i */
      continue;
    }
    if (strcmp(arg, "-o") == 0)
      arg = "--output"; /* the one short option with a value: shrink's -o MIN */
    else if (strcmp(arg, "-s") == 0)
      arg = "--symbolic"; /* ln -s */
    if (arg[1] != '-')
      return bslab_usage_error(a, "unknown option '%s'", arg);
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    size_t k = 0, n = sizeof(options) / sizeof(options[0]);
    while (k < n && (strlen(options[k].name) != len || strncmp(options[k].name, name, len) != 0))
      k++;
    if (k == n)
      return bslab_usage_error(a, "unknown option '--%.*s'", (int)len, name);
    if (!(allowed & options[k].flag))
      return bslab_usage_error(a, "option '--%s' does not apply here", options[k].name);
    const char *v = NULL;
    if (options[k].value) {
      if (eq)
        v = eq + 1;
      else if (i + 1 < argc)
        v = argv[++i];
      else
        return bslab_usage_error(a, "option '--%s' needs a value", options[k].name);
    } else if (eq) {
      return bslab_usage_error(a, "option '--%s' takes no value", options[k].name);
    }
    int rc = set_option(a, options[k].flag, options[k].name, v);
    if (rc != 0)
      return rc;
  }
  if (next)
    *next = i;
  if (!stop) {
    a->pos = argv;
    a->npos = npos;
  }
  return 0;
}

int bslab_parse(bslab_args *a, int argc, char **argv, uint64_t allowed) {
  return parse(a, argc, argv, allowed, false, NULL);
}

int bslab_parse_global(bslab_args *a, int argc, char **argv, int *verb_index) {
  return parse(a, argc, argv, BO_VOLUME, true, verb_index);
}
