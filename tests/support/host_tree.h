/* A small host directory tree with one of everything (directories, files
 * with an xattr, owner and mode, a symlink, a FIFO, a device node, set
 * times), and the comparison of one entry of two trees: for the suites that
 * copy, clone or snapshot whole trees (test_real.c, test_linux_snap.c). */
#ifndef BS_TEST_HOST_TREE_H
#define BS_TEST_HOST_TREE_H

#include <stddef.h>
#include <stdint.h>

/* The relative paths bs_test_fill_tree makes, "." (the root) first. */
extern const char *const bs_test_tree_entries[];
#define BS_TEST_TREE_ENTRIES 8

/* Make directory @root (mode 0750) and fill it. */
void bs_test_make_tree(const char *root);
/* Fill the existing directory @root with the entries. */
void bs_test_fill_tree(const char *root);
/* Fail unless @rel is the same in trees @a and @b: kind, mode, owner,
 * device, mtime, bytes of a file, and xattr user.tag; and is not the same
 * inode (a copy, not a hard link). */
void bs_test_same_entry(const char *a, const char *b, const char *rel);
/* Write @text to host file @path (created or truncated). */
void bs_test_write_host(const char *path, const char *text);
/* All of host file @path (up to 64 KiB), malloc'd; *len gets the size. */
uint8_t *bs_test_read_host(const char *path, size_t *len);

#endif
