/* Threads sharing one store: create_branch racing delete_snapshot is
 * linearizable, and 100 parallel snapshot creates give 100 snapshots with
 * unique ids and uuids.  Run on every target where the snapshot API works. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"
#include "tests/support/snap_test.h"

/* ---- create_branch racing delete_snapshot ------------------------------------- */

#define BRANCHERS 3

typedef struct race {
  bs_store *st;        /* the deleter's store */
  bs_store *branch_st; /* the branchers' store: st, or another on the same root */
  pthread_barrier_t go;
  uint64_t id;         /* the snapshot both sides go for */
  int iter;
  int branch_rc[BRANCHERS];
  int delete_rc;
} race;

typedef struct racer {
  race *r;
  int who; /* 0..BRANCHERS-1 create a branch; BRANCHERS deletes */
} racer;

static void *racer_main(void *arg) {
  racer *me = arg;
  race *r = me->r;
  pthread_barrier_wait(&r->go);
  if (me->who == BRANCHERS) {
    r->delete_rc = bs_snapshot_delete(r->st, r->id);
  } else {
    char name[32];
    snprintf(name, sizeof(name), "b%d-%d", r->iter, me->who);
    r->branch_rc[me->who] = bs_branch_create(r->branch_st, r->id, name);
  }
  return NULL;
}

/* One round: a fresh snapshot, BRANCHERS threads branching it and one
 * deleting it at once; then the outcome must be one a serial order gives. */
static void race_round(bs_store *st, race *r, int *delete_won) {
  char sname[32];
  snprintf(sname, sizeof(sname), "s%d", r->iter);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, sname, &si));
  r->id = si.id;
  pthread_t th[BRANCHERS + 1];
  racer who[BRANCHERS + 1];
  for (int i = 0; i <= BRANCHERS; i++) {
    who[i] = (racer){r, i};
    assert_int_equal(pthread_create(&th[i], NULL, racer_main, &who[i]), 0);
  }
  for (int i = 0; i <= BRANCHERS; i++)
    pthread_join(th[i], NULL);
  uint32_t made = 0;
  for (int i = 0; i < BRANCHERS; i++) {
    char name[32];
    snprintf(name, sizeof(name), "b%d-%d", r->iter, i);
    uint64_t parent = 0;
    if (r->branch_rc[i] == BS_OK) {
      made++;
      assert_bs_ok(bs_branch_parent(st, name, &parent));
      assert_int_equal(parent, si.id);
    } else {
      assert_bs_err(r->branch_rc[i], BS_ENOT_FOUND); /* only a deleted snapshot refuses */
      assert_bs_err(bs_branch_parent(st, name, &parent), BS_ENOT_FOUND);
    }
  }
  if (r->delete_rc == BS_OK) {
    /* The delete came first: every branch create after it found nothing. */
    assert_int_equal(made, 0);
    assert_bs_err(bs_snapshot_lookup(st, sname, &si), BS_ENOT_FOUND);
    (*delete_won)++;
  } else {
    /* A branch came first, so the delete was BUSY and the snapshot stays
     * with exactly the branches that were made. */
    assert_bs_err(r->delete_rc, BS_EBUSY);
    assert_true(made > 0);
    assert_bs_ok(bs_snapshot_lookup(st, sname, &si));
    assert_int_equal(si.branch_count, made);
    for (int i = 0; i < BRANCHERS; i++) {
      char name[32];
      snprintf(name, sizeof(name), "b%d-%d", r->iter, i);
      if (r->branch_rc[i] == BS_OK)
        assert_bs_ok(bs_branch_delete(st, name));
    }
    assert_bs_ok(bs_snapshot_delete(st, r->id)); /* no reference was leaked */
  }
  assert_bs_err(bs_branch_create(st, r->id, "late"), BS_ENOT_FOUND);
}

/* With @ctx non-NULL the branchers use a second store opened on the same
 * root, as another process would: the registry's file lock orders them. */
