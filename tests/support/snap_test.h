/* Support for the snapshot suites (tests/test_snapshot_*.c): a sample tree
 * to snapshot, a deep comparison of two store trees, and small checks of the
 * snapshot list that every suite repeats. */
#ifndef BS_SNAP_TEST_H
#define BS_SNAP_TEST_H

#include "tests/support/bs_test.h"

/* Build a small tree under directory @dir ("" for the store root): files of
 * several sizes and modes, nested directories, an xattr where @t has them.
 * @fill varies the contents, so two calls can make different trees. */
void bs_snap_test_make_tree(bs_store *st, const bs_target *t, const char *dir, uint8_t fill);

/* Fail unless the trees at @a and @b hold the same entries with the same
 * kind, mode, owner, size, mtime (below the top), contents and xattrs.  A
 * top-level ".bs" in either is left out (the store root has one). */
void bs_snap_test_assert_same_tree(bs_store *st, const char *a, const char *b);

/* Snapshots listed on @st; the list is freed. */
size_t bs_snap_test_count(bs_store *st);

/* Entries ("." and ".." left out) of the host directory under real target
 * @t's root at @rel ("/.bs/snap": the snapshot trees). */
size_t bs_snap_test_host_entries(const bs_target *t, const char *rel);

/* Fail unless the host trees below real target @t's .bs are exactly the
 * ones @st lists: one per snapshot in /.bs/snap, one per branch reference
 * in /.bs/branch.  @what names the case in the failure. */
void bs_snap_test_assert_host_trees(bs_store *st, const bs_target *t, const char *what);

/* Fail unless @u is a version-4 RFC 4122 UUID, where backstore made it (the
 * sim, the fallbacks); a filesystem's own snapshot UUID (btrfs, APFS) has
 * the layout the filesystem chose and is only checked to be non-zero. */
void bs_snap_test_assert_uuid(const bs_target *t, const uint8_t u[16]);

#endif
