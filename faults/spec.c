/* The fault-spec language (docs/faults.md): parse, canonical format,
 * equality, and the error names a spec may use.
 *
 *   spec    := blank* [term (blank* ',' blank* term)*] blank*
 *   term    := POINT '=' ERROR [trigger]
 *   trigger := '@' N | '@' N '+' | '%' P        (none: "@1+", every call)
 *
 * The parser and the formatter share one check of a term, so whatever
 * bs_fault_spec_format() accepts, bs_fault_spec_parse() reads back equal. */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/faults_internal.h"

/* ---- error names ------------------------------------------------------------ */

/* Canonical names: the BS_E* names in lower case ("no_space"). */
static const struct {
  int err;
  const char *name;
  const char *eno; /* errno spelling of the representative errno */
} errors[] = {
#define BS__XX(n, wire, e, msg) {BS_E##n, #n, #e},
  BS_ERRNO_MAP(BS__XX)
#undef BS__XX
};
#define N_ERRORS (sizeof(errors) / sizeof(errors[0]))

/* Spellings of other errnos that map to a code but are not its representative. */
static const struct {
  const char *name;
  int err;
} aliases[] = {{"ENOTSUP", BS_EUNSUPPORTED}, {"EPERM", BS_EPERMISSION}};

static bool ieq(const char *lower, const char *upper) {
  for (; *lower && *upper; lower++, upper++)
    if (*lower != tolower((unsigned char)*upper) || isupper((unsigned char)*lower))
      return false;
  return *lower == *upper;
}

/* The canonical names, lower-cased once (threads may ask at the same time). */
static char lower_names[N_ERRORS][24];
static pthread_once_t lower_once = PTHREAD_ONCE_INIT;

static void make_lower_names(void) {
  for (size_t i = 0; i < N_ERRORS; i++)
    for (size_t j = 0; errors[i].name[j] && j < sizeof(lower_names[i]) - 1; j++)
      lower_names[i][j] = (char)tolower((unsigned char)errors[i].name[j]);
}

const char *bs_fault_error_name(int err) {
  pthread_once(&lower_once, make_lower_names);
  for (size_t i = 0; i < N_ERRORS; i++)
    if (errors[i].err == err)
      return lower_names[i];
  return NULL;
}

int bs_fault_error_parse(int *err, const char *name) {
  if (!err || !name)
    return BS_EINVALID;
  for (size_t i = 0; i < N_ERRORS; i++)
    if (ieq(name, errors[i].name) || ieq(name, errors[i].eno)) {
      *err = errors[i].err;
      return BS_OK;
    }
  for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
    if (ieq(name, aliases[i].name)) {
      *err = aliases[i].err;
      return BS_OK;
    }
  return BS_EINVALID;
}

/* ---- shared term check --------------------------------------------------------- */

