/* The image lock of bslab (docs/bslab.1, "Volumes and image files"): verbs
 * that change a sim image hold an exclusive flock on IMAGE.lock from before
 * the load to after the save, so concurrent writers lose no update; a writer
 * that cannot get the lock within --wait says BUSY and names the holder;
 * readers need no lock. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"

#define WRITERS 2
#define CREATES 50

static void tmp_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", bs_cli_tmp(), name);
  unlink(buf);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One writer: CREATES snapshot creates, names "wW-I", stdout appended to
 * @out.  Exits with the number of runs that did not exit 0. */
static void writer(const char *img, int w, const char *out, const char *err) {
  int bad = 0;
  setenv("BSLAB_WAIT", "60", 1); /* generous: under sanitizers on a busy machine */
  for (int i = 0; i < CREATES; i++) {
    char name[32];
    snprintf(name, sizeof(name), "w%d-%d", w, i);
    int pid = bs_cli_spawn(NULL, out, err, (const char *const[]){"--image", img, "snapshot", "create",
                                                                  name, NULL});
    int ws = 0;
    if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
      bad++;
  }
  _exit(bad > 100 ? 100 : bad);
}

/* Two processes, 50 snapshot creates each, on one image: 100 snapshots, and
 * every "created" line names one of them. */
static void image_lock_concurrent_writers_lose_no_update(void **state) {
  (void)state;
  char img[256], out[WRITERS][256], err[WRITERS][256], lock[300];
  tmp_path(img, sizeof(img), "cc.img");
  EXPECT(0, NULL, NULL, "--image", img, "init");
  pid_t pids[WRITERS];
  for (int w = 0; w < WRITERS; w++) {
    snprintf(out[w], sizeof(out[w]), "%s/writer%d.out", bs_cli_tmp(), w);
    snprintf(err[w], sizeof(err[w]), "%s/writer%d.err", bs_cli_tmp(), w);
    unlink(out[w]);
    unlink(err[w]);
    fflush(NULL);
    pids[w] = fork();
    assert_true(pids[w] >= 0);
    if (pids[w] == 0)
      writer(img, w, out[w], err[w]);
  }
  for (int w = 0; w < WRITERS; w++) {
    int ws = 0;
    assert_int_equal(waitpid(pids[w], &ws, 0), pids[w]);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
      char *e = bs_cli_slurp(err[w], NULL);
      fail_msg("writer %d: %d runs failed; stderr:\n%s", w, WEXITSTATUS(ws), e);
    }
  }
  bs_cli_run r;
  BSLAB(&r, "--image", img, "snapshot", "list", "--format", "json");
  bs_cli_expect_status(&r, 0, "snapshot list");
  int listed = 0;
  for (const char *p = r.out; (p = strstr(p, "\"id\":")) != NULL; p++)
    listed++;
  int created = 0;
  for (int w = 0; w < WRITERS; w++) {
    char *text = bs_cli_slurp(out[w], NULL);
    for (const char *p = text; (p = strstr(p, "created snapshot ")) != NULL; p++) {
      char name[64], want[96];
      assert_int_equal(sscanf(p, "created snapshot %63[^:]:", name), 1);
      snprintf(want, sizeof(want), "\"name\":\"%s\"", name);
      if (!strstr(r.out, want))
        fail_msg("\"created snapshot %s\" was printed, but the image has no such snapshot", name);
      created++;
    }
    free(text);
  }
  bs_cli_free(&r);
  assert_int_equal(created, WRITERS * CREATES);
  assert_int_equal(listed, WRITERS * CREATES);
  snprintf(lock, sizeof(lock), "%s.lock", img);
  assert_int_not_equal(access(lock, F_OK), 0); /* the lock file lives only while held */
}

/* A child holding the image lock by the documented protocol (flock on
 * IMAGE.lock, "PID VERB" in it) until killed, or until this process goes
 * (its end of the @hold pipe closes). */
typedef struct holder {
  pid_t pid;
  int hold; /* the write end the child waits on */
} holder;

static holder hold_lock(const char *img) {
  char lock[300];
  snprintf(lock, sizeof(lock), "%s.lock", img);
  int ready[2], hold[2];
  assert_int_equal(pipe(ready), 0);
  assert_int_equal(pipe(hold), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(hold[1]);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0)
      _exit(1);
    dprintf(fd, "%ld mkdir\n", (long)getpid());
    char c;
    if (write(ready[1], "x", 1) == 1)
      while (read(hold[0], &c, 1) > 0)
        ;
    _exit(0);
  }
  close(ready[1]);
  close(hold[0]);
  char c;
  assert_int_equal(read(ready[0], &c, 1), 1);
  close(ready[0]);
  return (holder){pid, hold[1]};
}

