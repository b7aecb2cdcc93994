/* Threads sharing one store: clones of different files by one thread, then
 * by two at once, on a real store (make bench, bench/real_threads.sh).
 *
 *   threads_bench clone|read ROOT MIB ROUNDS REPEATS
 *
 * ROOT is an empty directory on the volume; two files of MIB MiB are
 * written there, then each round clones a file and removes the clone
 * (clone), or reads the file's first 16 MiB a MiB at a time (read).  One
 * thread does ROUNDS rounds on one file, then two threads do ROUNDS rounds
 * each on their own file at the same time: through the store (bs_reflink,
 * bs_unlink), and as the reference the same with the bare syscalls
 * (FICLONE, unlink) in the same run, alternating, REPEATS times.  Prints
 * the median speedups, (2 * ROUNDS / two_s) / (ROUNDS / one_s): 1 when the
 * calls are serialised, up to 2 when they run at once (the kernel's own
 * locking decides the reference's), and store / reference.  btrfs takes
 * clones in one subvolume one at a time whoever asks; reads of the page
 * cache run at once, so they show what the store's own locking costs. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "backstore.h"

static bool reading; /* the workload: reads, else clones */

typedef struct job {
  bs_store *st;         /* NULL: the bare syscalls, on host paths below @root */
  const char *root;
  const char *src, *dst;
  int rounds;
  int rc;
} job;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define READ_MIB 16
static char rbuf[2][1 << 20]; /* one per thread */

/* One round by the bare syscalls. */
static int raw_round(const job *j) {
  char s[4200], d[4200];
  if (reading) {
    snprintf(s, sizeof(s), "%s%s", j->root, j->src);
    int fd = open(s, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 ? 0 : BS_EIO;
    for (int i = 0; rc == 0 && i < READ_MIB; i++)
      if (pread(fd, rbuf[j->src[1] == 'b'], sizeof(rbuf[0]), (off_t)i << 20) != (ssize_t)sizeof(rbuf[0]))
        rc = BS_EIO;
    if (fd >= 0)
      close(fd);
    return rc;
  }
  snprintf(s, sizeof(s), "%s%s", j->root, j->src);
  snprintf(d, sizeof(d), "%s%s", j->root, j->dst);
  int sf = open(s, O_RDONLY | O_CLOEXEC), df = open(d, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int rc = sf >= 0 && df >= 0 && ioctl(df, FICLONE, sf) == 0 ? 0 : BS_EIO;
  if (sf >= 0)
    close(sf);
  if (df >= 0)
    close(df);
  return unlink(d) == 0 ? rc : BS_EIO;
}

static void *clones(void *arg) {
  job *j = arg;
  for (int i = 0; i < j->rounds && j->rc == 0; i++) {
    if (!j->st) {
      j->rc = raw_round(j);
      continue;
    }
    if (reading) {
      for (int k = 0; k < READ_MIB && j->rc == 0; k++) {
        size_t n = 0;
        j->rc = bs_read(j->st, j->src, (uint64_t)k << 20, rbuf[j->src[1] == 'b'], sizeof(rbuf[0]), &n);
      }
      continue;
    }
    j->rc = bs_reflink(j->st, j->src, j->dst);
    if (j->rc == 0)
      j->rc = bs_unlink(j->st, j->dst);
  }
  return NULL;
}

/* The speedup of two threads over one, and the first failure in *@rc. */
static double speedup(bs_store *st, const char *root, int rounds, int *rc) {
  job one = {st, root, "/a", "/a.clone", rounds, 0};
  double t0 = now_s();
  clones(&one);
  double one_s = now_s() - t0;
  job two[2] = {{st, root, "/a", "/a.clone", rounds, 0}, {st, root, "/b", "/b.clone", rounds, 0}};
  pthread_t th[2];
  t0 = now_s();
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, clones, &two[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  double two_s = now_s() - t0;
  *rc = one.rc ? one.rc : two[0].rc ? two[0].rc : two[1].rc;
  return (2.0 * rounds / two_s) / (rounds / one_s);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), by_value);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int fill(bs_store *st, const char *path, uint64_t mib) {
  static char buf[1 << 20];
  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (char)(i * 131 + 7);
  int rc = bs_create(st, path, 0644);
  for (uint64_t i = 0; rc == 0 && i < mib; i++) {
    buf[0] = (char)i; /* no two MiB alike: nothing to deduplicate */
    rc = bs_write(st, path, i << 20, buf, sizeof(buf));
  }
  return rc == 0 ? bs_sync(st, path) : rc;
}

int main(int argc, char **argv) {
  if (argc != 6 || (strcmp(argv[1], "clone") != 0 && strcmp(argv[1], "read") != 0)) {
    fprintf(stderr, "usage: threads_bench clone|read ROOT MIB ROUNDS REPEATS\n");
    return 2;
  }
  reading = strcmp(argv[1], "read") == 0;
  argv++;
  uint64_t mib = strtoull(argv[2], NULL, 10);
  int rounds = atoi(argv[3]), repeats = atoi(argv[4]);
  if (rounds < 1 || repeats < 1 || repeats > 99)
    return 2;
  bs_store *st = NULL;
  bs_open_opts o = {.root = argv[1]};
  int rc = bs_open(&st, "real", &o);
  if (rc == 0)
    rc = fill(st, "/a", mib);
  if (rc == 0)
    rc = fill(st, "/b", mib);
  double ours[99], raw[99];
  for (int r = 0; rc == 0 && r < repeats; r++) {
    ours[r] = speedup(st, argv[1], rounds, &rc);
    if (rc == 0)
      raw[r] = speedup(NULL, argv[1], rounds, &rc);
  }
  if (rc != 0) {
    fprintf(stderr, "threads_bench: %s (%s)\n", bs_strerror(rc), st ? bs_last_message(st) : "");
    bs_close(st);
    return 2;
  }
  double o_med = median(ours, repeats), r_med = median(raw, repeats);
  printf("store_speedup %.3f syscall_speedup %.3f ratio %.3f\n", o_med, r_med, o_med / r_med);
  bs_close(st);
  return 0;
}
