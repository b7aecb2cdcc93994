/* Traces in memory and on disk: the writer, building a trace from a
 * recording, release (docs/traces.md).  The parser is in trace_parse.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab.h"
#include "lab/trace.h"
#include "lab/campaign_internal.h"
#include "lab/trace_internal.h"
#include "lab/trace_mount.h"

void bs__tbuf_add(bs__tbuf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void bs__tbuf_free(bs__tbuf *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

bs_trace_line_kind bs__trace_kind_of(const char *text) {
  if (text[0] >= '0' && text[0] <= '9')
    return BS_TRACE_OP;
  if (strncmp(text, "fault ", 6) == 0)
    return BS_TRACE_FAULT;
  return BS_TRACE_SWEEP;
}

int bs__trace_add_line(bs_trace *t, const char *text, size_t n, uint32_t lineno) {
  if ((t->n_lines & (t->n_lines + 1)) == 0 || t->n_lines == 0) { /* grow at 0, 1, 3, 7, ... */
    size_t cap = t->n_lines ? 2 * (t->n_lines + 1) : 16;
    bs_trace_line *l = realloc(t->lines, cap * sizeof(*l));
    if (!l)
      return BS_ENO_MEMORY;
    t->lines = l;
  }
  char *copy = malloc(n + 1);
  if (!copy)
    return BS_ENO_MEMORY;
  memcpy(copy, text, n);
  copy[n] = '\0';
  bs_trace_line *l = &t->lines[t->n_lines++];
  l->data = NULL;
  l->data_len = 0;
  l->kind = bs__trace_kind_of(copy);
  l->lineno = lineno;
  l->text = copy;
  if (l->kind == BS_TRACE_OP)
    t->n_ops++;
  return 0;
}

int bs__trace_set_body(bs_trace *t, const char *body, size_t n) {
  for (size_t i = 0; i < n;) {
    const char *e = memchr(body + i, '\n', n - i);
    size_t len = e ? (size_t)(e - (body + i)) : n - i;
    int rc = bs__trace_add_line(t, body + i, len, 0);
    if (rc != 0)
      return rc;
    i += len + 1;
  }
  return 0;
}

int bs__trace_new(bs_trace **out, const bs_campaign_opts *o, uint64_t seed) {
  bs_trace *t = calloc(1, sizeof(*t));
  if (!t)
    return BS_ENO_MEMORY;
  t->version = 1; /* a campaign trace needs nothing of version 2 */
  t->seed = seed;
  snprintf(t->backend, sizeof(t->backend), "%s", o->backend ? o->backend : "sim");
  snprintf(t->profile, sizeof(t->profile), "%s", o->profile ? o->profile : "apfs");
  snprintf(t->sim_bug, sizeof(t->sim_bug), "%s", o->sim_bug ? o->sim_bug : "");
  t->no_backend_check = o->no_backend_check;
  if (o->faults && o->faults[0]) {
    char why[256];
    int rc = bs__camp_faults_spec(o->faults, &t->faults, why, sizeof(why));
    if (rc != 0) {
      free(t);
      return rc;
    }
  }
  *out = t;
  return 0;
}

void bs__trace_opts(const bs_trace *t, bs_campaign_opts *o) {
  memset(o, 0, sizeof(*o));
  o->backend = t->backend;
  o->profile = t->profile;
  o->sim_bug = t->sim_bug[0] ? t->sim_bug : NULL;
  o->no_backend_check = t->no_backend_check;
  o->faults = t->faults;
  o->first_seed = t->seed;
}

void bs_trace_free(bs_trace *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->n_lines; i++) {
    free(t->lines[i].text);
    free(t->lines[i].data);
  }
  free(t->lines);
  free(t->faults);
  free(t);
}

/* Header text runs to the end of its line: no newline or control byte. */
static void clean(FILE *f, const char *v) {
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

static void value(FILE *f, const char *key, const char *v) {
  fprintf(f, "%s ", key);
  clean(f, v);
  fputc('\n', f);
}

int bs_trace_write(FILE *f, const bs_trace *t) {
  if (!f || !t)
    return BS_EINVALID;
  /* A mount trace is version 2; a campaign trace keeps the version it was read with. */
  fprintf(f, "bstrace %" PRIu32 "\n", t->mount && t->version < 2 ? 2 : t->version);
  if (t->mount)
    fputs("source mount\n", f);
  fprintf(f, "seed %" PRIu64 "\n", t->seed);
  value(f, "backend", t->backend);
  value(f, "profile", t->profile);
  value(f, "faults", t->faults ? t->faults : "none");
  if (t->sim_bug[0])
    value(f, "sim-bug", t->sim_bug);
  if (t->no_backend_check)
    fputs("backend-check off\n", f);
  fprintf(f, "ops %" PRIu32 "\n", t->n_ops);
  if (t->failed) {
    const bs_campaign_failure *x = &t->failure;
    fprintf(f, "failure op=%" PRIu32 " check=", x->op_index);
    clean(f, x->check);
    fputc('\n', f);
    value(f, "operation", x->op);
    if (x->expected[0]) /* an empty value would not parse back */
      value(f, "expected", x->expected);
    if (x->actual[0])
      value(f, "actual", x->actual);
    if (x->message[0])
      value(f, "message", x->message);
  }
  for (size_t i = 0; i < t->n_lines; i++) {
    const bs_trace_line *l = &t->lines[i];
    fputs(l->text, f);
    fputc('\n', f);
    /* The bytes a mount trace's write carries: "+ HEX" lines. */
    for (size_t off = 0; off < l->data_len; off += BS_TRACE_DATA_PER_LINE) {
      size_t n = l->data_len - off < BS_TRACE_DATA_PER_LINE ? l->data_len - off : BS_TRACE_DATA_PER_LINE;
      char hex[2 * BS_TRACE_DATA_PER_LINE + 4] = "+ ";
      for (size_t k = 0; k < n; k++) {
        hex[2 + 2 * k] = "0123456789abcdef"[l->data[off + k] >> 4];
        hex[3 + 2 * k] = "0123456789abcdef"[l->data[off + k] & 15];
      }
      hex[2 + 2 * n] = '\n';
      fwrite(hex, 1, 3 + 2 * n, f);
    }
  }
  return ferror(f) ? BS_EIO : 0;
}

int bs_trace_save(const bs_trace *t, const char *path, bs_trace_error *err) {
  bs_trace_error dummy;
  if (!err)
    err = &dummy;
  memset(err, 0, sizeof(*err));
  if (!t || !path)
    return BS_EINVALID;
  bs_lab_file lf;
  int rc = bs_lab_file_open(&lf, path, err->message, sizeof(err->message));
  if (rc != 0)
    return rc;
  errno = 0;
  if (bs_trace_write(lf.f, t) != 0) {
    int e = errno ? errno : EIO;
    snprintf(err->message, sizeof(err->message), "cannot write %.200s: %s", path, strerror(e));
    bs_lab_file_abort(&lf);
    return bs_err_from_errno(e);
  }
  return bs_lab_file_commit(&lf, err->message, sizeof(err->message));
}

/* The operation kind of a failure: the first word of its operation text. */
static size_t kind_len(const char *op) { return strcspn(op, " "); }

bool bs_trace_same_failure(const bs_campaign_failure *a, const bs_campaign_failure *b) {
  if (!a || !b)
    return false;
  size_t ka = kind_len(a->op), kb = kind_len(b->op);
  if (ka != kb || memcmp(a->op, b->op, ka) != 0 || strcmp(a->check, b->check) != 0)
    return false;
  return strcmp(a->check, "result") != 0 || strcmp(a->actual, b->actual) == 0;
}
