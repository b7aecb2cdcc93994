/* Snapshots and branches: the bs_snapshot_* and bs_branch_* calls, written
 * once for every primitive backend (see snapshot.h; docs/snapshots.md).
 *
 * A change runs as one session: the backend says how it makes trees
 * (tree_method), the registry is opened for a change (exclusive against
 * other processes) and decoded, orphan trees are reconciled, the rule of
 * the call is applied to the registry, and then:
 *   - a new tree is made before the registry names it (a crash leaves an
 *     orphan, removed by the next change), and removed again if the save
 *     fails without landing;
 *   - a tree is unnamed (saved) before it is removed, after the backend said
 *     it may remove it (so a refused delete changes nothing); a removal that
 *     fails after that leaves an orphan the next change removes.
 * Every call holds the store's lock exclusively (src/store.c), so calls of
 * one store are linearizable; the registry lock orders other processes. */
#include "src/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/names.h"
#include "src/ns.h"
#include "src/overlay.h"
#include "src/snapreg.h"
#include "src/store_internal.h"

/* ---- the core's state of a store ------------------------------------------- */

struct bs__core {
  pthread_mutex_t mu;   /* the fields below */
  uint8_t *bytes;       /* the registry bytes last decoded (NULL: none yet) */
  size_t len;
  bool have;            /* @reg holds the decoding of @bytes */
  bs__snapreg reg;
  int case_sensitive;   /* -1: not asked yet */
  pthread_mutex_t ovmu; /* copy-ups of overlay branches, and @policy */
  bs__ov_policy policy;
  pthread_mutex_t reapmu; /* @reaped */
  uint64_t *reaped;       /* branch trees whose work directory this store reaped */
  size_t nreaped;
};

pthread_mutex_t *bs__core_ov_mutex(bs_store *st) { return st->core ? &st->core->ovmu : NULL; }
bs__ov_policy *bs__core_ov_policy(bs_store *st) { return st->core ? &st->core->policy : NULL; }

bool bs__core_ov_reap_due(bs_store *st, uint64_t tree_id) {
  struct bs__core *c = st->core;
  if (!c)
    return false;
  pthread_mutex_lock(&c->reapmu);
  bool due = true;
  for (size_t i = 0; due && i < c->nreaped; i++)
    due = c->reaped[i] != tree_id;
  uint64_t *r = due ? realloc(c->reaped, (c->nreaped + 1) * sizeof(*r)) : NULL;
  if (r) {
    r[c->nreaped++] = tree_id;
    c->reaped = r;
  }
  pthread_mutex_unlock(&c->reapmu);
  return due && r; /* out of memory: no reaping, which is only tidying */
}

struct bs__core *bs__core_new(void) {
  struct bs__core *c = calloc(1, sizeof(*c));
  if (c) {
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->ovmu, NULL);
    pthread_mutex_init(&c->reapmu, NULL);
    bs__snapreg_init(&c->reg);
    c->case_sensitive = -1;
  }
  return c;
}

void bs__core_free(struct bs__core *c) {
  if (!c)
    return;
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->ovmu);
  pthread_mutex_destroy(&c->reapmu);
  free(c->reaped);
  bs__snapreg_free(&c->reg);
  free(c->bytes);
  free(c);
}

bool bs__store_primitive(const bs_store *st) {
  const bs_backend_ops *o = st->ops;
  return o->version >= 2 && o->tree_method && o->tree_create && o->tree_delete && o->tree_list &&
         o->registry_open && o->registry_save && o->registry_close;
}

bool bs__store_case_sensitive(bs_store *st) {
  struct bs__core *c = st->core;
  if (c && c->case_sensitive >= 0)
    return c->case_sensitive;
  bs_caps caps;
  bool cs = !st->ops->caps || st->ops->caps(st, &caps) != 0 || caps.case_sensitive;
  if (c)
    c->case_sensitive = cs;
  return cs;
}

/* "OP: " before the backend's message of failure @rc. */
static int prefixed(bs_store *st, const char *op, int rc) {
  char why[256];
  snprintf(why, sizeof(why), "%s", bs_last_message(st));
  return bs_store_fail(st, rc, bs_last_os_errno(st), "%s: %s", op, why);
}

static int damaged(bs_store *st, const char *op) {
  return bs_store_fail(st, BS_ECORRUPT, 0, "%s: the snapshot registry is damaged", op);
}

/* ---- reading the registry ------------------------------------------------------ */

/* Decode registry bytes @buf (none: an empty registry) into @r. */
static int decode(bs__snapreg *r, const uint8_t *buf, size_t len) {
  if (!len) {
    bs__snapreg_init(r);
    return 0;
  }
  return bs__snapreg_decode(r, buf, len);
}