static void race_body(bs_store *st, const bs_target *t, void *ctx) {
  bs_test_put(st, "/f", 4096, 1);
  int iters = t->kind == BS_TARGET_SIM ? bs_test_iterations(300) : bs_test_env_count("BS_REAL_ITER", 20);
  race r = {.st = st, .branch_st = st};
  if (ctx) {
    bs_open_opts o = {.root = t->root, .flags = t->open_flags};
    assert_bs_ok(bs_open(&r.branch_st, "real", &o));
  }
  int delete_won = 0;
  for (r.iter = 0; r.iter < iters; r.iter++) {
    assert_int_equal(pthread_barrier_init(&r.go, NULL, BRANCHERS + 1), 0);
    race_round(st, &r, &delete_won);
    pthread_barrier_destroy(&r.go);
  }
  /* Nothing is left: no snapshot, no branch, no tree. */
  assert_int_equal(bs_snap_test_count(st), 0);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/branches", l);
  assert_string_equal(l, "");
  bs_test_listing(st, "/.bs/snapshots", l);
  assert_string_equal(l, "");
  if (t->kind == BS_TARGET_REAL) {
    assert_int_equal(bs_snap_test_host_entries(t, "/.bs/snap"), 0);
    assert_int_equal(bs_snap_test_host_entries(t, "/.bs/branch"), 0);
  }
  print_message("    [ outcomes ] %s: delete won %d of %d rounds\n", t->label, delete_won, iters);
  bs_test_check(st, t);
  if (r.branch_st != st)
    bs_close(r.branch_st);
}

static void create_branch_racing_delete_snapshot_is_linearizable(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, race_body, NULL, bs_test_seed());
}

static void create_branch_racing_delete_snapshot_across_stores(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  static int across = 1;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, race_body, &across,
                          bs_test_seed());
}

/* ---- creates of one name racing ------------------------------------------------- */

#define SAME_NAME_THREADS 8

typedef struct same {
  bs_store *st;
  pthread_barrier_t *go;
  int rc;
} same;

static void *same_main(void *arg) {
  same *c = arg;
  pthread_barrier_wait(c->go);
  c->rc = bs_snapshot_create(c->st, "same", NULL);
  return NULL;
}

/* Threads create snapshot "same" at once (on real volumes half of them
 * through a second store on the same root): one wins, the rest get EXISTS,
 * and one snapshot with one tree is left. */
static void same_name_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", 4096, 1);
  bs_store *other = st;
  if (t->kind == BS_TARGET_REAL) {
    bs_open_opts o = {.root = t->root, .flags = t->open_flags};
    assert_bs_ok(bs_open(&other, "real", &o));
  }
  for (int round = 0; round < 5; round++) {
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, SAME_NAME_THREADS), 0);
    same c[SAME_NAME_THREADS];
    pthread_t th[SAME_NAME_THREADS];
    for (int i = 0; i < SAME_NAME_THREADS; i++) {
      c[i] = (same){.st = i % 2 ? other : st, .go = &go};
      assert_int_equal(pthread_create(&th[i], NULL, same_main, &c[i]), 0);
    }
    int won = 0;
    for (int i = 0; i < SAME_NAME_THREADS; i++) {
      pthread_join(th[i], NULL);
      if (c[i].rc == BS_OK)
        won++;
      else
        assert_bs_err(c[i].rc, BS_EEXISTS);
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(won, 1);
    assert_int_equal(bs_snap_test_count(st), 1);
    bs_test_assert_put(st, "/.bs/snapshots/same/f", 4096, 1);
    bs_snapshot_info si;
    assert_bs_ok(bs_snapshot_lookup(other, "same", &si));
    assert_bs_ok(bs_snapshot_delete(st, si.id));
  }
  assert_int_equal(bs_snap_test_count(other), 0);
  if (other != st) {
    bs_close(other);
    assert_int_equal(bs_snap_test_host_entries(t, "/.bs/snap"), 0); /* no loser left a tree */
  }
  bs_test_check(st, t);
}

