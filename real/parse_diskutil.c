/* diskutil output: exit status, the text form of `apfs listSnapshots`,
 * `apfs deleteSnapshot`, and the writers the fake and the fuzzers use (see
 * parse_diskutil.h).  The -plist form is in parse_diskutil_plist.c.
 *
 * The text form (macOS 10.13 to 14; tests/data/diskutil/ has samples):
 *
 *   Snapshots for disk3s1 (2 found)       or   No snapshots for disk3s1
 *   |
 *   +-- 0CB5ACBF-1477-4AF7-B59A-91ADD6D2C6AD
 *   |   Name:        com.apple.os.update-5203530F8BB2
 *   |   XID:         3661898
 *   |   Purgeable:   No
 *   |
 *   +-- B3B9E4BD-6235-4915-A953-A72694CAF754
 *       Name:        com.backstore.snap
 *       XID:         4240875
 *       Purgeable:   Yes
 *       NOTE:        This snapshot limits the minimum size of APFS Container disk3
 *
 * A block is "+-- <UUID>" then "Key: value" lines, each behind "|" or
 * spaces (the last block has no "|").  Name and XID are required, Purgeable
 * is optional, other keys (NOTE) are skipped.  The value starts after the
 * spaces that follow the colon, so the text form cannot carry a name that
 * starts with a space (the -plist form can).  The count in the header must
 * match the blocks, every name must pass bs_name_validate(), and UUIDs must
 * be distinct: anything else is PARSE, for the whole output. */
#include "real/parse_diskutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore.h"

__attribute__((format(printf, 4, 5))) static int say(int rc, char *msg, size_t cap, const char *fmt,
                                                     ...) {
  if (msg && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* ---- UUIDs ------------------------------------------------------------------ */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int bs__uuid_parse(const char *s, size_t len, uint8_t out[16]) {
  if (len != 36)
    return BS_EPARSE;
  size_t k = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i++] != '-')
        return BS_EPARSE;
      continue;
    }
    int hi = hexval(s[i]), lo = hexval(s[i + 1]);
    if (hi < 0 || lo < 0)
      return BS_EPARSE;
    out[k++] = (uint8_t)(hi << 4 | lo);
    i += 2;
  }
  return 0;
}

void bs__uuid_format(const uint8_t u[16], char out[37]) {
  snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", u[0],
           u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
           u[15]);
}

/* ---- the text form of listSnapshots ---------------------------------------------- */

typedef struct lines {
  const char *p, *end;
  int no; /* number of the line last returned, from 1 */
} lines;

/* Next line without its "\n" or "\r\n"; false at the end. */
static bool next_line(lines *l, const char **s, size_t *n) {
  if (l->p >= l->end)
    return false;
  const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
  const char *e = nl ? nl : l->end;
  *s = l->p;
  *n = (size_t)(e - l->p);
  if (*n > 0 && (*s)[*n - 1] == '\r')
    (*n)--;
  l->p = nl ? nl + 1 : l->end;
  l->no++;
  return true;
}

static bool starts(const char *s, size_t n, const char *prefix) {
  size_t k = strlen(prefix);
  return n >= k && memcmp(s, prefix, k) == 0;
}

static bool blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t')
      return false;
  return true;
}

/* A decimal number of @n bytes that fits a uint64_t. */
static bool decimal(const char *s, size_t n, uint64_t *out) {
  if (n == 0 || n > 20)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bs__apfs_snap *bs__apfs_snaps_add(bs__apfs_snaps *a) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 8;
    bs__apfs_snap *v = realloc(a->v, cap * sizeof(*v));
    if (!v)
      return NULL;
    a->v = v;
    a->cap = cap;
  }
  bs__apfs_snap *s = &a->v[a->n++];
  memset(s, 0, sizeof(*s));
  return s;
}

void bs__apfs_snap_set_name(bs__apfs_snap *s, const char *name, size_t n) {
  bool ok = n <= BS__APFS_SNAP_NAME_MAX;
  for (size_t i = 0; ok && i < n; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
      ok = false; /* no line of the text form, nor XML, carries them intact */
  if (ok) {
    memcpy(s->name, name, n);
    s->name[n] = '\0';
    ok = bs_name_validate(s->name) == 0;
  }
  if (!ok)
    memset(s->name, 0, sizeof(s->name)); /* nothing of it is kept */
  s->foreign_name = !ok;
}

int bs__apfs_snaps_unique(const bs__apfs_snaps *a, const char *what, char *msg, size_t cap) {
  for (size_t i = 0; i < a->n; i++)
    for (size_t j = 0; j < i; j++)
      if (memcmp(a->v[i].uuid, a->v[j].uuid, 16) == 0)
        return say(BS_EPARSE, msg, cap, "%s: snapshots %zu and %zu have the same UUID", what, j + 1,
                   i + 1);
  return 0;
}

/* The keys of one block seen so far. */
enum { HAVE_NAME = 1, HAVE_XID = 2, HAVE_PURGEABLE = 4 };

static int end_block(const bs__apfs_snaps *a, unsigned have, int line, char *msg, size_t cap) {
  if (a->n > 0 && (have & (HAVE_NAME | HAVE_XID)) != (HAVE_NAME | HAVE_XID))
    return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: snapshot %zu ends at line %d without %s",
               a->n, line, (have & HAVE_NAME) ? "an XID" : "a name");
  return 0;
}

