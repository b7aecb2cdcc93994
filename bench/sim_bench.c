/* Micro-benchmarks of the simulated filesystem that need in-process timing.
 * Each measures an operation against a reference done in the same process on
 * the same data, so bench/run.sh can gate on ratios rather than on absolute
 * times (CI machines are noisy).  One result line per run, "key value" pairs,
 * so the shell script can take medians without a JSON parser.
 *
 *   sim_bench clone PROFILE MIB       reflink vs read+write copy of a MIB file
 *   sim_bench clone-mem PROFILE MIB N  heap growth of N clones of a MIB file
 *   sim_bench snapshot PROFILE FILES   snapshot of FILES files vs creating them
 *   sim_bench ssz N                    N encode/decode round trips of each wire message
 *                                      (bench/gate.py counts its instructions)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backstore.h"
#include "backstore/wire.h"

#define CHUNK (1u << 20)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(bs_store *st, const char *what, int rc) {
  fprintf(stderr, "sim_bench: %s: %s (%s)\n", what, bs_strerror(rc), st ? bs_last_message(st) : "");
  exit(1);
}

#define CHECK(st, what, call)                                                                      \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ != BS_OK)                                                                              \
      die(st, what, rc_);                                                                          \
  } while (0)

/* A store big enough for @data_bytes of file data three times over. */
static bs_store *open_sim(const char *profile, uint64_t data_bytes) {
  bs_store *st = NULL;
  bs_open_opts o = {.profile = profile, .seed = 1, .capacity = 3 * data_bytes + (64u << 20)};
  CHECK(NULL, "open", bs_open(&st, "sim", &o));
  return st;
}

/* Write a @mib MiB file at @path, 1 MiB at a time, and sync it. */
static void fill(bs_store *st, const char *path, unsigned mib, unsigned char *buf) {
  CHECK(st, "create", bs_create(st, path, 0644));
  for (unsigned i = 0; i < mib; i++) {
    memset(buf, (int)(i * 31 + 7), CHUNK);
    CHECK(st, "write", bs_write(st, path, (uint64_t)i * CHUNK, buf, CHUNK));
  }
  CHECK(st, "sync", bs_sync(st, path));
}

static int bench_clone(const char *profile, unsigned mib) {
  unsigned char *buf = malloc(CHUNK);
  if (!buf)
    return 1;
  bs_store *st = open_sim(profile, (uint64_t)mib * CHUNK);
  fill(st, "/src", mib, buf);

  double t0 = now();
  CHECK(st, "reflink", bs_reflink(st, "/src", "/clone"));
  double t_clone = now() - t0;

  /* The reference: what a copy without reflink costs on the same store. */
  t0 = now();
  CHECK(st, "create", bs_create(st, "/copy", 0644));
  for (unsigned i = 0; i < mib; i++) {
    size_t got = 0;
    CHECK(st, "read", bs_read(st, "/src", (uint64_t)i * CHUNK, buf, CHUNK, &got));
    CHECK(st, "write", bs_write(st, "/copy", (uint64_t)i * CHUNK, buf, got));
  }
  double t_copy = now() - t0;

  printf("clone_s %.9f copy_s %.9f\n", t_clone, t_copy);
  bs_close(st);
  free(buf);
  return 0;
}

/* Bytes the C heap has handed out; the sim keeps everything on the heap. */
static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static int bench_clone_mem(const char *profile, unsigned mib, unsigned n) {
  unsigned char *buf = malloc(CHUNK);
  char path[64];
  if (!buf)
    return 1;
  bs_store *st = open_sim(profile, (uint64_t)mib * CHUNK);
  fill(st, "/src", mib, buf);
  free(buf);

  size_t before = heap_in_use();
  for (unsigned i = 0; i < n; i++) {
    snprintf(path, sizeof(path), "/clone%u", i);
    CHECK(st, "reflink", bs_reflink(st, "/src", path));
  }
  size_t after = heap_in_use();
  printf("file_bytes %llu clones %u heap_growth_bytes %lld\n", (unsigned long long)mib * CHUNK, n,
         (long long)after - (long long)before);
  bs_close(st);
  return 0;
}

static int bench_snapshot(const char *profile, unsigned files) {
  char path[64];
  bs_snapshot_info info;
  bs_store *st = open_sim(profile, (uint64_t)files * 4096);

  double t0 = now();
  for (unsigned i = 0; i < files; i++) {
    if (i % 100 == 0) {
      snprintf(path, sizeof(path), "/d%u", i / 100);
      CHECK(st, "mkdir", bs_mkdir(st, path, 0755));
    }
    snprintf(path, sizeof(path), "/d%u/f%u", i / 100, i);
    CHECK(st, "create", bs_create(st, path, 0644));
    CHECK(st, "write", bs_write(st, path, 0, path, strlen(path)));
  }
  double t_create = now() - t0;

  t0 = now();
  CHECK(st, "snapshot", bs_snapshot_create(st, "bench", &info));
  double t_snap = now() - t0;

  printf("files %u create_s %.9f snapshot_s %.9f\n", files, t_create, t_snap);
  bs_close(st);
  return 0;
}

/* The SSZ codecs of include/backstore/wire.h, @n round trips each; every
 * decode is compared with what was encoded, so the loop cannot be skipped. */
static int bench_ssz(unsigned n) {
  uint8_t buf[1024];
  size_t len;
  bs_caps caps, caps2;
  CHECK(NULL, "caps", bs_caps_for_type(&caps, BS_FS_APFS));
  bs_snapshot_info si = {0}, si2;
  snprintf(si.name, sizeof(si.name), "nightly-2026-12-06");
  bs_error_response er, er2;
  CHECK(NULL, "error", bs_error_response_make(&er, BS_ENOT_FOUND, 2, "stat /a/b: no such file"));
  for (unsigned i = 0; i < n; i++) {
    si.id = i + 1;
    CHECK(NULL, "caps encode", bs_caps_encode(buf, sizeof(buf), &len, &caps));
    CHECK(NULL, "caps decode", bs_caps_decode(&caps2, buf, len));
    CHECK(NULL, "snapshot encode", bs_snapshot_info_encode(buf, sizeof(buf), &len, &si));
    CHECK(NULL, "snapshot decode", bs_snapshot_info_decode(&si2, buf, len));
    CHECK(NULL, "error encode", bs_error_response_encode(buf, sizeof(buf), &len, &er));
    CHECK(NULL, "error decode", bs_error_response_decode(&er2, buf, len));
    if (memcmp(&caps, &caps2, sizeof(caps)) != 0 || si2.id != si.id || er2.code != er.code) {
      fprintf(stderr, "sim_bench: ssz round trip %u differs\n", i);
      return 1;
    }
  }
  printf("ssz_round_trips %u\n", n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "clone") == 0)
    return bench_clone(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
  if (argc >= 5 && strcmp(argv[1], "clone-mem") == 0)
    return bench_clone_mem(argv[2], (unsigned)strtoul(argv[3], NULL, 10),
                           (unsigned)strtoul(argv[4], NULL, 10));
  if (argc >= 4 && strcmp(argv[1], "snapshot") == 0)
    return bench_snapshot(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
  if (argc >= 3 && strcmp(argv[1], "ssz") == 0)
    return bench_ssz((unsigned)strtoul(argv[2], NULL, 10));
  fprintf(stderr, "usage: sim_bench clone PROFILE MIB | clone-mem PROFILE MIB N | snapshot PROFILE FILES | ssz N\n");
  return 2;
}
