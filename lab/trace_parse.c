/* The trace parser (docs/traces.md): strict, with the line number of the
 * first thing that is wrong.  Operation lines are parsed in full (so replay
 * never meets a malformed one) and kept in canonical form. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lab/campaign_internal.h"
#include "lab/trace_internal.h"
#include "lab/trace_mount.h"

#define MAX_LINE 1000 /* version 1: longer lines are refused (an op line is at most ~700 bytes) */

typedef struct parser {
  bs_trace *t;
  bs_trace_error *err;
  uint32_t line;
  bool body;          /* a body line was seen: no more header */
  unsigned seen;      /* header keys seen (bit per key) */
  uint32_t ops_line;  /* where "ops" was */
  uint32_t failure_line; /* where "failure" was */
  uint64_t ops;
  /* Mount traces: the write or setxattr whose "+ HEX" data lines are still due. */
  bs_trace_line *pending;
  uint32_t pending_line;
  uint64_t pending_have, pending_hash;
} parser;

/* The longest line of the trace's version (version 1 until line 1 is read). */
static size_t max_line(const parser *p) {
  return p->t->version >= 2 ? BS_TRACE_MAX_LINE_V2 : MAX_LINE;
}

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *p, const char *fmt, ...) {
  p->err->line = p->line;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
  va_end(ap);
  return BS_EINVALID;
}

bool bs__trace_u64(const char *s, size_t n, uint64_t *out) {
  if (n == 0 || (s[0] == '0' && n > 1))
    return false;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' || x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
      return false;
    x = x * 10 + (uint64_t)(s[i] - '0');
  }
  *out = x;
  return true;
}

static bool parse_u64(const char *s, uint64_t *out) { return bs__trace_u64(s, strlen(s), out); }

static int err_code(const char *name) {
  for (int w = 0; w < BS_ERROR_COUNT; w++)
    if (strcmp(bs_err_name(-w), name) == 0)
      return -w;
  return 1;
}

/* The " -> RESULT key=value..." part of an operation line. */
static int check_result(parser *p, const char *r) {
  char tok[MAX_LINE];
  size_t n = strcspn(r, " ");
  if (n >= sizeof(tok))
    return fail(p, "result code too long");
  memcpy(tok, r, n);
  tok[n] = '\0';
  if (err_code(tok) > 0)
    return fail(p, "unknown result code \"%s\"", tok);
  static const char *const keys[] = {"n", "h", "id", "uuid", "created", "t"};
  for (r += n; *r; r += n) {
    if (*r++ != ' ' || (n = strcspn(r, " ")) == 0)
      return fail(p, "stray space in the result");
    if (n >= sizeof(tok))
      return fail(p, "result detail too long");
    memcpy(tok, r, n);
    tok[n] = '\0';
    char *eq = strchr(tok, '=');
    if (!eq || eq[1] == '\0' || strspn(eq + 1, "0123456789abcdef-") != strlen(eq + 1))
      return fail(p, "malformed result detail \"%s\" (key=value)", tok);
    *eq = '\0';
    size_t k = 0;
    while (k < sizeof(keys) / sizeof(keys[0]) && strcmp(keys[k], tok) != 0)
      k++;
    if (k == sizeof(keys) / sizeof(keys[0]))
      return fail(p, "unknown result detail \"%s\"", tok);
  }
  return 0;
}

/* "<index> <operation> -> <result>" cut in place into its index, the
 * operation text *@op and the result text *@result. */
static int split_op(parser *p, char *s, uint64_t *idx, char **op, char **result) {
  char *arrow = strstr(s, " -> ");
  if (!arrow)
    return fail(p, "operation line without \" -> RESULT\"");
  *arrow = '\0';
  char *sp = strchr(s, ' ');
  if (!sp)
    return fail(p, "operation line without an operation");
  *sp = '\0';
  if (!parse_u64(s, idx) || *idx > UINT32_MAX)
    return fail(p, "bad operation index \"%s\"", s);
  *op = sp + 1;
  *result = arrow + 4;
  return 0;
}

