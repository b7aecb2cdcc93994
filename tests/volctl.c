/* volctl: real test volumes from the shell (tests/support/volume.h).
 *
 *   volctl reap                               remove volumes whose owner is dead
 *   volctl create FS [SIZE_MB] [--owner PID]  make one; prints its dir, then its mount point
 *   volctl destroy DIR                        unmount, detach, remove one
 *   volctl list                               one line per registered volume
 *
 * Exit status: 0 ok, 1 failed, 2 usage.  The registry is $BS_VOL_ROOT or
 * /dev/shm/backstore-vols. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backstore.h"
#include "tests/support/volume.h"

static const char usage_text[] =
  "usage: volctl reap\n"
  "       volctl create FS [SIZE_MB] [--owner PID]\n"
  "       volctl destroy DIR\n"
  "       volctl list\n"
  "\n"
  "Real volumes for tests and benchmarks (root only).\n"
  "  reap     remove every registered volume whose owner process is dead;\n"
  "           prints one line per volume reaped\n"
  "  create   make a fresh FS volume (btrfs, xfs, ext4, tmpfs) of SIZE_MB MiB\n"
  "           (default 320, tmpfs 64) owned by PID (default: volctl's parent,\n"
  "           e.g. the calling shell, as with --owner $$); prints the registry\n"
  "           directory, then the mount point, one per line\n"
  "  destroy  unmount, detach and remove the volume in registry directory DIR\n"
  "  list     registered volumes: dir, fs and size, owner, loop device, mounted\n"
  "Registry: $BS_VOL_ROOT, default /dev/shm/backstore-vols (see docs/testing.md).\n"
  "Exit status: 0 ok, 1 failed, 2 usage.\n";

static int usage(const char *msg) {
  if (msg)
    fprintf(stderr, "volctl: %s\n", msg);
  fputs(usage_text, stderr);
  return 2;
}

/* Parse a positive decimal number; false if @s is not one. */
static bool parse_num(const char *s, unsigned long long *out) {
  char *end;
  if (!s || s[0] < '0' || s[0] > '9')
    return false;
  errno = 0;
  *out = strtoull(s, &end, 10);
  return errno == 0 && *end == '\0' && *out > 0;
}

static int cmd_create(int argc, char **argv) {
  const char *fs = NULL, *size_arg = NULL;
  unsigned long long owner = (unsigned long long)getppid(), size_mb = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--owner") == 0) {
      if (i + 1 >= argc || !parse_num(argv[i + 1], &owner) || owner > INT32_MAX)
        return usage("--owner needs a process id");
      i++;
    } else if (argv[i][0] == '-') {
      return usage("unknown option for create");
    } else if (!fs) {
      fs = argv[i];
    } else if (!size_arg) {
      size_arg = argv[i];
    } else {
      return usage("too many arguments for create");
    }
  }
  if (!fs)
    return usage("create needs a filesystem");
  if (size_arg && (!parse_num(size_arg, &size_mb) || size_mb > (1ull << 30)))
    return usage("SIZE_MB must be a positive number of MiB");
  bs_vol v;
  int rc = bs_vol_create_owned(&v, fs, size_mb * 1024 * 1024, (pid_t)owner);
  if (rc == BS_EINVALID && !size_arg && strstr(bs_vol_last_error(), "unknown filesystem"))
    return usage(bs_vol_last_error());
  if (rc != 0) {
    fprintf(stderr, "volctl: create %s: %s: %s\n", fs, bs_err_name(rc), bs_vol_last_error());
    return 1;
  }
  if (printf("%s\n%s\n", v.dir, v.mnt) < 0 || fflush(stdout) != 0) {
    bs_vol_destroy(&v);
    fprintf(stderr, "volctl: write error\n");
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage(NULL);
  const char *verb = argv[1];
  if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (strcmp(verb, "reap") == 0) {
    if (argc != 2)
      return usage("reap takes no arguments");
    int n = bs_vol_reap_orphans(stdout);
    printf("volctl: reaped %d volume(s) in %s\n", n, bs_vol_root());
    return 0;
  }
  if (strcmp(verb, "create") == 0)
    return cmd_create(argc - 2, argv + 2);
  if (strcmp(verb, "destroy") == 0) {
    if (argc != 3)
      return usage("destroy needs exactly one DIR");
    int rc = bs_vol_destroy_dir(argv[2]);
    if (rc != 0) {
      fprintf(stderr, "volctl: destroy %s: %s: %s\n", argv[2], bs_err_name(rc),
              bs_vol_last_error());
      return 1;
    }
    return 0;
  }
  if (strcmp(verb, "list") == 0) {
    if (argc != 2)
      return usage("list takes no arguments");
    int n = bs_vol_list(stdout);
    if (n < 0) {
      fprintf(stderr, "volctl: list: %s\n", bs_vol_last_error());
      return 1;
    }
    return 0;
  }
  return usage("unknown command");
}
