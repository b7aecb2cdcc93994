/* The image lock (docs/bslab.1, "Volumes and image files").
 *
 * A verb that changes a sim image loads it, changes the volume in memory and
 * saves it: two such verbs at once would both load the same state, and the
 * later save would silently drop the earlier one's change.  So each holds an
 * exclusive flock(2) from before it loads the image until after it saved it.
 * The lock is on a sidecar file, IMAGE.lock, not on the image: a save
 * renames a new file over the image, and a lock on the old inode would not
 * exclude a writer that opened the new one.
 *
 * The sidecar exists only while a writer holds it: the holder removes it
 * before it lets go.  A waiter may then hold a lock on the removed inode, so
 * whoever gets a lock checks that IMAGE.lock is still the file it locked,
 * and starts over if not.  One killed with the lock leaves the file behind;
 * the kernel has dropped its lock, so the next writer takes it over.
 *
 * The holder writes "PID VERB" into the sidecar, so that a writer that gives
 * up can say who holds the lock.  Readers take no lock: a save is an atomic
 * rename, so they see the old image or the new one, never half of either. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/bslab/bslab.h"

/* How long a writer waits for another's lock without --wait or $BSLAB_WAIT. */
#define DEFAULT_WAIT_S 5

/* Seconds to wait: --wait, else $BSLAB_WAIT, else the default.  0 or
 * BSLAB_USAGE after a message. */
static int wait_seconds(const bslab_args *a, uint64_t *out) {
  if (a->wait_set) {
    *out = a->wait;
    return 0;
  }
  const char *env = getenv("BSLAB_WAIT");
  if (!env || !*env) {
    *out = DEFAULT_WAIT_S;
    return 0;
  }
  if (!bslab_parse_u64(env, out) || *out > BSLAB_WAIT_MAX)
    return bslab_usage_error(a, "BSLAB_WAIT needs a number of seconds from 0 to %u, got '%s'",
                             BSLAB_WAIT_MAX, env);
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The holder's "PID VERB" from the lock file, or "an unknown process". */
static void holder(int fd, char *buf, size_t cap) {
  char rec[128];
  ssize_t n = pread(fd, rec, sizeof(rec) - 1, 0);
  rec[n > 0 ? n : 0] = '\0';
  rec[strcspn(rec, "\n")] = '\0';
  long pid = 0;
  int used = 0;
  if (sscanf(rec, "%ld %n", &pid, &used) >= 1 && pid > 0 && rec[used])
    snprintf(buf, cap, "pid %ld (bslab %s)", pid, rec + used);
  else
    snprintf(buf, cap, "a process that has not recorded itself (yet)");
}

/* True if @path is still the file open at @fd. */
static bool still_there(int fd, const char *path) {
  struct stat at, now;
  return fstat(fd, &at) == 0 && lstat(path, &now) == 0 && at.st_dev == now.st_dev &&
         at.st_ino == now.st_ino;
}

/* Wait until the flock on @fd is ours (0), or @deadline passed (BSLAB_FAILED,
 * after a message naming the holder), or flock failed (BSLAB_USAGE). */
static int wait_for(const bslab_args *a, int fd, const char *image, const char *path,
                    double deadline, uint64_t wait_s) {
  long sleep_ns = 1000000; /* 1 ms, doubling to 64 ms: quick hand-over, little polling */
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR)
      continue;
    if (errno != EWOULDBLOCK)
      return bslab_env_error(a, "cannot lock image '%s': %s: %s", image, path, strerror(errno));
    if (now_s() >= deadline) {
      char who[200], why[4800];
      holder(fd, who, sizeof(who));
      snprintf(why, sizeof(why), "the image is locked by %s (lock file %s); waited %llu s for it "
               "(--wait SECONDS or $BSLAB_WAIT to wait longer)", who, path,
               (unsigned long long)wait_s);
      return bslab_op_error_detail(a, image, BS_EBUSY, why);
    }
    struct timespec ts = {0, sleep_ns};
    nanosleep(&ts, NULL);
    if (sleep_ns < 64000000)
      sleep_ns *= 2;
  }
  return 0;
}

int bslab_lock_image(bslab_image_lock *l, const bslab_args *a, const char *image) {
  l->fd = -1;
  uint64_t wait_s = 0;
  int status = wait_seconds(a, &wait_s);
  if (status != 0)
    return status;
  if ((size_t)snprintf(l->path, sizeof(l->path), "%s.lock", image) >= sizeof(l->path))
    return bslab_env_error(a, "image path '%s' is too long", image);
  double deadline = now_s() + (double)wait_s;
  for (;;) {
    int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
      return bslab_env_error(a, "cannot lock image '%s': %s: %s", image, l->path, strerror(errno));
    if ((status = wait_for(a, fd, image, l->path, deadline, wait_s)) != 0) {
      close(fd);
      return status;
    }
    if (still_there(fd, l->path)) {
      l->fd = fd;
      break;
    }
    close(fd); /* its holder removed it as it let go: lock the file there now */
  }
  bslab_lock_record(l, a);
  return 0;
}

void bslab_lock_record(bslab_image_lock *l, const bslab_args *a) {
  /* Who holds it, for a writer that gives up; failing to say so is no
   * reason to stop. */
  char rec[160];
  int n = snprintf(rec, sizeof(rec), "%ld %s\n", (long)getpid(), a->verb ? a->verb : "");
  bool recorded = l->fd >= 0 && pwrite(l->fd, rec, (size_t)n, 0) == n && ftruncate(l->fd, n) == 0;
  (void)recorded;
}

void bslab_unlock_image(bslab_image_lock *l) {
  if (l->fd < 0)
    return;
  unlink(l->path); /* still ours: nobody replaces it while we hold the lock */
  close(l->fd);
  l->fd = -1;
}
