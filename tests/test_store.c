/* The dispatch layer (src/store.c): what every backend gets for free, seen
 * through a minimal backend registered at run time. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"

/* A backend with only open and close: everything else must be UNSUPPORTED. */
static int bare_open(bs_store **out, const bs_open_opts *opts, const char *inner) {
  (void)opts;
  (void)inner;
  *out = calloc(1, sizeof(bs_store));
  return *out ? BS_OK : BS_ENO_MEMORY;
}

static void bare_close(bs_store *st) { free(st); }

static const bs_backend_ops bare_ops = {
    .version = BS_BACKEND_OPS_VERSION, .name = "bare", .open = bare_open, .close = bare_close};

static bs_store *open_bare(void) {
  int rc = bs_backend_register(&bare_ops);
  assert_true(rc == BS_OK || rc == BS_EEXISTS);
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "bare", NULL));
  return st;
}

/* Assert @rc is UNSUPPORTED and the message names @method. */
static void assert_unsupported(bs_store *st, int rc, const char *method) {
  assert_bs_err(rc, BS_EUNSUPPORTED);
  if (!strstr(bs_last_message(st), method))
    fail_msg("message \"%s\" does not name %s", bs_last_message(st), method);
}

static void missing_methods_are_UNSUPPORTED_with_their_name(void **state) {
  (void)state;
  bs_store *st = open_bare();
  bs_caps caps;
  bs_usage u;
  bs_stat_info si;
  bs_snapshot_info *list = NULL;
  size_t n = 0, got = 0;
  char buf[8];
  int64_t ns;

  assert_unsupported(st, bs_get_caps(st, &caps), "caps");
  assert_unsupported(st, bs_usage_get(st, &u), "usage");
  assert_unsupported(st, bs_reflink(st, "/a", "/b"), "reflink");
  assert_unsupported(st, bs_create(st, "/a", 0644), "create");
  assert_unsupported(st, bs_write(st, "/a", 0, "x", 1), "write");
  assert_unsupported(st, bs_read(st, "/a", 0, buf, sizeof(buf), &got), "read");
  assert_unsupported(st, bs_stat(st, "/a", &si), "stat");
  assert_unsupported(st, bs_setxattr(st, "/a", "user.k", "v", 1), "setxattr");
  assert_unsupported(st, bs_sync(st, NULL), "sync");
  assert_unsupported(st, bs_snapshot_create(st, "s1", NULL), "snapshot_create");
  assert_unsupported(st, bs_snapshot_list(st, &list, &n), "snapshot_list");
  assert_null(list);
  assert_unsupported(st, bs_branch_create(st, 1, "b1"), "branch_create");
  assert_unsupported(st, bs_power_loss(st, BS_POWER_LOSS_DROP), "power_loss");
  assert_unsupported(st, bs_check(st), "check");
  assert_unsupported(st, bs_clock_ns(st, &ns), "clock_ns");
  bs_close(st);
}

/* A backend built against version 1 of the ops table: its table ends after
 * clock_ns, and what follows in memory is not a method.  It is complete
 * (it keeps its own rules), so the core hands it store paths as given. */
static char v1_last_create[64];

static int v1_create(bs_store *st, const char *path, uint32_t mode) {
  (void)st;
  (void)mode;
  snprintf(v1_last_create, sizeof(v1_last_create), "%s", path);
  return BS_OK;
}

static void a_version_1_table_gets_no_newer_call(void **state) {
  (void)state;
  /* The table as a version-1 build laid it out, followed by bytes that
   * would crash any call made through them. */
  static union {
    bs_backend_ops ops;
    unsigned char bytes[sizeof(bs_backend_ops)];
  } v1;
  memset(v1.bytes, 0xa5, sizeof(v1.bytes));
  const bs_backend_ops prefix = {.version = 1, .name = "v1", .open = bare_open, .close = bare_close,
                                 .create = v1_create};
  memcpy(v1.bytes, &prefix, offsetof(bs_backend_ops, chown));
  int rc = bs_backend_register(&v1.ops);
  assert_true(rc == BS_OK || rc == BS_EEXISTS);
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "v1", NULL));
  /* Its own methods work, with store paths as given: no namespace of the
   * core's comes between (it would refuse "/.bs/x"). */
  assert_bs_ok(bs_create(st, "/.bs/x", 0644));
  assert_string_equal(v1_last_create, "/.bs/x");
  /* Methods appended by version 2 are UNSUPPORTED, never read. */
  uint64_t parent = 0;
  assert_unsupported(st, bs_chown(st, "/a", 1, 1), "chown");
  assert_unsupported(st, bs_branch_parent(st, "b", &parent), "branch_parent");
  assert_unsupported(st, bs_snapshot_create(st, "s", NULL), "snapshot_create");
  bs_open_opts o = {.root = "/nonexistent-v1-root"};
  assert_bs_err(bs_store_create("v1", &o), BS_EUNSUPPORTED);
  bs_close(st);
}

static void registry_rejects_tables_without_a_version(void **state) {
  (void)state;
  static const bs_backend_ops v0 = {.version = 0, .name = "v0", .open = bare_open, .close = bare_close};
  static const bs_backend_ops colon = {.version = 1, .name = "a:b", .open = bare_open, .close = bare_close};
  assert_bs_err(bs_backend_register(&v0), BS_EINVALID);
  assert_bs_err(bs_backend_register(&colon), BS_EINVALID);
  assert_null(bs_backend_find("v0"));
}

/* An argument error must describe itself, not leave the previous failure's
 * message in place. */
