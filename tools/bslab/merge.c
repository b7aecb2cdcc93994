/* bslab merge SHARD.json...: the summaries of a campaign's shards (bslab
 * campaign --shard I/N --json) joined into the summary of the whole campaign
 * (docs/campaign.md, "Sharding").  The shards are checked to be the N
 * slices of one campaign, each once; the totals are summed, failures,
 * traces and digests concatenated in shard order, which is seed order. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/bslab/bslab.h"

#define SUMMARY_MAX (64u << 20) /* a summary larger than this is not one */
#define DEPTH_MAX 8             /* a summary nests 3 deep */

/* ---- a small JSON reader: enough for the summaries bslab writes ------------ */

typedef enum { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ } jv_kind;

typedef struct jv {
  jv_kind k;
  bool b;
  char *s;         /* string (unescaped) or number (its text) */
  char **keys;     /* objects */
  struct jv *v;    /* array items or object values */
  size_t n;
} jv;

typedef struct jp {
  const char *p, *end;
  bool oom;
} jp;

static void jv_free(jv *x) {
  if (!x)
    return;
  free(x->s);
  for (size_t i = 0; i < x->n; i++) {
    if (x->keys)
      free(x->keys[i]);
    jv_free(&x->v[i]);
  }
  free(x->keys);
  free(x->v);
}

static void ws(jp *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
    j->p++;
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A string literal; \uXXXX below U+0100 only (what bslab_json_str writes). */
static char *str(jp *j) {
  if (j->p >= j->end || *j->p != '"')
    return NULL;
  j->p++;
  size_t cap = 16, n = 0;
  char *o = malloc(cap);
  while (o && j->p < j->end && *j->p != '"') {
    if (n + 3 > cap) {
      char *g = realloc(o, cap *= 2);
      if (!g) {
        free(o);
        j->oom = true;
        return NULL;
      }
      o = g;
    }
    unsigned char c = (unsigned char)*j->p++;
    if (c < 0x20)
      break;
    if (c != '\\') {
      o[n++] = (char)c;
      continue;
    }
    if (j->p >= j->end)
      break;
    c = (unsigned char)*j->p++;
    const char *esc = strchr("\"\\/bfnrt", c);
    if (esc && c) {
      o[n++] = "\"\\/\b\f\n\r\t"[esc - "\"\\/bfnrt"];
      continue;
    }
    if (c != 'u' || j->end - j->p < 4)
      break;
    int u = 0;
    for (int i = 0; i < 4; i++) {
      int h = hexval(j->p[i]);
      if (h < 0)
        u = -1;
      if (u >= 0)
        u = u * 16 + h;
    }
    j->p += 4;
    if (u < 0 || u >= 0x100 || u == 0)
      break;
    if (u < 0x80) {
      o[n++] = (char)u;
    } else { /* two bytes of UTF-8 */
      o[n++] = (char)(0xc0 | (u >> 6));
      o[n++] = (char)(0x80 | (u & 0x3f));
    }
  }
  if (!o) {
    j->oom = true;
    return NULL;
  }
  if (j->p >= j->end || *j->p != '"') {
    free(o);
    return NULL;
  }
  j->p++;
  o[n] = '\0';
  return o;
}

static bool value(jp *j, jv *out, int depth);

/* Append an item (and @key, owned) to array or object @x. */
static bool push(jp *j, jv *x, char *key, jv *item) {
  jv *v = realloc(x->v, (x->n + 1) * sizeof(*v));
  if (v)
    x->v = v;
  char **k = x->k == JV_OBJ ? realloc(x->keys, (x->n + 1) * sizeof(*k)) : NULL;
  if (k)
    x->keys = k;
  if (!v || (x->k == JV_OBJ && !k)) {
    j->oom = true;
    free(key);
    jv_free(item);
    return false;
  }
  if (x->k == JV_OBJ)
    x->keys[x->n] = key;
  x->v[x->n++] = *item;
  return true;
}

static bool container(jp *j, jv *out, int depth, bool obj) {
  out->k = obj ? JV_OBJ : JV_ARR;
  j->p++;
  ws(j);
  if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
    j->p++;
    return true;
  }
  for (;;) {
    char *key = NULL;
    if (obj) {
      ws(j);
      if (!(key = str(j)))
        return false;
      ws(j);
      if (j->p >= j->end || *j->p++ != ':') {
        free(key);
        return false;
      }
    }
    jv item;
    if (!value(j, &item, depth + 1)) {
      free(key);
      return false;
    }
    if (!push(j, out, key, &item))
      return false;
    ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
      j->p++;
      return true;
    }
    return false;
  }
}

