/* The DESIGN §4 control-plane messages over the SSZ primitives of ssz.h.
 *
 * Each message has one encoder and one decoder that walk the fields in
 * schema order.  The value checks are shared between the two directions, so
 * what one refuses to write the other refuses to read, and anything that
 * decodes re-encodes to the same bytes. */
#include "backstore/wire.h"

#include <string.h>

#include "ssz.h"

/* Sizes of the fixed parts, spelt out field by field against DESIGN §4. */
_Static_assert(BS_CAPS_SSZ_MIN == 2 + 1 + 4 * 1 + 2 + BS__SSZ_OFFSET_SIZE, "caps layout");
_Static_assert(BS_ERROR_RESPONSE_SSZ_MIN == 2 + 4 + BS__SSZ_OFFSET_SIZE, "error layout");
_Static_assert(BS_SNAPSHOT_INFO_SSZ_MIN == 8 + 16 + BS__SSZ_OFFSET_SIZE + 1 + 4 + 8,
               "snapshot layout");

/* No byte of @p[0..n) is NUL: a C string could not carry it. */
static bool no_nul(const uint8_t *p, size_t n) { return n == 0 || !memchr(p, 0, n); }

/* The end of every decoder.  A failed decode (@rc) zeroes all of @out, so a
 * caller never sees half a message; a good one copies the message's text
 * field, @p[0..n), into @text (NUL-terminated: @out was zeroed first). */
static int decode_end(int rc, void *out, size_t size, char *text, const uint8_t *p, size_t n) {
  if (rc)
    memset(out, 0, size);
  else
    memcpy(text, p, n);
  return rc;
}

/* ---- CapabilityResponse ---------------------------------------------- */

/* fs_type_name: non-empty printable ASCII, so it prints safely as text or JSON. */
static bool caps_name_ok(const uint8_t *p, size_t n) {
  if (n == 0 || n > BS_CAPS_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x20 || p[i] > 0x7e)
      return false;
  return true;
}

static bool caps_fields_ok(uint16_t schema, uint8_t fs_type) {
  return schema == BS_CAPS_SCHEMA_VERSION && fs_type < BS_FS_TYPE_COUNT;
}

int bs_caps_encode(uint8_t *buf, size_t cap, size_t *len, const bs_caps *c) {
  bs__ssz_writer w;
  size_t slot, n;

  if (len)
    *len = 0;
  if (!c || !len)
    return BS_EINVALID;
  /* strnlen: the array may lack its NUL; that is "too long", not an overread. */
  n = strnlen(c->fs_type_name, sizeof(c->fs_type_name));
  if (!caps_fields_ok(c->schema_version, c->fs_type) ||
      !caps_name_ok((const uint8_t *)c->fs_type_name, n))
    return BS_EINVALID;

  bs__ssz_writer_init(&w, buf, cap);
  bs__ssz_put_u16(&w, c->schema_version);
  bs__ssz_put_u8(&w, c->fs_type);
  bs__ssz_put_bool(&w, c->native_snapshots);
  bs__ssz_put_bool(&w, c->native_reflink);
  bs__ssz_put_bool(&w, c->xattrs);
  bs__ssz_put_bool(&w, c->case_sensitive);
  bs__ssz_put_u16(&w, c->max_name_len);
  bs__ssz_put_offset(&w, &slot);
  bs__ssz_put_bytelist(&w, slot, c->fs_type_name, n, BS_CAPS_NAME_MAX);
  return bs__ssz_writer_finish(&w, len);
}

int bs_caps_decode(bs_caps *out, const uint8_t *buf, size_t len) {
  bs__ssz_reader r;
  const uint8_t *name;
  size_t n;
  int rc;

  if (!out)
    return BS_EINVALID;
  memset(out, 0, sizeof(*out));
  bs__ssz_reader_init(&r, buf, len, BS_CAPS_SSZ_MIN);
  bs__ssz_get_u16(&r, &out->schema_version);
  bs__ssz_get_u8(&r, &out->fs_type);
  bs__ssz_get_bool(&r, &out->native_snapshots);
  bs__ssz_get_bool(&r, &out->native_reflink);
  bs__ssz_get_bool(&r, &out->xattrs);
  bs__ssz_get_bool(&r, &out->case_sensitive);
  bs__ssz_get_u16(&r, &out->max_name_len);
  bs__ssz_get_offset(&r);
  bs__ssz_get_bytelist(&r, BS_CAPS_NAME_MAX, &name, &n);
  rc = bs__ssz_reader_finish(&r);
  /* Schema version 1 only: a newer layout may mean something else entirely. */
  if (rc == 0 && !(caps_fields_ok(out->schema_version, out->fs_type) && caps_name_ok(name, n)))
    rc = BS_EINVALID;
  return decode_end(rc, out, sizeof(*out), out->fs_type_name, name, n);
}

/* ---- ErrorResponse --------------------------------------------------- */

/* Length of the longest prefix of @s of at most @max bytes that does not end
 * inside a UTF-8 character.  A character is at most 4 bytes, so at most 3
 * continuation bytes are given back (invalid input is cut where it falls). */
