/* A seeded property test of snapshot/branch lifecycles against a small
 * reference model, on every target where the snapshot API works.  Random
 * operations (create/delete snapshot, create/delete branch, writes to main
 * and to branches, restarts of the store; on real volumes through either of
 * two stores on one root) must give the model's answers (OK, EXISTS, BUSY,
 * NOT_FOUND), ids that are never reused, the model's branch counts and
 * parents, and the model's file contents in every tree.  Case i uses seed
 * bs_test_seed() + i; a failure names the seed and how to replay it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"
#include "tests/support/snap_test.h"

#define NS 4  /* snapshot slots: names s0..s3 */
#define NB 4  /* branch slots: names b0..b3 */
#define NF 3  /* files per tree: /f0../f2 */
#define FILE_MAX 9000

typedef struct mfile {
  bool exists;
  uint32_t len;
  uint8_t fill; /* contents: bs_test_pattern(len, fill) */
} mfile;

typedef struct mtree {
  bool used;
  uint64_t id;        /* snapshot: its id; branch: its parent's */
  uint32_t branches;  /* snapshot: branches made from it */
  mfile f[NF];
} mtree;

typedef struct model {
  mtree main, snap[NS], branch[NB];
  uint64_t max_id;    /* highest id handed out so far (0: none) */
} model;

/* ---- failure reporting ----------------------------------------------------- */
static uint64_t cur_seed;
static int cur_op;
static const char *cur_label = "";

#define M_FAIL(...)                                                                          \
  do {                                                                                       \
    print_error("model: %s, seed 0x%llx, op %d; replay: BS_TEST_SEED=0x%llx BS_TEST_ITER=1 " \
                "build/plain/tests/test_snapshot_model\n",                                   \
                cur_label, (unsigned long long)cur_seed, cur_op, (unsigned long long)cur_seed); \
    fail_msg(__VA_ARGS__);                                                                   \
  } while (0)

#define M_RC(expr, want)                                                                     \
  do {                                                                                       \
    int m_rc_ = (expr);                                                                      \
    if (m_rc_ != (want))                                                                     \
      M_FAIL("%s returned %s, model says %s (%s)", #expr, bs_err_name(m_rc_), bs_err_name(want), \
             bs_last_message(st));                                                           \
  } while (0)

/* ---- a small seeded generator, independent of the library's ----------------- */
static uint64_t next(uint64_t *s) { return bs_test_rand(s); }

static uint32_t below(uint64_t *s, uint32_t n) { return (uint32_t)(next(s) % n); }

/* ---- operations: each does it on the store and in the model ------------------ */

static void path_of(char *out, const char *tree, int fi) {
  snprintf(out, 300, "%s/f%d", tree, fi);
}

static void tree_dir(char *out, bool snap, int slot) {
  snprintf(out, 300, slot < 0 ? "" : snap ? "/.bs/snapshots/s%d" : "/.bs/branches/b%d", slot);
}

/* Replace file @fi of writable tree @dir with new contents. */
static void op_write(bs_store *st, const char *dir, mfile *f, int fi, uint64_t *rng) {
  char p[300];
  path_of(p, dir, fi);
  uint32_t len = below(rng, FILE_MAX);
  uint8_t fill = (uint8_t)below(rng, 256);
  uint8_t *buf = bs_test_pattern(len, fill);
  if (!f->exists)
    M_RC(bs_create(st, p, 0644), BS_OK);
  M_RC(bs_truncate(st, p, len), BS_OK);
  if (len)
    M_RC(bs_write(st, p, 0, buf, len), BS_OK);
  free(buf);
  *f = (mfile){true, len, fill};
}

static void op_unlink(bs_store *st, const char *dir, mfile *f, int fi) {
  char p[300];
  path_of(p, dir, fi);
  M_RC(bs_unlink(st, p), f->exists ? BS_OK : BS_ENOT_FOUND);
  f->exists = false;
}

static void op_snapshot_create(bs_store *st, model *m, int slot) {
  char name[16];
  snprintf(name, sizeof(name), "s%d", slot);
  mtree *s = &m->snap[slot];
  bs_snapshot_info si;
  if (s->used) {
    M_RC(bs_snapshot_create(st, name, &si), BS_EEXISTS);
    return;
  }
  M_RC(bs_snapshot_create(st, name, &si), BS_OK);
  if (si.id <= m->max_id)
    M_FAIL("new snapshot %s has id %llu, not above every earlier id (%llu)", name,
           (unsigned long long)si.id, (unsigned long long)m->max_id);
  m->max_id = si.id;
  *s = m->main;
  s->used = true;
  s->id = si.id;
  s->branches = 0;
}

