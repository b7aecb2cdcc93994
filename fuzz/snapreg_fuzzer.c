/* Fuzz target: the snapshot registry file (bs__snapreg_decode, src/snapreg.h),
 * which the real backend reads from <root>/.bs/registry.
 *
 * The input is a whole registry file.  It is decoded as it is, and again with
 * its trailing FNV-1a checksum recomputed, so mutations reach the record
 * parser instead of all dying at the checksum.  Whatever decodes must pass
 * bs__snapreg_check (the decoder promises it), re-encode to exactly the
 * input (one encoding per registry), find every record by id and name, and
 * keep the API's rules through an add / branch / remove round whose result
 * encodes and decodes again. */
#include "fuzz/fuzz.h"
#include "src/snapreg.h"

/* Past this the fixed-up decode is skipped: the invariant check is quadratic
 * in the number of snapshots, and a registry this size is no real one. */
#define FIXUP_MAX (1u << 16)

static void fail(const char *why, int rc) {
  fprintf(stderr, "snapreg: %s (rc %d)\n", why, rc);
  abort();
}

/* The checksum of the format: FNV-1a 64 of every byte before it. */
static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static void check_lookups(const bs__snapreg *r) {
  for (size_t i = 0; i < r->nsnaps; i++)
    if (bs__snapreg_find_id(r, r->snaps[i].id) != &r->snaps[i] ||
        bs__snapreg_find_name(r, r->snaps[i].name) != &r->snaps[i])
      fail("a decoded snapshot is not found by its id and name", 0);
  for (size_t i = 0; i < r->nbranches; i++)
    if (bs__snapreg_find_branch(r, r->branches[i].name) != &r->branches[i])
      fail("a decoded branch is not found by its name", 0);
}

/* A fresh snapshot and a branch of it, on top of what decoded: ids come from
 * the counters, the branch pins the snapshot, and undoing both restores the
 * registry's encoding except for the counters, which only grow. */
static void check_round(bs__snapreg *r, const uint8_t *enc, size_t enc_len) {
  static const uint8_t uuid[16] = {1};
  char name[32];
  unsigned k = 0;
  do
    snprintf(name, sizeof(name), "fuzz-%u", k++);
  while (bs__snapreg_find_name(r, name) || bs__snapreg_find_branch(r, name));

  uint64_t next = r->next_id, next_branch = r->next_branch_id;
  bs_snapshot_info s;
  int rc = bs__snapreg_add(r, name, uuid, 1, &s);
  if (r->nsnaps >= BS__SNAPREG_MAX || next == UINT64_MAX) {
    if (rc != BS_ENO_SPACE)
      fail("a full registry takes another snapshot", rc);
    return;
  }
  if (rc != BS_OK || s.id != next || r->next_id != next + 1)
    fail("a new snapshot does not get next_id", rc);
  if ((rc = bs__snapreg_add(r, name, uuid, 2, NULL)) != BS_EEXISTS)
    fail("a taken snapshot name is not EXISTS", rc);
  bs__branch_rec b;
  rc = bs__snapreg_add_branch(r, s.id, name, &b);
  if (next_branch == UINT64_MAX || r->nbranches > BS__SNAPREG_MAX - 1) {
    if (rc != BS_ENO_SPACE)
      fail("a full registry takes another branch", rc);
  } else {
    if (rc != BS_OK || b.id != next_branch || b.snapshot_id != s.id)
      fail("a new branch does not get next_branch_id on its snapshot", rc);
    if ((rc = bs__snapreg_check(r)) != BS_OK)
      fail("the registry breaks an invariant after a branch", rc);
    if ((rc = bs__snapreg_remove(r, s.id)) != BS_EBUSY)
      fail("a snapshot with a branch is removed", rc);
    if ((rc = bs__snapreg_remove_branch(r, name, NULL)) != BS_OK)
      fail("the new branch cannot be removed", rc);
  }
  if ((rc = bs__snapreg_remove(r, s.id)) != BS_OK || (rc = bs__snapreg_check(r)) != BS_OK)
    fail("the new snapshot cannot be removed cleanly", rc);
  if (bs__snapreg_find_id(r, s.id) || bs__snapreg_find_name(r, name))
    fail("a removed snapshot is still found", 0);

  /* Counters aside, the registry is what decoded: same bytes once the two
   * counters (after the magic) are put back. */
  uint8_t *again = NULL;
  size_t again_len = 0;
  if ((rc = bs__snapreg_encode(r, &again, &again_len)) != BS_OK)
    fail("the registry does not encode after the round", rc);
  bs__snapreg back;
  if ((rc = bs__snapreg_decode(&back, again, again_len)) != BS_OK)
    fail("the registry after the round does not decode", rc);
  if (back.next_id <= next || back.nsnaps != r->nsnaps || back.nbranches != r->nbranches)
    fail("the counters went back or records were lost", 0);
  bs__snapreg_free(&back);
  if (again_len != enc_len || memcmp(again + 24, enc + 24, enc_len - 32) != 0)
    fail("an add and remove round changed the registry's records", 0);
  free(again);
}

static void run(const uint8_t *data, size_t size) {
  bs__snapreg r;
  if (bs__snapreg_decode(&r, data, size) != BS_OK)
    return;
  int rc = bs__snapreg_check(&r);
  if (rc != BS_OK)
    fail("a decoded registry fails bs__snapreg_check", rc);
  uint8_t *enc = NULL;
  size_t n = 0;
  rc = bs__snapreg_encode(&r, &enc, &n);
  bs_fuzz_same_bytes("snapreg", rc, data, size, enc, n);
  check_lookups(&r);
  check_round(&r, enc, n);
  free(enc);
  bs__snapreg_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(data, size);
  if (size < 16 || size > FIXUP_MAX)
    return 0;
  uint8_t *fixed = malloc(size);
  if (!fixed)
    return 0;
  memcpy(fixed, data, size);
  uint64_t h = fnv1a(fixed, size - 8);
  for (int i = 0; i < 8; i++)
    fixed[size - 8 + i] = (uint8_t)(h >> (8 * i));
  run(fixed, size);
  free(fixed);
  return 0;
}
