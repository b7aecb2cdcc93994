#include "tests/support/snap_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "tests/support/bs_test.h"

/* ---- the log ------------------------------------------------------------------ */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static size_t log_bytes(size_t cap) { return sizeof(bs_log) + cap * sizeof(bs_log_op); }

bs_log *bs_log_new(size_t cap) {
  bs_log *l = mmap(NULL, log_bytes(cap), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (l == MAP_FAILED)
    fail_msg("mmap of a shared log of %zu calls failed", cap);
  l->cap = cap; /* the pages come zeroed: every call "not yet" */
  return l;
}

void bs_log_free(bs_log *l) {
  if (l)
    munmap(l, log_bytes(l->cap));
}

void bs_log_clear(bs_log *l) { memset(l->op, 0, l->cap * sizeof(bs_log_op)); }

size_t bs_log_len(const bs_log *l) {
  size_t n = 0;
  while (n < l->cap && __atomic_load_n(&l->op[n].state, __ATOMIC_ACQUIRE) != 0)
    n++;
  return n;
}

/* The state is written last, and once per step, so that a process killed
 * at any instruction leaves each call either not begun, started with its
 * arguments, or returned with its answer. */
bs_log_op *bs_log_begin(bs_log *l, bs_log_kind kind, const char *name, uint64_t id) {
  size_t n = bs_log_len(l);
  if (n == l->cap)
    return NULL;
  bs_log_op *op = &l->op[n];
  op->kind = (int)kind;
  op->id = id;
  snprintf(op->name, sizeof(op->name), "%s", name ? name : "");
  op->t0 = now_ns();
  __atomic_store_n(&op->state, 1, __ATOMIC_RELEASE);
  return op;
}

void bs_log_end(bs_log_op *op, int rc, uint64_t id) {
  op->t1 = now_ns();
  op->rc = rc;
  if (op->kind == BS_LOG_SNAP_CREATE || op->kind == BS_LOG_LOOKUP)
    op->id = id;
  __atomic_store_n(&op->state, 2, __ATOMIC_RELEASE);
}

const char *bs_log_kind_name(int kind) {
  switch (kind) {
  case BS_LOG_SNAP_CREATE:
    return "snapshot create";
  case BS_LOG_SNAP_DELETE:
    return "snapshot delete";
  case BS_LOG_BRANCH_CREATE:
    return "branch create";
  case BS_LOG_BRANCH_DELETE:
    return "branch delete";
  case BS_LOG_LOOKUP:
    return "snapshot lookup";
  }
  return "?";
}

/* ---- the registry as the API shows it ------------------------------------------- */

static int add_branch_name(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  bs_reg_state *s = ctx;
  if (s->nbranches == BS_REG_MAX || strlen(name) >= BS_LOG_NAME_MAX)
    fail_msg("branch \"%s\": more branches or a longer name than the model holds", name);
  snprintf(s->branch[s->nbranches++].name, BS_LOG_NAME_MAX, "%s", name);
  return 0;
}

void bs_reg_state_read(bs_store *st, bs_reg_state *out) {
  memset(out, 0, sizeof(*out));
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  if (n > BS_REG_MAX)
    fail_msg("%zu snapshots: more than the model holds", n);
  for (size_t i = 0; i < n; i++) {
    if (strlen(all[i].name) >= BS_LOG_NAME_MAX)
      fail_msg("snapshot \"%s\": a longer name than the model holds", all[i].name);
    out->snap[i].id = all[i].id;
    out->snap[i].branches = all[i].branch_count;
    memcpy(out->snap[i].name, all[i].name, strlen(all[i].name) + 1);
  }
  out->nsnaps = n;
  free(all);
  assert_bs_ok(bs_readdir(st, "/.bs/branches", add_branch_name, out));
  for (size_t i = 1; i < out->nbranches; i++) /* name order: insertion sort */
    for (size_t k = i; k > 0 && strcmp(out->branch[k - 1].name, out->branch[k].name) > 0; k--) {
      char tmp[BS_LOG_NAME_MAX];
      memcpy(tmp, out->branch[k].name, BS_LOG_NAME_MAX);
      memcpy(out->branch[k].name, out->branch[k - 1].name, BS_LOG_NAME_MAX);
      memcpy(out->branch[k - 1].name, tmp, BS_LOG_NAME_MAX);
    }
  for (size_t i = 0; i < out->nbranches; i++)
    assert_bs_ok(bs_branch_parent(st, out->branch[i].name, &out->branch[i].parent));
}

static size_t snap_at(const bs_reg_state *s, const char *name) {
  for (size_t i = 0; i < s->nsnaps; i++)
    if (strcmp(s->snap[i].name, name) == 0)
      return i;
  return SIZE_MAX;
}

static size_t snap_of(const bs_reg_state *s, uint64_t id) {
  for (size_t i = 0; i < s->nsnaps; i++)
    if (s->snap[i].id == id)
      return i;
  return SIZE_MAX;
}

static size_t branch_at(const bs_reg_state *s, const char *name) {
  for (size_t i = 0; i < s->nbranches; i++)
    if (strcmp(s->branch[i].name, name) == 0)
      return i;
  return SIZE_MAX;
}

/* Snapshots stay in id order (ids only grow), branches in name order, so
 * that one registry has one model. */
void bs_reg_state_add(bs_reg_state *s, const char *name, uint64_t id) {
  if (s->nsnaps == BS_REG_MAX)
    fail_msg("snapshot \"%s\": more snapshots than the model holds", name);
  size_t i = s->nsnaps++;
  s->snap[i].id = id;
  s->snap[i].branches = 0;
  snprintf(s->snap[i].name, BS_LOG_NAME_MAX, "%s", name);
}

static bool add_branch(bs_reg_state *s, const char *name, uint64_t parent) {
  if (s->nbranches == BS_REG_MAX)
    return false;
  size_t at = 0;
  while (at < s->nbranches && strcmp(s->branch[at].name, name) < 0)
    at++;
  memmove(&s->branch[at + 1], &s->branch[at], (s->nbranches - at) * sizeof(s->branch[0]));
  s->nbranches++;
  s->branch[at].parent = parent;
  snprintf(s->branch[at].name, BS_LOG_NAME_MAX, "%s", name);
  return true;
}

static bool same_state(const bs_reg_state *a, const bs_reg_state *b) {
  if (a->nsnaps != b->nsnaps || a->nbranches != b->nbranches || (b->next_id && a->next_id != b->next_id))
    return false;
  for (size_t i = 0; i < a->nsnaps; i++)
    if (a->snap[i].id != b->snap[i].id || a->snap[i].branches != b->snap[i].branches ||
        strcmp(a->snap[i].name, b->snap[i].name) != 0)
      return false;
  for (size_t i = 0; i < a->nbranches; i++)
    if (a->branch[i].parent != b->branch[i].parent || strcmp(a->branch[i].name, b->branch[i].name) != 0)
      return false;
  return true;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xbf58476d1ce4e5b9ull;
}

static uint64_t hash_str(uint64_t h, const char *s) {
  for (; *s; s++)
    h = mix(h, (uint8_t)*s);
  return mix(h, 0xff);
}

/* ---- the search ------------------------------------------------------------------ */

#define MAX_LOGS 4

/* Searched states that led nowhere: a set of hashes (open addressing). */
typedef struct seen {
  uint64_t *v;
  size_t cap, n;
} seen;

static bool seen_has(const seen *s, uint64_t h) {
  for (size_t i = h & (s->cap - 1); s->v[i]; i = (i + 1) & (s->cap - 1))
    if (s->v[i] == h)
      return true;
  return false;
}

static void seen_add(seen *s, uint64_t h) {
  if (2 * (s->n + 1) > s->cap) {
    seen g = {calloc(2 * s->cap, sizeof(uint64_t)), 2 * s->cap, 0};
    assert_non_null(g.v);
    for (size_t i = 0; i < s->cap; i++)
      if (s->v[i])
        seen_add(&g, s->v[i]);
    free(s->v);
    *s = g;
  }
  size_t i = h & (s->cap - 1);
  while (s->v[i])
    i = (i + 1) & (s->cap - 1);
  s->v[i] = h;
  s->n++;
}

typedef struct search {
  const bs_log *const *logs;
  size_t nlogs, n[MAX_LOGS], at[MAX_LOGS];
  const bs_reg_state *to;
  bs_reg_state m;     /* the model, at the current depth */
  bs_reg_state *save; /* the model before the call of each depth */
  size_t depth;
  seen failed;
  size_t furthest; /* calls placed on the deepest path so far, and why it ended */
  char *why;
  size_t cap;
} search;

static void note(search *s, const char *fmt, ...) {
  if (s->depth < s->furthest || !s->cap)
    return;
  s->furthest = s->depth;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->why, s->cap, fmt, ap);
  va_end(ap);
}

