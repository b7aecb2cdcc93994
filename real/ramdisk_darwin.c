/* macOS RAM disks behind the DESIGN §7 seam (real/ramdisk.h): the steps and
 * their cleanup, over a tool runner that is libc on macOS and a recorded
 * transcript in the Linux tests (tests/test_ramdisk_darwin.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "real/ramdisk.h"

/* Run @argv through @run: BS_ETOOL_FAILED when it cannot be started. */
static int run_tool(bs__ramdisk_run_fn run, void *ctx, const char *const argv[], bs__tool_result *r,
                    char *msg, size_t cap) {
  memset(r, 0, sizeof(*r));
  int e = run(ctx, argv, r);
  if (e != 0) {
    bs__tool_result_free(r);
    if (msg && cap)
      snprintf(msg, cap, "cannot run %s: %s", argv[0], strerror(-e));
    return e == -12 /* ENOMEM */ ? BS_ENO_MEMORY : BS_ETOOL_FAILED;
  }
  return 0;
}

int bs__ramdisk_darwin_eject(bs__ramdisk_run_fn run, void *ctx, const char *ram_dev, char *msg,
                             size_t cap) {
  const char *argv[] = {"/usr/sbin/diskutil", "eject", ram_dev, NULL};
  bs__tool_result r;
  int rc = run_tool(run, ctx, argv, &r, msg, cap);
  if (rc == 0)
    rc = bs__tool_check("diskutil", &r, msg, cap);
  bs__tool_result_free(&r);
  return rc;
}

int bs__ramdisk_darwin_make(bs__ramdisk_run_fn run, void *ctx, uint64_t size_mb, const char *label,
                            bs__darwin_rd *out, char *msg, size_t cap) {
  memset(out, 0, sizeof(*out));
  char ram[64];
  snprintf(ram, sizeof(ram), "ram://%" PRIu64, size_mb * 2048); /* 512-byte sectors */
  const char *attach[] = {"/usr/bin/hdiutil", "attach", "-nomount", ram, NULL};
  bs__tool_result r;
  int rc = run_tool(run, ctx, attach, &r, msg, cap);
  if (rc == 0)
    rc = bs__hdiutil_attach_dev(&r, out->ram_dev, sizeof(out->ram_dev), msg, cap);
  bs__tool_result_free(&r);
  if (rc != 0)
    return rc;
  const char *create[] = {"/usr/sbin/diskutil", "apfs", "createContainer", out->ram_dev, NULL};
  rc = run_tool(run, ctx, create, &r, msg, cap);
  if (rc == 0)
    rc = bs__diskutil_apfs_disk(&r, "createContainer", out->container, sizeof(out->container), msg,
                                cap);
  bs__tool_result_free(&r);
  if (rc == 0) {
    const char *add[] = {"/usr/sbin/diskutil", "apfs", "addVolume", out->container, "APFS", label,
                         NULL};
    rc = run_tool(run, ctx, add, &r, msg, cap);
    if (rc == 0)
      rc = bs__diskutil_apfs_disk(&r, "addVolume", out->volume, sizeof(out->volume), msg, cap);
    bs__tool_result_free(&r);
  }
  if (rc == 0) {
    const char *info[] = {"/usr/sbin/diskutil", "info", out->volume, NULL};
    rc = run_tool(run, ctx, info, &r, msg, cap);
    if (rc == 0)
      rc = bs__diskutil_info_mount(&r, out->mount, sizeof(out->mount), msg, cap);
    bs__tool_result_free(&r);
  }
  if (rc != 0) { /* all or nothing: the RAM device goes, with what is on it */
    bs__ramdisk_darwin_eject(run, ctx, out->ram_dev, NULL, 0);
    memset(out, 0, sizeof(*out));
  }
  return rc;
}