/* Run @fn on the registry as saved.  With the core's cache (under its
 * mutex), the bytes are decoded again only when they changed (another
 * process, or a change of ours). */
static int with_registry(bs_store *st, const char *op, int (*fn)(const bs__snapreg *r, void *ctx), void *ctx) {
  bs_registry *r = NULL;
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = st->ops->registry_open(st, false, &r, &buf, &len);
  if (rc != 0)
    return prefixed(st, op, rc);
  st->ops->registry_close(st, r, false);
  struct bs__core *c = st->core;
  if (!c) {
    bs__snapreg tmp;
    rc = decode(&tmp, buf, len);
    free(buf);
    if (rc == 0) {
      rc = fn(&tmp, ctx);
      bs__snapreg_free(&tmp);
      return rc;
    }
    return rc == BS_ECORRUPT ? damaged(st, op) : bs_store_fail(st, rc, 0, "%s: %s", op, bs_strerror(rc));
  }
  pthread_mutex_lock(&c->mu);
  if (!c->have || c->len != len || (len && memcmp(c->bytes, buf, len) != 0)) {
    bs__snapreg_free(&c->reg);
    free(c->bytes);
    c->bytes = NULL;
    c->have = (rc = decode(&c->reg, buf, len)) == 0;
    if (c->have) {
      c->bytes = buf;
      c->len = len;
      buf = NULL;
    }
  }
  if (rc == 0)
    rc = fn(&c->reg, ctx);
  else
    rc = rc == BS_ECORRUPT ? damaged(st, op) : bs_store_fail(st, rc, 0, "%s: %s", op, bs_strerror(rc));
  pthread_mutex_unlock(&c->mu);
  free(buf);
  return rc;
}

typedef struct lookup_ctx {
  bs_tree_kind kind;
  const char *name;
  uint64_t id;
  size_t n;
  bs_readdir_cb cb;
  void *cb_ctx;
  char **names;
  uint64_t *chain; /* NULL: not asked for */
  unsigned nchain;
} lookup_ctx;

static int find_tree(const bs__snapreg *r, void *ctx) {
  lookup_ctx *l = ctx;
  if (l->kind == BS_TREE_SNAPSHOT) {
    const bs_snapshot_info *s = bs__snapreg_find_name(r, l->name);
    l->id = s ? s->id : 0;
    if (l->chain)
      l->nchain = bs__snapreg_chain(r, l->id, l->chain);
  } else {
    const bs__branch_rec *b = bs__snapreg_find_branch(r, l->name);
    l->id = b ? b->id : 0;
  }
  return 0;
}

typedef struct branch_ctx {
  const char *name;
  bs__branch_rec *out;
  bool found;
  uint64_t *chain; /* NULL: not asked for */
  unsigned nchain;
} branch_ctx;

static int find_branch(const bs__snapreg *r, void *ctx) {
  branch_ctx *b = ctx;
  const bs__branch_rec *rec = bs__snapreg_find_branch(r, b->name);
  if ((b->found = rec != NULL))
    *b->out = *rec;
  if (b->found && b->chain)
    b->nchain = bs__snapreg_chain(r, rec->snapshot_id, b->chain);
  return 0;
}

int bs__snap_lookup_branch(bs_store *st, const char *op, const char *name, bs__branch_rec *out, bool *found,
                           uint64_t *chain, unsigned *n) {
  branch_ctx b = {.name = name, .out = out, .chain = chain};
  int rc = with_registry(st, op, find_branch, &b);
  *found = rc == 0 && b.found;
  if (n)
    *n = b.nchain;
  return rc;
}

int bs__snap_lookup_tree(bs_store *st, const char *op, bs_tree_kind kind, const char *name, uint64_t *id,
                         uint64_t *chain, unsigned *n) {
  lookup_ctx l = {.kind = kind, .name = name, .chain = chain};
  int rc = with_registry(st, op, find_tree, &l);
  *id = l.id;
  if (n)
    *n = l.nchain;
  return rc;
}

static int count(const bs__snapreg *r, void *ctx) {
  lookup_ctx *l = ctx;
  l->n = l->kind == BS_TREE_SNAPSHOT ? r->nsnaps : r->nbranches;
  return 0;
}

int bs__snap_count(bs_store *st, const char *op, bs_tree_kind kind, size_t *n) {
  lookup_ctx l = {.kind = kind};
  int rc = with_registry(st, op, count, &l);
  *n = l.n;
  return rc;
}

