/* Fuzz target: snapshot and branch names (bs_name_validate, bs_snapshot_path,
 * bs_branch_path, bs_text_escape; docs/names.md).
 *
 * The input up to its first NUL is the name, as a C caller would pass it.
 * The verdict must equal that of the reference below, written from the rules
 * and Unicode's table of well-formed UTF-8 byte sequences rather than by
 * decoding code points as src/names.c does.  The path functions take every
 * name a store may hold (the rules without the one against control
 * characters): such a name must give exactly one path component under
 * /.bs/snapshots/ and /.bs/branches/; a refused one (or a buffer too small)
 * must leave the caller's buffer untouched.  The name escaped for text must
 * be valid UTF-8 without a control character, and a name without control
 * characters must come out as it went in. */
#include "backstore.h"
#include "fuzz/fuzz.h"

/* Length of the well-formed UTF-8 sequence at @s (Unicode 15, table 3-7), or
 * 0: each row is a lead byte range and the allowed range of every following
 * byte. */
static size_t ref_utf8_seq(const unsigned char *s, size_t left) {
  static const struct {
    unsigned char lo, hi, n, lo2, hi2;
  } rows[] = {
      {0x00, 0x7f, 1, 0, 0},       {0xc2, 0xdf, 2, 0x80, 0xbf}, {0xe0, 0xe0, 3, 0xa0, 0xbf},
      {0xe1, 0xec, 3, 0x80, 0xbf}, {0xed, 0xed, 3, 0x80, 0x9f}, {0xee, 0xef, 3, 0x80, 0xbf},
      {0xf0, 0xf0, 4, 0x90, 0xbf}, {0xf1, 0xf3, 4, 0x80, 0xbf}, {0xf4, 0xf4, 4, 0x80, 0x8f},
  };
  for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
    if (s[0] < rows[r].lo || s[0] > rows[r].hi)
      continue;
    if (left < rows[r].n)
      return 0;
    if (rows[r].n > 1 && (s[1] < rows[r].lo2 || s[1] > rows[r].hi2))
      return 0;
    for (size_t i = 2; i < rows[r].n; i++)
      if (s[i] < 0x80 || s[i] > 0xbf)
        return 0;
    return rows[r].n;
  }
  return 0;
}

static int ref_valid_utf8(const unsigned char *s, size_t len) {
  for (size_t i = 0, n; i < len; i += n)
    if ((n = ref_utf8_seq(s + i, len - i)) == 0)
      return 0;
  return 1;
}

/* A C0 or C1 control character or DEL among the @len bytes at @s (as bytes:
 * U+0080..U+009F are C2 80..C2 9F in UTF-8). */
static int ref_has_control(const unsigned char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (s[i] < 0x20 || s[i] == 0x7f || (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f))
      return 1;
  return 0;
}

/* The verdict docs/names.md gives, in its order: length first.  @held: a
 * name a store already holds, for which control characters pass. */
static int ref_validate(const char *name, size_t len, int held) {
  if (len == 0)
    return BS_EINVALID;
  if (len > BS_NAME_MAX)
    return BS_ENAME_TOO_LONG;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || memchr(name, '/', len))
    return BS_EINVALID;
  if (!ref_valid_utf8((const unsigned char *)name, len))
    return BS_EINVALID;
  return !held && ref_has_control((const unsigned char *)name, len) ? BS_EINVALID : BS_OK;
}

static void fail(const char *why, const char *name, int got) {
  fprintf(stderr, "names: %s (name of %zu bytes, rc %d)\n", why, strlen(name), got);
  abort();
}

/* bs_text_escape of @name: whole, without control characters, valid UTF-8,
 * and @name itself when it had nothing to escape; a small buffer gets a
 * prefix of it. */
static void check_escape(const char *name, size_t len) {
  char *out = malloc(4 * len + 1), small[8];
  if (!out)
    abort();
  size_t n = bs_text_escape(out, 4 * len + 1, name);
  if (n != strlen(out) || ref_has_control((const unsigned char *)out, n) ||
      !ref_valid_utf8((const unsigned char *)out, n))
    fail("the escaped name is cut, has a control character or is not UTF-8", name, (int)n);
  if (!ref_has_control((const unsigned char *)name, len) &&
      ref_valid_utf8((const unsigned char *)name, len) && strcmp(out, name) != 0)
    fail("a name with nothing to escape was changed", name, (int)n);
  if (bs_text_escape(small, sizeof(small), name) != n || strncmp(small, out, strlen(small)) != 0)
    fail("a small buffer does not get a prefix of the escaped name", name, (int)n);
  free(out);
}

/* @fn over @name must write @dir + name into a big buffer, and must refuse
 * (writing nothing) one byte too small; an invalid name must be refused with
 * @want, writing nothing. */
static void check_path(int (*fn)(char *, size_t, const char *), const char *dir,
                       const char *name, int want) {
  char buf[BS_NAME_MAX + 64], expect[BS_NAME_MAX + 64];
  size_t need = strlen(dir) + strlen(name) + 1;
  memset(buf, 0x5a, sizeof(buf));
  memcpy(expect, buf, sizeof(buf));

  int rc = fn(buf, sizeof(buf), name);
  if (want != BS_OK) {
    if (rc != want)
      fail("a path function's verdict differs from the reference for held names", name, rc);
    if (memcmp(buf, expect, sizeof(buf)) != 0)
      fail("a refused name left a partial path in the buffer", name, rc);
    return;
  }
  if (rc != BS_OK)
    fail("a valid name gets no path", name, rc);
  const char *rest = buf + strlen(dir);
  if (strncmp(buf, dir, strlen(dir)) != 0 || strcmp(rest, name) != 0)
    fail("the path is not <dir>/<name>", name, rc);
  if (!*rest || strchr(rest, '/') || !strcmp(rest, ".") || !strcmp(rest, ".."))
    fail("the path is not exactly one component below its directory", name, rc);

  /* Exactly enough room works; one byte less is refused, not truncated. */
  memset(buf, 0x5a, sizeof(buf));
  if ((rc = fn(buf, need, name)) != BS_OK || strlen(buf) + 1 != need)
    fail("a buffer of exactly the path's size is refused", name, rc);
  memset(buf, 0x5a, sizeof(buf));
  if ((rc = fn(buf, need - 1, name)) != BS_ENAME_TOO_LONG)
    fail("a buffer one byte short is not NAME_TOO_LONG", name, rc);
  if (memcmp(buf, expect, sizeof(buf)) != 0)
    fail("a buffer one byte short holds a truncated path", name, rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *name = malloc(size + 1);
  if (!name)
    return 0;
  memcpy(name, data, size);
  name[size] = '\0';
  size_t len = strlen(name);

  int rc = bs_name_validate(name), want = ref_validate(name, len, 0);
  if (rc != want)
    fail("bs_name_validate differs from the reference", name, rc);
  if (rc == BS_OK && (len > BS_NAME_MAX || memchr(name, '/', len) || !strcmp(name, ".") ||
                      !strcmp(name, "..") || !ref_valid_utf8((const unsigned char *)name, len) ||
                      ref_has_control((const unsigned char *)name, len)))
    fail("a valid name breaks a rule", name, rc);

  int held = ref_validate(name, len, 1);
  check_path(bs_snapshot_path, "/.bs/snapshots/", name, held);
  check_path(bs_branch_path, "/.bs/branches/", name, held);
  check_escape(name, len);
  if (bs_name_validate(NULL) != BS_EINVALID)
    fail("NULL is not INVALID", "", 0);
  free(name);
  return 0;
}
