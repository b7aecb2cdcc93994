/* Shared by the two diskutil fuzz targets: the properties every listSnapshots
 * parser keeps (real/parse_diskutil.h).
 * - Deterministic: the same input parses to the same result twice.
 * - Valid or rejected: a success lists names that pass bs_name_validate()
 *   (or "" for a name we cannot carry, flagged foreign) and distinct UUIDs; a failure is PARSE (or NO_MEMORY) with a message and
 *   no partial result.
 * - Round trip: what the writer of the same form prints for the result
 *   parses back to exactly the result.
 * - A non-zero exit status is TOOL_FAILED whatever the output. */
#ifndef BS_FUZZ_DISKUTIL_H
#define BS_FUZZ_DISKUTIL_H

#include "backstore.h"
#include "fuzz/fuzz.h"
#include "real/parse_diskutil.h"

typedef int (*bs_fuzz_list_parser)(const bs__tool_result *, bs__apfs_snap **, size_t *, char *,
                                   size_t);
typedef char *(*bs_fuzz_list_writer)(const bs__apfs_snap *, size_t);

static inline void bs_fuzz_fail(const char *what, const char *why) {
  fprintf(stderr, "%s: %s\n", what, why);
  abort();
}

static inline void bs_fuzz_diskutil(const char *what, bs_fuzz_list_parser parse,
                                    bs_fuzz_list_writer write, const uint8_t *data, size_t size) {
  /* The tool's output is NUL-terminated (run_tool's contract). */
  char *out = malloc(size + 1);
  if (!out)
    return;
  memcpy(out, data, size);
  out[size] = '\0';
  bs__tool_result r = {.status = 0, .out = out, .out_len = size};
  bs__apfs_snap *s = NULL, *t = NULL;
  size_t n = 0, m = 0;
  char msg[256] = "", msg2[256] = "";
  int rc = parse(&r, &s, &n, msg, sizeof(msg));
  int rc2 = parse(&r, &t, &m, msg2, sizeof(msg2));
  if (rc != rc2 || n != m || strcmp(msg, msg2) != 0 || (n && memcmp(s, t, n * sizeof(*s)) != 0))
    bs_fuzz_fail(what, "two parses of one input differ");
  free(t);
  t = NULL;
  if (rc == BS_EUNSUPPORTED) { /* built without libplist */
    free(out);
    return;
  }
  if (rc != 0) {
    if ((rc != BS_EPARSE && rc != BS_ENO_MEMORY) || s || n || !msg[0])
      bs_fuzz_fail(what, "a failure must be PARSE with a message and no result");
  } else {
    for (size_t i = 0; i < n; i++) {
      if (s[i].foreign_name ? s[i].name[0] != '\0' : bs_name_validate(s[i].name) != 0)
        bs_fuzz_fail(what, "a parsed name neither passes bs_name_validate nor is flagged foreign");
      for (size_t j = 0; j < i; j++)
        if (memcmp(s[i].uuid, s[j].uuid, 16) == 0)
          bs_fuzz_fail(what, "two parsed snapshots share a UUID");
    }
    bs__tool_result w = {.out = write(s, n)};
    if (w.out) {
      w.out_len = strlen(w.out);
      if (parse(&w, &t, &m, msg2, sizeof(msg2)) != 0 || m != n ||
          (n && memcmp(s, t, n * sizeof(*s)) != 0))
        bs_fuzz_fail(what, "the written list does not parse back to itself");
      free(t);
      free(w.out);
    }
  }
  free(s);
  /* The same bytes from a diskutil that failed. */
  r.status = 2;
  if (parse(&r, &s, &n, msg, sizeof(msg)) != BS_ETOOL_FAILED || s || n ||
      strncmp(msg, "diskutil exited with status 2", 29) != 0)
    bs_fuzz_fail(what, "a failing diskutil must be TOOL_FAILED");
  free(out);
}

#endif