static int64_t end_of(const bs_log_op *op) { return op->state == 2 ? op->t1 : INT64_MAX; }

/* The rules' answer to @op in model @m, applied to @m.  For a returned call
 * it must match the logged answer (false otherwise); a started call takes
 * whatever answer the rules give. */
static bool apply(search *s, size_t p, const bs_log_op *op) {
  bs_reg_state *m = &s->m;
  int want = BS_OK, alt = 1; /* alt: a second answer the rules allow (1: none) */
  uint64_t want_id = 0;
  size_t i;
  switch (op->kind) {
  case BS_LOG_SNAP_CREATE:
    if (snap_at(m, op->name) != SIZE_MAX)
      want = BS_EEXISTS;
    else
      want_id = m->next_id;
    break;
  case BS_LOG_LOOKUP:
    i = snap_at(m, op->name);
    if (i == SIZE_MAX)
      want = BS_ENOT_FOUND;
    else
      want_id = m->snap[i].id;
    break;
  case BS_LOG_SNAP_DELETE:
    i = snap_of(m, op->id);
    want = i == SIZE_MAX ? BS_ENOT_FOUND : m->snap[i].branches ? BS_EBUSY : BS_OK;
    break;
  case BS_LOG_BRANCH_CREATE: {
    bool gone = snap_of(m, op->id) == SIZE_MAX, taken = branch_at(m, op->name) != SIZE_MAX;
    want = gone ? BS_ENOT_FOUND : taken ? BS_EEXISTS : BS_OK;
    if (gone && taken) /* which check comes first is not a rule */
      alt = BS_EEXISTS;
    break;
  }
  case BS_LOG_BRANCH_DELETE:
    want = branch_at(m, op->name) == SIZE_MAX ? BS_ENOT_FOUND : BS_OK;
    break;
  default:
    note(s, "process %zu call %zu: unknown kind %d", p, s->at[p], op->kind);
    return false;
  }
  if (op->state == 2) {
    if (op->rc != want && (alt == 1 || op->rc != alt)) {
      note(s, "process %zu call %zu, %s \"%s\" id %llu: answered %s, the rules say %s here (after %zu calls)",
           p, s->at[p], bs_log_kind_name(op->kind), op->name, (unsigned long long)op->id, bs_err_name(op->rc),
           bs_err_name(want), s->depth);
      return false;
    }
    if (op->rc == BS_OK && want_id && op->id != want_id) {
      note(s, "process %zu call %zu, %s \"%s\": id %llu, the rules say %llu here (after %zu calls)", p,
           s->at[p], bs_log_kind_name(op->kind), op->name, (unsigned long long)op->id,
           (unsigned long long)want_id, s->depth);
      return false;
    }
    want = op->rc;
  }
  if (want != BS_OK)
    return true;
  switch (op->kind) {
  case BS_LOG_SNAP_CREATE:
    if (m->nsnaps == BS_REG_MAX)
      return false;
    bs_reg_state_add(m, op->name, m->next_id++);
    break;
  case BS_LOG_SNAP_DELETE:
    i = snap_of(m, op->id);
    memmove(&m->snap[i], &m->snap[i + 1], (m->nsnaps - i - 1) * sizeof(m->snap[0]));
    m->nsnaps--;
    break;
  case BS_LOG_BRANCH_CREATE:
    if (!add_branch(m, op->name, op->id))
      return false;
    m->snap[snap_of(m, op->id)].branches++;
    break;
  case BS_LOG_BRANCH_DELETE:
    i = branch_at(m, op->name);
    m->snap[snap_of(m, m->branch[i].parent)].branches--;
    memmove(&m->branch[i], &m->branch[i + 1], (m->nbranches - i - 1) * sizeof(m->branch[0]));
    m->nbranches--;
    break;
  }
  return true;
}

