/* Fuzz target: the macOS RAM-disk tools' parsers (real/parse_hdiutil.c):
 * `hdiutil attach`, `diskutil apfs createContainer|addVolume`, `diskutil info`.
 *
 * Input: byte 0 picks the parser (low two bits: 0 attach, 1 apfs, 2 info,
 * 3 attach again) and the exit status (high bit clear: 0; else 1..63 from
 * bits 2-7, 0xff: killed), then stdout up to the first NUL byte, then stderr.
 * Properties:
 * - Deterministic: the same result twice gives the same answer, value and message.
 * - A non-zero status is TOOL_FAILED, never a value; status 0 never is.
 * - A success gives what the tool names: "/dev/diskN", "diskN[sM]", or an
 *   absolute mount point; a failure leaves the value "" and a one-line message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore.h"
#include "fuzz/fuzz.h"
#include "real/ramdisk.h"

static void fail(const char *why) {
  fprintf(stderr, "ramdisk_parse: %s\n", why);
  abort();
}

static int parse(int which, const bs__tool_result *r, char *v, size_t cap, char *msg, size_t mcap) {
  switch (which) {
  case 1: return bs__diskutil_apfs_disk(r, "addVolume", v, cap, msg, mcap);
  case 2: return bs__diskutil_info_mount(r, v, cap, msg, mcap);
  default: return bs__hdiutil_attach_dev(r, v, cap, msg, mcap);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int which = data[0] & 3;
  int status = !(data[0] & 0x80) ? 0 : data[0] == 0xff ? -9 : 1 + ((data[0] >> 2) & 0x1f);
  char *out, *err;
  size_t out_len, err_len;
  if (!bs_fuzz_tool_output(data + 1, size - 1, &out, &out_len, &err, &err_len))
    return 0;
  bs__tool_result r = {.status = status, .out = out_len ? out : NULL, .out_len = out_len,
                       .err = err_len ? err : NULL, .err_len = err_len};
  char v[1024], v2[1024], msg[512] = "", msg2[512] = "";
  int rc = parse(which, &r, v, sizeof(v), msg, sizeof(msg));
  if (parse(which, &r, v2, sizeof(v2), msg2, sizeof(msg2)) != rc || strcmp(v, v2) != 0 ||
      strcmp(msg, msg2) != 0)
    fail("two parses of one result differ");
  if ((status != 0) != (rc == BS_ETOOL_FAILED))
    fail("TOOL_FAILED must be exactly a non-zero status");
  if (rc == 0) {
    if (which == 1 ? strncmp(v, "disk", 4) != 0 : which == 2 ? v[0] != '/' : strncmp(v, "/dev/disk", 9) != 0)
      fail("a success must name a disk or a mount point");
  } else {
    if (v[0] || !msg[0] || strpbrk(msg, "\n\r"))
      fail("a failure must leave no value and give a one-line message");
  }
  free(out);
  free(err);
  return 0;
}
