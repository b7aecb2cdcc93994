/**
 * @file backstore/wire.h
 * @brief SSZ encoding of the control-plane messages (DESIGN §4).
 *
 * Three containers, encoded exactly as the Ethereum SSZ spec lays them out
 * (little-endian integers, booleans as 0x00/0x01, one 4-byte offset in the
 * fixed part for each variable-size field):
 *
 * - CapabilityResponse <-> bs_caps
 * - ErrorResponse      <-> bs_error_response
 * - SnapshotInfo       <-> bs_snapshot_info
 *
 * Encoders write into a caller buffer and never past @c cap: a buffer of the
 * message's `*_SSZ_MAX` bytes is always enough.  Decoders accept only the one
 * canonical encoding of a value, so anything that decodes re-encodes to the
 * same bytes; every other input is BS_EINVALID, and no input makes a decoder
 * read outside @c buf.
 *
 * SSZ does not store the length of the last variable-size field: it runs to
 * the end of the message.  A transport must therefore frame each message
 * with its length; a message cut inside its last list decodes as a shorter
 * list (the decoders cannot tell).
 */
#ifndef BACKSTORE_WIRE_H
#define BACKSTORE_WIRE_H

#include "../backstore.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The only CapabilityResponse.schema_version this library reads or writes. */
#define BS_CAPS_SCHEMA_VERSION 1
/** Limit N of CapabilityResponse.fs_type_name (ByteList[16]). */
#define BS_CAPS_NAME_MAX 16
/** Size of the fixed part of an encoded CapabilityResponse (its minimum size). */
#define BS_CAPS_SSZ_MIN 13
/** Largest encoded CapabilityResponse, in bytes. */
#define BS_CAPS_SSZ_MAX (BS_CAPS_SSZ_MIN + BS_CAPS_NAME_MAX)

/** Limit N of ErrorResponse.message (ByteList[256]). */
#define BS_ERROR_MESSAGE_MAX 256
/** Size of the fixed part of an encoded ErrorResponse (its minimum size). */
#define BS_ERROR_RESPONSE_SSZ_MIN 10
/** Largest encoded ErrorResponse, in bytes. */
#define BS_ERROR_RESPONSE_SSZ_MAX (BS_ERROR_RESPONSE_SSZ_MIN + BS_ERROR_MESSAGE_MAX)

/** Size of the fixed part of an encoded SnapshotInfo (its minimum size). */
#define BS_SNAPSHOT_INFO_SSZ_MIN 41
/** Largest encoded SnapshotInfo, in bytes (name is ByteList[BS_NAME_MAX]). */
#define BS_SNAPSHOT_INFO_SSZ_MAX (BS_SNAPSHOT_INFO_SSZ_MIN + BS_NAME_MAX)

/**
 * Encode @p c as a CapabilityResponse into @p buf (capacity @p cap);
 * *@p len gets the encoded size (0 on failure).
 * @return 0; BS_EINVALID if schema_version is not BS_CAPS_SCHEMA_VERSION,
 * fs_type is not a bs_fs_type, or fs_type_name is empty, longer than
 * BS_CAPS_NAME_MAX or not printable ASCII (0x20..0x7e); BS_ENO_SPACE if
 * @p cap is too small (BS_CAPS_SSZ_MAX always suffices).
 */
BS_API int bs_caps_encode(uint8_t *buf, size_t cap, size_t *len, const bs_caps *c);

/**
 * Decode a CapabilityResponse of exactly @p len bytes into @p out.
 * @return 0, or BS_EINVALID for malformed SSZ or a value bs_caps_encode()
 * would refuse (same rules); *@p out is zeroed on failure.
 */
BS_API int bs_caps_decode(bs_caps *out, const uint8_t *buf, size_t len);

/** An ErrorResponse (DESIGN §4): a failure as sent over the wire. */
typedef struct bs_error_response {
  int code;            /**< a bs_error (0 or negative); sent as its wire number */
  uint32_t os_errno;   /**< OS errno behind the failure, 0 if none */
  /** NUL-terminated, at most BS_ERROR_MESSAGE_MAX bytes, no embedded NUL. */
  char message[BS_ERROR_MESSAGE_MAX + 1];
} bs_error_response;

/**
 * Fill @p out from parts: @p msg (NULL means bs_strerror(@p err)) is copied
 * and, when over BS_ERROR_MESSAGE_MAX bytes, truncated without splitting a
 * UTF-8 character.
 * @return 0, or BS_EINVALID if @p err is not a code or @p os_errno < 0.
 */
BS_API int bs_error_response_make(bs_error_response *out, int err, int os_errno, const char *msg);

/**
 * Encode @p e as an ErrorResponse into @p buf (capacity @p cap);
 * *@p len gets the encoded size (0 on failure).
 * @return 0; BS_EINVALID if code is not a bs_error or message is longer
 * than BS_ERROR_MESSAGE_MAX (not NUL-terminated within the array);
 * BS_ENO_SPACE if @p cap is too small.
 */
BS_API int bs_error_response_encode(uint8_t *buf, size_t cap, size_t *len, const bs_error_response *e);

/**
 * Decode an ErrorResponse of exactly @p len bytes into @p out.
 * @return 0, or BS_EINVALID for malformed SSZ, an unknown wire code, a
 * message over the limit or containing a NUL byte; *@p out is zeroed on
 * failure.
 */
BS_API int bs_error_response_decode(bs_error_response *out, const uint8_t *buf, size_t len);

/**
 * Encode @p s as a SnapshotInfo into @p buf (capacity @p cap);
 * *@p len gets the encoded size (0 on failure).
 * @return 0; BS_EINVALID if name is empty or longer than BS_NAME_MAX;
 * BS_ENO_SPACE if @p cap is too small.
 */
BS_API int bs_snapshot_info_encode(uint8_t *buf, size_t cap, size_t *len, const bs_snapshot_info *s);

/**
 * Decode a SnapshotInfo of exactly @p len bytes into @p out.
 * @return 0, or BS_EINVALID for malformed SSZ or a name that is empty, over
 * BS_NAME_MAX or contains a NUL byte; *@p out is zeroed on failure.
 */
BS_API int bs_snapshot_info_decode(bs_snapshot_info *out, const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* BACKSTORE_WIRE_H */
