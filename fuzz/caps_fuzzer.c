/* Fuzz target: CapabilityResponse decoding (bs_caps_decode). */
#include "backstore/wire.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bs_caps c;
  uint8_t out[BS_CAPS_SSZ_MAX];
  size_t n = 0;

  if (bs_caps_decode(&c, data, size) != 0)
    return 0;
  int rc = bs_caps_encode(out, sizeof(out), &n, &c);
  bs_fuzz_same_bytes("caps", rc, data, size, out, n);
  return 0;
}
