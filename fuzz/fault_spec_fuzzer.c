/* Fuzz target: the fault-spec parser (bs_fault_spec_parse, docs/faults.md).
 * Properties: a spec that parses formats to canonical text that parses to an
 * equal spec and formats to the same text again; a rejected spec comes with
 * a message naming a column inside the input (or just past its end). */
#include "backstore/faults.h"
#include "fuzz/fuzz.h"

static void fail(const char *what, const char *text) {
  fprintf(stderr, "fault_spec: %s: \"%s\"\n", what, text);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0'; /* an embedded NUL ends the spec, as in any C string */
  bs_fault_spec *a = NULL, *b = NULL;
  char *t1 = NULL, *t2 = NULL;
  char err[512];
  int rc = bs_fault_spec_parse(&a, text, err, sizeof(err));
  if (rc != 0) {
    unsigned long col = 0;
    if (rc != BS_EINVALID || a)
      fail("rejected with a code other than INVALID, or with a spec", text);
    if (sscanf(err, "column %lu:", &col) != 1 || col < 1 || col > strlen(text) + 1)
      fail("message does not name a column inside the input", err);
    goto out;
  }
  if (bs_fault_spec_format(&t1, a) != 0)
    fail("parsed spec does not format", text);
  if (bs_fault_spec_parse(&b, t1, err, sizeof(err)) != 0)
    fail("canonical text does not parse", t1);
  if (!bs_fault_spec_equal(a, b))
    fail("canonical text parses to another spec", t1);
  if (bs_fault_spec_format(&t2, b) != 0 || strcmp(t1, t2) != 0)
    fail("canonical text is not stable", t1);
out:
  free(t1);
  free(t2);
  bs_fault_spec_free(a);
  bs_fault_spec_free(b);
  free(text);
  return 0;
}