static bool value(jp *j, jv *out, int depth) {
  memset(out, 0, sizeof(*out));
  ws(j);
  if (j->p >= j->end || depth > DEPTH_MAX)
    return false;
  char c = *j->p;
  if (c == '{' || c == '[') {
    if (container(j, out, depth, c == '{'))
      return true;
    jv_free(out);
    memset(out, 0, sizeof(*out));
    return false;
  }
  if (c == '"') {
    out->k = JV_STR;
    return (out->s = str(j)) != NULL;
  }
  static const struct { const char *w; jv_kind k; bool b; } words[] = {
    {"null", JV_NULL, false}, {"true", JV_BOOL, true}, {"false", JV_BOOL, false}};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(words[i].w);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i].w, n) == 0) {
      j->p += n;
      out->k = words[i].k;
      out->b = words[i].b;
      return true;
    }
  }
  const char *s = j->p;
  while (j->p < j->end && strchr("-+.eE0123456789", *j->p) && *j->p)
    j->p++;
  if (j->p == s)
    return false;
  out->k = JV_NUM;
  size_t n = (size_t)(j->p - s);
  if (!(out->s = malloc(n + 1))) {
    j->oom = true;
    return false;
  }
  memcpy(out->s, s, n);
  out->s[n] = '\0';
  return true;
}

static const jv *get(const jv *o, const char *key) {
  for (size_t i = 0; o && o->k == JV_OBJ && i < o->n; i++)
    if (strcmp(o->keys[i], key) == 0)
      return &o->v[i];
  return NULL;
}

/* ---- one shard ---------------------------------------------------------------- */

typedef struct shard {
  const char *file;
  jv root;
  uint32_t index;
} shard;

typedef struct merge_ctx {
  const bslab_args *a;
  const char *file; /* the file being read, for messages */
  bool bad;
} merge_ctx;

static bool refuse(merge_ctx *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool refuse(merge_ctx *m, const char *fmt, ...) {
  if (m->bad)
    return false;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  bslab_env_error(m->a, "%s: %s", m->file, msg);
  m->bad = true;
  return false;
}

static uint64_t u64(merge_ctx *m, const jv *o, const char *key) {
  const jv *x = get(o, key);
  uint64_t v = 0;
  if (!x || x->k != JV_NUM || !bslab_parse_u64(x->s, &v))
    refuse(m, "\"%s\" is missing or not a whole number: not a campaign summary", key);
  return v;
}

static double num(merge_ctx *m, const jv *o, const char *key) {
  const jv *x = get(o, key);
  if (!x || x->k != JV_NUM) {
    refuse(m, "\"%s\" is missing or not a number: not a campaign summary", key);
    return 0;
  }
  return strtod(x->s, NULL);
}

static bool flag(merge_ctx *m, const jv *o, const char *key) {
  const jv *x = get(o, key);
  if (!x || x->k != JV_BOOL)
    refuse(m, "\"%s\" is missing or not true/false: not a campaign summary", key);
  return x && x->b;
}

/* A string or null (NULL); *@ok false when it is neither. */
static const char *str_or_null(merge_ctx *m, const jv *o, const char *key) {
  const jv *x = get(o, key);
  if (x && x->k == JV_STR)
    return x->s;
  if (!x || x->k != JV_NULL)
    refuse(m, "\"%s\" is missing or not a string: not a campaign summary", key);
  return NULL;
}

static void copy_field(merge_ctx *m, char *dst, size_t cap, const jv *o, const char *key, bool nullable) {
  const char *s = str_or_null(m, o, key);
  if (!s && !nullable && !m->bad)
    refuse(m, "failure field \"%s\" is null", key);
  if (s && strlen(s) >= cap)
    refuse(m, "failure field \"%s\" is longer than a campaign writes", key);
  snprintf(dst, cap, "%s", s && !m->bad ? s : "");
}

static bool same_str(const char *x, const char *y) { return (!x && !y) || (x && y && strcmp(x, y) == 0); }

static int load(merge_ctx *m, shard *sh) {
  m->file = sh->file;
  FILE *f = fopen(sh->file, "rb");
  if (!f)
    return refuse(m, "cannot open: %s", strerror(errno)), BSLAB_USAGE;
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)SUMMARY_MAX) {
    fclose(f);
    return refuse(m, "not a regular file of at most %u MiB", SUMMARY_MAX >> 20), BSLAB_USAGE;
  }
  size_t n = (size_t)st.st_size;
  char *buf = malloc(n + 1);
  size_t got = buf ? fread(buf, 1, n, f) : 0;
  fclose(f);
  if (!buf || got != n) {
    free(buf);
    return refuse(m, "cannot read it whole"), BSLAB_USAGE;
  }
  buf[n] = '\0';
  jp j = {buf, buf + n, false};
  bool ok = value(&j, &sh->root, 0);
  ws(&j);
  free(buf);
  if (!ok || j.p != j.end || sh->root.k != JV_OBJ) {
    jv_free(&sh->root);
    memset(&sh->root, 0, sizeof(sh->root));
    return refuse(m, j.oom ? "out of memory" : "not JSON: not a campaign summary"), BSLAB_USAGE;
  }
  return 0;
}