static int op_line(parser *p, char *s) {
  uint64_t idx;
  char *optext, *result;
  int split = split_op(p, s, &idx, &optext, &result);
  if (split != 0)
    return split;
  bs__op op;
  char why[200];
  if (bs__op_parse(optext, &op, why, sizeof(why)) != 0)
    return fail(p, "%s", why);
  int rc = check_result(p, result);
  if (rc != 0)
    return rc;
  char canon[CM_LINE * 4];
  char text[CM_LINE * 4];
  bs__op_format(canon, sizeof(canon), &op);
  int n = snprintf(text, sizeof(text), "%" PRIu64 " %s -> %s", idx, canon, result);
  if (n < 0 || (size_t)n > MAX_LINE) /* escaping may lengthen it: it must read back */
    return fail(p, "operation line too long (over %d bytes written out)", MAX_LINE);
  return bs__trace_add_line(p->t, text, (size_t)n, p->line);
}

/* An operation line of a mount trace (trace_mount.c's grammar). */
static int mount_op_line(parser *p, char *s) {
  uint64_t idx;
  char *optext, *result;
  int split = split_op(p, s, &idx, &optext, &result);
  if (split != 0)
    return split;
  bs_mop_text *mt = malloc(sizeof(*mt));
  if (!mt)
    return BS_ENO_MEMORY;
  char why[200];
  int rc = bs_mop_parse(optext, mt, why, sizeof(why));
  if (rc != 0)
    rc = fail(p, "%s", why);
  if (rc == 0)
    rc = check_result(p, result);
  bs__tbuf b = {0};
  if (rc == 0) {
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64 " ", idx);
    bs__tbuf_add(&b, num, (size_t)n);
    bs_mop_format(&b, &mt->op);
    bs__tbuf_add(&b, " -> ", 4);
    bs__tbuf_add(&b, result, strlen(result));
    if (b.oom)
      rc = BS_ENO_MEMORY;
    else if (b.n > BS_TRACE_MAX_LINE_V2)
      rc = fail(p, "operation line too long (over %d bytes written out)", BS_TRACE_MAX_LINE_V2);
  }
  if (rc == 0)
    rc = bs__trace_add_line(p->t, b.p, b.n, p->line);
  bs_trace_line *l = rc == 0 ? &p->t->lines[p->t->n_lines - 1] : NULL;
  if (l && bs_mop_has_data(mt->op.kind)) {
    if (mt->op.len == 0 && mt->op.bytes_hash != BS__FNV_OFFSET) {
      rc = fail(p, "bytes=%016" PRIx64 " does not match the 0 bytes carried (corrupted?)",
                mt->op.bytes_hash);
    } else if (mt->op.len > 0) { /* at most BS_TRACE_DATA_MAX: bs_mop_parse checked */
      if (!(l->data = malloc((size_t)mt->op.len))) {
        rc = BS_ENO_MEMORY;
      } else {
        l->data_len = (size_t)mt->op.len;
        p->pending = l;
        p->pending_line = p->line;
        p->pending_have = 0;
        p->pending_hash = mt->op.bytes_hash;
      }
    }
  }
  bs__tbuf_free(&b);
  free(mt);
  return rc;
}

