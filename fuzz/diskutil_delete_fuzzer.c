/* Fuzz target: `diskutil apfs deleteSnapshot` results (bs__diskutil_delete),
 * and through it the exit-status check every tool run goes through
 * (bs__tool_check).
 *
 * Input: byte 0 is the exit status (below 0x80: 0; else 1..128, 0xff a
 * signal: killed), then stdout up to the first NUL byte, then stderr.
 * Properties:
 * - Deterministic: the same result twice gives the same answer and message.
 * - A success is a status 0 whose output ends with "Finished APFS operation";
 *   a failure is TOOL_FAILED (non-zero status, the message starts "diskutil
 *   exited with status N" or "diskutil was killed by signal N") or PARSE
 *   (status 0), with a one-line message.
 * - The message goes on the wire as it is: it makes an ErrorResponse that
 *   decodes back to the same message.
 * - A message buffer too small still gets a NUL-terminated prefix. */
#include "backstore.h"
#include "backstore/wire.h"
#include "fuzz/fuzz.h"
#include "real/parse_diskutil.h"

static void fail(const char *why) {
  fprintf(stderr, "diskutil_delete: %s\n", why);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  char *out, *err;
  size_t out_len, err_len;
  if (!bs_fuzz_tool_output(data + 1, size - 1, &out, &out_len, &err, &err_len))
    return 0;
  int status = data[0] < 0x80 ? 0 : data[0] == 0xff ? -9 : data[0] - 0x7f;
  bs__tool_result r = {.status = status,
                       .out = out_len ? out : NULL,
                       .out_len = out_len,
                       .err = err_len ? err : NULL,
                       .err_len = err_len};

  char msg[BS_ERROR_MESSAGE_MAX + 1] = "", msg2[BS_ERROR_MESSAGE_MAX + 1] = "";
  int rc = bs__diskutil_delete(&r, msg, sizeof(msg));
  if (bs__diskutil_delete(&r, msg2, sizeof(msg2)) != rc || strcmp(msg, msg2) != 0)
    fail("two checks of one result differ");
  if (rc == 0) {
    if (status != 0 || !out_len || !strstr(out, "Finished APFS operation"))
      fail("a success without status 0 and \"Finished APFS operation\"");
  } else if (status != 0) {
    char want[64];
    snprintf(want, sizeof(want), status < 0 ? "diskutil was killed by signal %d" : "diskutil exited with status %d",
             status < 0 ? -status : status);
    if (rc != BS_ETOOL_FAILED || strncmp(msg, want, strlen(want)) != 0)
      fail("a failing diskutil must be TOOL_FAILED saying its status");
  } else if (rc != BS_EPARSE || !msg[0]) {
    fail("output that does not say the delete finished must be PARSE with a message");
  }
  if (strpbrk(msg, "\n\r"))
    fail("the message is more than one line");
  if (rc != 0) {
    bs_error_response e, d;
    uint8_t wire[BS_ERROR_RESPONSE_SSZ_MAX];
    size_t n = 0;
    if (bs_error_response_make(&e, rc, 0, msg) != 0 || bs_error_response_encode(wire, sizeof(wire), &n, &e) != 0 ||
        bs_error_response_decode(&d, wire, n) != 0)
      fail("the message does not make an ErrorResponse that decodes");
    if (strcmp(d.message, msg) != 0)
      fail("the ErrorResponse does not carry the message as it is");
  }
  char tiny[8];
  memset(tiny, 'x', sizeof(tiny));
  if (bs__diskutil_delete(&r, tiny, sizeof(tiny)) != rc || (rc != 0 && !memchr(tiny, '\0', sizeof(tiny))))
    fail("a small message buffer is not NUL-terminated");
  free(out);
  free(err);
  return 0;
}