static int by_bytes(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names, copied: the callback may call the store, so it runs after the
 * cache is let go. */
static int copy_names(const bs__snapreg *r, void *ctx) {
  lookup_ctx *l = ctx;
  l->n = l->kind == BS_TREE_SNAPSHOT ? r->nsnaps : r->nbranches;
  l->names = calloc(l->n + 1, sizeof(*l->names));
  for (size_t i = 0; l->names && i < l->n; i++)
    if (!(l->names[i] = strdup(l->kind == BS_TREE_SNAPSHOT ? r->snaps[i].name : r->branches[i].name)))
      return BS_ENO_MEMORY;
  return l->names ? 0 : BS_ENO_MEMORY;
}

int bs__snap_names(bs_store *st, const char *op, bs_tree_kind kind, bs_readdir_cb cb, void *ctx) {
  lookup_ctx l = {.kind = kind};
  int rc = with_registry(st, op, copy_names, &l);
  if (rc == BS_ENO_MEMORY)
    rc = bs_store_fail(st, rc, ENOMEM, "%s: out of memory", op);
  if (rc == 0 && l.n > 1) /* snapshots are kept in id order, branches in name order */
    qsort(l.names, l.n, sizeof(*l.names), by_bytes);
  for (size_t i = 0; rc == 0 && i < l.n; i++)
    if (cb(ctx, l.names[i], BS_KIND_DIR) != 0)
      break;
  for (size_t i = 0; l.names && i < l.n; i++)
    free(l.names[i]);
  free(l.names);
  return rc;
}

/* ---- changing the registry ------------------------------------------------------ */

typedef struct session {
  bs_registry *r;
  bs_tree_method m;
  bs__snapreg reg;
  bool landed; /* a failed save left the new registry in place all the same */
} session;

typedef struct orphans {
  uint64_t *v;
  size_t n, cap;
} orphans;

static int add_orphan(void *ctx, uint64_t id) {
  orphans *o = ctx;
  if (o->n == o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 16;
    uint64_t *v = realloc(o->v, cap * sizeof(*v));
    if (!v)
      return 1;
    o->v = v;
    o->cap = cap;
  }
  o->v[o->n++] = id;
  return 0;
}

static bool named(const bs__snapreg *reg, bs_tree_kind kind, uint64_t id) {
  if (kind == BS_TREE_SNAPSHOT)
    return bs__snapreg_find_id(reg, id) != NULL;
  for (size_t i = 0; i < reg->nbranches; i++)
    if (reg->branches[i].id == id)
      return true;
  return false;
}

static int may_delete(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id) {
  return st->ops->tree_may_delete ? st->ops->tree_may_delete(st, m, kind, id) : 0;
}

/* Remove the trees of @kind that the registry does not name: what a crash
 * between making a tree and naming it (or unnaming and removing it) left.
 * One this caller may not or cannot remove (a btrfs subvolume without the
 * privilege to delete it) stays where it is and costs only its space: the
 * change goes on, and the next id moves past it so no new tree lands on it. */
static int reconcile(bs_store *st, const char *op, session *s, bs_tree_kind kind) {
  orphans o = {0};
  int rc = st->ops->tree_list(st, kind, add_orphan, &o);
  if (rc != 0) {
    free(o.v);
    return prefixed(st, op, rc);
  }
  uint64_t *next = kind == BS_TREE_SNAPSHOT ? &s->reg.next_id : &s->reg.next_branch_id;
  for (size_t i = 0; i < o.n; i++) {
    uint64_t id = o.v[i];
    if (id == 0 || named(&s->reg, kind, id))
      continue;
    if (may_delete(st, s->m, kind, id) != 0 || st->ops->tree_delete(st, s->m, kind, id) != 0)
      *next = id >= *next && id < UINT64_MAX ? id + 1 : *next;
  }
  free(o.v);
  bs_store_clear_error(st);
  return 0;
}

static void end_session(bs_store *st, session *s, bool failed) {
  st->ops->registry_close(st, s->r, failed);
  bs__snapreg_free(&s->reg);
}

/* Start a change: method, registry open and decoded, no orphans. */
static int begin(bs_store *st, const char *op, session *s) {
  memset(s, 0, sizeof(*s));
  bs__snapreg_init(&s->reg);
  int rc = st->ops->tree_method(st, &s->m);
  if (rc != 0)
    return prefixed(st, op, rc);
  uint8_t *buf = NULL;
  size_t len = 0;
  if ((rc = st->ops->registry_open(st, true, &s->r, &buf, &len)) != 0)
    return prefixed(st, op, rc);
  if (len && bs__snapreg_decode(&s->reg, buf, len) != 0)
    rc = damaged(st, op);
  free(buf);
  if (rc == 0)
    rc = reconcile(st, op, s, BS_TREE_SNAPSHOT);
  if (rc == 0)
    rc = reconcile(st, op, s, BS_TREE_BRANCH);
  if (rc != 0)
    end_session(st, s, true);
  return rc;
}

/* Save s->reg; on failure say so (and whether it landed anyway). */
static int save(bs_store *st, const char *op, session *s) {
  uint8_t *buf;
  size_t n;
  if (bs__snapreg_encode(&s->reg, &buf, &n) != 0)
    return bs_store_fail(st, BS_ECORRUPT, 0, "%s: the snapshot registry cannot be encoded", op);
  int rc = st->ops->registry_save(st, s->r, buf, n, &s->landed);
  free(buf);
  return rc == 0 ? 0 : prefixed(st, op, rc);
}

/* End a change with result @rc. */
static int end(bs_store *st, session *s, int rc) {
  end_session(st, s, rc != 0 && !s->landed);
  return rc;
}

/* The registry, for a call that changes nothing (the store must still be one
 * that has snapshots: UNSUPPORTED otherwise). */
static int copy_reg(const bs__snapreg *r, void *ctx) {
  bs__snapreg *out = ctx;
  uint8_t *buf;
  size_t n;
  if (bs__snapreg_encode(r, &buf, &n) != 0)
    return BS_ECORRUPT;
  int rc = bs__snapreg_decode(out, buf, n);
  free(buf);
  return rc;
}

static int peek(bs_store *st, const char *op, bs__snapreg *reg) {
  bs__snapreg_init(reg);
  bs_tree_method m;
  int rc = st->ops->tree_method(st, &m);
  if (rc != 0)
    return prefixed(st, op, rc);
  return with_registry(st, op, copy_reg, reg);
}

/* A new tree of a change: made; removed again unless the save landed. */
static int made_and_saved(bs_store *st, const char *op, session *s, bs_tree_kind kind, uint64_t id) {
  int rc = save(st, op, s);
  if (rc != 0 && !s->landed)
    st->ops->tree_delete(st, s->m, kind, id);
  return rc;
}

/* ---- the primitive backend's calls -------------------------------------------------- */

/* A delete the backend refused (@rc) before the registry changed. */
static int kept(bs_store *st, const char *op, int rc, const char *what, const char *name) {
  char why[256];
  snprintf(why, sizeof(why), "%s", bs_last_message(st));
  return bs_store_fail(st, rc, bs_last_os_errno(st), "%s: %s \"%s\" is kept: %s", op, what, name, why);
}

/* A tree whose removal failed (@rc) after the registry let go of it. */
static int left_behind(bs_store *st, const char *op, int rc) {
  char why[256];
  snprintf(why, sizeof(why), "%s", bs_last_message(st));
  return bs_store_fail(st, rc, bs_last_os_errno(st),
                       "%s: %s; gone from the registry, the tree is left behind for a later change to remove",
                       op, why);
}

static uint64_t clock_now(bs_store *st) {
  int64_t now = 0;
  if (st->ops->clock_ns)
    st->ops->clock_ns(st, &now); /* the store's clock: the sim's is virtual */
  return (uint64_t)now;
}

int bs__snap_create(bs_store *st, const char *name, bs_snapshot_info *out) {
  const char *op = "snapshot create";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  if (bs__snapreg_find_name(&s.reg, name))
    return end(st, &s, bs_store_fail(st, BS_EEXISTS, EEXIST, "%s: \"%s\" exists", op, name));
  uint64_t id = s.reg.next_id;
  uint8_t uuid[16] = {0};
  uint64_t created = clock_now(st);
  rc = st->ops->tree_create(st, s.m, BS_TREE_SNAPSHOT, id, 0, uuid);
  if (rc != 0)
    return end(st, &s, prefixed(st, op, rc));
  rc = bs__snapreg_add(&s.reg, name, uuid, created, out);
  if (rc != 0) {
    st->ops->tree_delete(st, s.m, BS_TREE_SNAPSHOT, id);
    return end(st, &s, bs_store_fail(st, rc, 0, "%s: \"%s\": %s", op, name, bs_strerror(rc)));
  }
  return end(st, &s, made_and_saved(st, op, &s, BS_TREE_SNAPSHOT, id));
}

/* What a snapshot of branch @b freezes: its tree (a native branch), its
 * upper layer, or (a chain at the depth limit: flattened) a tree of its
 * merged view built in its work directory, in *@src (malloc'ed); *@built
 * says the last, which the caller removes. */
static int freeze_source(bs_store *st, const char *op, const session *s, const bs__branch_rec *b, bool flat,
                         char **src, bool *built) {
  *built = false;
  if (!flat) {
    *src = bs__ns_tree_path(BS_TREE_BRANCH, b->id, b->kind == BS_BRANCH_OVERLAY ? BS__OV_UPPER : "");
    return *src ? 0 : bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op);
  }
  bs__place p = {.tree = BS_TREE_BRANCH, .tree_id = b->id, .tree_root = true};
  uint64_t chain[BS__OV_DEPTH_MAX];
  unsigned n = bs__snapreg_chain(&s->reg, b->snapshot_id, chain);
  bs__ns_layers(&p, BS_TREE_BRANCH, b->id, chain, n);
  int rc = bs__ov_flatten(st, op, &p, src);
  *built = rc == 0;
  return rc;
}

