/* Mount traces (docs/traces.md, "Mount traces"), without FUSE: the
 * version-2 format whose writes carry their bytes parses, writes out to the
 * same text and replays to the same results and the same volume; corrupted,
 * cut short and oversized records are refused with their line and a clear
 * reason before anything is allocated for them; a version-1 trace still
 * parses as before; shrink takes a mount trace whose replay fails (a sim bug)
 * to the few requests that still fail.  tests/test_mount.c records such
 * traces from real programs through FUSE. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backstore/sim.h"
#include "lab/trace.h"
#include "lab/trace_mount.h"
#include "tests/support/bs_test.h"

#define HEAD "bstrace 2\nsource mount\nseed 7\nbackend sim\nprofile apfs\nfaults none\n"

static uint64_t fnv(const void *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
  return h;
}

/* A growing text. */
typedef struct text {
  char *p;
  size_t n;
} text;

__attribute__((format(printf, 2, 3))) static void add(text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  assert_true(n >= 0);
  t->p = realloc(t->p, t->n + (size_t)n + 1);
  assert_non_null(t->p);
  va_start(ap, fmt);
  vsnprintf(t->p + t->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  t->n += (size_t)n;
}

/* "N write PATH off=O len=L bytes=H -> OK" and its "+ HEX" lines. */
static void add_write(text *t, int idx, const char *path, uint64_t off, const void *data, size_t len) {
  add(t, "%d write %s off=%" PRIu64 " len=%zu bytes=%016" PRIx64 " -> OK\n", idx, path, off, len,
      fnv(data, len));
  for (size_t i = 0; i < len; i += 2048) {
    add(t, "+ ");
    for (size_t k = i; k < len && k < i + 2048; k++)
      add(t, "%02x", ((const unsigned char *)data)[k]);
    add(t, "\n");
  }
}

static bs_trace *parse_ok(const char *s) {
  bs_trace *t = NULL;
  bs_trace_error e;
  int rc = bs_trace_parse(&t, s, strlen(s), &e);
  if (rc != 0)
    fail_msg("parse failed: line %" PRIu32 ": %s", e.line, e.message);
  return t;
}

static char *write_mem(const bs_trace *t, size_t *n) {
  char *p = NULL;
  FILE *f = open_memstream(&p, n);
  assert_non_null(f);
  assert_int_equal(bs_trace_write(f, t), 0);
  fclose(f);
  return p;
}

/* The trace of every kind of request, with placeholder results ("OK", no
 * details): its replay differs where details are due, and its recording is
 * the real trace. */
static char *every_request(void) {
  text t = {0};
  add(&t, HEAD "ops 26\n");
  add(&t, "0 mkdir /d mode=0755 -> OK\n1 create /d/f mode=0644 -> OK\n");
  add_write(&t, 2, "/d/f", 0, "hello", 5);
  add(&t, "3 read /d/f off=0 len=5 -> OK\n4 rename /d/f /d/g flags=0 -> OK\n");
  add(&t, "5 stat /d/g -> OK\n6 fsync /d/g -> OK\n7 readdir /d -> OK\n");
  add_write(&t, 8, "/d/g", 4096, "abc", 3);
  add(&t, "9 setxattr /d/g user.k len=2 bytes=%016" PRIx64 " flags=1 -> OK\n+ 7676\n", fnv("vv", 2));
  add(&t, "10 getxattr /d/g user.k size=16 -> OK\n11 listxattr /d/g size=0 -> OK\n");
  add(&t, "12 symlink /d/s g -> OK\n13 readlink /d/s -> OK\n14 link /d/g /d/h -> OK\n");
  add(&t, "15 chmod /d/g mode=0600 -> OK\n16 utimens /d/g atime=omit mtime=1000 -> OK\n");
  add(&t, "17 chown /d/g uid=keep gid=5 -> OK\n18 statfs / -> OK\n19 unlink /d/h -> OK\n");
  add(&t, "20 create /d/c mode=0644 -> OK\n21 copy /d/g /d/c off=0 off-out=0 len=9999 flags=0 -> OK\n");
  add(&t, "22 power-loss drop -> OK\n23 open /d/g flags=1 -> OK\n24 removexattr /d/g user.k -> OK\n");
  add(&t, "25 setxattr /d/g user.e len=0 bytes=cbf29ce484222325 flags=0 -> OK\n");
  return t.p;
}

static void mount_trace_replays_its_recording_exactly(void **state) {
  (void)state;
  char *s = every_request();
  bs_trace *t = parse_ok(s);
  assert_true(t->mount);
  assert_int_equal(t->version, 2);
  assert_int_equal(t->n_ops, 26);
  assert_int_equal(t->lines[2].data_len, 5);
  assert_memory_equal(t->lines[2].data, "hello", 5);
  bs_replay_result x;
  bs_trace *rec = NULL;
  assert_int_equal(bs_trace_replay(&x, t, &rec, NULL), 0);
  assert_false(x.failed);
  assert_int_equal(x.ops_run, 26);
  assert_true(x.differences > 0); /* the placeholders lack their details */
  /* What the requests gave: the bytes read, the copy's length. */
  char want[128];
  snprintf(want, sizeof(want), "3 read /d/f off=0 len=5 -> OK n=5 h=%016" PRIx64, fnv("hello", 5));
  assert_string_equal(rec->lines[3].text, want);
  assert_string_equal(rec->lines[21].text,
                      "21 copy /d/g /d/c off=0 off-out=0 len=9999 flags=0 -> OK n=4099");
  snprintf(want, sizeof(want), "9 setxattr /d/g user.k len=2 bytes=%016" PRIx64 " flags=1 -> OK",
           fnv("vv", 2));
  assert_string_equal(rec->lines[9].text, want);
  /* An empty value, as a server with no data pointer formats it, reads back. */
  bs__tbuf b = {0};
  bs_mop empty = {.kind = BS_MOP_SETXATTR, .path = "/d/g", .name = "user.e"};
  bs_mop_format(&b, &empty);
  assert_string_equal(b.p, "setxattr /d/g user.e len=0 bytes=cbf29ce484222325 flags=0");
  bs__tbuf_free(&b);
  /* The recording replays with no difference, twice the same. */
  bs_replay_result y, z;
  assert_int_equal(bs_trace_replay(&y, rec, NULL, NULL), 0);
  if (y.differences)
    fail_msg("line %" PRIu32 ":\n  %s\n  %s", y.first_difference, y.recorded, y.actual);
  assert_int_equal(bs_trace_replay(&z, rec, NULL, NULL), 0);
  assert_int_equal(y.digest, z.digest);
  assert_int_equal(y.digest, x.digest);
  /* It writes out and parses back to the same bytes, data lines included. */
  size_t n1, n2;
  char *w1 = write_mem(rec, &n1);
  assert_non_null(strstr(w1, "bstrace 2\nsource mount\n"));
  assert_non_null(strstr(w1, "\n+ 68656c6c6f\n"));
  bs_trace *back = parse_ok(w1);
  char *w2 = write_mem(back, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(w1, w2, n1);
  /* The replayed volume, saved: what the requests left after the power loss. */
  char img[128];
  snprintf(img, sizeof(img), "/tmp/bs-mount-trace-%ld.img", (long)getpid());
  assert_int_equal(bs_trace_replay_save(&y, back, img, NULL), 0);
  assert_int_equal(y.differences, 0);
  bs_store *st = NULL;
  assert_int_equal(bs_sim_load(&st, img), 0);
  assert_int_equal(bs_check(st), 0);
  bs_stat_info in;
  assert_int_equal(bs_stat(st, "/d/g", &in), 0);
  assert_int_equal(in.size, 0); /* opened with O_TRUNC after the power loss */
  bs_close(st);
  unlink(img);
  /* A campaign trace has no volume to save. */
  bs_trace_error e;
  t->mount = false;
  assert_int_equal(bs_trace_replay_save(&y, t, img, &e), BS_EUNSUPPORTED);
  assert_non_null(strstr(e.message, "mount trace"));
  free(w1);
  free(w2);
  free(s);
  bs_trace_free(back);
  bs_trace_free(rec);
  bs_trace_free(t);
}

static void bad_mount_records_are_refused_with_their_line(void **state) {
  (void)state;
  char flipped[64];
  snprintf(flipped, sizeof(flipped), "bytes=%016" PRIx64 " -> OK\n+ 68656c6c6e\n", fnv("hello", 5));
  char good[64];
  snprintf(good, sizeof(good), "bytes=%016" PRIx64 " -> OK\n+ 6865\n", fnv("hello", 5));
  static const struct {
    const char *body;
    uint32_t line;
    const char *msg;
  } bad[] = {
    {"ops 1\n0 write /f off=0 len=5 @", 9, "do not match their bytes="},          /* flipped */
    {"ops 2\n0 write /f off=0 len=5 @1 stat / -> OK\n", 10, "carries 2 of its 5 bytes"}, /* good: cut short */
    {"ops 1\n0 write /f off=0 len=5 @", 9, "carries 2 of its 5 bytes"},           /* good: at the end */
    {"ops 1\n0 write /f off=0 len=2000000 bytes=0000000000000000 -> OK\n", 8, "at most 1048576 bytes"},
    {"ops 1\n0 setxattr /f user.a len=99999999 bytes=0000000000000000 flags=0 -> OK\n", 8,
     "at most 1048576 bytes"},
    {"ops 1\n0 read /f off=0 len=1048577 -> OK\n", 8, "more than 1048576 bytes"},
    {"ops 1\n0 write /f off=0 len=0 bytes=0000000000000001 -> OK\n", 8, "does not match"},
    {"ops 0\n+ 00\n", 8, "data line without"},
    {"ops 1\n0 write /f off=0 len=1 bytes=af63bd4c8601b7be -> OK\n+ 0\n", 9, "bad data line"},
    {"ops 1\n0 write /f off=0 len=1 bytes=af63bd4c8601b7be -> OK\n+ zz\n", 9, "bad hex digit"},
    {"ops 1\n0 write /f off=0 len=1 bytes=af63bd4c8601b7be -> OK\n+ 0000\n", 9, "more data than"},
    {"ops 1\n0 frobnicate /f -> OK\n", 8, "unknown mount operation"},
    {"ops 1\n0 stat f -> OK\n", 8, "not absolute"},
    {"ops 1\n0 chmod /f mode=0999 -> OK\n", 8, "bad mode"},
    {"ops 1\n0 rename /a /b flags=2 -> OK\n", 8, "bad flags"},
    {"ops 1\n0 stat /a\\x00 -> OK\n", 8, "bad path"},
    {"ops 1\n0 stat /a extra -> OK\n", 8, "extra text"},
    {"ops 1\n0 power-loss maybe -> OK\n", 8, "drop or tear"},
    {"ops 1\n0 stat /a -> SOMETIMES\n", 8, "unknown result code"},
    {"ops 0\nsweep\n", 8, "no sweep lines"},
    {"ops 0\nfault bs/op/write no_space call=1\n", 8, "no fault lines"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    /* "@" in a body stands for the end of a write line and its data. */
    char all[512];
    const char *at = strchr(bad[i].body, '@');
    size_t k = at ? (size_t)(at - bad[i].body) : strlen(bad[i].body);
    snprintf(all, sizeof(all), HEAD "%.*s%s%s", (int)k, bad[i].body, at ? (i == 0 ? flipped : good) : "",
             at ? at + 1 : "");
    bs_trace *t = NULL;
    bs_trace_error e;
    int rc = bs_trace_parse(&t, all, strlen(all), &e);
    if (rc != BS_EINVALID || e.line != bad[i].line || !strstr(e.message, bad[i].msg))
      fail_msg("case %zu: rc %d line %" PRIu32 " \"%s\"; want line %" PRIu32 " \"%s\"", i, rc,
               e.line, e.message, bad[i].line, bad[i].msg);
    assert_null(t);
  }
  /* "source" needs version 2; version 3 is not read. */
  bs_trace *t = NULL;
  bs_trace_error e;
  const char *v1 = "bstrace 1\nsource mount\n";
  assert_int_equal(bs_trace_parse(&t, v1, strlen(v1), &e), BS_EINVALID);
  assert_int_equal(e.line, 2);
  assert_non_null(strstr(e.message, "version 2"));
  const char *v3 = "bstrace 3\n";
  assert_int_equal(bs_trace_parse(&t, v3, strlen(v3), &e), BS_EINVALID);
  assert_non_null(strstr(e.message, "reads 1 to 2"));
}

/* Lines: 1000 bytes in version 1 (as before), longer in version 2 (a long
 * path of a real program), both through bs_trace_load's line reader. */
static void long_lines_by_version(void **state) {
  (void)state;
  char path[1600];
  path[0] = '/';
  memset(path + 1, 'p', sizeof(path) - 2);
  path[sizeof(path) - 1] = '\0';
  char file[128];
  snprintf(file, sizeof(file), "/tmp/bs-mount-trace-%ld.trace", (long)getpid());
  for (int v = 1; v <= 2; v++) {
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "bstrace %d\n%sseed 1\nbackend sim\nprofile apfs\nops 1\n0 stat %s -> NAME_TOO_LONG\n", v,
            v == 2 ? "source mount\n" : "", path);
    fclose(f);
    bs_trace *t = NULL;
    bs_trace_error e;
    int rc = bs_trace_load(&t, file, &e);
    if (v == 1) {
      assert_int_equal(rc, BS_EINVALID);
      assert_int_equal(e.line, 6);
      assert_non_null(strstr(e.message, "longer than 1000 bytes"));
    } else {
      if (rc != 0)
        fail_msg("line %" PRIu32 ": %s", e.line, e.message);
      bs_replay_result x;
      assert_int_equal(bs_trace_replay(&x, t, NULL, NULL), 0);
      assert_int_equal(x.differences, 0); /* a 1599-byte name: NAME_TOO_LONG, as recorded */
      bs_trace_free(t);
    }
  }
  unlink(file);
}

/* A mount trace records no failure; shrink takes it to the failure its
 * replay shows: a sim bug (cow-in-place) that breaks the sim's check. */
static void shrink_takes_a_mount_trace_to_its_failure(void **state) {
  (void)state;
  static unsigned char blk[8192];
  for (size_t i = 0; i < sizeof(blk); i++)
    blk[i] = (unsigned char)(i * 7 + 1);
  text t = {0};
  add(&t, "bstrace 2\nsource mount\nseed 3\nbackend sim\nprofile apfs\nfaults none\n"
          "sim-bug cow-in-place\nops 20\n");
  add(&t, "0 mkdir /d mode=0755 -> OK\n1 create /d/a mode=0644 -> OK\n");
  add_write(&t, 2, "/d/a", 0, blk, sizeof(blk));
  for (int i = 3; i < 15; i++)
    add(&t, "%d mkdir /n%d mode=0755 -> OK\n", i, i);
  add(&t, "15 create /d/b mode=0644 -> OK\n");
  add(&t, "16 copy /d/a /d/b off=0 off-out=0 len=8192 flags=0 -> OK n=8192\n");
  add(&t, "17 stat /d -> NOT_FOUND\n18 fsync /d/a -> OK\n");
  add_write(&t, 19, "/d/b", 0, "x", 1);
  bs_trace *tr = parse_ok(t.p);
  bs_replay_result x;
  assert_int_equal(bs_trace_replay(&x, tr, NULL, NULL), 0);
  assert_true(x.failed);
  assert_string_equal(x.failure.check, "check");
  assert_int_equal(x.failure.op_index, 19);
  bs_trace *min = NULL;
  bs_shrink_progress p;
  bs_trace_error e;
  if (bs_trace_shrink(&min, tr, NULL, &p, &e) != 0)
    fail_msg("shrink: %s", e.message);
  assert_true(min->mount);
  assert_true(min->failed);
  assert_true(min->n_ops <= 6);
  assert_int_equal(min->lines[min->n_lines - 1].data_len, 1);
  assert_int_equal(bs_trace_replay(&x, min, NULL, NULL), 0);
  assert_true(x.reproduced);
  assert_int_equal(x.differences, 0);
  bs_trace_free(min);
  /* Without the bug there is nothing to shrink. */
  tr->sim_bug[0] = '\0';
  assert_int_equal(bs_trace_shrink(&min, tr, NULL, NULL, &e), BS_EINVALID);
  assert_non_null(strstr(e.message, "records no failure and its replay passes"));
  assert_null(min);
  bs_trace_free(tr);
  free(t.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(mount_trace_replays_its_recording_exactly),
    cmocka_unit_test(bad_mount_records_are_refused_with_their_line),
    cmocka_unit_test(long_lines_by_version),
    cmocka_unit_test(shrink_takes_a_mount_trace_to_its_failure),
  };
  return cmocka_run_group_tests_name("mount_trace", tests, NULL, NULL);
}
