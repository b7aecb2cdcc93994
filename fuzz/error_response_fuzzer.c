/* Fuzz target: ErrorResponse decoding (bs_error_response_decode). */
#include "backstore/wire.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bs_error_response e;
  uint8_t out[BS_ERROR_RESPONSE_SSZ_MAX];
  size_t n = 0;

  if (bs_error_response_decode(&e, data, size) != 0)
    return 0;
  int rc = bs_error_response_encode(out, sizeof(out), &n, &e);
  bs_fuzz_same_bytes("error_response", rc, data, size, out, n);
  return 0;
}
