/* External tools (mkfs.*, hdiutil, diskutil): the one runner of real/.
 * real/sys.c makes the child (bs__sys_run_tool, point bs/real/exec); this
 * layer finds the tool, and turns a non-zero exit into BS_ETOOL_FAILED with
 * the tool's own first line of stderr.  The darwin seam's run_tool
 * (real/darwin_libc_snap.c), the RAM disks (real/ramdisk*.c) and the test
 * volume fixture (tests/support/volume_sys.c) all run tools through it. */
#ifndef BS_REAL_TOOL_H
#define BS_REAL_TOOL_H

#include <stdbool.h>
#include <stddef.h>

/* What running an external tool gave. */
typedef struct bs__tool_result {
  int status;      /* exit status 0..255, or -signal when killed by a signal */
  char *out;       /* stdout, malloc'd, NUL-terminated (NULL when empty) */
  size_t out_len;  /* bytes of stdout, without the terminating NUL */
  char *err;       /* stderr, likewise */
  size_t err_len;
} bs__tool_result;

/* Free what a tool result holds and zero it. */
void bs__tool_result_free(bs__tool_result *r);

/* BS_ETOOL_FAILED with "<tool> exited with status N[: first line of stderr]"
 * (of stdout when stderr is empty) in @msg when @r says the tool failed,
 * else 0 (and @msg untouched). */
int bs__tool_check(const char *tool, const bs__tool_result *r, char *msg, size_t cap);

/* The absolute path of the executable @name in $PATH or the sbin
 * directories, in @out; false when there is none. */
bool bs__tool_find(const char *name, char *out, size_t cap);

/* Run the tool @argv (argv[0] a name found with bs__tool_find, or an
 * absolute path) and check its exit: 0 with @r filled (free it), or
 * BS_EUNSUPPORTED (not installed), BS_ETOOL_FAILED (cannot be started, or
 * exited non-zero: @msg quotes it; @r still holds what it printed),
 * BS_ENO_MEMORY. */
int bs__tool_run(const char *const argv[], bs__tool_result *r, char *msg, size_t cap);

#endif
