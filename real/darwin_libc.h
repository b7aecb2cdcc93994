/* The macOS libc implementations of the darwin seam's snapshot members
 * (darwin_libc_snap.c), for darwin_libc.c's table.  macOS only. */
#ifndef BS_REAL_DARWIN_LIBC_H
#define BS_REAL_DARWIN_LIBC_H

#include "real/darwin.h"

int bs__libc_mount_info(void *ctx, const char *path, bs_darwin_mount *out);
int bs__libc_snap_create(void *ctx, const char *vol, const char *name);
int bs__libc_snap_delete(void *ctx, const char *vol, const char *name);
int bs__libc_snap_list(void *ctx, const char *vol, bs_darwin_snap_cb cb, void *cb_ctx);
int bs__libc_snap_mount(void *ctx, const char *vol, const char *dir, const char *name, uint32_t flags);
int bs__libc_unmount(void *ctx, const char *dir, uint32_t flags);
int bs__libc_run_tool(void *ctx, const char *const argv[], bs__tool_result *out);
void bs__libc_random(void *ctx, void *buf, size_t len);

#endif
