/* Portable parsers of `diskutil apfs listSnapshots` (text and -plist) and
 * `diskutil apfs deleteSnapshot` output (DESIGN §7), used by darwin_snap.c
 * on macOS and in the Linux tests; fuzzed by fuzz/diskutil_*_fuzzer.c.
 *
 * Every parser takes the whole tool result (exit status, stdout, stderr) and
 * returns 0, BS_ETOOL_FAILED when the tool exited non-zero or was killed
 * (the message says so and quotes the first line of its stderr, or of its
 * stdout when stderr is empty), BS_EPARSE when the output is not what the
 * tool prints, or BS_ENO_MEMORY.  No partial results: on failure *out is
 * NULL and *count 0.  docs/darwin.md describes both formats. */
#ifndef BS_REAL_PARSE_DISKUTIL_H
#define BS_REAL_PARSE_DISKUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "real/tool.h"

/* Longest APFS snapshot name we accept (bs_name_validate's limit). */
#define BS__APFS_SNAP_NAME_MAX 255

/* One snapshot of `diskutil apfs listSnapshots`. */
typedef struct bs__apfs_snap {
  char name[BS__APFS_SNAP_NAME_MAX + 1]; /* passes bs_name_validate(), no control characters; or "" */
  bool foreign_name;                     /* the volume's name is not one we can carry: name is "" */
  uint8_t uuid[16];                      /* "Snapshot UUID", RFC 4122 byte order */
  uint64_t xid;                          /* the transaction id of the snapshot */
  bool purgeable;                        /* "Purgeable: Yes" (false when absent) */
} bs__apfs_snap;

/* A list being built (shared by the two parsers). */
typedef struct bs__apfs_snaps {
  bs__apfs_snap *v;
  size_t n, cap;
} bs__apfs_snaps;
/* Append a zeroed entry; NULL when out of memory. */
bs__apfs_snap *bs__apfs_snaps_add(bs__apfs_snaps *a);
/* Copy a name of @n bytes into @s when it is one we can carry:
 * bs_name_validate(), and no control character (NUL, TAB, CR, LF, ... DEL),
 * which neither output form carries intact.  Any other name (another
 * program's snapshot may have one) leaves s->name "" and sets
 * s->foreign_name: such a snapshot is listed but can never be one of ours
 * (com.backstore.<hex>), so it must not fail the whole listing. */
void bs__apfs_snap_set_name(bs__apfs_snap *s, const char *name, size_t n);
/* BS_EPARSE naming @what when two entries share a UUID, else 0. */
int bs__apfs_snaps_unique(const bs__apfs_snaps *a, const char *what, char *msg, size_t cap);

/* `diskutil apfs listSnapshots <vol>`: the text form. */
int bs__diskutil_snapshots_text(const bs__tool_result *r, bs__apfs_snap **out, size_t *count,
                                char *msg, size_t cap);
/* `diskutil apfs listSnapshots <vol> -plist`, read with libplist.  Without
 * libplist (BS_HAVE_PLIST undefined) BS_EUNSUPPORTED. */
int bs__diskutil_snapshots_plist(const bs__tool_result *r, bs__apfs_snap **out, size_t *count,
                                 char *msg, size_t cap);
/* True when this build reads -plist output (libplist was found). */
bool bs__diskutil_have_plist(void);
/* `diskutil apfs deleteSnapshot <vol> -uuid <uuid>`: 0 when it says it
 * finished. */
int bs__diskutil_delete(const bs__tool_result *r, char *msg, size_t cap);

/* The two listSnapshots forms as diskutil prints them, for the Linux fake
 * and the fuzzers' round trip: @dev is the volume ("disk3s1").  A malloc'd
 * NUL-terminated string, or NULL when out of memory. */
char *bs__diskutil_snapshots_write_text(const char *dev, const bs__apfs_snap *s, size_t count);
char *bs__diskutil_snapshots_write_plist(const bs__apfs_snap *s, size_t count);

/* "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" (either case) of exactly @len bytes. */
int bs__uuid_parse(const char *s, size_t len, uint8_t out[16]);
/* Upper case, as diskutil prints it; @out has 37 bytes. */
void bs__uuid_format(const uint8_t uuid[16], char out[37]);

#endif
