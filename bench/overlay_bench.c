/* Overlay branch benchmarks (issue 17), in-process on a real store:
 *
 *   overlay_bench branch ROOT FILES REPEATS
 *     FILES files (100 to a directory) in the store at ROOT (made with
 *     `bslab init --backend real`), a snapshot of them, then REPEATS
 *     overlay branches and REPEATS reflink-tree (native) branches of it,
 *     each created and deleted; prints the medians of the creations:
 *     "overlay_ms X native_ms Y".
 *   overlay_bench copyup ROOT MIB REPEATS
 *     a MIB MiB file, a snapshot, then REPEATS times: an overlay branch and
 *     a 1-byte write to the file in it (a copy-up by reflink); prints the
 *     median of the writes, and for the first one the new space it took
 *     over the file's size (statvfs through bs_usage_get, after a sync) and
 *     the share of the copy's bytes in shared extents (FIEMAP):
 *     "copyup_ms X new_space_ratio Y shared_ratio Z".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "backstore.h"

#define MAX_REPEATS 99

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int make_files(bs_store *st, long files) {
  int rc = 0;
  for (long i = 0; rc == 0 && i < files; i++) {
    char p[64];
    if (i % 100 == 0) {
      snprintf(p, sizeof(p), "/d%ld", i / 100);
      rc = bs_mkdir(st, p, 0755);
    }
    snprintf(p, sizeof(p), "/d%ld/f%ld", i / 100, i);
    if (rc == 0)
      rc = bs_create(st, p, 0644);
    if (rc == 0)
      rc = bs_write(st, p, 0, p, strlen(p));
  }
  return rc;
}

/* Create and delete REPEATS branches of kind @kind; @out gets each creation's time. */
static int branches(bs_store *st, uint64_t snap, bs_branch_kind kind, int repeats, double *out) {
  for (int r = 0; r < repeats; r++) {
    bs_branch_opts o = {.kind = kind};
    double t0 = now_s();
    int rc = bs_branch_create_opts(st, snap, "bench", &o);
    out[r] = now_s() - t0;
    if (rc == 0)
      rc = bs_branch_delete(st, "bench");
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int bench_branch(bs_store *st, long files, int repeats) {
  int rc = make_files(st, files);
  bs_snapshot_info si;
  if (rc == 0)
    rc = bs_snapshot_create(st, "bench", &si);
  double ov[MAX_REPEATS], nat[MAX_REPEATS];
  if (rc == 0)
    rc = branches(st, si.id, BS_BRANCH_OVERLAY, repeats, ov);
  if (rc == 0)
    rc = branches(st, si.id, BS_BRANCH_NATIVE, repeats, nat);
  if (rc == 0)
    printf("overlay_ms %.4f native_ms %.4f\n", median(ov, repeats) * 1e3, median(nat, repeats) * 1e3);
  return rc;
}

/* Bytes of @path in extents FIEMAP marks shared; -1 when FIEMAP fails. */
static double shared_bytes(const char *path) {
  enum { NEXT = 512 };
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return -1;
  struct fiemap *fm = calloc(1, sizeof(*fm) + NEXT * sizeof(struct fiemap_extent));
  double shared = fm ? 0 : -1;
  for (uint64_t start = 0; fm;) {
    *fm = (struct fiemap){.fm_start = start, .fm_length = FIEMAP_MAX_OFFSET, .fm_flags = FIEMAP_FLAG_SYNC,
                          .fm_extent_count = NEXT};
    if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
      shared = -1;
      break;
    }
    if (fm->fm_mapped_extents == 0)
      break;
    bool last = false;
    for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
      const struct fiemap_extent *e = &fm->fm_extents[i];
      if (e->fe_flags & FIEMAP_EXTENT_SHARED)
        shared += (double)e->fe_length;
      last = last || (e->fe_flags & FIEMAP_EXTENT_LAST);
      start = e->fe_logical + e->fe_length;
    }
    if (last)
      break;
  }
  free(fm);
  close(fd);
  return shared;
}

