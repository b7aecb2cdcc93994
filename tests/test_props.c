/* Property tests: seeded random operation streams checked against simple,
 * independent expectations.  Iteration i of a property uses seed
 * bs_test_seed() + i; a failure prints the seed and the command that replays
 * exactly that case (BS_TEST_SEED=<seed> BS_TEST_ITER=1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"

#define BLK BS_SIM_BLOCK_SIZE
#define CAP_BLOCKS 1024u

/* ---- failure reporting ---------------------------------------------------- */
static const char *cur_profile = "";
static uint64_t cur_seed;
static int cur_op;

static void report(void) {
  print_error("property failed: profile %s, seed 0x%llx, op %d\n"
              "  replay: BS_TEST_SEED=0x%llx BS_TEST_ITER=1 <this test binary>\n",
              cur_profile, (unsigned long long)cur_seed, cur_op, (unsigned long long)cur_seed);
}

#define P_TRUE(cond, ...)                                                                 \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      report();                                                                           \
      fail_msg(__VA_ARGS__);                                                              \
    }                                                                                     \
  } while (0)

#define P_RC(expr, want)                                                                  \
  do {                                                                                    \
    int p_rc_ = (expr);                                                                   \
    P_TRUE(p_rc_ == (want), "%s returned %s, expected %s (%s)", #expr, bs_err_name(p_rc_), \
           bs_err_name(want), bs_last_message(st));                                      \
  } while (0)

#define P_OK(expr) P_RC(expr, BS_OK)

/* ---- a small seeded generator, independent of the library's --------------- */
typedef struct prng {
  uint64_t s;
} prng;

static uint64_t next(prng *r) { return bs_test_rand(&r->s); }

static uint64_t below(prng *r, uint64_t n) { return n ? next(r) % n : 0; }

/* One case of a property: random operations from @r on a fresh store @st. */
typedef void (*case_fn)(bs_store *st, const bs_target *t, prng *r);

/* A function pointer may not travel as a void *: bs_test_each_sim_profile's ctx. */
struct property {
  case_fn run;
};

/* bs_test_iterations cases on each target.  What report() prints, the
 * generator and the small store of case i all come from one seed, so that
 * seed alone replays the case. */
static void property_body(bs_store *unused, const bs_target *t, void *ctx) {
  (void)unused;
  const struct property *p = ctx;
  int iters = bs_test_iterations(200);
  cur_profile = t->profile;
  for (int i = 0; i < iters; i++) {
    cur_seed = bs_test_seed() + (uint64_t)i;
    cur_op = 0;
    prng r = {cur_seed};
    bs_store *st = bs_test_open_sim_sized(t->profile, cur_seed, (uint64_t)CAP_BLOCKS * BLK);
    p->run(st, t, &r);
    bs_close(st);
  }
}

/* Check the property @run on every target @want accepts. */
static void check_property(bs_target_pred want, case_fn run) {
  struct property p = {run};
  bs_test_each_sim_profile(want, property_body, &p, bs_test_seed());
}

/* bs_test_slurp, but a failure also prints the seed that replays it. */
static uint8_t *slurp(bs_store *st, const char *path, size_t *len) {
  bs_stat_info si;
  P_OK(bs_stat(st, path, &si));
  uint8_t *buf = malloc(si.size ? si.size : 1);
  assert_non_null(buf);
  size_t got = 0;
  P_OK(bs_read(st, path, 0, buf, si.size, &got));
  P_TRUE(got == si.size, "%s: read %zu of %llu bytes", path, got, (unsigned long long)si.size);
  *len = got;
  return buf;
}

/* Random writes (some sparse, some unaligned, some left unsynced) into @path. */
static void random_file(bs_store *st, prng *r, const char *path, uint64_t max) {
  P_OK(bs_create(st, path, 0644));
  uint8_t buf[3 * BLK];
  int writes = (int)below(r, 5);
  for (int w = 0; w < writes; w++) {
    size_t len = 1 + (size_t)below(r, sizeof(buf));
    uint64_t off = below(r, max - len);
    memset(buf, (int)(1 + below(r, 255)), len);
    P_OK(bs_write(st, path, off, buf, len));
    if (below(r, 3) == 0)
      P_OK(bs_sync(st, path));
  }
  if (below(r, 4) == 0)
    P_OK(bs_truncate(st, path, below(r, max)));
}