/* One "Key: value" line of the current block (@s without the "|" prefix). */
static int block_line(bs__apfs_snap *cur, unsigned *have, const char *s, size_t n, int line,
                      char *msg, size_t cap) {
  const char *colon = memchr(s, ':', n);
  if (!colon)
    return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: line %d: expected \"Key: value\"", line);
  size_t klen = (size_t)(colon - s);
  const char *v = colon + 1, *end = s + n;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  size_t vlen = (size_t)(end - v);
  unsigned bit = 0;
  if (klen == 4 && memcmp(s, "Name", 4) == 0) {
    bit = HAVE_NAME;
    bs__apfs_snap_set_name(cur, v, vlen);
  } else if (klen == 3 && memcmp(s, "XID", 3) == 0) {
    bit = HAVE_XID;
    if (!decimal(v, vlen, &cur->xid))
      return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: line %d: XID is not a number", line);
  } else if (klen == 9 && memcmp(s, "Purgeable", 9) == 0) {
    bit = HAVE_PURGEABLE;
    if (vlen == 3 && memcmp(v, "Yes", 3) == 0)
      cur->purgeable = true;
    else if (!(vlen == 2 && memcmp(v, "No", 2) == 0))
      return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: line %d: Purgeable is not Yes or No", line);
  } else if (klen == 0 || blank(s, klen)) {
    return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: line %d: empty key", line);
  }
  if (bit & *have)
    return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: line %d: %.*s given twice", line,
               (int)klen, s);
  *have |= bit;
  return 0;
}

/* The header: 0 with *@found for "Snapshots for X (N found)", 1 for "No
 * snapshots for X", or PARSE. */
static int header(const char *s, size_t n, uint64_t *found, char *msg, size_t cap) {
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  if (starts(s, n, "No snapshots for ") && n > 17 && !memchr(s + 17, ' ', n - 17))
    return 1;
  const char *open = memchr(s, '(', n);
  if (starts(s, n, "Snapshots for ") && open && open > s + 14 && open[-1] == ' ' &&
      n >= 7 && memcmp(s + n - 7, " found)", 7) == 0 &&
      decimal(open + 1, (size_t)(s + n - 7 - (open + 1)), found) && *found > 0)
    return 0;
  return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: output is not a snapshot list (line 1)");
}

static int parse_text(const bs__tool_result *r, bs__apfs_snaps *a, char *msg, size_t cap) {
  lines l = {r->out, r->out + r->out_len, 0};
  const char *s;
  size_t n;
  do {
    if (!next_line(&l, &s, &n))
      return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: no output");
  } while (blank(s, n));
  uint64_t found = 0;
  int rc = header(s, n, &found, msg, cap);
  if (rc < 0)
    return rc;
  bool none = rc == 1;
  unsigned have = 0;
  while (next_line(&l, &s, &n)) {
    if (starts(s, n, "+-- ")) {
      if ((rc = end_block(a, have, l.no, msg, cap)) != 0)
        return rc;
      if (none || a->n == found)
        return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: line %d: more snapshots than the header says", l.no);
      bs__apfs_snap *cur = bs__apfs_snaps_add(a);
      if (!cur)
        return say(BS_ENO_MEMORY, msg, cap, "diskutil apfs listSnapshots: out of memory");
      size_t un = n - 4;
      while (un > 0 && (s[4 + un - 1] == ' ' || s[4 + un - 1] == '\t'))
        un--;
      if (bs__uuid_parse(s + 4, un, cur->uuid) != 0)
        return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: line %d: not a snapshot UUID", l.no);
      have = 0;
      continue;
    }
    if (n > 0 && s[0] == '|') {
      s++;
      n--;
    }
    if (blank(s, n))
      continue;
    if (a->n == 0 || s[0] != ' ')
      return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: line %d: unexpected text", l.no);
    while (n > 0 && (*s == ' ' || *s == '\t')) {
      s++;
      n--;
    }
    if ((rc = block_line(&a->v[a->n - 1], &have, s, n, l.no, msg, cap)) != 0)
      return rc;
  }
  if ((rc = end_block(a, have, l.no, msg, cap)) != 0)
    return rc;
  if (!none && a->n != found)
    return say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: the header says %llu found, %zu listed",
               (unsigned long long)found, a->n);
  return bs__apfs_snaps_unique(a, "diskutil apfs listSnapshots", msg, cap);
}