static void argument_errors_replace_the_last_message(void **state) {
  (void)state;
  bs_store *st = bs_test_open_sim("apfs", 1);
  size_t len;

  assert_bs_err(bs_sync(st, "relative"), BS_EINVALID);
  assert_non_null(strstr(bs_last_message(st), "absolute"));
  assert_bs_err(bs_power_loss(st, (bs_power_loss_mode)0), BS_EINVALID);
  assert_non_null(strstr(bs_last_message(st), "power_loss"));
  assert_bs_err(bs_write(st, "/f", 0, NULL, 4), BS_EINVALID);
  assert_non_null(strstr(bs_last_message(st), "write"));
  assert_bs_err(bs_getxattr(st, "/f", NULL, NULL, 0, &len), BS_EINVALID);
  assert_non_null(strstr(bs_last_message(st), "getxattr"));
  assert_bs_err(bs_get_caps(st, NULL), BS_EINVALID);
  assert_non_null(strstr(bs_last_message(st), "caps"));
  bs_close(st);
}

/* A readdir callback that writes to the store and a listxattr callback that
 * reads it: the store's lock is taken again on the same thread, and the
 * listing is the one from before the first callback. */
typedef struct reenter {
  bs_store *st;
  int calls;
} reenter;

static int readdir_writes(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  reenter *r = ctx;
  char path[300];
  snprintf(path, sizeof(path), "/%s.seen", name);
  assert_bs_ok(bs_create(r->st, path, 0644));
  r->calls++;
  return 0;
}

static int listxattr_reads(void *ctx, const char *name) {
  reenter *r = ctx;
  size_t len = 0;
  assert_bs_ok(bs_getxattr(r->st, "/a", name, NULL, 0, &len));
  assert_int_equal(len, 1);
  r->calls++;
  return 0;
}

static void reenter_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  bs_test_put(st, "/a", 10, 1);
  bs_test_put(st, "/b", 10, 2);
  reenter r = {st, 0};
  assert_bs_ok(bs_readdir(st, "/", readdir_writes, &r));
  assert_int_equal(r.calls, 2);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/", l);
  assert_string_equal(l, "a;a.seen;b;b.seen;");
  assert_bs_ok(bs_setxattr(st, "/a", "user.x", "1", 1));
  assert_bs_ok(bs_setxattr(st, "/a", "user.y", "2", 1));
  r.calls = 0;
  assert_bs_ok(bs_listxattr(st, "/a", listxattr_reads, &r));
  assert_int_equal(r.calls, 2);
}

static void callbacks_may_call_the_store(void **state) {
  (void)state;
  bs_test_each_backend(bs_want_all, reenter_body, NULL, bs_test_seed());
}

/* A listing is handed over after the store's lock is let go: a callback may
 * wait for another thread's call on the same store (with a store-wide lock
 * held through the callbacks, this waited for ever). */
static void *create_other(void *arg) {
  bs_store *st = arg;
  intptr_t rc = bs_create(st, "/from-other-thread", 0644);
  return (void *)rc;
}

static int wait_for_other_thread(void *ctx, const char *name, bs_file_kind kind) {
  (void)name;
  (void)kind;
  bs_store *st = ctx;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, create_other, st), 0);
  struct timespec limit;
  clock_gettime(CLOCK_REALTIME, &limit);
  limit.tv_sec += 20;
  void *rc = NULL;
  if (pthread_timedjoin_np(th, &rc, &limit) != 0)
    fail_msg("the other thread's bs_create did not finish while a listing callback ran");
  assert_int_equal((intptr_t)rc, BS_OK);
  return 1;
}

static void a_listing_callback_may_wait_for_another_thread(void **state) {
  (void)state;
  bs_store *st = bs_test_open_sim("apfs", 1);
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_readdir(st, "/", wait_for_other_thread, st));
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, "/from-other-thread", &si));
  bs_close(st);
}

/* Failures are kept per thread: two threads that fail on one store at once
 * each read their own message and errno. */
typedef struct failer {
  bs_store *st;
  const char *path;
  pthread_barrier_t *b;
  char msg[256];
  int rc;
} failer;

static void *fail_and_read(void *arg) {
  failer *f = arg;
  f->rc = bs_unlink(f->st, f->path);
  pthread_barrier_wait(f->b); /* both have failed before either reads */
  snprintf(f->msg, sizeof(f->msg), "%s", bs_last_message(f->st));
  return NULL;
}

static void each_thread_reads_its_own_failure(void **state) {
  (void)state;
  bs_store *st = bs_test_open_sim("apfs", 1);
  pthread_barrier_t b;
  pthread_barrier_init(&b, NULL, 2);
  failer f[2] = {{st, "/missing-one", &b, "", 0}, {st, "/", &b, "", 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, fail_and_read, &f[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  pthread_barrier_destroy(&b);
  assert_bs_err(f[0].rc, BS_ENOT_FOUND);
  assert_bs_err(f[1].rc, BS_EBUSY);
  assert_non_null(strstr(f[0].msg, "/missing-one"));
  assert_null(strstr(f[0].msg, "root of a tree"));
  assert_non_null(strstr(f[1].msg, "root of a tree"));
  assert_string_equal(bs_last_message(st), ""); /* this thread failed nothing */
  bs_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(callbacks_may_call_the_store),
      cmocka_unit_test(missing_methods_are_UNSUPPORTED_with_their_name),
      cmocka_unit_test(registry_rejects_tables_without_a_version),
      cmocka_unit_test(a_version_1_table_gets_no_newer_call),
      cmocka_unit_test(argument_errors_replace_the_last_message),
      cmocka_unit_test(a_listing_callback_may_wait_for_another_thread),
      cmocka_unit_test(each_thread_reads_its_own_failure),
  };
  return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
