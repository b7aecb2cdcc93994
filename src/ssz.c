/* SSZ primitives: a bounded writer and a hardened reader (see ssz.h). */
#include "ssz.h"

#include <string.h>

#include "backstore.h"

/* ---- writer ------------------------------------------------------------ */

void bs__ssz_writer_init(bs__ssz_writer *w, uint8_t *buf, size_t cap) {
  w->buf = buf;
  w->cap = buf ? cap : 0;
  w->len = 0;
  w->err = 0;
}

/* Room for @n more bytes?  Sets the sticky error when not; compares with a
 * subtraction so a huge @n cannot wrap around. */
static bool w_room(bs__ssz_writer *w, size_t n) {
  if (w->err)
    return false;
  if (n > w->cap - w->len) {
    w->err = BS_ENO_SPACE;
    return false;
  }
  return true;
}

/* Little-endian store of the low @n bytes of @v (the host order is irrelevant). */
static void w_le(bs__ssz_writer *w, uint64_t v, size_t n) {
  if (!w_room(w, n))
    return;
  for (size_t i = 0; i < n; i++)
    w->buf[w->len + i] = (uint8_t)(v >> (8 * i));
  w->len += n;
}

void bs__ssz_put_u8(bs__ssz_writer *w, uint8_t v) { w_le(w, v, 1); }
void bs__ssz_put_u16(bs__ssz_writer *w, uint16_t v) { w_le(w, v, 2); }
void bs__ssz_put_u32(bs__ssz_writer *w, uint32_t v) { w_le(w, v, 4); }
void bs__ssz_put_u64(bs__ssz_writer *w, uint64_t v) { w_le(w, v, 8); }
void bs__ssz_put_bool(bs__ssz_writer *w, bool v) { w_le(w, v ? 1 : 0, 1); }

void bs__ssz_put_bytes(bs__ssz_writer *w, const void *p, size_t n) {
  if (!w_room(w, n))
    return;
  if (n)
    memcpy(w->buf + w->len, p, n);
  w->len += n;
}

void bs__ssz_put_offset(bs__ssz_writer *w, size_t *slot) {
  *slot = w->len;
  w_le(w, 0, BS__SSZ_OFFSET_SIZE); /* patched by bs__ssz_put_bytelist */
}

void bs__ssz_put_bytelist(bs__ssz_writer *w, size_t slot, const void *p, size_t n, size_t max) {
  if (w->err)
    return;
  if (n > max || slot > w->len || w->len - slot < BS__SSZ_OFFSET_SIZE) {
    w->err = BS_EINVALID;
    return;
  }
  /* Offsets are uint32: a message of 4 GiB or more cannot be expressed. */
  if (w->len > UINT32_MAX || n > UINT32_MAX - w->len) {
    w->err = BS_EINVALID;
    return;
  }
  for (size_t i = 0; i < BS__SSZ_OFFSET_SIZE; i++)
    w->buf[slot + i] = (uint8_t)(w->len >> (8 * i));
  bs__ssz_put_bytes(w, p, n);
}

int bs__ssz_writer_finish(bs__ssz_writer *w, size_t *len) {
  if (len)
    *len = w->err ? 0 : w->len;
  return w->err;
}

/* ---- reader ------------------------------------------------------------ */

void bs__ssz_reader_init(bs__ssz_reader *r, const uint8_t *buf, size_t len, size_t fixed) {
  memset(r, 0, sizeof(*r));
  r->buf = buf;
  r->len = len;
  r->fixed = fixed;
  /* Short input: the fixed part must be there in full. */
  if ((!buf && len) || len < fixed)
    r->err = BS_EINVALID;
}

/* Take @n bytes of the fixed part; NULL (and the sticky error) past its end. */
static const uint8_t *r_take(bs__ssz_reader *r, size_t n) {
  if (r->err)
    return NULL;
  if (n > r->fixed - r->pos) {
    r->err = BS_EINVALID;
    return NULL;
  }
  const uint8_t *p = r->buf + r->pos;
  r->pos += n;
  return p;
}

static uint64_t r_le(bs__ssz_reader *r, size_t n) {
  const uint8_t *p = r_take(r, n);
  uint64_t v = 0;
  for (size_t i = 0; p && i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

void bs__ssz_get_u8(bs__ssz_reader *r, uint8_t *out) { *out = (uint8_t)r_le(r, 1); }
void bs__ssz_get_u16(bs__ssz_reader *r, uint16_t *out) { *out = (uint16_t)r_le(r, 2); }
void bs__ssz_get_u32(bs__ssz_reader *r, uint32_t *out) { *out = (uint32_t)r_le(r, 4); }
void bs__ssz_get_u64(bs__ssz_reader *r, uint64_t *out) { *out = r_le(r, 8); }

void bs__ssz_get_bool(bs__ssz_reader *r, bool *out) {
  uint64_t v = r_le(r, 1);
  *out = false;
  if (v > 1 && !r->err)
    r->err = BS_EINVALID; /* only 0x00 and 0x01 are canonical */
  else
    *out = v == 1;
}

void bs__ssz_get_bytes(bs__ssz_reader *r, void *out, size_t n) {
  const uint8_t *p = r_take(r, n);
  if (p)
    memcpy(out, p, n);
  else if (n)
    memset(out, 0, n);
}

void bs__ssz_get_offset(bs__ssz_reader *r) {
  uint32_t off = (uint32_t)r_le(r, BS__SSZ_OFFSET_SIZE);
  if (r->err)
    return;
  if (r->n_off == BS__SSZ_MAX_VAR) {
    r->err = BS_EINVALID; /* container declared more fields than we track */
    return;
  }
  /* The first variable part starts right after the fixed part (no gap, no
   * overlap); later ones never start before the previous; none past the end. */
  bool ok = r->n_off == 0 ? off == r->fixed : off >= r->off[r->n_off - 1];
  if (!ok || off > r->len) {
    r->err = BS_EINVALID;
    return;
  }
  r->off[r->n_off++] = off;
}

void bs__ssz_get_bytelist(bs__ssz_reader *r, size_t max, const uint8_t **p, size_t *n) {
  *p = NULL;
  *n = 0;
  if (r->err)
    return;
  /* Variable fields come after the whole fixed part, one per offset. */
  if (r->pos != r->fixed || r->n_var >= r->n_off) {
    r->err = BS_EINVALID;
    return;
  }
  size_t start = r->off[r->n_var];
  size_t end = r->n_var + 1 < r->n_off ? r->off[r->n_var + 1] : r->len;
  if (end - start > max) { /* get_offset guaranteed start <= end <= len */
    r->err = BS_EINVALID;
    return;
  }
  r->n_var++;
  *p = r->buf + start;
  *n = end - start;
}

int bs__ssz_reader_finish(bs__ssz_reader *r) {
  if (r->err)
    return r->err;
  if (r->pos != r->fixed || r->n_var != r->n_off)
    return r->err = BS_EINVALID;
  /* Without variable fields nothing may follow the fixed part; with them
   * the last one runs to the end, so there is nothing left over. */
  if (r->n_off == 0 && r->len != r->fixed)
    return r->err = BS_EINVALID;
  return 0;
}