static size_t utf8_cut(const char *s, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n <= max)
    return n;
  n = max;
  for (int back = 0; back < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; back++)
    n--;
  /* s[n] is now a lead byte (or the cut gave up): s[0..n) holds whole characters. */
  return ((unsigned char)s[n] & 0xc0) == 0x80 ? max : n;
}

int bs_error_response_make(bs_error_response *out, int err, int os_errno, const char *msg) {
  size_t n;

  if (!out)
    return BS_EINVALID;
  memset(out, 0, sizeof(*out));
  if (bs_err_wire(err) == 0xffff || os_errno < 0)
    return BS_EINVALID;
  if (!msg)
    msg = bs_strerror(err);
  n = utf8_cut(msg, BS_ERROR_MESSAGE_MAX);
  out->code = err;
  out->os_errno = (uint32_t)os_errno;
  memcpy(out->message, msg, n);
  out->message[n] = '\0';
  return BS_OK;
}

int bs_error_response_encode(uint8_t *buf, size_t cap, size_t *len, const bs_error_response *e) {
  bs__ssz_writer w;
  size_t slot, n;
  uint16_t wire;

  if (len)
    *len = 0;
  if (!e || !len)
    return BS_EINVALID;
  wire = bs_err_wire(e->code);
  n = strnlen(e->message, sizeof(e->message));
  if (wire == 0xffff || n > BS_ERROR_MESSAGE_MAX)
    return BS_EINVALID;

  bs__ssz_writer_init(&w, buf, cap);
  bs__ssz_put_u16(&w, wire);
  bs__ssz_put_u32(&w, e->os_errno);
  bs__ssz_put_offset(&w, &slot);
  bs__ssz_put_bytelist(&w, slot, e->message, n, BS_ERROR_MESSAGE_MAX);
  return bs__ssz_writer_finish(&w, len);
}

int bs_error_response_decode(bs_error_response *out, const uint8_t *buf, size_t len) {
  bs__ssz_reader r;
  uint16_t wire = 0;
  const uint8_t *msg;
  size_t n;
  int rc;

  if (!out)
    return BS_EINVALID;
  memset(out, 0, sizeof(*out));
  bs__ssz_reader_init(&r, buf, len, BS_ERROR_RESPONSE_SSZ_MIN);
  bs__ssz_get_u16(&r, &wire);
  bs__ssz_get_u32(&r, &out->os_errno);
  bs__ssz_get_offset(&r);
  bs__ssz_get_bytelist(&r, BS_ERROR_MESSAGE_MAX, &msg, &n);
  rc = bs__ssz_reader_finish(&r);
  /* bs_err_from_wire maps unknown numbers to BS_EINVALID, which is also a
   * real code (wire 6): check the number itself. */
  if (rc == 0 && (wire >= BS_ERROR_COUNT || !no_nul(msg, n)))
    rc = BS_EINVALID;
  if (rc == 0)
    out->code = bs_err_from_wire(wire);
  return decode_end(rc, out, sizeof(*out), out->message, msg, n);
}

/* ---- SnapshotInfo ---------------------------------------------------- */

int bs_snapshot_info_encode(uint8_t *buf, size_t cap, size_t *len, const bs_snapshot_info *s) {
  bs__ssz_writer w;
  size_t slot, n;

  if (len)
    *len = 0;
  if (!s || !len)
    return BS_EINVALID;
  n = strnlen(s->name, sizeof(s->name));
  if (n == 0 || n > BS_NAME_MAX)
    return BS_EINVALID;

  bs__ssz_writer_init(&w, buf, cap);
  bs__ssz_put_u64(&w, s->id);
  bs__ssz_put_bytes(&w, s->uuid, sizeof(s->uuid));
  bs__ssz_put_offset(&w, &slot);
  bs__ssz_put_bool(&w, s->readonly);
  bs__ssz_put_u32(&w, s->branch_count);
  bs__ssz_put_u64(&w, s->created_ns);
  bs__ssz_put_bytelist(&w, slot, s->name, n, BS_NAME_MAX);
  return bs__ssz_writer_finish(&w, len);
}

int bs_snapshot_info_decode(bs_snapshot_info *out, const uint8_t *buf, size_t len) {
  bs__ssz_reader r;
  const uint8_t *name;
  size_t n;
  int rc;

  if (!out)
    return BS_EINVALID;
  memset(out, 0, sizeof(*out));
  bs__ssz_reader_init(&r, buf, len, BS_SNAPSHOT_INFO_SSZ_MIN);
  bs__ssz_get_u64(&r, &out->id);
  bs__ssz_get_bytes(&r, out->uuid, sizeof(out->uuid));
  bs__ssz_get_offset(&r);
  bs__ssz_get_bool(&r, &out->readonly);
  bs__ssz_get_u32(&r, &out->branch_count);
  bs__ssz_get_u64(&r, &out->created_ns);
  bs__ssz_get_bytelist(&r, BS_NAME_MAX, &name, &n);
  rc = bs__ssz_reader_finish(&r);
  /* Names are otherwise opaque bytes here (a real filesystem may hold names
   * bs_name_validate would refuse), but they must fit a C string. */
  if (rc == 0 && (n == 0 || !no_nul(name, n)))
    rc = BS_EINVALID;
  return decode_end(rc, out, sizeof(*out), out->name, name, n);
}
