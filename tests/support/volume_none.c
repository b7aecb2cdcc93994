/* The real-volume fixture where it cannot exist (not Linux): every volume is
 * unavailable, so suites report their real targets as skipped with this
 * reason.  macOS runs its real checks in .github/workflows/macos.yml. */
#include <stdio.h>

#include "backstore.h"
#include "tests/support/volume.h"

static const char why[] = "real test volumes are made on Linux only (loop devices, mkfs)";

const char *bs_vol_unavailable(void) { return why; }
const char *bs_vol_last_error(void) { return why; }
const char *bs_vol_root(void) { return ""; }

int bs_vol_create(bs_vol *out, const char *fs, uint64_t size) {
  (void)out;
  (void)fs;
  (void)size;
  return BS_EUNSUPPORTED;
}

int bs_vol_create_owned(bs_vol *out, const char *fs, uint64_t size, pid_t owner) {
  (void)owner;
  return bs_vol_create(out, fs, size);
}

void bs_vol_destroy(bs_vol *v) { (void)v; }

int bs_vol_destroy_dir(const char *dir) {
  (void)dir;
  return BS_EUNSUPPORTED;
}

int bs_vol_reap_orphans(FILE *log) {
  (void)log;
  return 0;
}

int bs_vol_list(FILE *out) {
  (void)out;
  return 0;
}

int bs_vol_make_subroot(const char *tag, char *out, size_t cap) {
  (void)tag;
  (void)out;
  (void)cap;
  return BS_EUNSUPPORTED;
}

const bs_vol *bs_vol_shared(const char *fs) {
  (void)fs;
  return NULL;
}
