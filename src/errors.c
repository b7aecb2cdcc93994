/* The error table of backstore.h turned into names, messages, wire numbers and
 * errno mappings (libuv UV_ERRNO_MAP style). */
#include <errno.h>

#include "backstore.h"

#ifndef EUCLEAN
#define EUCLEAN EIO
#endif

struct err_row {
  const char *name;
  const char *msg;
  int eno;
};

static const struct err_row rows[BS_ERROR_COUNT] = {
  [0] = {"OK", "success", 0},
#define BS__XX(name_, wire_, eno_, msg_) [wire_] = {#name_, msg_, eno_},
  BS_ERRNO_MAP(BS__XX)
#undef BS__XX
};

/* The wire number of a valid code, or -1. */
static int wire_of(int err) {
  if (err > 0 || err <= -BS_ERROR_COUNT)
    return -1;
  return -err;
}

const char *bs_err_name(int err) {
  int w = wire_of(err);
  return w < 0 ? "UNKNOWN" : rows[w].name;
}

const char *bs_strerror(int err) {
  int w = wire_of(err);
  return w < 0 ? "unknown error" : rows[w].msg;
}

uint16_t bs_err_wire(int err) {
  int w = wire_of(err);
  return w < 0 ? 0xffff : (uint16_t)w;
}

int bs_err_from_wire(uint16_t wire) { return wire < BS_ERROR_COUNT ? -(int)wire : BS_EINVALID; }

int bs_err_to_errno(int err) {
  int w = wire_of(err);
  return w < 0 ? EIO : rows[w].eno;
}

int bs_err_from_errno(int e) {
  switch (e) {
  case 0:
    return BS_OK;
  case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
  case EOPNOTSUPP:
#endif
  case ENOTTY:
  case ENOSYS:
    return BS_EUNSUPPORTED;
  case ENOENT:
  case ENODATA: /* missing xattr */
#if defined(ENOATTR) && ENOATTR != ENODATA
  case ENOATTR: /* missing xattr, macOS */
#endif
  case ESRCH:
    return BS_ENOT_FOUND;
  case EEXIST:
  case ENOTEMPTY:
    return BS_EEXISTS;
  case EBUSY:
  case ETXTBSY:
    return BS_EBUSY;
  case ENOSPC:
  case EDQUOT:
  case EFBIG:
    return BS_ENO_SPACE;
  case EINVAL:
  case E2BIG:
  case ERANGE:
  case ENOTDIR:
  case EISDIR:
  case ELOOP:
  case EBADF:
    return BS_EINVALID;
  case ENAMETOOLONG:
    return BS_ENAME_TOO_LONG;
  case EPERM:
  case EACCES:
  case EROFS:
    return BS_EPERMISSION;
  case EXDEV:
    return BS_ECROSS_DEVICE;
  case ENOMEM:
    return BS_ENO_MEMORY;
  case EBADMSG:
    return BS_EPARSE;
  case ECHILD:
    return BS_ETOOL_FAILED;
#if EUCLEAN != EIO
  case EUCLEAN:
    return BS_ECORRUPT;
#endif
  default:
    return BS_EIO;
  }
}
