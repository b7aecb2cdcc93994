/* bslab prints success only once the change is durable (docs/bslab.1,
 * "Volumes and image files"): with the image on a full filesystem every
 * verb that changes it fails with exit status 2 and NO_SPACE, prints nothing
 * on standard output, and leaves the image byte for byte as it was (and no
 * temporary or lock file next to it).  The filesystem is a small tmpfs of
 * the real-volume fixture (tests/support/volume.h), made and destroyed
 * around the test. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"

#define VOL_BYTES (4u << 20)

static bs_vol vol;

/* Write @path until the filesystem is full. */
static void fill(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  static char block[65536];
  memset(block, 0x5a, sizeof(block));
  for (size_t n = sizeof(block); n > 0;) { /* big writes, then smaller ones for the last bytes */
    ssize_t k = write(fd, block, n);
    if (k < 0 && errno == ENOSPC)
      n /= 2;
    else
      assert_true(k > 0);
  }
  close(fd);
}

/* The names in directory @dir other than "." and "..", sorted, one a line. */
static char *listing(const char *dir) {
  struct dirent **ents = NULL;
  int n = scandir(dir, &ents, NULL, alphasort);
  assert_true(n >= 0);
  char *out = calloc(1, 4096);
  assert_non_null(out);
  for (int i = 0; i < n; i++) {
    if (strcmp(ents[i]->d_name, ".") != 0 && strcmp(ents[i]->d_name, "..") != 0 &&
        strlen(out) + strlen(ents[i]->d_name) + 2 < 4096)
      strcat(strcat(out, ents[i]->d_name), "\n");
    free(ents[i]);
  }
  free(ents);
  return out;
}

static void durable_success_only_after_the_image_is_saved(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  char img[4200], host[256], filler[4200], fresh[4200];
  snprintf(img, sizeof(img), "%s/v.img", vol.mnt);
  snprintf(filler, sizeof(filler), "%s/filler", vol.mnt);
  snprintf(fresh, sizeof(fresh), "%s/fresh.img", vol.mnt);
  snprintf(host, sizeof(host), "%s/data", bs_cli_tmp());
  bs_cli_write_text(host, "some bytes for the volume\n");
  EXPECT(0, NULL, NULL, "--image", img, "init");
  EXPECT(0, NULL, NULL, "--image", img, "put", host, "/f");
  EXPECT(0, NULL, NULL, "--image", img, "snapshot", "create", "base");
  EXPECT(0, NULL, NULL, "--image", img, "snapshot", "create", "lone");
  EXPECT(0, NULL, NULL, "--image", img, "branch", "create", "base", "b1");
  size_t want_len = 0;
  char *want = bs_cli_slurp(img, &want_len);
  fill(filler);
  char *files = listing(vol.mnt);
  const char *const verbs[][8] = {
    {"snapshot", "create", "s"},
    {"snapshot", "create", "--format", "json", "s"},
    {"snapshot", "create", "--format", "hex", "s"},
    {"snapshot", "delete", "lone"},
    {"branch", "create", "base", "b2"},
    {"branch", "delete", "b1"},
    {"branch", "delete", "base", "b1"},
    {"put", host, "/g"},
    {"clone", "/f", "/f2"},
    {"mkdir", "/d"},
    {"rm", "/f"},
  };
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
    const char *const *v = verbs[i];
    bs_cli_run r;
    BSLAB(&r, "--image", img, v[0], v[1], v[2], v[3], v[4]);
    char what[128];
    snprintf(what, sizeof(what), "%s %s %s on a full filesystem", v[0], v[1], v[2] ? v[2] : "");
    bs_cli_expect_status(&r, 2, what);
    if (r.outlen != 0)
      fail_msg("%s: printed \"%s\" though the change was not saved", what, r.out);
    bs_cli_expect_contains(r.err, "(NO_SPACE)", what);
    bs_cli_expect_contains(r.err, "the image is as it was", what);
    bs_cli_free(&r);
    size_t len = 0;
    char *now = bs_cli_slurp(img, &len);
    if (len != want_len || memcmp(now, want, len) != 0)
      fail_msg("%s: the image changed", what);
    free(now);
    char *after = listing(vol.mnt);
    if (strcmp(after, files) != 0)
      fail_msg("%s: left files next to the image:\n%s\nbefore:\n%s", what, after, files);
    free(after);
  }
  /* init makes nothing either. */
  bs_cli_run r;
  BSLAB(&r, "--image", fresh, "init");
  bs_cli_expect_status(&r, 2, "init on a full filesystem");
  assert_int_equal((int)r.outlen, 0);
  bs_cli_free(&r);
  assert_int_not_equal(access(fresh, F_OK), 0);
  /* With room again, the same verb works and says so: it was the space. */
  assert_int_equal(unlink(filler), 0);
  EXPECT(0, "created snapshot s: id ", NULL, "--image", img, "snapshot", "create", "s");
  free(files);
  free(want);
}

static int setup(void **state) {
  (void)state;
  if (bs_cli_setup("durable") != 0)
    return -1;
  memset(&vol, 0, sizeof(vol));
  if (bs_vol_unavailable())
    return 0; /* the test skips */
  if (bs_vol_create(&vol, "tmpfs", VOL_BYTES) != 0) {
    fprintf(stderr, "tmpfs volume: %s\n", bs_vol_last_error());
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  bs_vol_destroy(&vol);
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(durable_success_only_after_the_image_is_saved),
  };
  return cmocka_run_group_tests_name("durable_success", tests, setup, teardown);
}