int bs__snap_create_of(bs_store *st, const char *branch, const char *name, bs_snapshot_info *out) {
  const char *op = "snapshot create";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  const bs__branch_rec *br = bs__snapreg_find_branch(&s.reg, branch);
  if (!br)
    return end(st, &s, bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no branch \"%s\"", op, branch));
  bs__branch_rec b = *br;
  if (bs__snapreg_find_name(&s.reg, name))
    return end(st, &s, bs_store_fail(st, BS_EEXISTS, EEXIST, "%s: \"%s\" exists", op, name));
  if (b.kind == BS_BRANCH_OVERLAY && b.snapshot_id == BS__SNAPREG_HOST_LOWER)
    /* Its lower is not the store's to freeze: the host may change it. */
    return end(st, &s, bs_store_fail(st, BS_EUNSUPPORTED, 0,
                                     "%s: branch \"%s\" is over a host directory, which a snapshot cannot freeze "
                                     "(not supported yet)",
                                     op, branch));
  if (!BS__HAS(st->ops, 5, tree_freeze))
    return end(st, &s, bs__missing(st, "tree_freeze"));
  /* A stacked snapshot is one layer deeper than its lower's chain; past the
   * limit the branch's merged view is frozen instead, with no lower. */
  bool overlay = b.kind == BS_BRANCH_OVERLAY;
  bool flat = overlay && bs__snapreg_depth(&s.reg, b.snapshot_id) + 1 > BS__OV_DEPTH_MAX;
  uint64_t id = s.reg.next_id;
  uint8_t uuid[16] = {0};
  uint64_t created = clock_now(st);
  char *src = NULL;
  bool built = false;
  if ((rc = freeze_source(st, op, &s, &b, flat, &src, &built)) != 0)
    return end(st, &s, rc);
  rc = st->ops->tree_freeze(st, s.m, id, src, uuid);
  if (rc != 0)
    rc = prefixed(st, op, rc);
  if (built)
    bs__ov_flatten_done(st, src); /* in the work directory: a leftover, reaped later, if this fails */
  else
    free(src);
  if (rc != 0)
    return end(st, &s, rc);
  rc = overlay && !flat ? bs__snapreg_add_stacked(&s.reg, name, uuid, created, b.snapshot_id, out)
                        : bs__snapreg_add(&s.reg, name, uuid, created, out);
  if (rc != 0) {
    st->ops->tree_delete(st, s.m, BS_TREE_SNAPSHOT, id);
    return end(st, &s, bs_store_fail(st, rc, 0, "%s: \"%s\": %s", op, name, bs_strerror(rc)));
  }
  return end(st, &s, made_and_saved(st, op, &s, BS_TREE_SNAPSHOT, id));
}