/* An id that names no snapshot: a deleted one's or one never handed out. */
static uint64_t stale_id(const model *m, uint64_t *rng) {
  for (uint64_t id = 1 + below(rng, (uint32_t)m->max_id + 1); id <= m->max_id; id++) {
    bool live = false;
    for (int i = 0; i < NS; i++)
      live |= m->snap[i].used && m->snap[i].id == id;
    if (!live)
      return id;
  }
  return m->max_id + 1 + below(rng, 1000);
}

static void op_snapshot_delete(bs_store *st, model *m, int slot, uint64_t *rng) {
  mtree *s = &m->snap[slot];
  if (!s->used) {
    M_RC(bs_snapshot_delete(st, stale_id(m, rng)), BS_ENOT_FOUND);
    return;
  }
  if (s->branches) {
    M_RC(bs_snapshot_delete(st, s->id), BS_EBUSY);
    return;
  }
  M_RC(bs_snapshot_delete(st, s->id), BS_OK);
  s->used = false;
}

static void op_branch_create(bs_store *st, model *m, int slot, int from, uint64_t *rng) {
  char name[16];
  snprintf(name, sizeof(name), "b%d", slot);
  mtree *b = &m->branch[slot], *s = &m->snap[from];
  uint64_t id = s->used ? s->id : stale_id(m, rng);
  if (!s->used && !b->used) {
    M_RC(bs_branch_create(st, id, name), BS_ENOT_FOUND);
    return;
  }
  if (b->used) { /* EXISTS or NOT_FOUND: either check may come first */
    int rc = bs_branch_create(st, id, name);
    if (rc != BS_EEXISTS && !(rc == BS_ENOT_FOUND && !s->used))
      M_FAIL("bs_branch_create(existing %s) returned %s", name, bs_err_name(rc));
    return;
  }
  M_RC(bs_branch_create(st, id, name), BS_OK);
  *b = *s;
  b->branches = 0;
  s->branches++;
}

static void op_branch_delete(bs_store *st, model *m, int slot) {
  char name[16];
  snprintf(name, sizeof(name), "b%d", slot);
  mtree *b = &m->branch[slot];
  if (!b->used) {
    M_RC(bs_branch_delete(st, name), BS_ENOT_FOUND);
    return;
  }
  M_RC(bs_branch_delete(st, name), BS_OK);
  for (int i = 0; i < NS; i++)
    if (m->snap[i].used && m->snap[i].id == b->id)
      m->snap[i].branches--;
  b->used = false;
}

/* ---- checks ------------------------------------------------------------------ */

static void check_files(bs_store *st, const char *dir, const mtree *t) {
  for (int fi = 0; fi < NF; fi++) {
    char p[300];
    path_of(p, dir, fi);
    bs_stat_info s;
    int rc = bs_stat(st, p, &s);
    if (!t->f[fi].exists) {
      M_RC(rc, BS_ENOT_FOUND);
      continue;
    }
    M_RC(rc, BS_OK);
    size_t len = 0;
    uint8_t *got = bs_test_slurp(st, p, &len);
    uint8_t *want = bs_test_pattern(t->f[fi].len, t->f[fi].fill);
    if (len != t->f[fi].len || (len && memcmp(got, want, len) != 0))
      M_FAIL("%s: %zu bytes that differ from the model's %u bytes of fill %u", p, len,
             t->f[fi].len, t->f[fi].fill);
    free(got);
    free(want);
  }
}