static void assert_same_file(bs_store *st, const char *a, const char *b) {
  size_t la, lb;
  uint8_t *x = slurp(st, a, &la), *y = slurp(st, b, &lb);
  P_TRUE(la == lb && (la == 0 || memcmp(x, y, la) == 0), "%s and %s differ (%zu vs %zu bytes)", a, b, la, lb);
  free(x);
  free(y);
}

/* ---- reflink_is_idempotent_in_content ------------------------------------- */

static void idempotent_case(bs_store *st, const bs_target *t, prng *r) {
  (void)t;
  random_file(st, r, "/src", 8 * BLK);
  bs_usage u0, u1;
  P_OK(bs_usage_get(st, &u0));
  P_OK(bs_reflink(st, "/src", "/c1"));
  P_OK(bs_reflink(st, "/c1", "/c2"));
  P_OK(bs_reflink(st, "/src", "/c3"));
  P_OK(bs_usage_get(st, &u1));
  /* The source's pending writes become durable: blocks only in its durable
   * map are freed, nothing is allocated. */
  P_TRUE(u1.used_bytes <= u0.used_bytes, "reflinks allocated: %llu -> %llu used",
         (unsigned long long)u0.used_bytes, (unsigned long long)u1.used_bytes);
  assert_same_file(st, "/src", "/c1");
  assert_same_file(st, "/src", "/c2");
  assert_same_file(st, "/src", "/c3");
  bs_stat_info a, b;
  P_OK(bs_stat(st, "/src", &a));
  P_OK(bs_stat(st, "/c2", &b));
  P_TRUE(a.size == b.size && a.blocks == b.blocks && a.mode == b.mode, "stat of /src and /c2 differ");
  P_OK(bs_check(st));
}

static void reflink_is_idempotent_in_content(void **state) {
  (void)state;
  check_property(bs_want_reflink, idempotent_case);
}

/* ---- clone_then_modify_never_affects_source ------------------------------- */

static void modify_case(bs_store *st, const bs_target *t, prng *r) {
  (void)t;
  random_file(st, r, "/src", 8 * BLK);
  P_OK(bs_reflink(st, "/src", "/clone"));
  size_t len;
  uint8_t *orig = slurp(st, "/src", &len);
  uint8_t buf[2 * BLK];
  int ops = 1 + (int)below(r, 12);
  for (cur_op = 0; cur_op < ops; cur_op++) {
    const char *target = below(r, 4) == 0 ? "/clone2" : "/clone";
    bs_stat_info si;
    if (strcmp(target, "/clone2") == 0 && bs_stat(st, target, &si) != 0)
      P_OK(bs_reflink(st, "/clone", target));
    switch (below(r, 6)) {
    case 0:
    case 1: {
      size_t n = 1 + (size_t)below(r, sizeof(buf));
      memset(buf, (int)below(r, 256), n);
      P_OK(bs_write(st, target, below(r, 10 * BLK), buf, n));
      break;
    }
    case 2:
      P_OK(bs_truncate(st, target, below(r, 10 * BLK)));
      break;
    case 3:
      P_OK(bs_sync(st, below(r, 2) ? target : NULL));
      break;
    case 4:
      P_OK(bs_power_loss(st, below(r, 2) ? BS_POWER_LOSS_DROP : BS_POWER_LOSS_TEAR));
      break;
    default:
      P_OK(bs_unlink(st, target));
      P_OK(bs_reflink(st, "/src", target));
      break;
    }
    size_t l2;
    uint8_t *now = slurp(st, "/src", &l2);
    P_TRUE(l2 == len && (len == 0 || memcmp(now, orig, len) == 0), "the source changed");
    free(now);
    P_OK(bs_check(st));
  }
  free(orig);
}

static void clone_then_modify_never_affects_source(void **state) {
  (void)state;
  check_property(bs_want_reflink, modify_case);
}

/* ---- random_lifecycles_keep_refcounts_consistent ---------------------------
 *
 * Reference model: a file is a list of abstract block tokens (0 = hole).
 * Writing a block gives it a fresh token; reflink, snapshot and branch copy
 * lists.  A file with unsynced writes also keeps the list it had at its last
 * sync.  Expected space: used = distinct tokens over every list, shared =
 * tokens that appear in more than one list position.  */

#define MF 5     /* files per tree */
#define MB 8     /* blocks per file */
#define MS 3     /* snapshot slots */
#define MBR 3    /* branch slots */
#define NT (1 + MS + MBR)

