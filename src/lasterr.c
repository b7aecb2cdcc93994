/* The last failure of a store, kept per thread (backstore.h,
 * bs_last_message()): threads that share a store never see each other's
 * messages, and no lock is needed to read one.  Each thread keeps the last
 * failures of its BS_LAST_ERROR_STORES most recently used stores; a store
 * is known by its address and its serial, so a new store at the address of
 * a closed one starts clean. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "backstore/backend.h"
#include "src/names.h"
#include "src/store_internal.h"

typedef struct slot {
  const bs_store *st;
  uint64_t serial;
  uint64_t used; /* this thread's use counter when last touched: the oldest goes first */
  int os_errno;
  char msg[256];
} slot;

static _Thread_local slot slots[BS_LAST_ERROR_STORES];
static _Thread_local uint64_t uses;
static atomic_uint_fast64_t serials;

uint64_t bs__store_serial_next(void) { return atomic_fetch_add(&serials, 1) + 1; }

/* The slot of @st, or NULL; with @make, the oldest slot, taken over. */
static slot *find(const bs_store *st, bool make) {
  slot *oldest = &slots[0];
  for (size_t i = 0; i < BS_LAST_ERROR_STORES; i++) {
    slot *s = &slots[i];
    if (s->st == st && s->serial == st->serial) {
      s->used = ++uses;
      return s;
    }
    if (s->used < oldest->used)
      oldest = s;
  }
  if (!make)
    return NULL;
  memset(oldest, 0, sizeof(*oldest));
  oldest->st = st;
  oldest->serial = st->serial;
  oldest->used = ++uses;
  return oldest;
}

int bs_store_fail(bs_store *st, int err, int os_errno, const char *fmt, ...) {
  if (!st)
    return err;
  slot *s = find(st, true);
  s->os_errno = os_errno;
  char raw[sizeof(s->msg)];
  va_list ap;
  va_start(ap, fmt);
  const char *text = raw;
  if (strcmp(fmt, "%s") == 0) { /* a message made already: no formatting */
    text = va_arg(ap, const char *);
    if (!text)
      text = "(null)";
    size_t n = strnlen(text, sizeof(raw) - 1);
    memcpy(raw, text, n); /* as vsnprintf would: cut to the buffer */
    raw[n] = '\0';
    text = raw;
  } else {
    vsnprintf(raw, sizeof(raw), fmt, ap);
  }
  va_end(ap);
  /* A message may quote a name or path with a newline or an escape
   * sequence in it; whoever prints it gets one safe line (docs/names.md). */
  bs_text_escape(s->msg, sizeof(s->msg), text);
  return err;
}

void bs_store_clear_error(bs_store *st) {
  slot *s = st ? find(st, false) : NULL;
  if (s) {
    s->os_errno = 0;
    s->msg[0] = '\0';
  }
}

int bs_last_os_errno(const bs_store *st) {
  const slot *s = st ? find(st, false) : NULL;
  return s ? s->os_errno : 0;
}

const char *bs_last_message(const bs_store *st) {
  const slot *s = st ? find(st, false) : NULL;
  return s ? s->msg : "";
}