int bs__branch_layers(bs_store *st, const char *name, bs_branch_layers *out) {
  const char *op = "branch layers";
  bs__snapreg reg;
  int rc = peek(st, op, &reg);
  const bs__branch_rec *b = rc == 0 ? bs__snapreg_find_branch(&reg, name) : NULL;
  if (rc == 0 && !b)
    rc = bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no branch \"%s\"", op, name);
  else if (rc == 0 && b->kind != BS_BRANCH_OVERLAY)
    rc = bs_store_fail(st, BS_EINVALID, 0, "%s: \"%s\" is a native branch: it has no layers", op, name);
  if (rc == 0) {
    uint64_t chain[BS__OV_DEPTH_MAX];
    unsigned n = bs__snapreg_chain(&reg, b->snapshot_id, chain);
    memset(out, 0, sizeof(*out));
    snprintf(out->upper, sizeof(out->upper), "/.bs/branch/%" PRIu64 "%s", b->id, BS__OV_UPPER);
    snprintf(out->work, sizeof(out->work), "/.bs/branch/%" PRIu64 "%s", b->id, BS__OV_WORK);
    for (unsigned i = 0; i < n && i < BS_BRANCH_LAYERS_MAX; i++)
      snprintf(out->lowers[i], sizeof(out->lowers[i]), "/.bs/snap/%" PRIu64, chain[i]);
    out->nlowers = n < BS_BRANCH_LAYERS_MAX ? n : BS_BRANCH_LAYERS_MAX;
    snprintf(out->lower, sizeof(out->lower), "%s", out->lowers[0]);
  }
  bs__snapreg_free(&reg);
  return rc;
}

