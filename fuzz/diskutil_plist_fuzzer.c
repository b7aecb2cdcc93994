/* Fuzz target: `diskutil apfs listSnapshots -plist` output read with libplist
 * (bs__diskutil_snapshots_plist); the properties are in fuzz/diskutil.h. */
#include "fuzz/diskutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bs_fuzz_diskutil("diskutil_plist", bs__diskutil_snapshots_plist, bs__diskutil_snapshots_write_plist,
                   data, size);
  return 0;
}