typedef struct mfile {
  bool exists, dirty;
  uint64_t size, dsize;
  uint32_t live[MB], dur[MB];
} mfile;

typedef struct mtree {
  bool used;
  int kind;          /* 0 main, 1 snapshot, 2 branch */
  char name[8];
  uint64_t id;       /* snapshot id, or a branch's snapshot id */
  uint32_t branches; /* snapshots: branch count */
  mfile f[MF];
} mtree;

typedef struct model {
  mtree t[NT];       /* 0 main, 1..MS snapshots, MS+1.. branches */
  uint32_t tok;
  uint64_t next_id;
} model;

static void path_of(const model *m, int ti, int fi, char *buf, size_t cap) {
  const mtree *t = &m->t[ti];
  if (t->kind == 0)
    snprintf(buf, cap, "/f%d", fi);
  else
    snprintf(buf, cap, "/.bs/%s/%s/f%d", t->kind == 1 ? "snapshots" : "branches", t->name, fi);
}

static void m_dirty(mfile *f) {
  if (f->dirty)
    return;
  memcpy(f->dur, f->live, sizeof(f->live));
  f->dsize = f->size;
  f->dirty = true;
}

static void m_sync(mfile *f) { f->dirty = false; }

static void m_write(model *m, mfile *f, uint64_t off, uint64_t len) {
  m_dirty(f);
  for (uint64_t L = off / BLK; L < (off + len + BLK - 1) / BLK; L++)
    f->live[L] = ++m->tok;
  if (off + len > f->size)
    f->size = off + len;
}

static void m_truncate(model *m, mfile *f, uint64_t size) {
  if (size == f->size)
    return;
  m_dirty(f);
  if (size < f->size) {
    for (uint64_t L = (size + BLK - 1) / BLK; L < MB; L++)
      f->live[L] = 0;
    if (size % BLK && f->live[size / BLK])
      f->live[size / BLK] = ++m->tok;
  }
  f->size = size;
}

static void m_sync_writable(model *m) {
  for (int ti = 0; ti < NT; ti++)
    if (m->t[ti].used && m->t[ti].kind != 1)
      for (int fi = 0; fi < MF; fi++)
        m_sync(&m->t[ti].f[fi]);
}

static void expected_usage(const model *m, uint64_t *used, uint64_t *shared) {
  uint32_t *cnt = calloc((size_t)m->tok + 1, sizeof(*cnt));
  assert_non_null(cnt);
  for (int ti = 0; ti < NT; ti++)
    for (int fi = 0; m->t[ti].used && fi < MF; fi++) {
      const mfile *f = &m->t[ti].f[fi];
      for (int L = 0; f->exists && L < MB; L++) {
        cnt[f->live[L]]++;
        if (f->dirty)
          cnt[f->dur[L]]++;
      }
    }
  *used = *shared = 0;
  for (uint32_t k = 1; k <= m->tok; k++) {
    *used += cnt[k] > 0;
    *shared += cnt[k] > 1;
  }
  free(cnt);
}

/* A random writable tree that is in use, and a file index. */
static int pick_writable(prng *r, const model *m) {
  int cand[NT], n = 0;
  for (int ti = 0; ti < NT; ti++)
    if (m->t[ti].used && m->t[ti].kind != 1)
      cand[n++] = ti;
  return cand[below(r, (uint64_t)n)];
}

static int pick_any(prng *r, const model *m) {
  int cand[NT], n = 0;
  for (int ti = 0; ti < NT; ti++)
    if (m->t[ti].used)
      cand[n++] = ti;
  return cand[below(r, (uint64_t)n)];
}

