/* bslab calibrate: measure the real backend on the filesystem of --root and
 * print the sim's latency model for it (sim/profile.c, docs/sim.md,
 * "Calibration"): per class a fixed cost and a cost per byte, from medians of
 * repeated operations through the same bs_* calls the sim answers.  The
 * classes are the sim's: meta, read, write, sync, reflink, snapshot. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/bslab/bslab.h"

#define SMALL 4096u               /* bytes of the small transfers */
#define LARGE (1024u * 1024u)     /* bytes of the large reads and writes */
#define CLONE_LARGE (16u << 20)   /* bytes of the large reflink source */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int64_t median(int64_t *v, size_t n) {
  qsort(v, n, sizeof(*v), cmp_i64);
  return n ? v[n / 2] : 0;
}

typedef struct calib {
  bs_store *st;
  uint8_t *buf;
  size_t reps;
  int64_t *t; /* reps samples */
  int err;    /* first unexpected failure */
  char what[128];
} calib;

/* Time @reps calls of one operation; 0 on any failure (recorded in c->err). */
#define SAMPLE(c, i, call)                                                                    \
  do {                                                                                       \
    int64_t t0_ = now_ns();                                                                  \
    int rc_ = (call);                                                                        \
    (c)->t[i] = now_ns() - t0_;                                                              \
    if (rc_ != 0 && !(c)->err) {                                                             \
      (c)->err = rc_;                                                                        \
      snprintf((c)->what, sizeof((c)->what), "%s", #call);                                   \
    }                                                                                        \
  } while (0)

/* The metadata class: the median over create, stat, chmod, utimens,
 * setxattr, rename, readdir, unlink, mkdir and rmdir, each repeated. */
static int64_t meta(calib *c) {
  size_t n = c->reps, k = 0;
  int64_t *all = malloc(10 * n * sizeof(*all));
  if (!all)
    return 0;
  char p[64], q[64];
  bs_stat_info si;
  for (size_t i = 0; i < n; i++) {
    snprintf(p, sizeof(p), "/m%zu", i);
    snprintf(q, sizeof(q), "/n%zu", i);
    SAMPLE(c, i, bs_create(c->st, p, 0644));
    all[k++] = c->t[i];
    SAMPLE(c, i, bs_stat(c->st, p, &si));
    all[k++] = c->t[i];
    SAMPLE(c, i, bs_chmod(c->st, p, 0600));
    all[k++] = c->t[i];
    SAMPLE(c, i, bs_utimens(c->st, p, 1000000000LL, 2000000000LL));
    all[k++] = c->t[i];
    SAMPLE(c, i, bs_setxattr(c->st, p, "user.k", "v", 1));
    all[k++] = c->t[i];
    SAMPLE(c, i, bs_rename(c->st, p, q));
    all[k++] = c->t[i];
  }
  for (size_t i = 0; i < n; i++) {
    snprintf(q, sizeof(q), "/n%zu", i);
    snprintf(p, sizeof(p), "/dir%zu", i);
    SAMPLE(c, i, bs_unlink(c->st, q));
    all[k++] = c->t[i];
    SAMPLE(c, i, bs_mkdir(c->st, p, 0755));
    all[k++] = c->t[i];
    SAMPLE(c, i, bs_rmdir(c->st, p));
    all[k++] = c->t[i];
  }
  int64_t m = median(all, k);
  free(all);
  return m;
}

/* Median of @reps reads or writes of @len bytes at offset 0 of @path. */
static int64_t xfer(calib *c, const char *path, size_t len, bool write) {
  for (size_t i = 0; i < c->reps; i++) {
    size_t got = 0;
    if (write)
      SAMPLE(c, i, bs_write(c->st, path, 0, c->buf, len));
    else
      SAMPLE(c, i, bs_read(c->st, path, 0, c->buf, len, &got));
  }
  return median(c->t, c->reps);
}

static int64_t sync_cost(calib *c, const char *path) {
  for (size_t i = 0; i < c->reps; i++) {
    int rc = bs_write(c->st, path, 0, c->buf, SMALL);
    if (rc != 0 && !c->err)
      c->err = rc;
    SAMPLE(c, i, bs_sync(c->st, path));
  }
  return median(c->t, c->reps);
}

/* Median reflink of @src to fresh names; -1 when the filesystem cannot. */
static int64_t reflink_cost(calib *c, const char *src) {
  char d[64];
  for (size_t i = 0; i < c->reps; i++) {
    snprintf(d, sizeof(d), "/clone%zu", i);
    int64_t t0 = now_ns();
    int rc = bs_reflink(c->st, src, d);
    c->t[i] = now_ns() - t0;
    if (rc == BS_EUNSUPPORTED)
      return -1;
    if (rc != 0 && !c->err) {
      c->err = rc;
      snprintf(c->what, sizeof(c->what), "reflink %s %s", src, d);
    }
    bs_unlink(c->st, d);
  }
  return median(c->t, c->reps);
}

/* The snapshot class: snapshot create and delete, branch create and delete
 * of a small tree (what the sim charges one op of the class for); -1 when
 * the filesystem has no snapshots (without copied snapshots). */
static int64_t snapshot_cost(calib *c) {
  char p[64];
  for (int i = 0; i < 16; i++) {
    snprintf(p, sizeof(p), "/t%d", i);
    int rc = bs_create(c->st, p, 0644);
    if (rc == 0)
      rc = bs_write(c->st, p, 0, c->buf, SMALL);
    if (rc != 0)
      return c->err = rc, -1;
  }
  size_t n = c->reps < 20 ? c->reps : 20, k = 0; /* snapshots are slow: 20 are enough */
  int64_t *all = malloc(4 * n * sizeof(*all));
  if (!all)
    return -1;
  int64_t result = -1;
  for (size_t i = 0; i < n; i++) {
    bs_snapshot_info si;
    int64_t t0 = now_ns();
    int rc = bs_snapshot_create(c->st, "cal", &si);
    all[k++] = now_ns() - t0;
    if (rc == BS_EUNSUPPORTED)
      goto out;
    if (rc == 0) {
      t0 = now_ns();
      rc = bs_branch_create(c->st, si.id, "calb");
      all[k++] = now_ns() - t0;
    }
    if (rc == 0) {
      t0 = now_ns();
      rc = bs_branch_delete(c->st, "calb");
      all[k++] = now_ns() - t0;
    }
    if (rc == 0) {
      t0 = now_ns();
      rc = bs_snapshot_delete(c->st, si.id);
      all[k++] = now_ns() - t0;
    }
    if (rc != 0) {
      c->err = rc;
      snprintf(c->what, sizeof(c->what), "snapshot/branch create/delete");
      goto out;
    }
  }
  result = median(all, k);
out:
  free(all);
  return result;
}

/* Picoseconds per byte from two medians; 0 if the large one was not slower. */
static uint64_t per_byte(int64_t small, int64_t large, uint64_t small_len, uint64_t large_len) {
  if (large <= small)
    return 0;
  return (uint64_t)(large - small) * 1000u / (large_len - small_len);
}

/* The fixed part: the small op's time less its bytes' share. */
static int64_t base(int64_t small, uint64_t ps, uint64_t len) {
  int64_t b = small - (int64_t)(ps * len / 1000u);
  return b > 0 ? b : small;
}

int bslab_calibrate(bslab_args *a) {
  if (!a->root)
    return bslab_usage_error(a, "--root DIR is needed: a directory on the filesystem to measure");
  size_t reps = a->ops_set ? (size_t)a->ops : 200;
  bs_store *probe = NULL;
  bs_fs_type t = BS_FS_OTHER;
  if (bs_open(&probe, "real", &(bs_open_opts){.root = a->root}) != 0 ||
      bs_probe_fs_type(probe, a->root, &t) != 0) {
    bs_close(probe);
    return bslab_env_error(a, "%s: not a directory that can be measured", a->root);
  }
  bs_close(probe);
  char dir[4200];
  snprintf(dir, sizeof(dir), "%s/bs-calibrate-%ld", a->root, (long)getpid());
  /* A store as bs_store_create makes it: a subvolume on btrfs, so that
   * snapshots are native there. */
  int crc = bs_store_create("real", &(bs_open_opts){.root = dir});
  if (crc != 0)
    return bslab_env_error(a, "cannot make a store at %s: %s", dir, bs_strerror(crc));
  calib c = {.reps = reps};
  c.buf = calloc(1, LARGE);
  c.t = calloc(reps, sizeof(*c.t));
  int status = BSLAB_OK;
  if (!c.buf || !c.t || bs_open(&c.st, "real", &(bs_open_opts){.root = dir}) != 0) {
    status = bslab_env_error(a, "cannot open a store on %s", dir);
    goto out;
  }
  if (!a->quiet)
    fprintf(stderr, "calibrate: %s (%s), %zu repetitions per measurement\n", a->root,
            bs_fs_type_name(t), reps);
  int64_t m = meta(&c);
  int rc = bs_create(c.st, "/data", 0644);
  if (rc == 0)
    rc = bs_write(c.st, "/data", 0, c.buf, LARGE);
  if (rc != 0) {
    status = bslab_op_error(a, "/data", rc, c.st);
    goto out;
  }
  int64_t rs = xfer(&c, "/data", SMALL, false), rl = xfer(&c, "/data", LARGE, false);
  int64_t ws = xfer(&c, "/data", SMALL, true), wl = xfer(&c, "/data", LARGE, true);
  int64_t sy = sync_cost(&c, "/data");
  /* Sources for reflink: a small and a large file, synced (a reflink writes
   * back its source first, in the sim as in FICLONE). */
  int64_t fs = -1, fl = -1;
  rc = bs_create(c.st, "/big", 0644);
  for (uint64_t off = 0; rc == 0 && off < CLONE_LARGE; off += LARGE)
    rc = bs_write(c.st, "/big", off, c.buf, LARGE);
  if (rc == 0)
    rc = bs_sync(c.st, NULL);
  if (rc == 0 && (fs = reflink_cost(&c, "/data")) >= 0) {
    rc = bs_truncate(c.st, "/data", SMALL);
    if (rc == 0)
      rc = bs_sync(c.st, NULL);
    fs = reflink_cost(&c, "/data");
    fl = reflink_cost(&c, "/big");
  }
  int64_t sn = rc == 0 && !c.err ? snapshot_cost(&c) : -1;
  if (rc != 0 || c.err) {
    status = bslab_op_error(a, c.what[0] ? c.what : "measure", rc ? rc : c.err, c.st);
    goto out;
  }
  uint64_t rp = per_byte(rs, rl, SMALL, LARGE), wp = per_byte(ws, wl, SMALL, LARGE);
  uint64_t fp = fs >= 0 ? per_byte(fs, fl, SMALL, CLONE_LARGE) : 0;
  int64_t rb = base(rs, rp, SMALL), wb = base(ws, wp, SMALL);
  int64_t fb = fs >= 0 ? base(fs, fp, SMALL) : m;
  printf("calibration of %s (%s): medians of %zu\n", a->root, bs_fs_type_name(t), reps);
  printf("  class     base_ns  ps_per_byte  measured\n");
  printf("  meta     %8" PRId64 "  %11d  create stat chmod utimens setxattr rename unlink mkdir rmdir\n", m, 0);
  printf("  read     %8" PRId64 "  %11" PRIu64 "  read 4 KiB: %" PRId64 " ns, 1 MiB: %" PRId64 " ns\n", rb, rp, rs, rl);
  printf("  write    %8" PRId64 "  %11" PRIu64 "  write 4 KiB: %" PRId64 " ns, 1 MiB: %" PRId64 " ns (page cache)\n", wb, wp, ws, wl);
  printf("  sync     %8" PRId64 "  %11d  fsync after a 4 KiB write\n", sy, 0);
  if (fs >= 0)
    printf("  reflink  %8" PRId64 "  %11" PRIu64 "  4 KiB: %" PRId64 " ns, 16 MiB: %" PRId64 " ns\n", fb, fp, fs, fl);
  else
    printf("  reflink  %8" PRId64 "  %11d  UNSUPPORTED: fails at about a metadata op\n", fb, 0);
  if (sn >= 0)
    printf("  snapshot %8" PRId64 "  %11d  snapshot and branch create/delete of 16 files\n", sn, 0);
  else
    printf("  snapshot %8" PRId64 "  %11d  UNSUPPORTED: fails at about a metadata op\n", m, 0);
  printf("sim/profile.c: LAT(%" PRId64 ", %" PRId64 ", %" PRIu64 ", %" PRId64 ", %" PRIu64 ", %" PRId64
         ", %" PRId64 ", %" PRIu64 ", %" PRId64 ")\n", m, rb, rp, wb, wp, sy, fb, fp, sn >= 0 ? sn : m);
out:
  bs_close(c.st);
  free(c.buf);
  free(c.t);
  if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && status == BSLAB_OK)
    status = bslab_env_error(a, "cannot remove %s: %s", dir, strerror(errno));
  return status;
}