static int by_index(const void *x, const void *y) {
  const shard *a = x, *b = y;
  return a->index < b->index ? -1 : a->index > b->index;
}

int bslab_merge(bslab_args *a) {
  size_t n = (size_t)a->npos;
  merge_ctx m = {.a = a};
  shard *sh = calloc(n, sizeof(*sh));
  bs_campaign_summary s = {0};
  uint64_t *dseed = NULL, *dig = NULL;
  size_t nd = 0;
  int status = BSLAB_USAGE;
  if (!sh) {
    bslab_env_error(a, "out of memory");
    return BSLAB_USAGE;
  }
  for (size_t i = 0; i < n; i++) {
    sh[i].file = a->pos[i];
    if (load(&m, &sh[i]) != 0)
      goto out;
  }
  /* Every shard of the same campaign, each once, all of them. */
  uint64_t first = 0, seeds = 0, ops = 0, count = 0, total_digests = 0;
  const char *backend = NULL, *profile = NULL, *faults = NULL, *bug = NULL;
  for (size_t i = 0; i < n && !m.bad; i++) {
    const jv *r = &sh[i].root;
    m.file = sh[i].file;
    if (u64(&m, r, "format") != 1 && !m.bad)
      refuse(&m, "summary format is not 1");
    const char *be = str_or_null(&m, r, "backend"), *pr = str_or_null(&m, r, "profile");
    const char *fa = str_or_null(&m, r, "faults"), *sb = str_or_null(&m, r, "sim_bug");
    uint64_t fs = u64(&m, r, "first_seed"), se = u64(&m, r, "seeds"), op = u64(&m, r, "ops_per_seed");
    const jv *shd = get(r, "shard");
    if (!m.bad && (!shd || shd->k != JV_OBJ))
      refuse(&m, "not the summary of a shard (written without --shard I/N)");
    uint64_t idx = u64(&m, shd, "index"), cnt = u64(&m, shd, "count");
    uint64_t sfirst = u64(&m, shd, "first_seed"), sseeds = u64(&m, shd, "seeds");
    if (m.bad)
      break;
    if (!be || !pr || se == 0 || se > UINT32_MAX || cnt == 0 || cnt > se || idx >= cnt || op == 0 ||
        op > UINT32_MAX) {
      refuse(&m, "shard fields out of range");
      break;
    }
    uint64_t from;
    uint32_t k;
    bslab_shard_slice((uint32_t)se, (uint32_t)idx, (uint32_t)cnt, &from, &k);
    if (sfirst != fs + from || sseeds != k) {
      refuse(&m, "shard %" PRIu64 "/%" PRIu64 " holds seeds %" PRIu64 "+%" PRIu64 ", not its slice", idx, cnt,
             sfirst, sseeds);
      break;
    }
    if (i == 0) {
      backend = be, profile = pr, faults = fa, bug = sb;
      first = fs, seeds = se, ops = op, count = cnt;
    } else if (!same_str(be, backend) || !same_str(pr, profile) || !same_str(fa, faults) ||
               !same_str(sb, bug) || fs != first || se != seeds || op != ops || cnt != count) {
      refuse(&m, "a shard of another campaign than %s (backend, profile, faults, sim bug, seeds, ops "
                 "or shard count differ)", sh[0].file);
      break;
    }
    sh[i].index = (uint32_t)idx;
    const jv *d = get(r, "digests");
    if (!d || d->k != JV_ARR) {
      refuse(&m, "\"digests\" is missing: not a campaign summary");
      break;
    }
    total_digests += d->n;
  }
  if (m.bad)
    goto out;
  qsort(sh, n, sizeof(*sh), by_index);
  for (size_t i = 0; i < n; i++) {
    m.file = sh[i].file;
    if (i > 0 && sh[i].index == sh[i - 1].index) {
      refuse(&m, "shard %" PRIu32 "/%" PRIu64 " is given twice (also %s)", sh[i].index, count, sh[i - 1].file);
      goto out;
    }
  }
  if (n != count) {
    uint32_t missing = 0;
    while (missing < n && sh[missing].index == missing)
      missing++;
    m.file = sh[0].file;
    refuse(&m, "shard %" PRIu32 "/%" PRIu64 " is missing: %zu of %" PRIu64 " shards given", missing, count, n,
           count);
    goto out;
  }
  /* The sums, and the lists in seed order. */
  s.failures = calloc(BS_CAMPAIGN_MAX_FAILURES, sizeof(*s.failures));
  dseed = calloc(total_digests ? total_digests : 1, sizeof(*dseed));
  dig = calloc(total_digests ? total_digests : 1, sizeof(*dig));
  if (!s.failures || !dseed || !dig) {
    bslab_env_error(a, "out of memory");
    goto out;
  }
  uint64_t jobs = 0;
  for (size_t i = 0; i < n && !m.bad; i++) {
    const jv *r = &sh[i].root;
    m.file = sh[i].file;
    s.seeds_run += (uint32_t)u64(&m, r, "seeds_run");
    s.ops += u64(&m, r, "ops");
    s.sim_ns += u64(&m, r, "sim_ns");
    s.power_losses += u64(&m, r, "power_losses");
    s.faults_fired += u64(&m, r, "injected_faults");
    s.expected_errors += u64(&m, r, "expected_errors");
    s.violations += u64(&m, r, "violations");
    s.interrupted |= flag(&m, r, "interrupted");
    s.seconds += num(&m, r, "seconds");
    jobs += u64(&m, r, "jobs");
    const jv *fl = get(r, "failures");
    if (!m.bad && (!fl || fl->k != JV_ARR))
      refuse(&m, "\"failures\" is missing: not a campaign summary");
    for (size_t k = 0; !m.bad && k < fl->n; k++) {
      const jv *x = &fl->v[k];
      if (s.n_failures == BS_CAMPAIGN_MAX_FAILURES)
        break; /* the first ones in seed order, as one run keeps */
      bs_campaign_failure *f = &s.failures[s.n_failures++];
      f->seed = u64(&m, x, "seed");
      f->op_index = (uint32_t)u64(&m, x, "op_index");
      copy_field(&m, f->op, sizeof(f->op), x, "op", false);
      copy_field(&m, f->check, sizeof(f->check), x, "check", false);
      copy_field(&m, f->expected, sizeof(f->expected), x, "expected", false);
      copy_field(&m, f->actual, sizeof(f->actual), x, "actual", false);
      copy_field(&m, f->message, sizeof(f->message), x, "message", false);
      copy_field(&m, f->trace, sizeof(f->trace), x, "trace", true);
    }
    const jv *d = get(r, "digests");
    for (size_t k = 0; !m.bad && k < d->n; k++) {
      const jv *hex = get(&d->v[k], "digest");
      char *end = NULL;
      dseed[nd] = u64(&m, &d->v[k], "seed");
      if (!m.bad && (!hex || hex->k != JV_STR || strlen(hex->s) != 16))
        refuse(&m, "a digest is not 16 hex digits");
      if (!m.bad) {
        dig[nd++] = strtoull(hex->s, &end, 16);
        if (*end)
          refuse(&m, "a digest is not 16 hex digits");
      }
    }
  }
  if (m.bad)
    goto out;
  s.ops_per_sec = s.seconds > 0 ? (double)s.ops / s.seconds : 0;
  s.time_compression = bs_campaign_time_compression(s.sim_ns, s.seconds);
  bs_campaign_opts o = {.backend = backend, .profile = profile, .faults = faults, .sim_bug = bug,
                        .first_seed = first, .seeds = (uint32_t)seeds, .ops = (uint32_t)ops,
                        .jobs = (uint32_t)(jobs > UINT32_MAX ? UINT32_MAX : jobs)};
  bslab_report rep = {.o = &o, .first_seed = first, .seeds = (uint32_t)seeds, .s = &s, .digest_seed = dseed,
                      .digest = dig, .n_digests = nd};
  bslab_out out;
  if (bslab_out_open(&out, a, a->output ? a->output : "-", "--output") != 0)
    goto out;
  bslab_report_write(out.f, &rep);
  if (bslab_out_close(&out, a, true) != 0)
    goto out;
  status = s.violations || s.interrupted ? BSLAB_FAILED : BSLAB_OK;
out:
  for (size_t i = 0; i < n; i++)
    jv_free(&sh[i].root);
  free(sh);
  free(s.failures);
  free(dseed);
  free(dig);
  return status;
}