static void lifecycle_step(bs_store *st, const bs_target *t, prng *r, model *m) {
  char p[300], q[300];
  int ti = pick_writable(r, m), fi = (int)below(r, MF);
  mfile *f = &m->t[ti].f[fi];
  path_of(m, ti, fi, p, sizeof(p));
  uint64_t kind = below(r, 16);
  if (!f->exists && kind < 8) { /* most ops need a file: make one */
    P_OK(bs_create(st, p, 0644));
    memset(f, 0, sizeof(*f));
    f->exists = true;
    return;
  }
  switch (kind) {
  case 0:
  case 1:
  case 2: {
    uint64_t len = 1 + below(r, 2 * BLK), off = below(r, MB * BLK - len + 1);
    uint8_t buf[2 * BLK];
    memset(buf, (int)below(r, 256), (size_t)len);
    P_OK(bs_write(st, p, off, buf, (size_t)len));
    m_write(m, f, off, len);
    break;
  }
  case 3: {
    uint64_t size = below(r, 3) == 0 ? below(r, MB + 1) * BLK : below(r, MB * BLK + 1);
    P_OK(bs_truncate(st, p, size));
    m_truncate(m, f, size);
    break;
  }
  case 4:
    P_OK(bs_unlink(st, p));
    f->exists = false;
    break;
  case 5:
    P_OK(bs_sync(st, p));
    m_sync(f);
    break;
  case 6:
    P_OK(bs_sync(st, NULL));
    m_sync_writable(m);
    break;
  case 7:
  case 8: { /* reflink from any tree into a free name of a writable tree */
    int si = pick_any(r, m), sf = (int)below(r, MF);
    mfile *src = &m->t[si].f[sf];
    if (!src->exists || f->exists)
      break;
    path_of(m, si, sf, q, sizeof(q));
    if (!t->caps.native_reflink) {
      P_RC(bs_reflink(st, q, p), BS_EUNSUPPORTED);
      break;
    }
    P_OK(bs_reflink(st, q, p));
    m_sync(src);
    *f = *src;
    break;
  }
  case 9:
    P_OK(bs_power_loss(st, BS_POWER_LOSS_DROP));
    for (int a = 0; a < NT; a++)
      for (int b = 0; m->t[a].used && b < MF; b++) {
        mfile *g = &m->t[a].f[b];
        if (g->dirty) {
          memcpy(g->live, g->dur, sizeof(g->live));
          g->size = g->dsize;
          g->dirty = false;
        }
      }
    break;
  case 10:
  case 11: { /* snapshot create */
    int slot = 1 + (int)below(r, MS);
    mtree *s = &m->t[slot];
    char name[8];
    snprintf(name, sizeof(name), "s%d", slot);
    if (!t->caps.native_snapshots) {
      P_RC(bs_snapshot_create(st, name, NULL), BS_EUNSUPPORTED);
      break;
    }
    if (s->used) {
      P_RC(bs_snapshot_create(st, name, NULL), BS_EEXISTS);
      break;
    }
    bs_snapshot_info si;
    P_OK(bs_snapshot_create(st, name, &si));
    P_TRUE(si.id == m->next_id, "snapshot id %llu, expected %llu", (unsigned long long)si.id,
           (unsigned long long)m->next_id);
    m_sync_writable(m);
    *s = m->t[0];
    s->kind = 1;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->id = m->next_id++;
    s->branches = 0;
    break;
  }
  case 12: { /* snapshot delete */
    mtree *s = &m->t[1 + below(r, MS)];
    if (!t->caps.native_snapshots || !s->used)
      break;
    if (s->branches) {
      P_RC(bs_snapshot_delete(st, s->id), BS_EBUSY);
      break;
    }
    P_OK(bs_snapshot_delete(st, s->id));
    memset(s, 0, sizeof(*s));
    break;
  }
  case 13:
  case 14: { /* branch create */
    int slot = 1 + MS + (int)below(r, MBR);
    mtree *b = &m->t[slot], *s = &m->t[1 + below(r, MS)];
    if (!t->caps.native_snapshots || b->used || !s->used)
      break;
    char name[8];
    snprintf(name, sizeof(name), "b%d", slot);
    P_OK(bs_branch_create(st, s->id, name));
    *b = *s;
    b->kind = 2;
    snprintf(b->name, sizeof(b->name), "%s", name);
    s->branches++;
    break;
  }
  default: { /* branch delete */
    mtree *b = &m->t[1 + MS + below(r, MBR)];
    if (!t->caps.native_snapshots || !b->used)
      break;
    P_OK(bs_branch_delete(st, b->name));
    for (int a = 1; a <= MS; a++)
      if (m->t[a].used && m->t[a].id == b->id)
        m->t[a].branches--;
    memset(b, 0, sizeof(*b));
    break;
  }
  }
  if (f->exists) {
    bs_stat_info si;
    P_OK(bs_stat(st, p, &si));
    P_TRUE(si.size == f->size, "%s: size %llu, model %llu", p, (unsigned long long)si.size,
           (unsigned long long)f->size);
  }
}