int bs__snap_list(bs_store *st, bs_snapshot_info **out, size_t *count_out) {
  bs__snapreg reg;
  int rc = peek(st, "snapshot list", &reg);
  if (rc == 0 && reg.nsnaps > 0) {
    *out = reg.snaps; /* handed over: the caller frees it */
    *count_out = reg.nsnaps;
    reg.snaps = NULL;
    reg.nsnaps = 0;
  }
  bs__snapreg_free(&reg);
  return rc;
}

int bs__snap_delete(bs_store *st, uint64_t id) {
  const char *op = "snapshot delete";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  const bs_snapshot_info *si = bs__snapreg_find_id(&s.reg, id);
  bs_snapshot_info was = si ? *si : (bs_snapshot_info){0};
  /* The rules (NOT_FOUND, BUSY while a branch holds it) are the registry's. */
  if ((rc = bs__snapreg_remove(&s.reg, id)) == BS_ENOT_FOUND)
    return end(st, &s, bs_store_fail(st, rc, ENOENT, "%s: no snapshot %" PRIu64, op, id));
  if (rc != 0 && was.branch_count == 0) /* BUSY without a branch: a snapshot stacked on it */
    return end(st, &s, bs_store_fail(st, rc, EBUSY, "%s: \"%s\" is the lower of a stacked snapshot", op,
                                     was.name));
  if (rc != 0)
    return end(st, &s, bs_store_fail(st, rc, EBUSY, "%s: \"%s\" has %u branch(es)", op, was.name,
                                     (unsigned)was.branch_count));
  /* Asked before the registry is saved without the tree: a delete the
   * backend would refuse changes nothing. */
  if ((rc = may_delete(st, s.m, BS_TREE_SNAPSHOT, id)) != 0)
    return end(st, &s, kept(st, op, rc, "snapshot", was.name));
  if ((rc = save(st, op, &s)) == 0 && (rc = st->ops->tree_delete(st, s.m, BS_TREE_SNAPSHOT, id)) != 0)
    rc = left_behind(st, op, rc);
  return end(st, &s, rc);
}

int bs__snap_mount_ro(bs_store *st, uint64_t id, char *path, size_t cap) {
  const char *op = "snapshot mount";
  bs__snapreg reg;
  int rc = peek(st, op, &reg);
  /* The view must show the snapshot, not a bare mount point that a reboot
   * or a hand unmount left (darwin mounts it again). */
  if (rc == 0 && st->ops->tree_revive && (rc = st->ops->tree_revive(st)) != 0)
    rc = prefixed(st, op, rc);
  const bs_snapshot_info *si = rc == 0 ? bs__snapreg_find_id(&reg, id) : NULL;
  if (rc == 0 && !si)
    rc = bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no snapshot %" PRIu64, op, id);
  else if (rc == 0 && (rc = bs_snapshot_path(path, cap, si->name)) != 0)
    rc = bs_store_fail(st, rc, 0, "%s: path buffer of %zu bytes is too small", op, cap);
  bs__snapreg_free(&reg);
  return rc;
}

/* The record of host directory @dir as branch @id's lower: file
 * BS__HOST_LOWER_REC in its tree, the path and a newline, durable. */
static int host_lower_record(bs_store *st, uint64_t id, const char *dir) {
  char *p = bs__ns_tree_path(BS_TREE_BRANCH, id, BS__HOST_LOWER_REC);
  size_t n = strlen(dir);
  char *text = malloc(n + 2);
  int rc = !p || !text ? bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "out of memory") : st->ops->create(st, p, 0644);
  if (rc == 0) {
    memcpy(text, dir, n);
    text[n] = '\n';
    rc = st->ops->write(st, p, 0, text, n + 1);
  }
  if (rc == 0 && st->ops->sync)
    rc = st->ops->sync(st, p);
  free(p);
  free(text);
  return rc;
}

/* An overlay branch's tree: empty, with its upper and work directories
 * (docs/overlay.md), and the record of its host lower @host_dir (NULL: its
 * lower is a snapshot), made durable before the registry names it. */
static int overlay_tree(bs_store *st, const char *op, session *s, uint64_t id, const char *host_dir) {
  uint8_t uuid[16];
  int rc = st->ops->tree_create(st, s->m, BS_TREE_BRANCH, id, BS_TREE_SRC_EMPTY, uuid);
  if (rc != 0)
    return prefixed(st, op, rc);
  static const char *const dirs[] = {BS__OV_UPPER, BS__OV_WORK};
  for (size_t i = 0; rc == 0 && i < 2; i++) {
    char *p = bs__ns_tree_path(BS_TREE_BRANCH, id, dirs[i]);
    rc = !p ? bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "out of memory") : st->ops->mkdir(st, p, 0755);
    free(p);
  }
  if (rc == 0 && host_dir)
    rc = host_lower_record(st, id, host_dir);
  char *root = rc == 0 ? bs__ns_tree_path(BS_TREE_BRANCH, id, "") : NULL;
  if (rc == 0)
    rc = !root ? bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "out of memory")
               : st->ops->sync ? st->ops->sync(st, root) : 0;
  free(root);
  if (rc != 0) {
    rc = prefixed(st, op, rc);
    st->ops->tree_delete(st, s->m, BS_TREE_BRANCH, id);
  }
  return rc;
}

