/* Shared by the fuzz targets: the entry point every target defines (the
 * libFuzzer interface, which AFL++'s driver calls in make fuzz), and the one
 * property every wire decoder must keep. */
#ifndef BS_FUZZ_H
#define BS_FUZZ_H

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

#endif
