/* See src/dirsync.h. */
#include "src/dirsync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int bs__fsync_dir_of(const char *file) {
  char dir[4096];
  const char *slash = strrchr(file, '/');
  if (!slash)
    snprintf(dir, sizeof(dir), ".");
  else if (slash == file)
    snprintf(dir, sizeof(dir), "/");
  else
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file), file);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  int e = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  return e == EINVAL ? 0 : e; /* some filesystems cannot fsync a directory */
}