/* A native branch of stacked snapshot @snap: its tree holds only the frozen
 * upper, so the branch is an empty tree with the snapshot's merged view
 * copied in (reflinks where the filesystem shares blocks), its root synced
 * before the registry names it; removed again on failure. */
static int stacked_copy(bs_store *st, const char *op, session *s, uint64_t snap, uint64_t id) {
  uint8_t uuid[16];
  int rc = st->ops->tree_create(st, s->m, BS_TREE_BRANCH, id, BS_TREE_SRC_EMPTY, uuid);
  if (rc != 0)
    return prefixed(st, op, rc);
  bs__place p = {.tree = BS_TREE_SNAPSHOT, .tree_id = snap, .tree_root = true};
  uint64_t chain[BS__OV_DEPTH_MAX];
  unsigned n = bs__snapreg_chain(&s->reg, snap, chain);
  bs__ns_layers(&p, BS_TREE_SNAPSHOT, snap, chain + 1, n - 1);
  char *root = bs__ns_tree_path(BS_TREE_BRANCH, id, "");
  rc = !root ? bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op) : bs__ov_copy_view(st, op, &p, root);
  if (rc == 0 && st->ops->sync)
    rc = st->ops->sync(st, root);
  free(root);
  if (rc != 0)
    st->ops->tree_delete(st, s->m, BS_TREE_BRANCH, id);
  return rc;
}

int bs__branch_create(bs_store *st, uint64_t snapshot_id, const char *name, bs_branch_kind kind) {
  const char *op = "branch create";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  /* AUTO: native where the filesystem makes it natively; a stacked
   * snapshot's native branch would be a copy of its view, so an overlay. */
  if (kind == BS_BRANCH_AUTO)
    kind = s.m == BS_TREE_NATIVE && bs__snapreg_lower(&s.reg, snapshot_id) == 0 ? BS_BRANCH_NATIVE
                                                                                : BS_BRANCH_OVERLAY;
  bs__branch_rec b;
  rc = bs__snapreg_add_branch_kind(&s.reg, snapshot_id, name, (uint8_t)kind, &b);
  if (rc == BS_ENOT_FOUND)
    return end(st, &s, bs_store_fail(st, rc, ENOENT, "%s: no snapshot %" PRIu64, op, snapshot_id));
  if (rc != 0)
    return end(st, &s, bs_store_fail(st, rc, 0, "%s: \"%s\": %s", op, name, bs_strerror(rc)));
  uint8_t uuid[16];
  if (kind == BS_BRANCH_OVERLAY)
    rc = overlay_tree(st, op, &s, b.id, NULL);
  else if (bs__snapreg_lower(&s.reg, snapshot_id) != 0)
    rc = stacked_copy(st, op, &s, snapshot_id, b.id);
  else if ((rc = st->ops->tree_create(st, s.m, BS_TREE_BRANCH, b.id, snapshot_id, uuid)) != 0)
    rc = prefixed(st, op, rc);
  if (rc != 0)
    return end(st, &s, rc);
  return end(st, &s, made_and_saved(st, op, &s, BS_TREE_BRANCH, b.id));
}

/* The host lower of new branch @id must be reached by the backend as a
 * directory: the backend's answer (UNSUPPORTED where it reaches no host
 * directory, NOT_FOUND, PERMISSION for one inside the store) otherwise. */
static int host_lower_probe(bs_store *st, const char *op, uint64_t id, const char *dir) {
  char *lp = bs__ns_host_lower_path(id, "");
  bs_stat_info si;
  int rc = !lp ? bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op) : st->ops->stat(st, lp, &si);
  free(lp);
  if (rc == 0 && si.kind != BS_KIND_DIR)
    rc = bs_store_fail(st, BS_EINVALID, ENOTDIR, "%s: %s: not a directory", op, dir);
  return rc;
}

int bs__branch_create_host(bs_store *st, const char *dir, const char *name) {
  const char *op = "branch create";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  bs__branch_rec b;
  rc = bs__snapreg_add_branch_kind(&s.reg, BS__SNAPREG_HOST_LOWER, name, BS_BRANCH_OVERLAY, &b);
  if (rc != 0)
    return end(st, &s, bs_store_fail(st, rc, 0, "%s: \"%s\": %s", op, name, bs_strerror(rc)));
  if ((rc = overlay_tree(st, op, &s, b.id, dir)) != 0)
    return end(st, &s, rc);
  if ((rc = host_lower_probe(st, op, b.id, dir)) != 0) {
    rc = prefixed(st, op, rc);
    st->ops->tree_delete(st, s.m, BS_TREE_BRANCH, b.id);
    return end(st, &s, rc);
  }
  return end(st, &s, made_and_saved(st, op, &s, BS_TREE_BRANCH, b.id));
}

