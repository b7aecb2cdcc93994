/* Fuzz target: `diskutil apfs listSnapshots` text output
 * (bs__diskutil_snapshots_text); the properties are in fuzz/diskutil.h. */
#include "fuzz/diskutil.h"

static char *write_text(const bs__apfs_snap *s, size_t n) {
  return bs__diskutil_snapshots_write_text("disk3s5", s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bs_fuzz_diskutil("diskutil_text", bs__diskutil_snapshots_text, write_text, data, size);
  return 0;
}