static uint64_t state_hash(const search *s) {
  uint64_t h = 0x5eed;
  for (size_t p = 0; p < s->nlogs; p++)
    h = mix(h, s->at[p]);
  h = mix(h, s->m.next_id);
  for (size_t i = 0; i < s->m.nsnaps; i++)
    h = hash_str(mix(mix(h, s->m.snap[i].id), s->m.snap[i].branches), s->m.snap[i].name);
  for (size_t i = 0; i < s->m.nbranches; i++)
    h = hash_str(mix(h, s->m.branch[i].parent), s->m.branch[i].name);
  return h ? h : 1; /* 0 marks a free slot */
}

static bool dfs(search *s) {
  bool done = true;
  for (size_t p = 0; p < s->nlogs; p++)
    done &= s->at[p] == s->n[p];
  if (done) {
    if (same_state(&s->m, s->to))
      return true;
    note(s,
         "every call placed, but the registry the calls lead to (%zu snapshots, %zu branches, next id "
         "%llu) is not the one there is (%zu, %zu, %llu)",
         s->m.nsnaps, s->m.nbranches, (unsigned long long)s->m.next_id, s->to->nsnaps, s->to->nbranches,
         (unsigned long long)s->to->next_id);
    return false;
  }
  uint64_t h = state_hash(s);
  if (seen_has(&s->failed, h))
    return false;
  /* The candidates: each process's next call that no other next call ended
   * before; the one that returned first is tried first. */
  size_t order[MAX_LOGS], nc = 0;
  for (size_t p = 0; p < s->nlogs; p++) {
    if (s->at[p] == s->n[p])
      continue;
    const bs_log_op *op = &s->logs[p]->op[s->at[p]];
    bool may = true;
    for (size_t q = 0; q < s->nlogs; q++)
      if (q != p && s->at[q] < s->n[q] && end_of(&s->logs[q]->op[s->at[q]]) < op->t0)
        may = false;
    if (!may)
      continue;
    size_t k = nc++;
    for (; k > 0 && end_of(&s->logs[order[k - 1]]->op[s->at[order[k - 1]]]) > end_of(op); k--)
      order[k] = order[k - 1];
    order[k] = p;
  }
  for (size_t c = 0; c < nc; c++) {
    size_t p = order[c];
    const bs_log_op *op = &s->logs[p]->op[s->at[p]];
    s->save[s->depth] = s->m;
    for (int happened = 1; happened >= 0; happened--) {
      if (!happened && op->state == 2)
        break; /* a returned call happened */
      bool ok = happened ? apply(s, p, op) : true;
      if (ok) {
        s->at[p]++;
        s->depth++;
        ok = dfs(s);
        s->depth--;
        s->at[p]--;
      }
      if (ok)
        return true;
      s->m = s->save[s->depth];
    }
  }
  seen_add(&s->failed, h);
  return false;
}

bool bs_log_linearizable(const bs_log *const *logs, size_t nlogs, const bs_reg_state *from,
                         const bs_reg_state *to, char *why, size_t cap) {
  assert_true(nlogs <= MAX_LOGS);
  assert_true(from->next_id != 0); /* the ids of the creates are checked from it */
  search *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  s->logs = logs;
  s->nlogs = nlogs;
  size_t total = 0;
  for (size_t p = 0; p < nlogs; p++) {
    s->n[p] = bs_log_len(logs[p]);
    for (size_t i = 0; i + 1 < s->n[p]; i++)
      if (logs[p]->op[i].state != 2)
        fail_msg("process %zu: call %zu never returned, but the process made another", p, i);
    total += s->n[p];
  }
  s->to = to;
  s->m = *from;
  s->save = malloc((total + 1) * sizeof(*s->save));
  s->failed = (seen){calloc(1024, sizeof(uint64_t)), 1024, 0};
  assert_true(s->save && s->failed.v);
  s->why = why;
  s->cap = cap;
  if (cap)
    why[0] = '\0';
  bool ok = dfs(s);
  free(s->failed.v);
  free(s->save);
  free(s);
  return ok;
}