int bs__diskutil_snapshots_text(const bs__tool_result *r, bs__apfs_snap **out, size_t *count,
                                char *msg, size_t cap) {
  *out = NULL;
  *count = 0;
  int rc = bs__tool_check("diskutil", r, msg, cap);
  if (rc != 0)
    return rc;
  bs__apfs_snaps a = {0};
  rc = r->out ? parse_text(r, &a, msg, cap)
              : say(BS_EPARSE, msg, cap, "diskutil apfs listSnapshots: no output");
  if (rc != 0) {
    free(a.v);
    return rc;
  }
  *out = a.v;
  *count = a.n;
  return 0;
}

/* ---- deleteSnapshot -------------------------------------------------------------- */

/* A successful delete prints "Finished APFS operation" as its last line
 * (after "Deleting APFS Snapshot ..." and "Started APFS operation"). */
int bs__diskutil_delete(const bs__tool_result *r, char *msg, size_t cap) {
  int rc = bs__tool_check("diskutil", r, msg, cap);
  if (rc != 0)
    return rc;
  if (!r->out)
    return say(BS_EPARSE, msg, cap, "diskutil apfs deleteSnapshot: no output");
  lines l = {r->out, r->out + r->out_len, 0};
  const char *s, *last = NULL;
  size_t n, last_n = 0;
  bool started = false;
  while (next_line(&l, &s, &n)) {
    if (blank(s, n))
      continue;
    if (n == 22 && memcmp(s, "Started APFS operation", 22) == 0)
      started = true;
    last = s;
    last_n = n;
  }
  if (started && last && last_n == 23 && memcmp(last, "Finished APFS operation", 23) == 0)
    return 0;
  return say(BS_EPARSE, msg, cap, "diskutil apfs deleteSnapshot: output does not say the operation finished");
}

/* ---- writers ------------------------------------------------------------------ */

/* A string that grows; on allocation failure it stays failed. */
typedef struct sbuf {
  char *p;
  size_t n, cap;
  bool bad;
} sbuf;

__attribute__((format(printf, 2, 3))) static void put(sbuf *b, const char *fmt, ...) {
  if (b->bad)
    return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->bad = true;
      return;
    }
    if (b->p && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap <= b->n + (size_t)k)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->bad = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
}

static char *done(sbuf *b) {
  if (b->bad || !b->p) {
    free(b->p);
    return NULL;
  }
  return b->p;
}

char *bs__diskutil_snapshots_write_text(const char *dev, const bs__apfs_snap *s, size_t count) {
  sbuf b = {0};
  if (count == 0) {
    put(&b, "No snapshots for %s\n", dev);
    return done(&b);
  }
  put(&b, "Snapshots for %s (%zu found)\n", dev, count);
  for (size_t i = 0; i < count; i++) {
    const char *bar = i + 1 < count ? "|" : " ";
    char u[37];
    bs__uuid_format(s[i].uuid, u);
    put(&b, "|\n+-- %s\n", u);
    put(&b, "%s   Name:        %s\n", bar, s[i].name);
    put(&b, "%s   XID:         %llu\n", bar, (unsigned long long)s[i].xid);
    put(&b, "%s   Purgeable:   %s\n", bar, s[i].purgeable ? "Yes" : "No");
  }
  return done(&b);
}

/* XML character data: the three characters that must be escaped. */
static void put_xml(sbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '&')
      put(b, "&amp;");
    else if (*s == '<')
      put(b, "&lt;");
    else if (*s == '>')
      put(b, "&gt;");
    else
      put(b, "%c", *s);
  }
}

char *bs__diskutil_snapshots_write_plist(const bs__apfs_snap *s, size_t count) {
  sbuf b = {0};
  put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
          "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
          "<plist version=\"1.0\">\n<dict>\n\t<key>Snapshots</key>\n\t<array>\n");
  for (size_t i = 0; i < count; i++) {
    char u[37];
    bs__uuid_format(s[i].uuid, u);
    put(&b, "\t\t<dict>\n\t\t\t<key>Purgeable</key>\n\t\t\t<%s/>\n", s[i].purgeable ? "true" : "false");
    put(&b, "\t\t\t<key>SnapshotName</key>\n\t\t\t<string>");
    put_xml(&b, s[i].name);
    put(&b, "</string>\n\t\t\t<key>SnapshotUUID</key>\n\t\t\t<string>%s</string>\n", u);
    put(&b, "\t\t\t<key>SnapshotXID</key>\n\t\t\t<integer>%llu</integer>\n\t\t</dict>\n",
        (unsigned long long)s[i].xid);
  }
  put(&b, "\t</array>\n</dict>\n</plist>\n");
  return done(&b);
}
