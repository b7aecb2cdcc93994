/* The snapshot registry (see snapreg.h): the rules of the snapshot API and
 * the registry's file format. */
#include "src/snapreg.h"

#include <stdlib.h>
#include <string.h>

#include "backstore/wire.h"
#include "src/names.h"
#include "src/ssz.h"

/* Version 1 has native branches only; version 2 (written only when an
 * overlay branch exists, so a store without one stays readable by older
 * builds) adds each branch's kind.  Both are read. */
#define MAGIC "BSREG001"
#define MAGIC2 "BSREG002"
#define MAGIC3 "BSREG003"
#define MAGIC_LEN 8
/* BranchRecord = Container { id: uint64, snapshot_id: uint64, name: ByteList[255] };
 * version 2: Container { id: uint64, snapshot_id: uint64, kind: uint8, name: ByteList[255] } */
#define BRANCH_FIXED (8 + 8 + BS__SSZ_OFFSET_SIZE)
#define BRANCH_FIXED2 (8 + 8 + 1 + BS__SSZ_OFFSET_SIZE)

void bs__snapreg_init(bs__snapreg *r) {
  memset(r, 0, sizeof(*r));
  r->next_id = 1;
  r->next_branch_id = 1;
}

void bs__snapreg_free(bs__snapreg *r) {
  free(r->snaps);
  free(r->branches);
  free(r->stacks);
  bs__snapreg_init(r);
}

