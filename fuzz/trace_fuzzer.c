/* Fuzz target: the trace parser (bs_trace_parse, docs/traces.md).
 * Properties: a trace that parses writes out as text that parses again, to a
 * trace that writes out to the same bytes (the written form is canonical); a
 * rejected trace is INVALID, with no trace, and names a line inside the
 * input (or 0 for the whole file). */
#include "lab/trace.h"
#include "fuzz/fuzz.h"

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "trace: %s: %s\n", what, detail);
  abort();
}

static char *write_text(const bs_trace *t, size_t *n) {
  char *p = NULL;
  FILE *f = open_memstream(&p, n);
  if (!f)
    return NULL;
  if (bs_trace_write(f, t) != 0)
    fail("write failed", "");
  fclose(f);
  return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  bs_trace *a = NULL, *b = NULL, *c = NULL;
  bs_trace_error e;
  int rc = bs_trace_parse(&a, (const char *)data, size, &e);
  if (rc != 0) {
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
      lines += data[i] == '\n';
    if ((rc != BS_EINVALID && rc != BS_ENO_MEMORY) || a)
      fail("rejected with a code other than INVALID, or with a trace", e.message);
    if (rc == BS_EINVALID && (e.line == 0 || e.line > lines || e.message[0] == '\0'))
      fail("error names no line of the input, or says nothing", e.message);
    return 0;
  }
  size_t n1 = 0, n2 = 0;
  char *t1 = write_text(a, &n1);
  if (!t1)
    goto out;
  if (bs_trace_parse(&b, t1, n1, &e) != 0)
    fail("written trace does not parse", e.message);
  char *t2 = write_text(b, &n2);
  if (!t2)
    goto out1;
  if (n1 != n2 || memcmp(t1, t2, n1) != 0)
    fail("written form is not stable", t1);
  if (a->n_ops != b->n_ops || a->n_lines != b->n_lines || a->seed != b->seed ||
      a->failed != b->failed)
    fail("re-parsed trace differs", t1);
  free(t2);
out1:
  free(t1);
out:
  bs_trace_free(a);
  bs_trace_free(b);
  bs_trace_free(c);
  return 0;
}