static void say(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t cap, const char *fmt, ...) {
  if (!err || cap == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
}

/* Whether the point (name or glob) of a term is acceptable; a message if not. */
static bool point_ok(const char *point, char *msg, size_t cap) {
  if (!point[0]) {
    say(msg, cap, "missing fault point before '='");
    return false;
  }
  if (strchr(point, '*')) {
    const bs_fault_point_info *cat;
    size_t n = bs_fault_catalogue(&cat);
    for (size_t i = 0; i < n; i++)
      if (bs__fault_glob(point, cat[i].name))
        return true;
    say(msg, cap, "glob '%s' matches no fault point ('bslab faults list' shows them)", point);
    return false;
  }
  if (bs_fault_point_find(NULL, point) == 0)
    return true;
  char near[160];
  bs__fault_near(near, sizeof(near), point);
  say(msg, cap, "unknown fault point '%s'%s%s%s ('bslab faults list' shows them)", point,
      near[0] ? "; did you mean " : "", near, near[0] ? "?" : "");
  return false;
}

static bool trigger_ok(const bs_fault_term *t) {
  switch (t->trigger) {
  case BS_FAULT_NTH:
  case BS_FAULT_FROM:
    return t->nth >= 1 && t->ppm == 0;
  case BS_FAULT_PROB:
    return t->nth == 0 && t->ppm >= 1 && t->ppm <= BS_FAULT_PPM;
  }
  return false;
}

/* ---- parse ------------------------------------------------------------------------- */

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* Parse decimal N >= 1 at *p; false on overflow, zero or no digits. */
static bool parse_count(const char **p, uint64_t *out) {
  const char *s = *p;
  uint64_t v = 0;
  if (!isdigit((unsigned char)*s))
    return false;
  for (; isdigit((unsigned char)*s); s++) {
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  if (v == 0)
    return false;
  *p = s;
  *out = v;
  return true;
}

/* Parse probability P ("0.01", "1", "0.5") at *p into parts per million. */
static bool parse_prob(const char **p, uint32_t *ppm) {
  const char *s = *p;
  if (!isdigit((unsigned char)*s))
    return false;
  uint64_t whole = 0;
  for (; isdigit((unsigned char)*s); s++) {
    whole = whole * 10 + (uint64_t)(*s - '0');
    if (whole > 1)
      return false;
  }
  uint64_t frac = 0;
  int digits = 0;
  if (*s == '.') {
    s++;
    if (!isdigit((unsigned char)*s))
      return false;
    for (; isdigit((unsigned char)*s); s++) {
      if (++digits > 6)
        return false;
      frac = frac * 10 + (uint64_t)(*s - '0');
    }
  }
  for (int d = digits; d < 6; d++)
    frac *= 10;
  uint64_t v = whole * BS_FAULT_PPM + frac;
  if (v == 0 || v > BS_FAULT_PPM)
    return false;
  *p = s;
  *ppm = (uint32_t)v;
  return true;
}

/* The 1-based column of @p in the spec @text. */
static size_t column(const char *text, const char *p) { return (size_t)(p - text) + 1; }

/* Parse one term of spec @text starting at @s and ending before @end; a
 * message naming the column if it is bad. */
static int parse_term(bs_fault_term *t, const char *text, const char *s, const char *end, char *err,
                      size_t cap) {
  memset(t, 0, sizeof(*t));
  char term[96];
  int tl = (int)(end - s) > 80 ? 80 : (int)(end - s);
  snprintf(term, sizeof(term), "%.*s%s", tl, s, end - s > 80 ? "..." : "");
  const char *eq = memchr(s, '=', (size_t)(end - s));
  if (!eq) {
    say(err, cap, "column %zu: term '%s': expected POINT=ERROR[@N|@N+|%%P]", column(text, s), term);
    return BS_EINVALID;
  }
  if ((size_t)(eq - s) > BS_FAULT_POINT_MAX) {
    say(err, cap, "column %zu: term '%s': fault point longer than %d bytes", column(text, s), term,
        BS_FAULT_POINT_MAX);
    return BS_EINVALID;
  }
  memcpy(t->point, s, (size_t)(eq - s));
  t->point[eq - s] = '\0';
  char msg[320];
  if (!point_ok(t->point, msg, sizeof(msg))) {
    say(err, cap, "column %zu: term '%s': %s", column(text, s), term, msg);
    return BS_EINVALID;
  }
  const char *e = eq + 1, *q = e;
  while (q < end && *q != '@' && *q != '%')
    q++;
  char name[32];
  if (q == e || (size_t)(q - e) >= sizeof(name)) {
    say(err, cap, "column %zu: term '%s': %s error name after '=' (e.g. no_space, eio)", column(text, e), term,
        q == e ? "missing" : "unknown");
    return BS_EINVALID;
  }
  memcpy(name, e, (size_t)(q - e));
  name[q - e] = '\0';
  if (bs_fault_error_parse(&t->error, name) != 0) {
    say(err, cap,
        "column %zu: term '%s': unknown error '%s' (a lower-case BS_E* name such as no_space, io, "
        "not_found, or an errno such as enospc, eio)",
        column(text, e), term, name);
    return BS_EINVALID;
  }
  if (q == end) { /* no trigger: every call */
    t->trigger = BS_FAULT_FROM;
    t->nth = 1;
    return BS_OK;
  }
  const char *p = q + 1;
  if (*q == '@') {
    if (!parse_count(&p, &t->nth) || p > end) {
      say(err, cap, "column %zu: term '%s': '@' needs a call number N >= 1 (\"@3\" or \"@3+\")", column(text, p),
          term);
      return BS_EINVALID;
    }
    t->trigger = BS_FAULT_NTH;
    if (p < end && *p == '+') {
      t->trigger = BS_FAULT_FROM;
      p++;
    }
  } else {
    if (!parse_prob(&p, &t->ppm) || p > end) {
      say(err, cap,
          "column %zu: term '%s': '%%' needs a probability 0 < P <= 1 with at most 6 decimals (\"%%0.01\")",
          column(text, p), term);
      return BS_EINVALID;
    }
    t->trigger = BS_FAULT_PROB;
  }
  if (p != end) {
    say(err, cap, "column %zu: term '%s': unexpected '%c' after the trigger", column(text, p), term, *p);
    return BS_EINVALID;
  }
  return BS_OK;
}

int bs_fault_spec_parse(bs_fault_spec **out, const char *text, char *err, size_t errcap) {
  if (err && errcap)
    err[0] = '\0';
  if (!out || !text) {
    say(err, errcap, "NULL spec or output");
    return BS_EINVALID;
  }
  *out = NULL;
  bs_fault_spec *spec = calloc(1, sizeof(*spec));
  if (!spec)
    return BS_ENO_MEMORY;
  int rc = BS_OK;
  size_t cap = 0;
  const char *s = text;
  while (blank(*s))
    s++;
  while (*s) {
    const char *end = s;
    while (*end && *end != ',' && !blank(*end))
      end++;
    const char *after = end;
    while (blank(*after))
      after++;
    if (end == s || (*after && *after != ',')) {
      const char *at = end == s ? s : after;
      say(err, errcap, "column %zu: %s", (size_t)(at - text) + 1,
          end == s ? "empty term (two commas, or a comma at an end)" : "blank inside a term");
      rc = BS_EINVALID;
      goto out;
    }
    if (spec->count == cap) {
      size_t ncap = cap ? cap * 2 : 4;
      bs_fault_term *nt = realloc(spec->terms, ncap * sizeof(*nt));
      if (!nt) {
        rc = BS_ENO_MEMORY;
        goto out;
      }
      spec->terms = nt;
      cap = ncap;
    }
    rc = parse_term(&spec->terms[spec->count], text, s, end, err, errcap);
    if (rc != 0)
      goto out;
    spec->count++;
    s = after;
    if (*s == ',') {
      s++;
      while (blank(*s))
        s++;
      if (!*s) {
        say(err, errcap, "column %zu: empty term (two commas, or a comma at an end)", (size_t)(s - text) + 1);
        rc = BS_EINVALID;
        goto out;
      }
    }
  }
out:
  if (rc != 0) {
    bs_fault_spec_free(spec);
    return rc;
  }
  *out = spec;
  return BS_OK;
}

/* ---- format, equality, free ------------------------------------------------------- */

int bs_fault_spec_format(char **out, const bs_fault_spec *spec) {
  if (!out || !spec || (spec->count && !spec->terms))
    return BS_EINVALID;
  *out = NULL;
  /* Each term: point (63) '=' name (< 24) and a trigger (< 24). */
  size_t cap = spec->count * (BS_FAULT_POINT_MAX + 52) + 1;
  char *buf = malloc(cap);
  if (!buf)
    return BS_ENO_MEMORY;
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < spec->count; i++) {
    const bs_fault_term *t = &spec->terms[i];
    const char *ename = bs_fault_error_name(t->error);
    if (!memchr(t->point, '\0', sizeof(t->point)) || strpbrk(t->point, ",=@% \t") || !ename ||
        !trigger_ok(t) || !point_ok(t->point, NULL, 0)) {
      free(buf);
      return BS_EINVALID;
    }
    char trig[32];
    if (t->trigger == BS_FAULT_PROB) {
      if (t->ppm == BS_FAULT_PPM) {
        snprintf(trig, sizeof(trig), "%%1");
      } else {
        snprintf(trig, sizeof(trig), "%%0.%06u", (unsigned)t->ppm);
        size_t l = strlen(trig);
        while (trig[l - 1] == '0')
          trig[--l] = '\0';
      }
    } else {
      snprintf(trig, sizeof(trig), "@%llu%s", (unsigned long long)t->nth,
               t->trigger == BS_FAULT_FROM ? "+" : "");
    }
    used += (size_t)snprintf(buf + used, cap - used, "%s%s=%s%s", i ? "," : "", t->point, ename, trig);
  }
  *out = buf;
  return BS_OK;
}

bool bs_fault_spec_equal(const bs_fault_spec *a, const bs_fault_spec *b) {
  if (!a || !b)
    return a == b;
  if (a->count != b->count)
    return false;
  for (size_t i = 0; i < a->count; i++) {
    const bs_fault_term *x = &a->terms[i], *y = &b->terms[i];
    if (strncmp(x->point, y->point, sizeof(x->point)) != 0 || x->error != y->error ||
        x->trigger != y->trigger || x->nth != y->nth || x->ppm != y->ppm)
      return false;
  }
  return true;
}

void bs_fault_spec_free(bs_fault_spec *spec) {
  if (!spec)
    return;
  free(spec->terms);
  free(spec);
}