static void lifecycle_case(bs_store *st, const bs_target *t, prng *r) {
  model *m = calloc(1, sizeof(*m));
  assert_non_null(m);
  m->t[0].used = true;
  m->next_id = 1;
  for (cur_op = 0; cur_op < 40; cur_op++) {
    lifecycle_step(st, t, r, m);
    uint64_t used, shared;
    expected_usage(m, &used, &shared);
    bs_usage u;
    P_OK(bs_usage_get(st, &u));
    P_TRUE(u.used_bytes == used * BLK && u.shared_bytes == shared * BLK,
           "used/shared %llu/%llu blocks, model %llu/%llu", (unsigned long long)(u.used_bytes / BLK),
           (unsigned long long)(u.shared_bytes / BLK), (unsigned long long)used,
           (unsigned long long)shared);
    P_OK(bs_check(st));
  }
  free(m);
}

static void random_lifecycles_keep_refcounts_consistent(void **state) {
  (void)state;
  check_property(NULL, lifecycle_case);
}

/* ---- random_io_matches_byte_model ------------------------------------------
 *
 * One file against a byte array: random writes, truncates, syncs, power
 * losses (DROP reverts to the bytes of the last sync), and clones that keep
 * its blocks shared, so that writes go through every copy-on-write path. */

#define IO_MAX (12 * BLK)

static void io_case(bs_store *st, const bs_target *t, prng *r) {
  uint8_t *live = calloc(1, IO_MAX), *dur = calloc(1, IO_MAX), *buf = malloc(3 * BLK);
  assert_non_null(live);
  assert_non_null(dur);
  assert_non_null(buf);
  size_t lsize = 0, dsize = 0;
  P_OK(bs_create(st, "/f", 0644));
  int clones = 0;
  for (cur_op = 0; cur_op < 30; cur_op++) {
    switch (below(r, 8)) {
    case 0:
    case 1:
    case 2: {
      size_t len = 1 + (size_t)below(r, 3 * BLK);
      size_t off = (size_t)below(r, IO_MAX - len + 1);
      for (size_t k = 0; k < len; k++)
        buf[k] = (uint8_t)next(r);
      P_OK(bs_write(st, "/f", off, buf, len));
      memcpy(live + off, buf, len);
      if (off + len > lsize)
        lsize = off + len;
      break;
    }
    case 3: {
      size_t size = (size_t)below(r, IO_MAX + 1);
      P_OK(bs_truncate(st, "/f", size));
      if (size < lsize)
        memset(live + size, 0, lsize - size);
      lsize = size;
      break;
    }
    case 4:
      P_OK(bs_sync(st, below(r, 2) ? "/f" : NULL));
      memcpy(dur, live, IO_MAX);
      dsize = lsize;
      break;
    case 5:
      P_OK(bs_power_loss(st, BS_POWER_LOSS_DROP));
      memcpy(live, dur, IO_MAX);
      lsize = dsize;
      break;
    default: { /* a clone that shares the file's blocks (reflink syncs the source) */
      if (!t->caps.native_reflink) {
        P_OK(bs_sync(st, "/f"));
      } else {
        char c[32];
        snprintf(c, sizeof(c), "/c%d", clones++ % 3);
        bs_stat_info si;
        if (bs_stat(st, c, &si) == 0)
          P_OK(bs_unlink(st, c));
        P_OK(bs_reflink(st, "/f", c));
      }
      memcpy(dur, live, IO_MAX);
      dsize = lsize;
      break;
    }
    }
    /* The file against the model.  That every clone still holds the bytes it
     * was made with is left to the refcount invariants bs_check verifies. */
    size_t len;
    uint8_t *got = slurp(st, "/f", &len);
    P_TRUE(len == lsize, "size %zu, model %zu", len, lsize);
    if (len && memcmp(got, live, len) != 0)
      for (size_t k = 0; k < len; k++)
        P_TRUE(got[k] == live[k], "byte %zu is %d, model %d", k, got[k], live[k]);
    free(got);
    P_OK(bs_check(st));
  }
  free(live);
  free(dur);
  free(buf);
}

static void random_io_matches_byte_model(void **state) {
  (void)state;
  check_property(NULL, io_case);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(reflink_is_idempotent_in_content),
    cmocka_unit_test(clone_then_modify_never_affects_source),
    cmocka_unit_test(random_lifecycles_keep_refcounts_consistent),
    cmocka_unit_test(random_io_matches_byte_model),
  };
  return cmocka_run_group_tests_name("props", tests, NULL, NULL);
}