static int bench_copyup(bs_store *st, const char *root, uint64_t mib, int repeats) {
  enum { CHUNK = 1 << 20 };
  char *buf = malloc(CHUNK);
  if (!buf)
    return BS_ENO_MEMORY;
  for (size_t i = 0; i < CHUNK; i++)
    buf[i] = (char)(i * 2654435761u >> 13);
  int rc = bs_create(st, "/big", 0644);
  for (uint64_t m = 0; rc == 0 && m < mib; m++) {
    buf[0] = (char)m;
    rc = bs_write(st, "/big", m * CHUNK, buf, CHUNK);
  }
  free(buf);
  bs_snapshot_info si;
  if (rc == 0)
    rc = bs_snapshot_create(st, "bench", &si);
  double t[MAX_REPEATS], space = -1, shared = -1, size = (double)mib * CHUNK;
  for (int r = 0; rc == 0 && r < repeats; r++) {
    bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
    bs_usage u0, u1;
    if ((rc = bs_branch_create_opts(st, si.id, "bench", &o)) != 0 || (r == 0 && (rc = bs_sync(st, NULL)) != 0) ||
        (r == 0 && (rc = bs_usage_get(st, &u0)) != 0))
      break;
    double t0 = now_s();
    rc = bs_write(st, "/.bs/branches/bench/big", 7, "x", 1);
    t[r] = now_s() - t0;
    bs_branch_layers ly;
    if (rc == 0 && r == 0 && (rc = bs_sync(st, NULL)) == 0 && (rc = bs_usage_get(st, &u1)) == 0 &&
        (rc = bs_branch_layers_get(st, "bench", &ly)) == 0) {
      char host[8192];
      snprintf(host, sizeof(host), "%s%s/big", root, ly.upper);
      space = ((double)u1.used_bytes - (double)u0.used_bytes) / size;
      shared = shared_bytes(host) / size;
    }
    int drc = bs_branch_delete(st, "bench");
    if (rc == 0)
      rc = drc;
  }
  if (rc == 0)
    printf("copyup_ms %.4f new_space_ratio %.6f shared_ratio %.6f\n", median(t, repeats) * 1e3, space, shared);
  return rc;
}

int main(int argc, char **argv) {
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: overlay_bench branch ROOT FILES REPEATS | copyup ROOT MIB REPEATS\n"
           "  branch: median ms to create an overlay and a native branch of a snapshot of FILES files\n"
           "  copyup: median ms of a 1-byte write that copies a MIB MiB file up (reflink)\n");
    return 0;
  }
  if (argc != 5 || (strcmp(argv[1], "branch") != 0 && strcmp(argv[1], "copyup") != 0)) {
    fprintf(stderr, "usage: overlay_bench branch ROOT FILES REPEATS | copyup ROOT MIB REPEATS (--help)\n");
    return 2;
  }
  long n = strtol(argv[3], NULL, 10);
  int repeats = atoi(argv[4]);
  if (n < 1 || n > 10000000 || repeats < 1 || repeats > MAX_REPEATS) {
    fprintf(stderr, "overlay_bench: FILES or MIB must be 1 .. 10000000, REPEATS 1 .. %d\n", MAX_REPEATS);
    return 2;
  }
  bs_store *st = NULL;
  bs_open_opts o = {.root = argv[2]};
  int rc = bs_open(&st, "real", &o);
  if (rc == 0)
    rc = strcmp(argv[1], "branch") == 0 ? bench_branch(st, n, repeats) : bench_copyup(st, argv[2], (uint64_t)n, repeats);
  if (rc != 0) {
    fprintf(stderr, "overlay_bench: %s (%s)\n", bs_strerror(rc), st ? bs_last_message(st) : "");
    bs_close(st);
    return 2;
  }
  bs_close(st);
  return 0;
}