static size_t snap_index(const bs__snapreg *r, uint64_t id) {
  size_t lo = 0, hi = r->nsnaps;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->snaps[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < r->nsnaps && r->snaps[lo].id == id ? lo : SIZE_MAX;
}

static size_t stack_index(const bs__snapreg *r, uint64_t id) {
  for (size_t i = 0; i < r->nstacks; i++)
    if (r->stacks[i].snapshot_id == id)
      return i;
  return SIZE_MAX;
}

uint64_t bs__snapreg_lower(const bs__snapreg *r, uint64_t id) {
  size_t i = stack_index(r, id);
  return i == SIZE_MAX ? 0 : r->stacks[i].lower_id;
}

unsigned bs__snapreg_depth(const bs__snapreg *r, uint64_t id) {
  unsigned d = 0;
  /* Bounded: a damaged chain (a cycle) stops past the limit. */
  for (; id != 0 && snap_index(r, id) != SIZE_MAX && d <= BS__OV_DEPTH_MAX; id = bs__snapreg_lower(r, id))
    d++;
  return d;
}

unsigned bs__snapreg_chain(const bs__snapreg *r, uint64_t id, uint64_t out[BS__OV_DEPTH_MAX]) {
  unsigned d = 0;
  for (; id != 0 && snap_index(r, id) != SIZE_MAX && d < BS__OV_DEPTH_MAX; id = bs__snapreg_lower(r, id))
    out[d++] = id;
  return d;
}

/* Position of branch @name in name order; *@found says whether it is there. */
static size_t branch_pos(const bs__snapreg *r, const char *name, int *found) {
  size_t lo = 0, hi = r->nbranches;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(r->branches[mid].name, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = lo < r->nbranches && strcmp(r->branches[lo].name, name) == 0;
  return lo;
}

const bs_snapshot_info *bs__snapreg_find_id(const bs__snapreg *r, uint64_t id) {
  size_t i = snap_index(r, id);
  return i == SIZE_MAX ? NULL : &r->snaps[i];
}

const bs_snapshot_info *bs__snapreg_find_name(const bs__snapreg *r, const char *name) {
  for (size_t i = 0; i < r->nsnaps; i++)
    if (strcmp(r->snaps[i].name, name) == 0)
      return &r->snaps[i];
  return NULL;
}

const bs__branch_rec *bs__snapreg_find_branch(const bs__snapreg *r, const char *name) {
  int found;
  size_t at = branch_pos(r, name, &found);
  return found ? &r->branches[at] : NULL;
}

int bs__snapreg_add(bs__snapreg *r, const char *name, const uint8_t uuid[16], uint64_t created_ns,
                    bs_snapshot_info *out) {
  if (bs__snapreg_find_name(r, name))
    return BS_EEXISTS;
  if (r->nsnaps >= BS__SNAPREG_MAX || r->next_id == UINT64_MAX)
    return BS_ENO_SPACE;
  bs_snapshot_info *v = realloc(r->snaps, (r->nsnaps + 1) * sizeof(*v));
  if (!v)
    return BS_ENO_MEMORY;
  r->snaps = v;
  bs_snapshot_info *s = &v[r->nsnaps++];
  memset(s, 0, sizeof(*s));
  s->id = r->next_id++;
  memcpy(s->uuid, uuid, sizeof(s->uuid));
  strcpy(s->name, name);
  s->readonly = true;
  s->created_ns = created_ns;
  if (out)
    *out = *s;
  return BS_OK;
}

int bs__snapreg_add_stacked(bs__snapreg *r, const char *name, const uint8_t uuid[16], uint64_t created_ns,
                            uint64_t lower_id, bs_snapshot_info *out) {
  if (snap_index(r, lower_id) == SIZE_MAX)
    return BS_ENOT_FOUND;
  if (bs__snapreg_depth(r, lower_id) + 1 > BS__OV_DEPTH_MAX)
    return BS_ENO_SPACE;
  bs__stack_rec *v = realloc(r->stacks, (r->nstacks + 1) * sizeof(*v));
  if (!v)
    return BS_ENO_MEMORY;
  r->stacks = v;
  bs_snapshot_info s;
  int rc = bs__snapreg_add(r, name, uuid, created_ns, &s);
  if (rc != 0)
    return rc;
  /* The new id is the largest: snapshot_id order is kept by appending. */
  v[r->nstacks++] = (bs__stack_rec){s.id, lower_id};
  if (out)
    *out = s;
  return BS_OK;
}

int bs__snapreg_remove(bs__snapreg *r, uint64_t id) {
  size_t i = snap_index(r, id);
  if (i == SIZE_MAX)
    return BS_ENOT_FOUND;
  if (r->snaps[i].branch_count > 0)
    return BS_EBUSY;
  for (size_t j = 0; j < r->nstacks; j++)
    if (r->stacks[j].lower_id == id)
      return BS_EBUSY;
  size_t k = stack_index(r, id);
  if (k != SIZE_MAX) {
    memmove(&r->stacks[k], &r->stacks[k + 1], (r->nstacks - k - 1) * sizeof(*r->stacks));
    r->nstacks--;
  }
  memmove(&r->snaps[i], &r->snaps[i + 1], (r->nsnaps - i - 1) * sizeof(*r->snaps));
  r->nsnaps--;
  return BS_OK;
}

int bs__snapreg_add_branch(bs__snapreg *r, uint64_t snapshot_id, const char *name, bs__branch_rec *out) {
  return bs__snapreg_add_branch_kind(r, snapshot_id, name, BS_BRANCH_NATIVE, out);
}

int bs__snapreg_add_branch_kind(bs__snapreg *r, uint64_t snapshot_id, const char *name, uint8_t kind,
                                bs__branch_rec *out) {
  if (kind != BS_BRANCH_NATIVE && kind != BS_BRANCH_OVERLAY)
    return BS_EINVALID;
  bool host = snapshot_id == BS__SNAPREG_HOST_LOWER && kind == BS_BRANCH_OVERLAY;
  size_t si = snap_index(r, snapshot_id);
  if (si == SIZE_MAX && !host)
    return BS_ENOT_FOUND;
  int found;
  size_t at = branch_pos(r, name, &found);
  if (found)
    return BS_EEXISTS;
  if (r->nbranches >= BS__SNAPREG_MAX || r->next_branch_id == UINT64_MAX)
    return BS_ENO_SPACE;
  bs__branch_rec *v = realloc(r->branches, (r->nbranches + 1) * sizeof(*v));
  if (!v)
    return BS_ENO_MEMORY;
  r->branches = v;
  memmove(&v[at + 1], &v[at], (r->nbranches - at) * sizeof(*v));
  r->nbranches++;
  bs__branch_rec *b = &v[at];
  memset(b, 0, sizeof(*b));
  b->id = r->next_branch_id++;
  b->snapshot_id = snapshot_id;
  b->kind = kind;
  strcpy(b->name, name);
  if (!host)
    r->snaps[si].branch_count++;
  if (out)
    *out = *b;
  return BS_OK;
}

int bs__snapreg_remove_branch(bs__snapreg *r, const char *name, bs__branch_rec *out) {
  int found;
  size_t at = branch_pos(r, name, &found);
  if (!found)
    return BS_ENOT_FOUND;
  size_t si = snap_index(r, r->branches[at].snapshot_id);
  if (si != SIZE_MAX && r->snaps[si].branch_count > 0)
    r->snaps[si].branch_count--;
  if (out)
    *out = r->branches[at];
  memmove(&r->branches[at], &r->branches[at + 1], (r->nbranches - at - 1) * sizeof(*r->branches));
  r->nbranches--;
  return BS_OK;
}

int bs__snapreg_check(const bs__snapreg *r) {
  /* Id 0 is never handed out, so a counter at 0 would give it next. */
  if (r->nsnaps > BS__SNAPREG_MAX || r->nbranches > BS__SNAPREG_MAX || r->next_id == 0 ||
      r->next_branch_id == 0)
    return BS_ECORRUPT;
  for (size_t i = 0; i < r->nsnaps; i++) {
    const bs_snapshot_info *s = &r->snaps[i];
    if (s->id == 0 || s->id >= r->next_id || (i > 0 && s->id <= r->snaps[i - 1].id) || !s->readonly ||
        bs__name_validate_held(s->name) != 0)
      return BS_ECORRUPT;
    for (size_t j = 0; j < i; j++)
      if (strcmp(r->snaps[j].name, s->name) == 0)
        return BS_ECORRUPT;
    uint32_t refs = 0;
    for (size_t j = 0; j < r->nbranches; j++)
      refs += r->branches[j].snapshot_id == s->id;
    if (refs != s->branch_count)
      return BS_ECORRUPT;
  }
  for (size_t i = 0; i < r->nbranches; i++) {
    const bs__branch_rec *b = &r->branches[i];
    if (b->id == 0 || b->id >= r->next_branch_id || bs__name_validate_held(b->name) != 0 ||
        (i > 0 && strcmp(r->branches[i - 1].name, b->name) >= 0) ||
        (snap_index(r, b->snapshot_id) == SIZE_MAX &&
         !(b->snapshot_id == BS__SNAPREG_HOST_LOWER && b->kind == BS_BRANCH_OVERLAY)))
      return BS_ECORRUPT;
    for (size_t j = 0; j < i; j++)
      if (r->branches[j].id == b->id)
        return BS_ECORRUPT;
  }
  if (r->nstacks > r->nsnaps)
    return BS_ECORRUPT;
  for (size_t i = 0; i < r->nstacks; i++) {
    const bs__stack_rec *k = &r->stacks[i];
    if ((i > 0 && k->snapshot_id <= r->stacks[i - 1].snapshot_id) || snap_index(r, k->snapshot_id) == SIZE_MAX ||
        snap_index(r, k->lower_id) == SIZE_MAX || k->lower_id >= k->snapshot_id ||
        bs__snapreg_depth(r, k->snapshot_id) > BS__OV_DEPTH_MAX)
      return BS_ECORRUPT;
  }
  return BS_OK;
}

/* ---- file format ------------------------------------------------------ */

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static void put_le(uint8_t *p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static int branch_encode(uint8_t *buf, size_t cap, size_t *len, const bs__branch_rec *b, bool v2) {
  bs__ssz_writer w;
  size_t slot;
  bs__ssz_writer_init(&w, buf, cap);
  bs__ssz_put_u64(&w, b->id);
  bs__ssz_put_u64(&w, b->snapshot_id);
  if (v2) /* a record made without a kind (0) is a native branch */
    bs__ssz_put_u8(&w, b->kind == BS_BRANCH_OVERLAY ? BS_BRANCH_OVERLAY : BS_BRANCH_NATIVE);
  bs__ssz_put_offset(&w, &slot);
  bs__ssz_put_bytelist(&w, slot, b->name, strlen(b->name), BS_NAME_MAX);
  return bs__ssz_writer_finish(&w, len);
}

static int branch_decode(bs__branch_rec *b, const uint8_t *buf, size_t len, bool v2) {
  bs__ssz_reader r;
  const uint8_t *name;
  size_t n;
  memset(b, 0, sizeof(*b));
  b->kind = BS_BRANCH_NATIVE;
  bs__ssz_reader_init(&r, buf, len, v2 ? BRANCH_FIXED2 : BRANCH_FIXED);
  bs__ssz_get_u64(&r, &b->id);
  bs__ssz_get_u64(&r, &b->snapshot_id);
  if (v2)
    bs__ssz_get_u8(&r, &b->kind);
  bs__ssz_get_offset(&r);
  bs__ssz_get_bytelist(&r, BS_NAME_MAX, &name, &n);
  int rc = bs__ssz_reader_finish(&r);
  if (rc == 0 && (n == 0 || memchr(name, 0, n) || (b->kind != BS_BRANCH_NATIVE && b->kind != BS_BRANCH_OVERLAY)))
    rc = BS_EINVALID;
  if (rc == 0)
    memcpy(b->name, name, n);
  return rc;
}

int bs__snapreg_encode(const bs__snapreg *r, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  size_t cap = MAGIC_LEN + 8 + 8 + 4 + r->nsnaps * (4 + BS_SNAPSHOT_INFO_SSZ_MAX) + 4 +
               r->nbranches * (4 + BRANCH_FIXED2 + BS_NAME_MAX) + 4 + r->nstacks * 16 + 8;
  uint8_t *b = malloc(cap);
  if (!b)
    return BS_ENO_MEMORY;
  bool v2 = false;
  for (size_t i = 0; i < r->nbranches; i++)
    v2 |= r->branches[i].kind == BS_BRANCH_OVERLAY;
  bool v3 = r->nstacks > 0;
  v2 |= v3; /* version 3's branch records are version 2's */
  size_t n = 0;
  memcpy(b, v3 ? MAGIC3 : v2 ? MAGIC2 : MAGIC, MAGIC_LEN);
  n += MAGIC_LEN;
  put_le(b + n, r->next_id, 8);
  put_le(b + n + 8, r->next_branch_id, 8);
  put_le(b + n + 16, r->nsnaps, 4);
  n += 20;
  int rc = 0;
  for (size_t i = 0; i < r->nsnaps && rc == 0; i++) {
    size_t m;
    rc = bs_snapshot_info_encode(b + n + 4, cap - n - 4, &m, &r->snaps[i]);
    put_le(b + n, m, 4);
    n += 4 + m;
  }
  put_le(b + n, r->nbranches, 4);
  n += 4;
  for (size_t i = 0; i < r->nbranches && rc == 0; i++) {
    size_t m;
    rc = branch_encode(b + n + 4, cap - n - 4, &m, &r->branches[i], v2);
    put_le(b + n, m, 4);
    n += 4 + m;
  }
  if (v3) {
    put_le(b + n, r->nstacks, 4);
    n += 4;
    for (size_t i = 0; i < r->nstacks; i++, n += 16) {
      put_le(b + n, r->stacks[i].snapshot_id, 8);
      put_le(b + n + 8, r->stacks[i].lower_id, 8);
    }
  }
  if (rc != 0) {
    free(b);
    return BS_ECORRUPT;
  }
  put_le(b + n, fnv1a(b, n), 8);
  *out = b;
  *len = n + 8;
  return BS_OK;
}

/* A cursor over the input; any overrun sets bad. */
typedef struct cursor {
  const uint8_t *p;
  size_t len, pos;
  int bad;
} cursor;

static uint64_t take(cursor *c, size_t n) {
  if (c->bad || c->len - c->pos < n) {
    c->bad = 1;
    return 0;
  }
  uint64_t v = get_le(c->p + c->pos, n);
  c->pos += n;
  return v;
}

/* The next length-prefixed record: a view of it, or NULL. */
static const uint8_t *record(cursor *c, size_t *n) {
  *n = (size_t)take(c, 4);
  if (c->bad || c->len - c->pos < *n) {
    c->bad = 1;
    return NULL;
  }
  const uint8_t *p = c->p + c->pos;
  c->pos += *n;
  return p;
}

static int decode_body(bs__snapreg *r, cursor *c, bool v2, bool v3) {
  r->next_id = take(c, 8);
  r->next_branch_id = take(c, 8);
  uint64_t ns = take(c, 4);
  if (c->bad || ns > BS__SNAPREG_MAX)
    return BS_ECORRUPT;
  if (ns && !(r->snaps = calloc(ns, sizeof(*r->snaps))))
    return BS_ENO_MEMORY;
  for (; r->nsnaps < ns; r->nsnaps++) {
    size_t n;
    const uint8_t *p = record(c, &n);
    if (!p || bs_snapshot_info_decode(&r->snaps[r->nsnaps], p, n) != 0)
      return BS_ECORRUPT;
  }
  uint64_t nb = take(c, 4);
  if (c->bad || nb > BS__SNAPREG_MAX)
    return BS_ECORRUPT;
  if (nb && !(r->branches = calloc(nb, sizeof(*r->branches))))
    return BS_ENO_MEMORY;
  for (; r->nbranches < nb; r->nbranches++) {
    size_t n;
    const uint8_t *p = record(c, &n);
    if (!p || branch_decode(&r->branches[r->nbranches], p, n, v2) != 0)
      return BS_ECORRUPT;
  }
  uint64_t nk = v3 ? take(c, 4) : 0;
  if (c->bad || nk > BS__SNAPREG_MAX || (v3 && nk == 0)) /* version 3 is written only with a stack */
    return BS_ECORRUPT;
  if (nk && !(r->stacks = calloc(nk, sizeof(*r->stacks))))
    return BS_ENO_MEMORY;
  for (; r->nstacks < nk; r->nstacks++) {
    r->stacks[r->nstacks].snapshot_id = take(c, 8);
    r->stacks[r->nstacks].lower_id = take(c, 8);
    if (c->bad)
      return BS_ECORRUPT;
  }
  return c->pos == c->len ? bs__snapreg_check(r) : BS_ECORRUPT;
}

int bs__snapreg_decode(bs__snapreg *r, const uint8_t *buf, size_t len) {
  bs__snapreg_init(r);
  bool v3 = buf && len >= MAGIC_LEN && memcmp(buf, MAGIC3, MAGIC_LEN) == 0;
  bool v2 = v3 || (buf && len >= MAGIC_LEN && memcmp(buf, MAGIC2, MAGIC_LEN) == 0);
  if (!buf || len < MAGIC_LEN + 8 || (!v2 && memcmp(buf, MAGIC, MAGIC_LEN) != 0) ||
      get_le(buf + len - 8, 8) != fnv1a(buf, len - 8))
    return BS_ECORRUPT;
  cursor c = {buf, len - 8, MAGIC_LEN, 0};
  int rc = decode_body(r, &c, v2, v3);
  if (rc != 0)
    bs__snapreg_free(r);
  return rc;
}

void bs__uuid_v4(uint8_t uuid[16], uint64_t (*r64)(void *ctx), void *ctx) {
  for (size_t i = 0; i < 16; i += 8)
    put_le(uuid + i, r64(ctx), 8);
  uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* version 4 */
  uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}
