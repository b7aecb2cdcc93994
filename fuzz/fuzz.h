/* Shared by the fuzz targets: the entry point every target defines (the
 * libFuzzer interface, which AFL++'s driver calls in make fuzz), and the one
 * property every wire decoder must keep. */
#ifndef BS_FUZZ_H
#define BS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Fuzz entry point: AFL++'s driver calls it in make fuzz, fuzz/replay.c for
 * corpus files in make check. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoder accepts one encoding per value (docs/wire.md), so what decoded
 * must re-encode to exactly the input.  abort() is what fuzzers catch. */
static inline void bs_fuzz_same_bytes(const char *what, int rc, const uint8_t *in, size_t in_len,
                                      const uint8_t *out, size_t out_len) {
  if (rc != 0 || out_len != in_len || memcmp(in, out, in_len) != 0) {
    fprintf(stderr, "%s: decoded input does not re-encode to itself (rc %d, %zu -> %zu bytes)\n",
            what, rc, in_len, out_len);
    abort();
  }
}

/* A tool's output from fuzz input: @data (@size bytes, after the target's
 * own header bytes) is stdout up to the first NUL byte, then stderr; both
 * malloc'd and NUL-terminated (the tool runner's contract), NULL when empty.
 * False when out of memory (nothing to free then). */
static inline bool bs_fuzz_tool_output(const uint8_t *data, size_t size, char **out, size_t *out_len,
                                       char **err, size_t *err_len) {
  const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
  *out_len = nul ? (size_t)(nul - data) : size;
  *err_len = nul ? size - 1 - *out_len : 0;
  *out = malloc(*out_len + 1);
  *err = malloc(*err_len + 1);
  if (!*out || !*err) {
    free(*out);
    free(*err);
    return false;
  }
  if (*out_len)
    memcpy(*out, data, *out_len);
  (*out)[*out_len] = '\0';
  if (*err_len)
    memcpy(*err, nul + 1, *err_len);
  (*err)[*err_len] = '\0';
  return true;
}

#endif
