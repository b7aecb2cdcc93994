/* SSZ primitives (Ethereum SimpleSerialize, little-endian) for the wire
 * messages of include/backstore/wire.h.
 *
 * Both halves keep a sticky error: after the first failure every call is a
 * no-op (readers store 0 into their out value), so a container codec can
 * write or read all its fields straight through and check once at the end.
 *
 * Container layout (SSZ spec): the fixed part holds the fixed-size fields in
 * order, with a 4-byte offset in place of each variable-size field; the
 * variable parts follow in field order.  The reader enforces the spec's
 * hardening rules: the first offset equals the fixed size, offsets never
 * decrease, none points past the end, list limits hold, booleans are 0 or 1,
 * and a container without variable fields has no trailing bytes. */
#ifndef BS_SSZ_H
#define BS_SSZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Size of an offset in the fixed part (BYTES_PER_LENGTH_OFFSET). */
#define BS__SSZ_OFFSET_SIZE 4
/* Most variable-size fields one container may have (reader bookkeeping). */
#define BS__SSZ_MAX_VAR 4

typedef struct bs__ssz_writer {
  uint8_t *buf;
  size_t cap;
  size_t len; /* bytes written so far */
  int err;    /* first failure, or 0 */
} bs__ssz_writer;

/* Start writing into @buf of @cap bytes (@buf may be NULL when @cap is 0). */
void bs__ssz_writer_init(bs__ssz_writer *w, uint8_t *buf, size_t cap);
void bs__ssz_put_u8(bs__ssz_writer *w, uint8_t v);
void bs__ssz_put_u16(bs__ssz_writer *w, uint16_t v);
void bs__ssz_put_u32(bs__ssz_writer *w, uint32_t v);
void bs__ssz_put_u64(bs__ssz_writer *w, uint64_t v);
void bs__ssz_put_bool(bs__ssz_writer *w, bool v);
/* ByteVector[n]: exactly @n raw bytes. */
void bs__ssz_put_bytes(bs__ssz_writer *w, const void *p, size_t n);
/* Reserve the offset of a variable-size field; *@slot remembers where. */
void bs__ssz_put_offset(bs__ssz_writer *w, size_t *slot);
/* ByteList[max]: fill in the offset reserved at @slot with the current
 * position, then append @n bytes.  BS_EINVALID if @n > @max. */
void bs__ssz_put_bytelist(bs__ssz_writer *w, size_t slot, const void *p, size_t n, size_t max);
/* End: *@len gets the size written (0 on failure); returns the sticky error
 * (BS_ENO_SPACE if the buffer was too small, BS_EINVALID for a bad value). */
int bs__ssz_writer_finish(bs__ssz_writer *w, size_t *len);

typedef struct bs__ssz_reader {
  const uint8_t *buf;
  size_t len;   /* whole input */
  size_t fixed; /* size of the fixed part */
  size_t pos;   /* next fixed-part byte */
  uint32_t off[BS__SSZ_MAX_VAR];
  size_t n_off;  /* offsets read */
  size_t n_var;  /* variable fields read */
  int err;
} bs__ssz_reader;

/* Start reading a container of @len bytes whose fixed part is @fixed bytes. */
void bs__ssz_reader_init(bs__ssz_reader *r, const uint8_t *buf, size_t len, size_t fixed);
void bs__ssz_get_u8(bs__ssz_reader *r, uint8_t *out);
void bs__ssz_get_u16(bs__ssz_reader *r, uint16_t *out);
void bs__ssz_get_u32(bs__ssz_reader *r, uint32_t *out);
void bs__ssz_get_u64(bs__ssz_reader *r, uint64_t *out);
/* boolean: 0x00 or 0x01, anything else is BS_EINVALID. */
void bs__ssz_get_bool(bs__ssz_reader *r, bool *out);
/* ByteVector[n] into @out. */
void bs__ssz_get_bytes(bs__ssz_reader *r, void *out, size_t n);
/* The offset of the next variable-size field (checked, kept in @r). */
void bs__ssz_get_offset(bs__ssz_reader *r);
/* ByteList[max]: the next variable-size field, as a view into the input
 * (*@p / *@n; NULL / 0 on failure).  Call after the whole fixed part. */
void bs__ssz_get_bytelist(bs__ssz_reader *r, size_t max, const uint8_t **p, size_t *n);
/* End: checks every fixed byte and every variable field was consumed and
 * there are no trailing bytes; returns the sticky error. */
int bs__ssz_reader_finish(bs__ssz_reader *r);

#endif
