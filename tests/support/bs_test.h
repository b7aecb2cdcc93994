/* Shared support for the cmocka suites: assertions that print error names,
 * seeded iteration counts, and the list of targets (sim profiles, real
 * volumes, darwin.c through its fake) that one test body runs against. */
#ifndef BS_TEST_H
#define BS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backstore.h"
#include "backstore/backend.h"

/* Fail the test unless @expr returns 0; the message names the error. */
#define assert_bs_ok(expr)                                                              \
  do {                                                                                  \
    int bs_rc_ = (expr);                                                                \
    if (bs_rc_ != 0)                                                                    \
      fail_msg("%s returned %s (%d)", #expr, bs_err_name(bs_rc_), bs_rc_);              \
  } while (0)

/* Fail the test unless @expr returns the error @code. */
#define assert_bs_err(expr, code)                                                       \
  do {                                                                                  \
    int bs_rc_ = (expr);                                                                \
    if (bs_rc_ != (code))                                                               \
      fail_msg("%s returned %s, expected %s", #expr, bs_err_name(bs_rc_), bs_err_name(code)); \
  } while (0)

/* What kind of store a target is. */
typedef enum bs_target_kind {
  BS_TARGET_SIM = 1,    /* a sim profile: space and clocks are exact */
  BS_TARGET_REAL,       /* the real backend on a real loop-mounted (or tmpfs) volume */
  BS_TARGET_DARWIN,     /* darwin.c's logic through its seam (tests/support/darwin_fake.c) */
} bs_target_kind;

/* A place a test body can run: a label for messages and how to open a fresh store. */
typedef struct bs_target {
  const char *label;     /* "sim:apfs", "real:btrfs", "darwin:apfs" */
  const char *backend;   /* "sim", "real", "darwin-fake" */
  const char *profile;   /* "apfs" (for real: the filesystem, "btrfs") */
  bs_caps caps;          /* what the target promises */
  bs_target_kind kind;
  const char *root;      /* real: host directory of the store (fresh); else NULL */
  uint32_t open_flags;   /* bs_open_opts.flags the store was opened with */
  bool ramdisk;          /* real: on a RAM disk of its own (bs_ramdisk_create), not a shared volume */
} bs_target;

/* Which targets a body wants, decided from their capabilities. */
typedef bool (*bs_target_pred)(const bs_caps *caps);
/* A test body: runs once per matching target, on a fresh store. */
typedef void (*bs_target_body)(bs_store *st, const bs_target *t, void *ctx);

/* Run @body on a fresh store of every sim profile for which @want is true
 * (NULL: all), and only there: for what only the sim has (exact block
 * accounting, power loss, images, seeded clocks and uuids).  Asserts that at
 * least one profile ran. @seed seeds each store. */
void bs_test_each_sim_profile(bs_target_pred want, bs_target_body body, void *ctx, uint64_t seed);

/* The same over every backend that can run it: the sim profiles, the real
 * backend on a fresh directory of a btrfs, xfs, ext4 and tmpfs volume (each
 * reported as skipped, with the reason, where volumes cannot be made here;
 * $BS_REQUIRE_REAL=1 makes that a failure), and darwin.c through its fake
 * seam on the sim's apfs and hfs. */
void bs_test_each_backend(bs_target_pred want, bs_target_body body, void *ctx, uint64_t seed);
/* The same over the kinds in mask @kinds (1u << BS_TARGET_* bits). */
void bs_test_each_backend_of(unsigned kinds, bs_target_pred want, bs_target_body body, void *ctx,
                             uint64_t seed);
#define BS_KINDS(k) (1u << (k))
#define BS_KINDS_ALL (BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL) | BS_KINDS(BS_TARGET_DARWIN))

/* Which targets a body wants, decided from the whole target (kind,
 * filesystem, open flags) where capabilities alone cannot tell. */
typedef bool (*bs_target_filter)(const bs_target *t);
/* Run @body on every target of the kinds in @kinds for which @want is true:
 * those of bs_test_each_backend, and real ext4 and tmpfs stores opened with
 * BS_OPEN_SNAPSHOT_COPY ("real:ext4+copy").  Asserts that one target ran. */
void bs_test_each_backend_if(unsigned kinds, bs_target_filter want, bs_target_body body, void *ctx,
                             uint64_t seed);
/* True where the snapshot API works on @t (docs/snapshots.md): the sim
 * profiles with native snapshots (apfs, btrfs); real btrfs (native), xfs
 * (reflink-tree fallback), ext4 and tmpfs opened with BS_OPEN_SNAPSHOT_COPY;
 * darwin apfs (native, through the fake seam). */
bool bs_test_snapshots_work(const bs_target *t);
/* True where the snapshot API answers BS_EUNSUPPORTED on @t. */
bool bs_test_snapshots_unsupported(const bs_target *t);

/* Close @st, a store of @t (the one a body was given, or one from
 * bs_test_open_fresh), and open it again as a new process would: a real
 * store on the same root and open flags, a sim store through an image
 * (bs_sim_save + bs_sim_load).  The caller uses the returned store from then
 * on; it is closed like the one it replaces (by the runner, or by
 * bs_test_close_fresh). */
bs_store *bs_test_reopen(const bs_target *t, bs_store *st);

/* Open a fresh store like the one @t names (a new sim store, or a new empty
 * directory on @t's real volume); close with bs_test_close_fresh. */
bs_store *bs_test_open_fresh(const bs_target *t, uint64_t seed);
void bs_test_close_fresh(bs_store *st);
/* Host directory of real store @st from bs_test_open_fresh (NULL: not one). */
const char *bs_test_fresh_root(const bs_store *st);

/* Why real volumes cannot be made here (NULL: they can).  Fails the test
 * instead when $BS_REQUIRE_REAL is 1 (CI, which must run them). */
const char *bs_test_real_unavailable(void);
/* Skip the running test, saying why, where real volumes cannot be made (a
 * failure instead under $BS_REQUIRE_REAL=1, as bs_test_real_unavailable). */
#define BS_TEST_SKIP_WITHOUT_REAL()                                                     \
  do {                                                                                  \
    const char *why_ = bs_test_real_unavailable();                                      \
    if (why_) {                                                                         \
      print_message("    [ skipped  ] real volumes: %s\n", why_);                       \
      skip();                                                                           \
    }                                                                                   \
  } while (0)
#ifdef FIU_ENABLE
/* Fail the @nth call of libfiu point @point with errno @err (an external
 * trigger with a countdown, so the failure lands mid-operation); disable
 * it with fiu_disable(@point). */
void bs_test_fail_nth(const char *point, int nth, int err);
/* Whether the point armed by the last bs_test_fail_nth has reached its
 * @nth call (it failed it). */
bool bs_test_fault_fired(void);
#endif
struct bs_vol;
/* The shared real volume of filesystem @fs (tests/support/volume.h): skips
 * the test without real volumes, fails it if the volume cannot be made. */
const struct bs_vol *bs_test_volume(const char *fs);

/* True where space accounting is exact (the sim). */
bool bs_test_exact_space(const bs_target *t);
/* bs_check, where the backend has one (the sim); elsewhere nothing. */
void bs_test_check(bs_store *st, const bs_target *t);
/* Host path of store path @path on real target @t into @buf (cap 4096). */
void bs_test_host_path(const bs_target *t, const char *path, char *buf);
/* Entries of host directory @dir, "." and ".." not counted; fails the test
 * if it cannot be read. */
size_t bs_test_host_entries(const char *dir);

/* Physical layout of a real file, from FIEMAP (synced first). */
typedef struct bs_test_extent {
  uint64_t logical, physical, length;
  uint32_t flags; /* FIEMAP_EXTENT_* */
} bs_test_extent;
#define BS_TEST_EXTENTS_MAX 512
#define BS_TEST_EXTENT_SHARED 0x2000u /* FIEMAP_EXTENT_SHARED */
/* Extents of host file @host_path into @out; returns how many. */
size_t bs_test_fiemap(const char *host_path, bs_test_extent out[BS_TEST_EXTENTS_MAX]);
/* Bytes of @host_path in extents marked shared. */
uint64_t bs_test_shared_bytes(const char *host_path);

/* Predicates on capabilities for the runners above. */
bool bs_want_reflink(const bs_caps *c);
bool bs_want_no_reflink(const bs_caps *c);
bool bs_want_snapshots(const bs_caps *c);
bool bs_want_no_snapshots(const bs_caps *c);
bool bs_want_all(const bs_caps *c);

/* Open a fresh sim store on @profile with @seed; fails the test on error. */
bs_store *bs_test_open_sim(const char *profile, uint64_t seed);
/* The same on a volume of @capacity bytes (0: the default), for tests that
 * need to fill it. */
bs_store *bs_test_open_sim_sized(const char *profile, uint64_t seed, uint64_t capacity);

/* The next number of the seeded generator whose state is *@state
 * (splitmix64): the suites' own, independent of the library's, so that a
 * seed replays a case whatever the library draws. */
uint64_t bs_test_rand(uint64_t *state);
/* Base seed of property tests: $BS_TEST_SEED or a fixed default. */
uint64_t bs_test_seed(void);
/* A positive count from the environment variable @name, else @dflt. */
int bs_test_env_count(const char *name, int dflt);
/* Iterations of property tests: $BS_TEST_ITER or @dflt. */
int bs_test_iterations(int dflt);
/* Read golden file @name from $BS_GOLDEN_DIR (default "golden") into @buf;
 * fails the test if it is missing or longer than @cap.  Returns its size. */
size_t bs_test_golden_load(const char *name, uint8_t *buf, size_t cap);
/* Read tests/data/@name ($BS_TEST_DATA_DIR instead of tests/data) into a
 * malloc'd NUL-terminated buffer; *@len gets its size.  Fails the test if
 * it is missing. */
char *bs_test_data_load(const char *name, size_t *len);
/* Path of the bslab binary under test: $BSLAB or build/bslab. */
const char *bs_test_bslab(void);

/* The @len bytes bs_test_put writes for @fill (byte i = fill + i*7), so a
 * test can state what a file must hold; malloc'd. */
uint8_t *bs_test_pattern(size_t len, uint8_t fill);
/* Create @path with the @len bytes of bs_test_pattern(@len, @fill). */
void bs_test_put(bs_store *st, const char *path, size_t len, uint8_t fill);
/* Read all of @path into a malloc'd buffer; *len gets the size. */
uint8_t *bs_test_slurp(bs_store *st, const char *path, size_t *len);
/* Fail unless @path holds exactly the @len bytes of @want. */
void bs_test_assert_content(bs_store *st, const char *path, const uint8_t *want, size_t len);
/* Fail unless @path holds exactly what bs_test_put(@len, @fill) wrote. */
void bs_test_assert_put(bs_store *st, const char *path, size_t len, uint8_t fill);
/* Create @path (0644) holding @text. */
void bs_test_put_text(bs_store *st, const char *path, const char *text);
/* Fail unless @path holds exactly @text. */
void bs_test_assert_text(bs_store *st, const char *path, const char *text);

/* Space accounting of @st; fails the test on error. */
bs_usage bs_test_usage(bs_store *st);
/* Room for a bs_test_listing: enough for every directory the suites build. */
#define BS_TEST_LISTING_MAX 1024
/* The entries of directory @path as one string, "name;" for a file and
 * "name/;" for a directory, in readdir order: one assert checks a listing. */
void bs_test_listing(bs_store *st, const char *path, char out[BS_TEST_LISTING_MAX]);
/* Fail unless bs_test_listing of @path is @want. */
void bs_test_assert_listing(bs_store *st, const char *path, const char *want);

#endif
