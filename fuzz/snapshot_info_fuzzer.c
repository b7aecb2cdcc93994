/* Fuzz target: SnapshotInfo decoding (bs_snapshot_info_decode). */
#include "backstore/wire.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bs_snapshot_info s;
  uint8_t out[BS_SNAPSHOT_INFO_SSZ_MAX];
  size_t n = 0;

  if (bs_snapshot_info_decode(&s, data, size) != 0)
    return 0;
  int rc = bs_snapshot_info_encode(out, sizeof(out), &n, &s);
  bs_fuzz_same_bytes("snapshot_info", rc, data, size, out, n);
  return 0;
}
