/* Campaign traces (lab/trace.h, docs/traces.md): the format
 * round-trips, malformed traces are refused with their line number, a replay
 * reproduces a recorded failure and a passing run line for line, a changed
 * result is found, and shrink takes a ~2000-operation failing trace of a
 * deliberately broken backend (registered here) down to at most 5 operations.
 * Campaigns with traces give the same failures and trace files for any jobs. */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backstore/backend.h"
#include "backstore/sim.h"
#include "lab/trace.h"
#include "tests/support/bs_test.h"

static char tmp[64];

/* ---- a broken backend: forwards to an inner store, but a write of exactly
 * broken_len bytes at broken_off stores its first byte flipped ------------- */

typedef struct broken {
  bs_store base;
  bs_store *in;
} broken;

static uint64_t broken_off, broken_len;

static bs_store *in_of(bs_store *st) { return ((broken *)st)->in; }

/* The inner store's message becomes the wrapper's. */
static int fwd(bs_store *st, int rc) {
  if (rc != 0)
    return bs_store_fail(st, rc, bs_last_os_errno(in_of(st)), "%s", bs_last_message(in_of(st)));
  bs_store_clear_error(st);
  return 0;
}

static int b_open(bs_store **out, const bs_open_opts *o, const char *inner);
static void b_close(bs_store *st) {
  bs_close(in_of(st));
  free(st);
}
static int b_caps(bs_store *st, bs_caps *c) { return fwd(st, bs_get_caps(in_of(st), c)); }
static int b_usage(bs_store *st, bs_usage *u) { return fwd(st, bs_usage_get(in_of(st), u)); }
static int b_create(bs_store *st, const char *p, uint32_t m) { return fwd(st, bs_create(in_of(st), p, m)); }
static int b_mkdir(bs_store *st, const char *p, uint32_t m) { return fwd(st, bs_mkdir(in_of(st), p, m)); }
static int b_write(bs_store *st, const char *p, uint64_t off, const void *buf, size_t len) {
  if (off != broken_off || len != broken_len || len == 0)
    return fwd(st, bs_write(in_of(st), p, off, buf, len));
  uint8_t *copy = malloc(len);
  if (!copy)
    return BS_ENO_MEMORY;
  memcpy(copy, buf, len);
  copy[0] ^= 0x5a; /* the bug */
  int rc = bs_write(in_of(st), p, off, copy, len);
  free(copy);
  return fwd(st, rc);
}
static int b_read(bs_store *st, const char *p, uint64_t off, void *buf, size_t len, size_t *n) {
  return fwd(st, bs_read(in_of(st), p, off, buf, len, n));
}
static int b_truncate(bs_store *st, const char *p, uint64_t s) { return fwd(st, bs_truncate(in_of(st), p, s)); }
static int b_unlink(bs_store *st, const char *p) { return fwd(st, bs_unlink(in_of(st), p)); }
static int b_rmdir(bs_store *st, const char *p) { return fwd(st, bs_rmdir(in_of(st), p)); }
static int b_stat(bs_store *st, const char *p, bs_stat_info *o) { return fwd(st, bs_stat(in_of(st), p, o)); }
static int b_readdir(bs_store *st, const char *p, bs_readdir_cb cb, void *ctx) {
  return fwd(st, bs_readdir(in_of(st), p, cb, ctx));
}
static int b_reflink(bs_store *st, const char *s, const char *d) { return fwd(st, bs_reflink(in_of(st), s, d)); }
static int b_setxattr(bs_store *st, const char *p, const char *n, const void *v, size_t l) {
  return fwd(st, bs_setxattr(in_of(st), p, n, v, l));
}
static int b_getxattr(bs_store *st, const char *p, const char *n, void *b, size_t c, size_t *l) {
  return fwd(st, bs_getxattr(in_of(st), p, n, b, c, l));
}
static int b_removexattr(bs_store *st, const char *p, const char *n) {
  return fwd(st, bs_removexattr(in_of(st), p, n));
}
static int b_sync(bs_store *st, const char *p) { return fwd(st, bs_sync(in_of(st), p)); }
static int b_snap_create(bs_store *st, const char *n, bs_snapshot_info *o) {
  return fwd(st, bs_snapshot_create(in_of(st), n, o));
}
static int b_snap_list(bs_store *st, bs_snapshot_info **o, size_t *n) {
  return fwd(st, bs_snapshot_list(in_of(st), o, n));
}
static int b_snap_delete(bs_store *st, uint64_t id) { return fwd(st, bs_snapshot_delete(in_of(st), id)); }
static int b_branch_create(bs_store *st, uint64_t id, const char *n) {
  return fwd(st, bs_branch_create(in_of(st), id, n));
}
static int b_branch_delete(bs_store *st, const char *n) { return fwd(st, bs_branch_delete(in_of(st), n)); }
static int b_power_loss(bs_store *st, bs_power_loss_mode m) { return fwd(st, bs_power_loss(in_of(st), m)); }
static int b_check(bs_store *st) { return fwd(st, bs_check(in_of(st))); }
static int b_clock(bs_store *st, int64_t *t) { return fwd(st, bs_clock_ns(in_of(st), t)); }