static void creates_of_one_name_racing_make_one_snapshot(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, same_name_body, NULL, bs_test_seed());
}

/* ---- 100 parallel snapshot creates --------------------------------------------- */

/* 100 threads; $BS_TEST_THREADS lowers that where threads are slow to
 * schedule (valgrind runs one at a time: 5 s per target for 100). */
static int creators(void) { return bs_test_env_count("BS_TEST_THREADS", 100); }

typedef struct creator {
  bs_store *st;
  pthread_barrier_t *go;
  int i;
  int rc;
  bs_snapshot_info info;
} creator;

static void *creator_main(void *arg) {
  creator *c = arg;
  char name[32];
  snprintf(name, sizeof(name), "p%03d", c->i);
  pthread_barrier_wait(c->go);
  c->rc = bs_snapshot_create(c->st, name, &c->info);
  return NULL;
}

static int by_id(const void *a, const void *b) {
  uint64_t x = ((const creator *)a)->info.id, y = ((const creator *)b)->info.id;
  return x < y ? -1 : x > y;
}

static void parallel_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  const int ncreators = creators();
  bs_snap_test_make_tree(st, t, "", 1);
  pthread_barrier_t go;
  assert_int_equal(pthread_barrier_init(&go, NULL, ncreators), 0);
  creator *c = calloc(ncreators, sizeof(*c));
  pthread_t *th = calloc(ncreators, sizeof(*th));
  assert_true(c && th);
  for (int i = 0; i < ncreators; i++) {
    c[i] = (creator){.st = st, .go = &go, .i = i};
    assert_int_equal(pthread_create(&th[i], NULL, creator_main, &c[i]), 0);
  }
  for (int i = 0; i < ncreators; i++)
    pthread_join(th[i], NULL);
  pthread_barrier_destroy(&go);
  for (int i = 0; i < ncreators; i++) {
    if (c[i].rc != 0)
      fail_msg("create p%03d: %s", i, bs_err_name(c[i].rc));
    char want[16];
    snprintf(want, sizeof(want), "p%03d", i);
    assert_string_equal(c[i].info.name, want);
    assert_int_equal(c[i].info.branch_count, 0);
    bs_snap_test_assert_uuid(t, c[i].info.uuid);
  }
  qsort(c, ncreators, sizeof(*c), by_id);
  for (int i = 1; i < ncreators; i++) {
    assert_true(c[i].info.id > c[i - 1].info.id);
    for (int k = 0; k < i; k++)
      if (memcmp(c[i].info.uuid, c[k].info.uuid, 16) == 0)
        fail_msg("%s and %s have the same uuid", c[i].info.name, c[k].info.name);
  }
  /* The list is the same 100, in id order, and each is the main tree. */
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  assert_int_equal(n, (size_t)ncreators);
  for (int i = 0; i < ncreators; i++) {
    assert_int_equal(all[i].id, c[i].info.id);
    assert_string_equal(all[i].name, c[i].info.name);
    assert_memory_equal(all[i].uuid, c[i].info.uuid, 16);
  }
  char path[300];
  assert_bs_ok(bs_snapshot_mount_ro(st, all[0].id, path, sizeof(path)));
  bs_snap_test_assert_same_tree(st, "/", path);
  assert_bs_ok(bs_snapshot_mount_ro(st, all[ncreators - 1].id, path, sizeof(path)));
  bs_snap_test_assert_same_tree(st, "/", path);
  free(all);
  free(c);
  free(th);
  bs_test_check(st, t);
}

static void parallel_creates_give_unique_ids_and_uuids(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, parallel_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(create_branch_racing_delete_snapshot_is_linearizable),
    cmocka_unit_test(create_branch_racing_delete_snapshot_across_stores),
    cmocka_unit_test(creates_of_one_name_racing_make_one_snapshot),
    cmocka_unit_test(parallel_creates_give_unique_ids_and_uuids),
  };
  return cmocka_run_group_tests_name("snapshot_race", tests, NULL, NULL);
}