/* Kill the holder as a crash would: its lock file stays behind. */
static void stop_holder(holder *h) {
  kill(h->pid, SIGKILL);
  close(h->hold);
  int ws;
  waitpid(h->pid, &ws, 0);
}

/* While another process holds the lock: a writer with --wait 0 (or
 * BSLAB_WAIT=0) fails at once with BUSY naming the holder's pid, one with
 * --wait 1 after a second; readers are not held up; once the holder is gone
 * (killed, its lock file left behind) writers go on. */
static void image_lock_busy_names_the_holder(void **state) {
  (void)state;
  char img[256], pid_text[64], lock[300];
  tmp_path(img, sizeof(img), "busy.img");
  snprintf(lock, sizeof(lock), "%s.lock", img);
  EXPECT(0, NULL, NULL, "--image", img, "init");
  EXPECT(0, NULL, NULL, "--image", img, "snapshot", "create", "before");
  holder h = hold_lock(img);
  snprintf(pid_text, sizeof(pid_text), "locked by pid %ld (bslab mkdir)", (long)h.pid);
  bs_cli_run r;
  BSLAB(&r, "--image", img, "--wait", "0", "snapshot", "create", "x");
  bool ok = r.status == 1 && strstr(r.err, "(BUSY)") && strstr(r.err, pid_text) && r.out[0] == '\0';
  char why[1024];
  snprintf(why, sizeof(why), "exit %d, stdout \"%s\", stderr \"%s\"", r.status, r.out, r.err);
  bs_cli_free(&r);
  if (!ok) {
    stop_holder(&h);
    fail_msg("snapshot create --wait 0 under another's lock: %s; expected exit 1, BUSY, \"%s\"",
             why, pid_text);
  }
  setenv("BSLAB_WAIT", "0", 1);
  BSLAB(&r, "--image", img, "mkdir", "/d");
  unsetenv("BSLAB_WAIT");
  ok = r.status == 1 && strstr(r.err, pid_text);
  bs_cli_free(&r);
  double t0 = now_s();
  BSLAB(&r, "--image", img, "--wait", "1", "rm", "/nothing");
  double waited = now_s() - t0;
  ok = ok && r.status == 1 && strstr(r.err, "(BUSY)") && waited >= 1.0;
  bs_cli_free(&r);
  /* Readers take no lock. */
  BSLAB(&r, "--image", img, "snapshot", "list");
  ok = ok && r.status == 0 && strstr(r.out, "before");
  bs_cli_free(&r);
  BSLAB(&r, "--image", img, "ls", "/");
  ok = ok && r.status == 0;
  bs_cli_free(&r);
  /* A writer that waits gets the lock once the holder is gone. */
  int waiter = bs_cli_spawn(NULL, NULL, NULL, (const char *const[]){"--image", img, "--wait", "30",
                                                                     "snapshot", "create", "after", NULL});
  struct timespec pause_ts = {0, 300000000};
  nanosleep(&pause_ts, NULL);
  stop_holder(&h);
  if (!ok)
    fail_msg("BSLAB_WAIT=0, --wait 1 (waited %.2f s), or a reader under another's lock misbehaved",
             waited);
  assert_int_equal(bs_cli_wait(waiter), 0);
  EXPECT(0, "after", NULL, "--image", img, "snapshot", "list");
  assert_int_not_equal(access(lock, F_OK), 0);
}

/* --wait and BSLAB_WAIT take whole seconds up to a day. */
static void image_lock_wait_is_checked(void **state) {
  (void)state;
  char img[256];
  tmp_path(img, sizeof(img), "w.img");
  EXPECT(2, NULL, "--wait needs a number from 0 to 86400", "--image", img, "--wait", "-1", "init");
  EXPECT(2, NULL, "--wait needs a number", "--image", img, "mkdir", "/a", "--wait", "soon");
  setenv("BSLAB_WAIT", "x", 1);
  EXPECT(2, NULL, "BSLAB_WAIT needs a number of seconds", "--image", img, "init");
  unsetenv("BSLAB_WAIT");
  assert_int_not_equal(access(img, F_OK), 0);
  EXPECT(2, NULL, "'--wait' does not apply", "--wait", "3", "campaign", "--ops", "10");
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("lock");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(image_lock_concurrent_writers_lose_no_update),
    cmocka_unit_test(image_lock_busy_names_the_holder),
    cmocka_unit_test(image_lock_wait_is_checked),
  };
  return cmocka_run_group_tests_name("image_lock", tests, setup, teardown);
}