/* "+ HEX": the next bytes of the pending write or setxattr. */
static int data_line(parser *p, const char *s) {
  bs_trace_line *l = p->pending;
  if (!l)
    return fail(p, "data line without a write or setxattr whose bytes are due");
  const char *hex = s + 2;
  size_t n = strlen(hex);
  if (s[1] != ' ' || n == 0 || n % 2 || n > 2 * BS_TRACE_DATA_PER_LINE)
    return fail(p, "bad data line (\"+ \" and 2 to %d lower-case hex digits)",
                2 * BS_TRACE_DATA_PER_LINE);
  if (p->pending_have + n / 2 > l->data_len)
    return fail(p, "more data than the %zu bytes of line %" PRIu32, l->data_len, p->pending_line);
  for (size_t i = 0; i < n; i += 2) {
    int hi = bs__trace_hexval(hex[i]), lo = bs__trace_hexval(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return fail(p, "bad hex digit in the data line");
    l->data[p->pending_have++] = (unsigned char)(hi * 16 + lo);
  }
  if (p->pending_have < l->data_len)
    return 0;
  p->pending = NULL;
  uint64_t h = bs__fnv1a(BS__FNV_OFFSET, l->data, l->data_len);
  if (h != p->pending_hash)
    return fail(p, "the %zu bytes of line %" PRIu32 " do not match their bytes=%016" PRIx64
                " (corrupted)", l->data_len, p->pending_line, p->pending_hash);
  return 0;
}

/* A line that is not data while data is due: the record was cut short. */
static int no_data_due(parser *p) {
  if (!p->pending)
    return 0;
  return fail(p, "line %" PRIu32 " carries %" PRIu64 " of its %zu bytes (cut short?)",
              p->pending_line, p->pending_have, p->pending->data_len);
}

static int fault_line(parser *p, const char *s) {
  /* "fault <point> <details...>": the point is a bs/<layer>/<op> name. */
  const char *pt = s + 6;
  size_t n = strcspn(pt, " ");
  if (strncmp(pt, "bs/", 3) != 0 || n < 4)
    return fail(p, "fault line without a fault point (bs/<layer>/<op>)");
  for (const char *q = s; *q; q++)
    if (*q == ' ' && (q[1] == ' ' || q[1] == '\0'))
      return fail(p, "stray space in the fault line");
  return bs__trace_add_line(p->t, s, strlen(s), p->line);
}

enum { K_SEED, K_BACKEND, K_PROFILE, K_FAULTS, K_BUG, K_CHECK, K_OPS, K_FAILURE, K_OPERATION,
       K_EXPECTED, K_ACTUAL, K_MESSAGE, K_SOURCE, K_COUNT };
static const char *const key_names[K_COUNT] = {"seed", "backend", "profile", "faults", "sim-bug",
  "backend-check", "ops", "failure", "operation", "expected", "actual", "message", "source"};

static int copy(parser *p, char *dst, size_t cap, const char *v, const char *key) {
  if ((size_t)snprintf(dst, cap, "%s", v) >= cap)
    return fail(p, "%s is too long (at most %zu bytes)", key, cap - 1);
  return 0;
}

static int failure_line(parser *p, const char *v) {
  bs_campaign_failure *f = &p->t->failure;
  uint64_t idx;
  char num[24];
  const char *sp = strchr(v, ' ');
  size_t n = sp ? (size_t)(sp - v) : 0;
  if (strncmp(v, "op=", 3) != 0 || !sp || n - 3 >= sizeof(num) || strncmp(sp, " check=", 7) != 0)
    return fail(p, "expected \"failure op=N check=NAME\"");
  memcpy(num, v + 3, n - 3);
  num[n - 3] = '\0';
  if (!parse_u64(num, &idx) || idx > UINT32_MAX)
    return fail(p, "bad failure op index \"%s\"", num);
  const char *check = sp + 7;
  if (*check == '\0' || strchr(check, ' '))
    return fail(p, "bad failure check \"%s\"", check);
  p->t->failed = true;
  f->op_index = (uint32_t)idx;
  return copy(p, f->check, sizeof(f->check), check, "check");
}

static int header_line(parser *p, const char *s) {
  const char *sp = strchr(s, ' ');
  size_t n = sp ? (size_t)(sp - s) : strlen(s);
  int k = 0;
  while (k < K_COUNT && (strlen(key_names[k]) != n || strncmp(key_names[k], s, n) != 0))
    k++;
  if (k == K_COUNT)
    return fail(p, "unknown line \"%.*s\"", (int)(n < 40 ? n : 40), s);
  if (p->body)
    return fail(p, "header line \"%s\" after the first operation", key_names[k]);
  if (p->seen & (1u << k))
    return fail(p, "second \"%s\" line", key_names[k]);
  if (!sp || sp[1] == '\0')
    return fail(p, "\"%s\" without a value", key_names[k]);
  if (k >= K_OPERATION && k <= K_MESSAGE && !(p->seen & (1u << K_FAILURE)))
    return fail(p, "\"%s\" before the \"failure\" line", key_names[k]);
  p->seen |= 1u << k;
  const char *v = sp + 1;
  bs_trace *t = p->t;
  bs_campaign_failure *f = &t->failure;
  switch (k) {
  case K_SEED: return parse_u64(v, &t->seed) ? 0 : fail(p, "bad seed \"%s\"", v);
  case K_BACKEND: return copy(p, t->backend, sizeof(t->backend), v, "backend");
  case K_PROFILE: return copy(p, t->profile, sizeof(t->profile), v, "profile");
  case K_FAULTS:
    if (strcmp(v, "none") == 0)
      return 0;
    return (t->faults = strdup(v)) ? 0 : BS_ENO_MEMORY;
  case K_BUG: return copy(p, t->sim_bug, sizeof(t->sim_bug), v, "sim-bug");
  case K_CHECK:
    if (strcmp(v, "off") != 0)
      return fail(p, "\"backend-check\" can only be \"off\"");
    t->no_backend_check = true;
    return 0;
  case K_OPS:
    p->ops_line = p->line;
    return parse_u64(v, &p->ops) && p->ops <= UINT32_MAX ? 0 : fail(p, "bad ops count \"%s\"", v);
  case K_FAILURE: p->failure_line = p->line; return failure_line(p, v);
  case K_SOURCE:
    if (t->version < 2)
      return fail(p, "\"source\" needs trace format version 2");
    if (strcmp(v, "mount") != 0)
      return fail(p, "unknown source \"%s\" (mount)", v);
    t->mount = true;
    return 0;
  case K_OPERATION: return copy(p, f->op, sizeof(f->op), v, "operation");
  case K_EXPECTED: return copy(p, f->expected, sizeof(f->expected), v, "expected");
  case K_ACTUAL: return copy(p, f->actual, sizeof(f->actual), v, "actual");
  default: return copy(p, f->message, sizeof(f->message), v, "message");
  }
}

static int parse_line(parser *p, char *s) {
  if (p->line == 1) {
    uint64_t v;
    if (strncmp(s, "bstrace ", 8) != 0 || !parse_u64(s + 8, &v))
      return fail(p, "not a trace: the first line must be \"bstrace %d\"", BS_TRACE_VERSION);
    if (v < 1 || v > BS_TRACE_VERSION)
      return fail(p, "trace format version %" PRIu64 " is not supported (this library reads 1 to %d)",
                  v, BS_TRACE_VERSION);
    p->t->version = (uint32_t)v;
    return 0;
  }
  if (s[0] == '\0' || s[0] == '#')
    return 0;
  if (s[0] == '+' && p->t->mount)
    return data_line(p, s);
  int rc = no_data_due(p);
  if (rc != 0)
    return rc;
  bool op = s[0] >= '0' && s[0] <= '9', sweep = strcmp(s, "sweep") == 0;
  bool fault = strncmp(s, "fault ", 6) == 0;
  if (!op && !sweep && !fault)
    return header_line(p, s);
  static const unsigned need = 1u << K_SEED | 1u << K_BACKEND | 1u << K_PROFILE | 1u << K_OPS;
  if (!p->body && (p->seen & need) != need) {
    int k = 0;
    while (!(need & (1u << k)) || (p->seen & (1u << k)))
      k++;
    return fail(p, "the header has no \"%s\" line", key_names[k]);
  }
  p->body = true;
  if (p->t->mount && !op)
    return fail(p, "a mount trace has no %s lines", sweep ? "sweep" : "fault");
  if (p->t->mount)
    return mount_op_line(p, s);
  if (fault)
    return fault_line(p, s);
  if (sweep)
    return bs__trace_add_line(p->t, s, strlen(s), p->line);
  return op_line(p, s);
}

/* One line of @n bytes (without its '\n'). */
static int feed(parser *p, const char *text, size_t n) {
  p->line++;
  size_t m = n && text[n - 1] == '\r' ? n - 1 : n;
  if (m > max_line(p))
    return fail(p, "line longer than %zu bytes", max_line(p));
  if (memchr(text, '\0', m))
    return fail(p, "NUL byte in the line");
  char buf[BS_TRACE_MAX_LINE_V2 + 2];
  memcpy(buf, text, m);
  buf[m] = '\0';
  return parse_line(p, buf);
}

/* The checks once every line is in; frees the trace on a failure. */
static int finish(parser *p, bs_trace **out) {
  int rc = 0;
  if (p->line == 0)
    rc = fail(p, "empty file: not a trace");
  if (rc == 0)
    rc = no_data_due(p);
  if (rc == 0 && !p->body) { /* a trace without operations still needs its header */
    static const unsigned need = 1u << K_SEED | 1u << K_BACKEND | 1u << K_PROFILE | 1u << K_OPS;
    int k = 0;
    while (k < K_COUNT && (!(need & (1u << k)) || (p->seen & (1u << k))))
      k++;
    if (k < K_COUNT)
      rc = fail(p, "the trace ends without a \"%s\" line in its header", key_names[k]);
  }
  if (rc == 0 && p->ops != p->t->n_ops) {
    p->line = p->ops_line;
    rc = fail(p, "\"ops %" PRIu64 "\" but the trace has %" PRIu32 " operation lines (cut short?)",
              p->ops, p->t->n_ops);
  }
  if (rc == 0 && p->t->failed && p->t->failure.op[0] == '\0') {
    p->line = p->failure_line;
    rc = fail(p, "the failure has no \"operation\" line");
  }
  if (rc != 0) {
    bs_trace_free(p->t);
    return rc;
  }
  p->t->failure.seed = p->t->seed;
  *out = p->t;
  return 0;
}

static int parser_new(parser *p, bs_trace **out, bs_trace_error *err) {
  memset(err, 0, sizeof(*err));
  *out = NULL;
  *p = (parser){.err = err};
  return (p->t = calloc(1, sizeof(*p->t))) ? 0 : BS_ENO_MEMORY;
}

int bs_trace_parse(bs_trace **out, const char *text, size_t len, bs_trace_error *err) {
  bs_trace_error dummy;
  if (!err)
    err = &dummy;
  memset(err, 0, sizeof(*err));
  if (!out || (!text && len))
    return BS_EINVALID;
  parser p;
  int rc = parser_new(&p, out, err);
  for (size_t i = 0; rc == 0 && i < len;) {
    const char *e = memchr(text + i, '\n', len - i);
    size_t n = e ? (size_t)(e - (text + i)) : len - i;
    rc = feed(&p, text + i, n);
    i += n + 1;
  }
  if (rc != 0) {
    bs_trace_free(p.t);
    return rc;
  }
  return finish(&p, out);
}

static const char *kind_name(mode_t m) {
  return S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
       : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* Open trace file @path: a regular file of at most BS_TRACE_MAX_BYTES, or
 * a pipe (a FIFO, process substitution).  Anything else is refused before
 * it is opened (a device's reads may never end), and checked again once
 * open, as that is what is read. */
static int open_trace(FILE **out, const char *path, bs_trace_error *err) {
  struct stat sb;
  FILE *f = NULL;
  int e = stat(path, &sb) == 0 ? 0 : errno;
  if (e == 0 && (S_ISREG(sb.st_mode) || S_ISFIFO(sb.st_mode)) && !(f = fopen(path, "rb")))
    e = errno;
  if (e == 0 && f && fstat(fileno(f), &sb) != 0)
    e = errno;
  if (e != 0) {
    snprintf(err->message, sizeof(err->message), "cannot read %s: %s", path, strerror(e));
    if (f)
      fclose(f);
    return e == ENOENT ? BS_ENOT_FOUND : BS_EIO;
  }
  int rc = 0;
  if (!S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode)) {
    snprintf(err->message, sizeof(err->message), "%s, not a trace (a regular file or a pipe)",
             kind_name(sb.st_mode));
    rc = BS_EINVALID;
  } else if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > BS_TRACE_MAX_BYTES) {
    snprintf(err->message, sizeof(err->message), "%llu bytes: a trace has at most %u (BS_TRACE_MAX_BYTES)",
             (unsigned long long)sb.st_size, BS_TRACE_MAX_BYTES);
    rc = BS_EINVALID;
  }
  if (rc != 0 && f)
    fclose(f);
  *out = rc ? NULL : f;
  return rc;
}

int bs_trace_load(bs_trace **out, const char *path, bs_trace_error *err) {
  bs_trace_error dummy;
  if (!err)
    err = &dummy;
  memset(err, 0, sizeof(*err));
  if (!out || !path)
    return BS_EINVALID;
  *out = NULL;
  FILE *f;
  int rc = open_trace(&f, path, err);
  if (rc != 0)
    return rc;
  parser p;
  rc = parser_new(&p, out, err);
  /* A line at a time, never more than one line and the trace in memory: a
   * long line fails when it passes the limit, not once it has all been read. */
  char *line = malloc(BS_TRACE_MAX_LINE_V2 + 2);
  if (!line && rc == 0)
    rc = BS_ENO_MEMORY;
  size_t n = 0;
  uint64_t total = 0;
  for (int c; rc == 0 && (c = getc_unlocked(f)) != EOF;) {
    if (++total > BS_TRACE_MAX_BYTES) {
      p.line++;
      rc = fail(&p, "the trace goes on past %u bytes, the most a trace may have", BS_TRACE_MAX_BYTES);
    } else if (c == '\n') {
      rc = feed(&p, line, n);
      n = 0;
    } else if (n > max_line(&p)) {
      p.line++;
      rc = fail(&p, "line longer than %zu bytes", max_line(&p));
    } else {
      line[n++] = (char)c;
    }
  }
  if (rc == 0 && ferror(f)) {
    snprintf(err->message, sizeof(err->message), "cannot read %s: read error", path);
    rc = BS_EIO;
  }
  fclose(f);
  if (rc == 0 && n > 0)
    rc = feed(&p, line, n);
  free(line);
  if (rc != 0) {
    bs_trace_free(p.t);
    return rc;
  }
  return finish(&p, out);
}
