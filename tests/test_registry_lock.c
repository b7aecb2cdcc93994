/* The registry lock of a host store (real/posix.c, bs_host_os.lock in
 * real/host.h).  A change that made <root>/.bs and failed takes it away
 * again, lock file included, while it holds the lock (issue 12, item 9);
 * that is safe only because a process waiting for the lock then does not
 * carry on with a lock on a file that is gone: it locks the file now at the
 * path, or learns that the directory is gone (and makes it again).  A
 * shared lock writes nothing: without the file there is nothing to wait for
 * (issue 12, item 7: read-only mounts). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "real/posix.h"
#include "tests/support/bs_test.h"

typedef struct waiter {
  char path[256];
  int exclusive;
  int rc;
  int handle;
  pthread_t thread;
} waiter;

static void *wait_for_lock(void *arg) {
  waiter *w = arg;
  w->rc = bs__px_lock(NULL, BS__HOST_PATH(w->path), w->exclusive, &w->handle);
  return NULL;
}

static void nap_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* A fresh directory with a lock file taken exclusively; *@holder gets it. */
static void held_lock(char *dir, char *path, int *holder) {
  snprintf(dir, 256, "/tmp/bs-lock-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, 256, "%s/lock", dir);
  assert_int_equal(bs__px_lock(NULL, BS__HOST_PATH(path), 1, holder), 0);
}

/* Start @w waiting for @path, and give it time to block on the lock. */
static void start_waiter(waiter *w, const char *path, int exclusive) {
  memset(w, 0, sizeof(*w));
  snprintf(w->path, sizeof(w->path), "%s", path);
  w->exclusive = exclusive;
  w->handle = -2;
  assert_int_equal(pthread_create(&w->thread, NULL, wait_for_lock, w), 0);
  nap_ms(50);
}

static void waiter_learns_that_the_directory_is_gone(void **state) {
  (void)state;
  char dir[256], path[256];
  int holder;
  held_lock(dir, path, &holder);
  waiter ex, sh;
  start_waiter(&ex, path, 1);
  start_waiter(&sh, path, 0);
  /* What a failing first change does: remove .bs with the lock held. */
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
  bs__px_unlock(NULL, holder);
  assert_int_equal(pthread_join(ex.thread, NULL), 0);
  if (ex.rc == 0)
    bs__px_unlock(NULL, ex.handle); /* (wrong: it holds a file that is gone) let the reader go on */
  assert_int_equal(pthread_join(sh.thread, NULL), 0);
  assert_int_equal(ex.rc, -ENOENT); /* the change makes .bs again */
  assert_int_equal(sh.rc, 0);       /* a reader finds no registry */
  assert_int_equal(sh.handle, -1);
}

static void waiter_locks_the_file_now_at_the_path(void **state) {
  (void)state;
  char dir[256], path[256];
  int holder;
  held_lock(dir, path, &holder);
  waiter w;
  start_waiter(&w, path, 1);
  assert_int_equal(unlink(path), 0);
  int fresh = open(path, O_RDWR | O_CREAT | O_EXCL, 0600); /* another change made .bs again */
  assert_true(fresh >= 0);
  bs__px_unlock(NULL, holder);
  assert_int_equal(pthread_join(w.thread, NULL), 0);
  assert_int_equal(w.rc, 0);
  struct stat a, b;
  assert_int_equal(fstat(w.handle, &a), 0);
  assert_int_equal(fstat(fresh, &b), 0);
  assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
  assert_int_equal(flock(fresh, LOCK_EX | LOCK_NB), -1); /* it holds that one */
  assert_int_equal(errno, EWOULDBLOCK);
  close(fresh);
  bs__px_unlock(NULL, w.handle);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}

static void shared_lock_makes_no_file(void **state) {
  (void)state;
  char dir[256] = "/tmp/bs-lock-XXXXXX", path[300];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/lock", dir);
  int h = -2;
  assert_int_equal(bs__px_lock(NULL, BS__HOST_PATH(path), 0, &h), 0);
  assert_int_equal(h, -1);
  struct stat sb;
  assert_int_equal(lstat(path, &sb), -1);
  assert_int_equal(rmdir(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(waiter_learns_that_the_directory_is_gone),
    cmocka_unit_test(waiter_locks_the_file_now_at_the_path),
    cmocka_unit_test(shared_lock_makes_no_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