int bs__branch_lower_dir(bs_store *st, const char *name, char *buf, size_t cap) {
  const char *op = "branch lower dir";
  bs__snapreg reg;
  int rc = peek(st, op, &reg);
  const bs__branch_rec *b = rc == 0 ? bs__snapreg_find_branch(&reg, name) : NULL;
  uint64_t id = b ? b->id : 0;
  bool host = b && b->kind == BS_BRANCH_OVERLAY && b->snapshot_id == BS__SNAPREG_HOST_LOWER;
  bs__snapreg_free(&reg);
  if (rc != 0)
    return rc;
  if (!b)
    return bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no branch \"%s\"", op, name);
  if (!host)
    return bs_store_fail(st, BS_EINVALID, 0, "%s: \"%s\": its lower is not a host directory", op, name);
  char *p = bs__ns_tree_path(BS_TREE_BRANCH, id, BS__HOST_LOWER_REC);
  char *text = malloc(BS_LOWER_DIR_MAX + 1);
  size_t n = 0;
  rc = !p || !text ? bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op)
                   : st->ops->read(st, p, 0, text, BS_LOWER_DIR_MAX + 1, &n);
  if (rc == 0 && (n < 2 || n > BS_LOWER_DIR_MAX || text[n - 1] != '\n' || memchr(text, '\0', n)))
    rc = bs_store_fail(st, BS_ECORRUPT, 0, "%s: \"%s\": the record of its lower is damaged", op, name);
  else if (rc == 0 && n > cap)
    rc = bs_store_fail(st, BS_ENAME_TOO_LONG, 0, "%s: buffer of %zu bytes is too small", op, cap);
  if (rc == 0) {
    memcpy(buf, text, n - 1);
    buf[n - 1] = '\0';
  } else if (rc != BS_ECORRUPT && rc != BS_ENAME_TOO_LONG && rc != BS_ENO_MEMORY) {
    rc = prefixed(st, op, rc);
  }
  free(p);
  free(text);
  return rc;
}

int bs__branch_delete(bs_store *st, const char *name) {
  const char *op = "branch delete";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  bs__branch_rec b;
  if (bs__snapreg_remove_branch(&s.reg, name, &b) != 0)
    return end(st, &s, bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no branch \"%s\"", op, name));
  if ((rc = may_delete(st, s.m, BS_TREE_BRANCH, b.id)) != 0)
    return end(st, &s, kept(st, op, rc, "branch", name));
  if ((rc = save(st, op, &s)) == 0 && (rc = st->ops->tree_delete(st, s.m, BS_TREE_BRANCH, b.id)) != 0)
    rc = left_behind(st, op, rc);
  return end(st, &s, rc);
}

int bs__branch_parent(bs_store *st, const char *name, uint64_t *snapshot_id) {
  const char *op = "branch parent";
  bs__snapreg reg;
  int rc = peek(st, op, &reg);
  const bs__branch_rec *b = rc == 0 ? bs__snapreg_find_branch(&reg, name) : NULL;
  if (b)
    *snapshot_id = b->snapshot_id;
  else if (rc == 0)
    rc = bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no branch \"%s\"", op, name);
  bs__snapreg_free(&reg);
  return rc;
}

int bs__branch_info(bs_store *st, const char *name, bs_branch_info *out) {
  const char *op = "branch info";
  bs__snapreg reg;
  int rc = peek(st, op, &reg);
  const bs__branch_rec *b = rc == 0 ? bs__snapreg_find_branch(&reg, name) : NULL;
  if (b) {
    memset(out, 0, sizeof(*out));
    out->id = b->id;
    out->snapshot_id = b->snapshot_id;
    out->kind = b->kind == BS_BRANCH_OVERLAY ? BS_BRANCH_OVERLAY : BS_BRANCH_NATIVE;
    out->depth = out->kind != BS_BRANCH_OVERLAY                ? 0
                 : b->snapshot_id == BS__SNAPREG_HOST_LOWER ? 1 /* the host directory */
                                                            : bs__snapreg_depth(&reg, b->snapshot_id);
    snprintf(out->name, sizeof(out->name), "%s", b->name);
  } else if (rc == 0) {
    rc = bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no branch \"%s\"", op, name);
  }
  bs__snapreg_free(&reg);
  return rc;
}