static const bs_backend_ops broken_ops = {
  .version = BS_BACKEND_OPS_VERSION, .name = "broken", .open = b_open, .close = b_close,
  .caps = b_caps, .usage = b_usage, .create = b_create, .mkdir = b_mkdir, .write = b_write,
  .read = b_read, .truncate = b_truncate, .unlink = b_unlink, .rmdir = b_rmdir, .stat = b_stat,
  .readdir = b_readdir, .reflink = b_reflink, .setxattr = b_setxattr, .getxattr = b_getxattr,
  .removexattr = b_removexattr, .sync = b_sync, .snapshot_create = b_snap_create,
  .snapshot_list = b_snap_list, .snapshot_delete = b_snap_delete,
  .branch_create = b_branch_create, .branch_delete = b_branch_delete,
  .power_loss = b_power_loss, .check = b_check, .clock_ns = b_clock,
};

static int b_open(bs_store **out, const bs_open_opts *o, const char *inner) {
  broken *b = calloc(1, sizeof(*b));
  if (!b)
    return BS_ENO_MEMORY;
  int rc = bs_open(&b->in, inner ? inner : "sim", o);
  if (rc != 0) {
    free(b);
    return rc;
  }
  b->base.ops = &broken_ops;
  *out = &b->base;
  return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static char *write_mem(const bs_trace *t, size_t *len) {
  char *p = NULL;
  FILE *f = open_memstream(&p, len);
  assert_non_null(f);
  assert_bs_ok(bs_trace_write(f, t));
  assert_int_equal(fclose(f), 0);
  return p;
}

static bs_trace *parse_ok(const char *text) {
  bs_trace *t = NULL;
  bs_trace_error e;
  int rc = bs_trace_parse(&t, text, strlen(text), &e);
  if (rc != 0)
    fail_msg("parse failed at line %" PRIu32 ": %s", e.line, e.message);
  return t;
}

/* Run one seed with its trace written to tmp; the trace, loaded. */
static bs_trace *record(const bs_campaign_opts *base, uint64_t seed, bs_campaign_result *r) {
  bs_campaign_opts o = *base;
  o.trace_dir = tmp;
  o.trace_all = true;
  assert_bs_ok(bs_campaign_run_seed(r, &o, seed));
  char path[256];
  snprintf(path, sizeof(path), "%s/%s-seed-%" PRIu64 ".trace", tmp, o.profile ? o.profile : "apfs",
           seed);
  if (r->failed)
    assert_string_equal(r->failure.trace, path);
  bs_trace *t = NULL;
  bs_trace_error e;
  if (bs_trace_load(&t, path, &e) != 0)
    fail_msg("%s:%" PRIu32 ": %s", path, e.line, e.message);
  return t;
}

static void assert_same_trace(const bs_trace *a, const bs_trace *b) {
  assert_int_equal(a->version, b->version);
  assert_int_equal(a->seed, b->seed);
  assert_string_equal(a->backend, b->backend);
  assert_string_equal(a->profile, b->profile);
  assert_string_equal(a->faults ? a->faults : "-", b->faults ? b->faults : "-");
  assert_string_equal(a->sim_bug, b->sim_bug);
  assert_int_equal(a->no_backend_check, b->no_backend_check);
  assert_int_equal(a->failed, b->failed);
  assert_int_equal(a->failure.op_index, b->failure.op_index);
  assert_string_equal(a->failure.op, b->failure.op);
  assert_string_equal(a->failure.check, b->failure.check);
  assert_string_equal(a->failure.message, b->failure.message);
  assert_int_equal(a->n_ops, b->n_ops);
  assert_int_equal(a->n_lines, b->n_lines);
  for (size_t i = 0; i < a->n_lines; i++) {
    assert_int_equal(a->lines[i].kind, b->lines[i].kind);
    assert_string_equal(a->lines[i].text, b->lines[i].text);
  }
}

/* ---- tests ---------------------------------------------------------------- */

static void trace_round_trips_through_text(void **state) {
  (void)state;
  bs_campaign_opts o = {.profile = "apfs", .ops = 600, .sim_bug = "cow-in-place"};
  bs_campaign_result r;
  bs_trace *t = record(&o, bs_test_seed(), &r);
  assert_true(t->failed);
  assert_int_equal(t->n_ops, r.ops_run);
  assert_int_equal(t->failure.op_index, r.failure.op_index);
  size_t n1, n2;
  char *text = write_mem(t, &n1);
  bs_trace *u = parse_ok(text);
  assert_same_trace(t, u);
  char *again = write_mem(u, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(text, again, n1);
  /* A passing trace (no failure lines) of a profile without snapshots. */
  bs_campaign_opts p = {.profile = "ext4", .ops = 200};
  bs_trace *v = record(&p, bs_test_seed(), &r);
  assert_false(v->failed);
  assert_int_equal(v->n_ops, 200);
  char *t3 = write_mem(v, &n1);
  bs_trace *w = parse_ok(t3);
  assert_same_trace(v, w);
  free(text);
  free(again);
  free(t3);
  bs_trace_free(t);
  bs_trace_free(u);
  bs_trace_free(v);
  bs_trace_free(w);
}

static void malformed_traces_name_their_line(void **state) {
  (void)state;
  static const char head[] = "bstrace 1\nseed 3\nbackend sim\nprofile apfs\nfaults none\n";
  static const struct {
    const char *body;
    uint32_t line;
    const char *msg;
  } bad[] = {
    {"ops 1\n0 create /f1 -> OK t=5\n", 0, NULL}, /* the good one */
    {"ops 1\n0 create f1 -> OK t=5\n", 7, "not absolute"},
    {"ops 1\n0 crate /f1 -> OK t=5\n", 7, "unknown operation"},
    {"ops 1\n0 create /f1 -> FINE\n", 7, "unknown result code"},
    {"ops 1\n0 create /f1\n", 7, "without \" -> RESULT\""},
    {"ops 1\n0 write /f1 off=0 len=0 data=0000000000000001 -> OK\n", 7, "empty"},
    {"ops 1\n0 write /f1 off=0 len=9 data=123 -> OK\n", 7, "data="},
    {"ops 1\n0 snapshot-create s9 -> OK\n", 7, "s0..s3"},
    {"ops 1\n0 create /a\\x0 -> OK\n", 7, "bad escape"},
    {"ops 2\n0 create /f1 -> OK t=5\n", 6, "cut short"},
    {"ops 1\n0 create /f1 -> OK t=5\nseed 4\n", 8, "after the first operation"},
    {"ops 1\nops 1\n", 7, "second \"ops\""},
    {"ops 1\nbogus 1\n", 7, "unknown line"},
    {"0 create /f1 -> OK t=5\n", 6, "no \"ops\" line"},
    {"ops 1\n0 sync all  -> OK\n", 7, ""},
    {"ops 1\nfailure op=x check=content\n", 7, "bad failure op index"},
    {"ops 0\nfailure op=0 check=content\n", 7, "no \"operation\" line"},
    {"ops 0\nfault nothing\n", 7, "fault point"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char text[512];
    snprintf(text, sizeof(text), "%s%s", head, bad[i].body);
    bs_trace *t = NULL;
    bs_trace_error e;
    int rc = bs_trace_parse(&t, text, strlen(text), &e);
    if (!bad[i].msg) {
      assert_bs_ok(rc);
      bs_trace_free(t);
      continue;
    }
    if (rc != BS_EINVALID || e.line != bad[i].line || !strstr(e.message, bad[i].msg))
      fail_msg("case %zu: rc %d line %" PRIu32 " \"%s\"; want line %" PRIu32 " \"%s\"", i, rc, e.line,
               e.message, bad[i].line, bad[i].msg);
    assert_null(t);
  }
  static const char *const heads[] = {"", "bstrace 2\n", "hello\n", "bstrace 1\nseed 1\n"};
  static const uint32_t lines[] = {0, 1, 1, 2};
  for (size_t i = 0; i < 4; i++) {
    bs_trace *t = NULL;
    bs_trace_error e;
    assert_bs_err(bs_trace_parse(&t, heads[i], strlen(heads[i]), &e), BS_EINVALID);
    assert_int_equal(e.line, lines[i]);
  }
}

static void replay_reproduces_a_recorded_failure_exactly(void **state) {
  (void)state;
  static const char *const bugs[] = {"cow-in-place", "leak-block"};
  for (int b = 0; b < 2; b++) {
    bs_campaign_opts o = {.profile = "btrfs", .ops = 1500, .sim_bug = bugs[b]};
    bs_campaign_result r;
    bs_trace *t = record(&o, bs_test_seed() + 1, &r);
    assert_true(r.failed);
    bs_replay_result x;
    bs_trace *rec = NULL;
    assert_bs_ok(bs_trace_replay(&x, t, &rec, NULL));
    assert_true(x.failed);
    assert_true(x.reproduced);
    assert_int_equal(x.differences, 0);
    assert_int_equal(x.ops_run, r.ops_run);
    assert_int_equal(x.digest, r.digest);
    assert_int_equal(x.failure.op_index, r.failure.op_index);
    assert_string_equal(x.failure.message, r.failure.message);
    assert_same_trace(t, rec); /* the recording of the replay is the trace itself */
    /* With the bug fixed the trace passes. */
    t->sim_bug[0] = '\0';
    assert_bs_ok(bs_trace_replay(&x, t, NULL, NULL));
    assert_false(x.failed);
    assert_false(x.reproduced);
    bs_trace_free(rec);
    bs_trace_free(t);
  }
}

static void replay_of_a_passing_trace_passes_line_for_line(void **state) {
  (void)state;
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++) {
    bs_campaign_opts o = {.profile = bs_sim_profile_names[i],
                          .ops = (uint32_t)bs_test_iterations(400) < 100 ? 100 : 400};
    bs_campaign_result r;
    bs_trace *t = record(&o, bs_test_seed() + (uint64_t)i, &r);
    assert_false(r.failed);
    bs_replay_result x;
    assert_bs_ok(bs_trace_replay(&x, t, NULL, NULL));
    if (x.failed || x.differences)
      fail_msg("%s: failed %d (%s: %s), %" PRIu32 " differences, first line %" PRIu32 ":\n  %s\n  %s",
               o.profile, x.failed, x.failure.op, x.failure.message, x.differences,
               x.first_difference, x.recorded, x.actual);
    assert_int_equal(x.digest, r.digest);
    bs_trace_free(t);
  }
}

static void replay_finds_a_changed_result(void **state) {
  (void)state;
  bs_campaign_opts o = {.profile = "apfs", .ops = 300};
  bs_campaign_result r;
  bs_trace *t = record(&o, bs_test_seed(), &r);
  /* Change the recorded clock of the 10th operation. */
  size_t k = 0, op = 0;
  while (k < t->n_lines && (t->lines[k].kind != BS_TRACE_OP || op++ < 10))
    k++;
  assert_true(k < t->n_lines);
  char *tp = strstr(t->lines[k].text, " t=");
  assert_non_null(tp);
  tp[3] = tp[3] == '9' ? '8' : '9';
  bs_replay_result x;
  assert_bs_ok(bs_trace_replay(&x, t, NULL, NULL));
  assert_false(x.failed);
  assert_int_equal(x.differences, 1);
  assert_int_equal(x.first_difference, t->lines[k].lineno);
  assert_string_equal(x.recorded, t->lines[k].text);
  bs_trace_free(t);
}

/* The last write of @t with a length of at least 100 whose (off, len) no
 * other write has, in the main tree; its index in *@idx. */
static bool pick_trigger(const bs_trace *t, uint32_t min_idx, uint32_t *idx) {
  for (size_t k = t->n_lines; k-- > 0;) {
    unsigned i;
    char path[320];
    unsigned long long off, len;
    if (sscanf(t->lines[k].text, "%u write %319s off=%llu len=%llu", &i, path, &off, &len) != 4 ||
        len < 100 || strncmp(path, "/.bs/", 5) == 0 || i < min_idx ||
        !strstr(t->lines[k].text, " -> OK "))
      continue;
    bool unique = true;
    for (size_t q = 0; q < t->n_lines && unique; q++) {
      unsigned long long o2, l2;
      if (q != k && sscanf(t->lines[q].text, "%*u write %*s off=%llu len=%llu", &o2, &l2) == 2)
        unique = !(o2 == off && l2 == len);
    }
    if (!unique)
      continue;
    broken_off = off;
    broken_len = len;
    *idx = i;
    return true;
  }
  return false;
}

static void shrink_takes_a_2000_op_failure_to_at_most_5_ops(void **state) {
  (void)state;
  /* Valgrind runs (BS_TEST_ITER small) shrink a shorter trace. */
  uint32_t ops = bs_test_iterations(2000) >= 2000 ? 2000 : 300;
  uint64_t seed = bs_test_seed() + 7;
  bs_campaign_opts o = {.backend = "sim", .profile = "apfs", .ops = ops};
  bs_campaign_result r;
  bs_trace *pass = record(&o, seed, &r);
  uint32_t want_idx;
  assert_true(pick_trigger(pass, ops * 9 / 10, &want_idx));
  bs_trace_free(pass);

  o.backend = "broken";
  bs_trace *t = record(&o, seed, &r);
  assert_true(r.failed);
  assert_int_equal(r.failure.op_index, want_idx);
  assert_string_equal(r.failure.check, "content");
  assert_true(t->n_ops >= ops * 9 / 10);

  bs_trace *min = NULL;
  bs_shrink_progress p;
  bs_trace_error e;
  int rc = bs_trace_shrink(&min, t, NULL, &p, &e);
  if (rc != 0)
    fail_msg("shrink: %s", e.message);
  print_message("    [ shrink   ] %" PRIu32 " -> %" PRIu32 " ops in %" PRIu32 " replays, %.2fs\n",
                t->n_ops, min->n_ops, p.tests, p.seconds);
  assert_true(min->n_ops <= 5);
  assert_true(min->failed);
  assert_true(bs_trace_same_failure(&min->failure, &t->failure));
  /* The shrunk trace replays as recorded, and fails the same way. */
  bs_replay_result x;
  assert_bs_ok(bs_trace_replay(&x, min, NULL, NULL));
  assert_true(x.reproduced);
  assert_int_equal(x.differences, 0);
  /* 1-minimal: without any one of its lines the failure is gone. */
  for (size_t drop = 0; drop < min->n_lines; drop++) {
    bs_trace less = *min;
    bs_trace_line lines[16];
    assert_true(min->n_lines <= 16);
    size_t n = 0;
    less.n_ops = 0;
    for (size_t k = 0; k < min->n_lines; k++)
      if (k != drop) {
        lines[n] = min->lines[k];
        less.n_ops += lines[n++].kind == BS_TRACE_OP;
      }
    less.lines = lines;
    less.n_lines = n;
    int rr = bs_trace_replay(&x, &less, NULL, NULL);
    assert_true(rr != 0 || !x.reproduced);
  }
  bs_trace_free(min);
  bs_trace_free(t);
}

static void shrink_refuses_a_trace_without_failure(void **state) {
  (void)state;
  bs_campaign_opts o = {.profile = "xfs", .ops = 50};
  bs_campaign_result r;
  bs_trace *t = record(&o, bs_test_seed(), &r);
  bs_trace *min = NULL;
  bs_trace_error e;
  assert_bs_err(bs_trace_shrink(&min, t, NULL, NULL, &e), BS_EINVALID);
  assert_non_null(strstr(e.message, "records no failure"));
  /* A recorded failure that does not happen. */
  t->failed = true;
  snprintf(t->failure.op, sizeof(t->failure.op), "write /f1");
  snprintf(t->failure.check, sizeof(t->failure.check), "content");
  assert_bs_err(bs_trace_shrink(&min, t, NULL, NULL, &e), BS_EINVALID);
  assert_non_null(strstr(e.message, "does not reproduce"));
  assert_null(min);
  bs_trace_free(t);
}

/* Failures and their trace files do not depend on the number of jobs. */
static void traces_do_not_depend_on_jobs(void **state) {
  (void)state;
  char d1[128], d3[128];
  snprintf(d1, sizeof(d1), "%s/j1", tmp);
  snprintf(d3, sizeof(d3), "%s/j3", tmp);
  bs_campaign_summary s1, s3;
  bs_campaign_opts o = {.profile = "apfs", .first_seed = bs_test_seed(), .seeds = 5, .ops = 400,
                        .sim_bug = "cow-in-place", .trace_dir = d1, .jobs = 1};
  assert_bs_ok(bs_campaign_run(&s1, &o));
  o.trace_dir = d3;
  o.jobs = 3;
  assert_bs_ok(bs_campaign_run(&s3, &o));
  assert_int_equal(s1.violations, 5);
  assert_int_equal(s1.n_failures, s3.n_failures);
  assert_int_equal(s1.ops, s3.ops);
  for (size_t i = 0; i < s1.n_failures; i++) {
    bs_campaign_failure *a = &s1.failures[i], *b = &s3.failures[i];
    assert_int_equal(a->seed, b->seed);
    assert_int_equal(a->op_index, b->op_index);
    assert_string_equal(a->op, b->op);
    assert_string_equal(a->message, b->message);
    bs_trace *ta = NULL, *tb = NULL;
    assert_bs_ok(bs_trace_load(&ta, a->trace, NULL));
    assert_bs_ok(bs_trace_load(&tb, b->trace, NULL));
    assert_same_trace(ta, tb);
    bs_trace_free(ta);
    bs_trace_free(tb);
  }
  bs_campaign_summary_free(&s1);
  bs_campaign_summary_free(&s3);
}

/* A failure under a fault schedule shrinks too; the shrunk trace is a fresh
 * recording, with the faults its own replay fired. */
static void shrink_under_faults_records_the_faults_it_fires(void **state) {
  (void)state;
  uint64_t seed = bs_test_seed() + 3;
  bs_campaign_opts o = {.backend = "sim", .profile = "btrfs", .ops = 300,
                        .faults = "bs/op/write=no_space%0.05,bs/op/truncate=io@3"};
  bs_campaign_result r;
  bs_trace *pass = record(&o, seed, &r);
  assert_true(r.faults_fired > 0);
  uint32_t want_idx;
  assert_true(pick_trigger(pass, 150, &want_idx));
  bs_trace_free(pass);
  o.backend = "broken";
  bs_trace *t = record(&o, seed, &r);
  assert_true(r.failed);
  assert_int_equal(r.failure.op_index, want_idx);
  assert_non_null(t->faults);
  bs_trace *min = NULL;
  bs_trace_error e;
  if (bs_trace_shrink(&min, t, NULL, NULL, &e) != 0)
    fail_msg("shrink: %s", e.message);
  assert_true(min->n_ops <= 5);
  assert_string_equal(min->faults, t->faults);
  bs_replay_result x;
  assert_bs_ok(bs_trace_replay(&x, min, NULL, NULL));
  assert_true(x.reproduced);
  assert_int_equal(x.differences, 0);
  size_t fault_lines = 0;
  for (size_t k = 0; k < min->n_lines; k++)
    fault_lines += min->lines[k].kind == BS_TRACE_FAULT;
  assert_int_equal(fault_lines, x.faults_fired);
  bs_trace_free(min);
  bs_trace_free(t);
}

/* Fired faults are trace lines; a replay fires exactly the same ones. */
static void faults_in_traces_replay_exactly(void **state) {
  (void)state;
  bs_campaign_opts o = {.profile = "btrfs", .ops = 400,
                        .faults = "bs/op/write=enospc%0.05, bs/sim/sync=io%0.1,bs/op/reflink=io@2+"};
  bs_campaign_result r;
  bs_trace *t = record(&o, bs_test_seed(), &r);
  assert_false(r.failed);
  assert_true(r.faults_fired > 0);
  assert_non_null(t->faults);
  assert_string_equal(t->faults, "bs/op/write=no_space%0.05,bs/sim/sync=io%0.1,bs/op/reflink=io@2+");
  size_t faults = 0, first = 0;
  for (size_t k = 0; k < t->n_lines; k++)
    if (t->lines[k].kind == BS_TRACE_FAULT && faults++ == 0)
      first = k;
  assert_int_equal(faults, r.faults_fired);
  /* A fault line follows the operation it failed, which failed with it. */
  assert_true(first > 0 && t->lines[first - 1].kind == BS_TRACE_OP);
  bs_replay_result x;
  assert_bs_ok(bs_trace_replay(&x, t, NULL, NULL));
  assert_false(x.failed);
  assert_int_equal(x.differences, 0);
  assert_int_equal(x.faults_fired, faults);
  assert_int_equal(x.digest, r.digest);
  /* A recorded fault that does not fire now is a difference at its line. */
  char *call = strstr(t->lines[first].text, "call=");
  assert_non_null(call);
  call[5] = call[5] == '9' ? '8' : '9';
  assert_bs_ok(bs_trace_replay(&x, t, NULL, NULL));
  assert_true(x.differences >= 1);
  assert_int_equal(x.first_difference, t->lines[first].lineno);
  /* Without the schedule nothing fires, and the results differ. */
  free(t->faults);
  t->faults = NULL;
  assert_bs_ok(bs_trace_replay(&x, t, NULL, NULL));
  assert_int_equal(x.faults_fired, 0);
  assert_true(x.differences > 0);
  bs_trace_free(t);
  /* The campaign's checks read the store: faults there are refused. */
  o.faults = "bs/op/stat=io@1";
  assert_bs_err(bs_campaign_run_seed(&r, &o, 1), BS_EINVALID);
  assert_non_null(strstr(r.failure.message, "bs/op/stat"));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int setup(void **state) {
  (void)state;
  snprintf(tmp, sizeof(tmp), "/tmp/bs-trace-XXXXXX");
  if (!mkdtemp(tmp))
    return -1;
  int rc = bs_backend_register(&broken_ops);
  return rc == 0 || rc == BS_EEXISTS ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(trace_round_trips_through_text),
    cmocka_unit_test(malformed_traces_name_their_line),
    cmocka_unit_test(replay_reproduces_a_recorded_failure_exactly),
    cmocka_unit_test(replay_of_a_passing_trace_passes_line_for_line),
    cmocka_unit_test(replay_finds_a_changed_result),
    cmocka_unit_test(shrink_takes_a_2000_op_failure_to_at_most_5_ops),
    cmocka_unit_test(shrink_refuses_a_trace_without_failure),
    cmocka_unit_test(traces_do_not_depend_on_jobs),
    cmocka_unit_test(faults_in_traces_replay_exactly),
    cmocka_unit_test(shrink_under_faults_records_the_faults_it_fires),
  };
  return cmocka_run_group_tests_name("trace", tests, setup, teardown);
}