static void check_all(bs_store *st, const bs_target *t, const model *m) {
  bs_snapshot_info *all = NULL;
  size_t n = 0, want = 0;
  M_RC(bs_snapshot_list(st, &all, &n), BS_OK);
  for (int i = 0; i < NS; i++) {
    const mtree *s = &m->snap[i];
    if (!s->used)
      continue;
    want++;
    char name[16], dir[300];
    snprintf(name, sizeof(name), "s%d", i);
    size_t k = 0;
    while (k < n && strcmp(all[k].name, name) != 0)
      k++;
    if (k == n)
      M_FAIL("snapshot %s is missing from the list", name);
    if (all[k].id != s->id || all[k].branch_count != s->branches)
      M_FAIL("snapshot %s: id %llu with %u branches, model: id %llu with %u", name,
             (unsigned long long)all[k].id, all[k].branch_count, (unsigned long long)s->id,
             s->branches);
    tree_dir(dir, true, i);
    check_files(st, dir, s);
  }
  if (n != want)
    M_FAIL("%zu snapshots listed, model has %zu", n, want);
  for (size_t k = 1; k < n; k++)
    if (all[k].id <= all[k - 1].id)
      M_FAIL("list not in id order at %zu", k);
  free(all);
  for (int i = 0; i < NB; i++) {
    char name[16], dir[300];
    snprintf(name, sizeof(name), "b%d", i);
    uint64_t parent = 0;
    if (!m->branch[i].used) {
      M_RC(bs_branch_parent(st, name, &parent), BS_ENOT_FOUND);
      continue;
    }
    M_RC(bs_branch_parent(st, name, &parent), BS_OK);
    if (parent != m->branch[i].id)
      M_FAIL("branch %s: parent %llu, model %llu", name, (unsigned long long)parent,
             (unsigned long long)m->branch[i].id);
    tree_dir(dir, false, i);
    check_files(st, dir, &m->branch[i]);
  }
  check_files(st, "", &m->main);
  bs_test_check(st, t);
}

/* ---- the property ------------------------------------------------------------ */

/* One random operation on *@stp (which a restart, if @may_restart, replaces). */
static void step(bs_store **stp, const bs_target *t, model *m, uint64_t *rng, bool may_restart) {
  bs_store *st = *stp;
  int fi = (int)below(rng, NF), s = (int)below(rng, NS), b = (int)below(rng, NB);
  char dir[300];
  switch (below(rng, 13)) {
  case 0:
  case 1:
    op_write(st, "", &m->main.f[fi], fi, rng);
    break;
  case 2:
    op_unlink(st, "", &m->main.f[fi], fi);
    break;
  case 3:
  case 4:
    if (m->branch[b].used) {
      tree_dir(dir, false, b);
      op_write(st, dir, &m->branch[b].f[fi], fi, rng);
    }
    break;
  case 5:
  case 6:
    op_snapshot_create(st, m, s);
    break;
  case 7:
    op_snapshot_delete(st, m, s, rng);
    break;
  case 8:
  case 9:
    op_branch_create(st, m, b, s, rng);
    break;
  case 10:
    op_branch_delete(st, m, b);
    break;
  case 11: /* a restart: the model does not change */
    if (may_restart && t->kind != BS_TARGET_DARWIN)
      *stp = bs_test_reopen(t, st);
    break;
  default:
    check_all(st, t, m);
    break;
  }
}

static void model_body(bs_store *first, const bs_target *t, void *ctx) {
  (void)first;
  (void)ctx;
  /* Real snapshots cost milliseconds: fewer cases there. */
  int cases = t->kind == BS_TARGET_SIM ? bs_test_iterations(60) : bs_test_env_count("BS_REAL_ITER", 3);
  int ops = t->kind == BS_TARGET_SIM ? 60 : 40;
  cur_label = t->label;
  for (int c = 0; c < cases; c++) {
    cur_seed = bs_test_seed() + (uint64_t)c;
    uint64_t rng = cur_seed;
    bs_store *st = bs_test_open_fresh(t, cur_seed), *other = NULL;
    /* On a real volume every other step goes through a second store on the
     * same root, as another process's would: neither may act on a stale
     * view of the registry. */
    if (t->kind == BS_TARGET_REAL) {
      bs_open_opts o = {.root = bs_test_fresh_root(st), .flags = t->open_flags};
      assert_non_null(o.root);
      assert_bs_ok(bs_open(&other, "real", &o));
    }
    model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    for (cur_op = 0; cur_op < ops; cur_op++) {
      if (other && cur_op % 2)
        step(&other, t, m, &rng, false);
      else
        step(&st, t, m, &rng, true);
    }
    check_all(st, t, m);
    if (other) {
      check_all(other, t, m);
      bs_close(other);
    }
    free(m);
    bs_test_close_fresh(st);
  }
}

static void random_snapshot_lifecycles_match_model(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, model_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(random_snapshot_lifecycles_match_model),
  };
  return cmocka_run_group_tests_name("snapshot_model", tests, NULL, NULL);
}
