/* Fuzz target: sim volume images (bs_sim_load_buf), the one parser of files
 * a user hands to bslab (--image).
 *
 * The input is a whole image.  Its length field and checksum are recomputed
 * before loading, so mutations reach the record parser instead of dying at
 * the checksum (the raw input is loaded too, so the header checks run on
 * fuzzed bytes as well).  The deliberate-defect byte is cleared: an image
 * saved with a sim bug on may hold what bs_check() rightly reports.
 * Whatever loads must pass bs_check() (the loader promises that) and must
 * survive a walk of its namespace and snapshots. */
#include "backstore/sim.h"
#include "fuzz/fuzz.h"
#include "sim/image.h"

static int count_entry(void *ctx, const char *name, bs_file_kind kind) {
  (void)name;
  (void)kind;
  ++*(unsigned *)ctx;
  return 0;
}

static void poke_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bs_store *st = NULL;
  /* The raw input: the loader must never crash on it, fixed up or not. */
  if (bs_sim_load_buf(&st, data, size) == BS_OK)
    bs_close(st);
  if (size < BS__SIM_IMAGE_HEADER + 8 || size > (1u << 20))
    return 0;

  uint8_t *img = malloc(size);
  if (!img)
    return 0;
  memcpy(img, data, size);
  poke_u64(img + 16, size - BS__SIM_IMAGE_HEADER - 8);
  img[BS__SIM_IMAGE_HEADER + 1] = BS_SIM_BUG_NONE;
  poke_u64(img + size - 8, bs__sim_fnv1a(img, size - 8));
  int rc = bs_sim_load_buf(&st, img, size);
  free(img);
  if (rc != BS_OK)
    return 0;

  if (bs_check(st) != BS_OK) {
    fprintf(stderr, "sim_image: a loaded image fails bs_check: %s\n", bs_last_message(st));
    abort();
  }
  unsigned entries = 0;
  bs_stat_info si;
  bs_snapshot_info *snaps = NULL;
  size_t n = 0;
  (void)bs_readdir(st, "/", count_entry, &entries);
  (void)bs_stat(st, "/", &si);
  if (bs_snapshot_list(st, &snaps, &n) == BS_OK) {
    for (size_t i = 0; i < n; i++) {
      char path[BS_NAME_MAX + 32];
      if (bs_snapshot_path(path, sizeof(path), snaps[i].name) == BS_OK)
        (void)bs_readdir(st, path, count_entry, &entries);
    }
    free(snaps);
  }
  bs_close(st);
  return 0;
}
