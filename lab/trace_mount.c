/* Mount traces (docs/traces.md, "Mount traces"): the requests of bslab
 * mount as operations that one function runs on a store, for the FUSE
 * server and for a replay alike; their text form, its strict parser, and the
 * replay of a mount trace (no reference model: every result, and the data
 * read, must be as recorded, and the sim's own check must pass after every
 * request that changed the store). */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "backstore/faults.h"
#include "backstore/sim.h"
#include "lab/trace_internal.h"
#include "lab/trace_mount.h"

/* The fields of an operation's text, in order. */
enum { F_END, F_PATH, F_PATH2, F_NAME, F_OFF, F_OFF2, F_LEN, F_SIZE, F_MODE, F_UID, F_GID,
       F_ATIME, F_MTIME, F_FLAGS, F_BYTES, F_POWER };

static const struct {
  const char *name;
  unsigned char f[7];
  uint32_t max_flags;
} kinds[BS_MOP_COUNT] = {
  [BS_MOP_STAT] = {"stat", {F_PATH}, 0},
  [BS_MOP_READDIR] = {"readdir", {F_PATH}, 0},
  [BS_MOP_CREATE] = {"create", {F_PATH, F_MODE}, 0},
  [BS_MOP_OPEN] = {"open", {F_PATH, F_FLAGS}, 1},
  [BS_MOP_READ] = {"read", {F_PATH, F_OFF, F_LEN}, 0},
  [BS_MOP_WRITE] = {"write", {F_PATH, F_OFF, F_LEN, F_BYTES}, 0},
  [BS_MOP_FSYNC] = {"fsync", {F_PATH}, 0},
  [BS_MOP_TRUNCATE] = {"truncate", {F_PATH, F_SIZE}, 0},
  [BS_MOP_CHMOD] = {"chmod", {F_PATH, F_MODE}, 0},
  [BS_MOP_CHOWN] = {"chown", {F_PATH, F_UID, F_GID}, 0},
  [BS_MOP_UTIMENS] = {"utimens", {F_PATH, F_ATIME, F_MTIME}, 0},
  [BS_MOP_RENAME] = {"rename", {F_PATH, F_PATH2, F_FLAGS}, 1},
  [BS_MOP_UNLINK] = {"unlink", {F_PATH}, 0},
  [BS_MOP_RMDIR] = {"rmdir", {F_PATH}, 0},
  [BS_MOP_MKDIR] = {"mkdir", {F_PATH, F_MODE}, 0},
  [BS_MOP_SYMLINK] = {"symlink", {F_PATH, F_PATH2}, 0},
  [BS_MOP_LINK] = {"link", {F_PATH, F_PATH2}, 0},
  [BS_MOP_READLINK] = {"readlink", {F_PATH}, 0},
  [BS_MOP_SETXATTR] = {"setxattr", {F_PATH, F_NAME, F_LEN, F_BYTES, F_FLAGS}, 3},
  [BS_MOP_GETXATTR] = {"getxattr", {F_PATH, F_NAME, F_SIZE}, 0},
  [BS_MOP_LISTXATTR] = {"listxattr", {F_PATH, F_SIZE}, 0},
  [BS_MOP_REMOVEXATTR] = {"removexattr", {F_PATH, F_NAME}, 0},
  [BS_MOP_STATFS] = {"statfs", {F_PATH}, 0},
  [BS_MOP_COPY] = {"copy", {F_PATH, F_PATH2, F_OFF, F_OFF2, F_LEN, F_FLAGS}, UINT32_MAX},
  [BS_MOP_POWER_LOSS] = {"power-loss", {F_POWER}, 1},
};

static const char *const keys[] = {[F_OFF] = "off", [F_OFF2] = "off-out", [F_LEN] = "len",
  [F_SIZE] = "size", [F_MODE] = "mode", [F_UID] = "uid", [F_GID] = "gid", [F_ATIME] = "atime",
  [F_MTIME] = "mtime", [F_FLAGS] = "flags", [F_BYTES] = "bytes"};

bool bs_mop_has_data(bs_mop_kind kind) { return kind == BS_MOP_WRITE || kind == BS_MOP_SETXATTR; }

static uint64_t fnv(uint64_t h, const void *p, size_t n) { return bs__fnv1a(h, p, n); }

static uint64_t stat_hash(const bs_stat_info *s) {
  uint64_t v[11] = {s->ino, (uint64_t)s->kind, s->mode, s->uid, s->gid, s->nlink, s->size,
                    s->blocks, (uint64_t)s->atime_ns, (uint64_t)s->mtime_ns, (uint64_t)s->ctime_ns};
  return fnv(BS__FNV_OFFSET, v, sizeof(v));
}

/* ---- running a request ------------------------------------------------- */

typedef struct dir_walk {
  bs_store *st;
  const char *dir;
  bs_mop_out *out;
} dir_walk;

/* One entry, with its inode number (the mount gives it to readdir(3)). */
static int walk_one(void *p, const char *name, bs_file_kind kind) {
  dir_walk *d = p;
  char child[PATH_MAX];
  bs_stat_info in;
  int n = snprintf(child, sizeof(child), "%s/%s", strcmp(d->dir, "/") == 0 ? "" : d->dir, name);
  if (n < 0 || (size_t)n >= sizeof(child) || bs_stat(d->st, child, &in) != 0)
    in.ino = UINT32_MAX; /* libfuse's "unknown": the kernel asks on lookup */
  uint64_t v[2] = {(uint64_t)kind, in.ino};
  d->out->hash = fnv(fnv(d->out->hash, name, strlen(name) + 1), v, sizeof(v));
  d->out->n++;
  return d->out->entry ? d->out->entry(d->out->ctx, name, kind, in.ino) : 0;
}

static int list_one(void *p, const char *name) {
  bs_mop_out *o = p;
  size_t n = strlen(name) + 1;
  if (o->cap && o->n + n <= o->cap)
    memcpy((char *)o->buf + o->n, name, n);
  o->n += n;
  o->hash = fnv(o->hash, name, n);
  return 0;
}

static int copy_range(bs_store *st, const bs_mop *op, bs_mop_out *out) {
  bs_stat_info src, dst;
  char tmp[PATH_MAX];
  if (op->flags != 0 || op->off != 0 || op->off2 != 0 || bs_stat(st, op->path, &src) != 0 ||
      bs_stat(st, op->path2, &dst) != 0 || dst.size != 0 || src.kind != BS_KIND_FILE ||
      op->len < src.size || src.size > SSIZE_MAX ||
      (size_t)snprintf(tmp, sizeof(tmp), "%s.bslab-clone", op->path2) >= sizeof(tmp))
    return BS_EUNSUPPORTED;
  out->mutated = true;
  int rc = bs_reflink(st, op->path, tmp);
  if (rc == 0 && (rc = bs_rename(st, tmp, op->path2)) != 0)
    bs_unlink(st, tmp);
  out->n = (size_t)src.size;
  return rc;
}

static int set_xattr(bs_store *st, const bs_mop *op, bs_mop_out *out) {
  size_t len = 0;
  int have = bs_getxattr(st, op->path, op->name, NULL, 0, &len);
  out->probe = true;
  if ((op->flags & 1) && have == 0)
    return BS_EEXISTS;
  if ((op->flags & 2) && have != 0)
    return have;
  out->probe = false;
  out->mutated = true;
  return bs_setxattr(st, op->path, op->name, op->data, (size_t)op->len);
}

/* The calls that change the store. */
static int change(bs_store *st, const bs_mop *op, bs_mop_out *out) {
  out->mutated = true;
  switch (op->kind) {
  case BS_MOP_CREATE: return bs_create(st, op->path, op->mode);
  case BS_MOP_WRITE: return bs_write(st, op->path, op->off, op->data, (size_t)op->len);
  case BS_MOP_FSYNC: return bs_sync(st, op->path);
  case BS_MOP_TRUNCATE: return bs_truncate(st, op->path, op->size);
  case BS_MOP_CHMOD: return bs_chmod(st, op->path, op->mode);
  case BS_MOP_CHOWN: return bs_chown(st, op->path, op->uid, op->gid);
  case BS_MOP_UNLINK: return bs_unlink(st, op->path);
  case BS_MOP_RMDIR: return bs_rmdir(st, op->path);
  case BS_MOP_MKDIR: return bs_mkdir(st, op->path, op->mode);
  case BS_MOP_SYMLINK: return bs_symlink(st, op->path2, op->path);
  case BS_MOP_LINK: return bs_link(st, op->path, op->path2);
  case BS_MOP_REMOVEXATTR: return bs_removexattr(st, op->path, op->name);
  case BS_MOP_POWER_LOSS:
    return bs_power_loss(st, op->flags ? BS_POWER_LOSS_TEAR : BS_POWER_LOSS_DROP);
  default: out->mutated = false; return BS_EINVALID;
  }
}

int bs_mop_exec(bs_store *st, const bs_mop *op, bs_mop_out *out) {
  out->n = 0;
  out->hash = BS__FNV_OFFSET;
  out->mutated = out->probe = false;
  int rc;
  bs_stat_info in;
  switch (op->kind) {
  case BS_MOP_STAT:
    if ((rc = bs_stat(st, op->path, &out->st)) == 0)
      out->hash = stat_hash(&out->st);
    return rc;
  case BS_MOP_READDIR: {
    dir_walk d = {st, op->path, out};
    return bs_readdir(st, op->path, walk_one, &d);
  }
  case BS_MOP_OPEN:
    /* libfuse's atomic O_TRUNC: the open empties the file. */
    out->mutated = (op->flags & 1) != 0;
    if ((rc = bs_stat(st, op->path, &out->st)) != 0 || out->st.kind == BS_KIND_DIR)
      return rc;
    out->hash = stat_hash(&out->st);
    return out->mutated && out->st.size != 0 ? bs_truncate(st, op->path, 0) : 0;
  case BS_MOP_READ:
    if (out->cap < op->len)
      return BS_EINVALID;
    if ((rc = bs_read(st, op->path, op->off, out->buf, (size_t)op->len, &out->n)) == 0)
      out->hash = fnv(out->hash, out->buf, out->n);
    return rc;
  case BS_MOP_UTIMENS:
    if ((rc = bs_stat(st, op->path, &in)) != 0)
      return rc;
    out->mutated = true;
    return bs_utimens(st, op->path, op->atime == BS_MOP_OMIT ? in.atime_ns : op->atime,
                      op->mtime == BS_MOP_OMIT ? in.mtime_ns : op->mtime);
  case BS_MOP_RENAME:
    /* One thread serves every request: nothing comes between the check and the rename. */
    if ((op->flags & 1) && bs_stat(st, op->path2, &in) == 0)
      return BS_EEXISTS;
    out->mutated = true;
    return bs_rename(st, op->path, op->path2);
  case BS_MOP_READLINK:
    if (out->cap < BS_SYMLINK_TARGET_MAX + 1)
      return BS_EINVALID;
    if ((rc = bs_readlink(st, op->path, out->buf, out->cap, &out->n)) == 0)
      out->hash = fnv(out->hash, out->buf, out->n);
    return rc;
  case BS_MOP_SETXATTR: return set_xattr(st, op, out);
  case BS_MOP_GETXATTR:
    if (out->cap < op->size)
      return BS_EINVALID;
    rc = bs_getxattr(st, op->path, op->name, op->size ? out->buf : NULL, (size_t)op->size, &out->n);
    if (rc == 0 && op->size)
      out->hash = fnv(out->hash, out->buf, out->n < op->size ? out->n : (size_t)op->size);
    return rc;
  case BS_MOP_LISTXATTR:
    if (out->cap < op->size)
      return BS_EINVALID;
    out->cap = (size_t)op->size;
    return bs_listxattr(st, op->path, list_one, out);
  case BS_MOP_STATFS:
    if ((rc = bs_usage_get(st, &out->usage)) == 0 && (rc = bs_get_caps(st, &out->caps)) == 0) {
      uint64_t v[4] = {out->usage.block_size, out->usage.total_bytes, out->usage.free_bytes,
                       out->caps.max_name_len};
      out->hash = fnv(out->hash, v, sizeof(v));
    }
    return rc;
  case BS_MOP_COPY: return copy_range(st, op, out);
  default: return change(st, op, out);
  }
}

/* ---- text --------------------------------------------------------------- */

/* @s escaped (\xHH for a space, a control byte, a byte >= 0x7f, '\'). */
static void put_escaped(bs__tbuf *b, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p <= 0x20 || *p >= 0x7f || *p == '\\') {
      char e[5];
      snprintf(e, sizeof(e), "\\x%02x", *p);
      bs__tbuf_add(b, e, 4);
    } else {
      bs__tbuf_add(b, (const char *)p, 1);
    }
  }
}

static void put(bs__tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(bs__tbuf *b, const char *fmt, ...) {
  char tmp[96];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  bs__tbuf_add(b, tmp, n > 0 ? (size_t)n : 0);
}

void bs_mop_format(bs__tbuf *b, const bs_mop *op) {
  bs__tbuf_add(b, kinds[op->kind].name, strlen(kinds[op->kind].name));
  for (const unsigned char *f = kinds[op->kind].f; *f != F_END; f++) {
    bs__tbuf_add(b, " ", 1);
    switch (*f) {
    case F_PATH: put_escaped(b, op->path); break;
    case F_PATH2: put_escaped(b, op->path2); break;
    case F_NAME: put_escaped(b, op->name); break;
    case F_OFF: put(b, "off=%" PRIu64, op->off); break;
    case F_OFF2: put(b, "off-out=%" PRIu64, op->off2); break;
    case F_LEN: put(b, "len=%" PRIu64, op->len); break;
    case F_SIZE: put(b, "size=%" PRIu64, op->size); break;
    case F_MODE: put(b, "mode=0%o", (unsigned)op->mode); break;
    case F_UID:
      op->uid == BS_ID_KEEP ? put(b, "uid=keep") : put(b, "uid=%" PRIu32, op->uid);
      break;
    case F_GID:
      op->gid == BS_ID_KEEP ? put(b, "gid=keep") : put(b, "gid=%" PRIu32, op->gid);
      break;
    case F_ATIME:
      op->atime == BS_MOP_OMIT ? put(b, "atime=omit") : put(b, "atime=%" PRId64, op->atime);
      break;
    case F_MTIME:
      op->mtime == BS_MOP_OMIT ? put(b, "mtime=omit") : put(b, "mtime=%" PRId64, op->mtime);
      break;
    case F_FLAGS: put(b, "flags=%" PRIu32, op->flags); break;
    case F_BYTES:
      /* Parsed text has no data until its data lines: the parsed hash then. */
      put(b, "bytes=%016" PRIx64, op->data || op->len == 0
                                      ? fnv(BS__FNV_OFFSET, op->data ? op->data : "", (size_t)op->len)
                                      : op->bytes_hash);
      break;
    default: put(b, "%s", op->flags ? "tear" : "drop"); break;
    }
  }
}

void bs_mop_format_result(bs__tbuf *b, const bs_mop *op, int rc, const bs_mop_out *out) {
  put(b, " -> %s", bs_err_name(rc));
  if (rc != 0)
    return;
  switch (op->kind) {
  case BS_MOP_STAT:
  case BS_MOP_OPEN:
  case BS_MOP_STATFS: put(b, " h=%016" PRIx64, out->hash); break;
  case BS_MOP_READDIR:
  case BS_MOP_READ:
  case BS_MOP_READLINK:
  case BS_MOP_GETXATTR:
  case BS_MOP_LISTXATTR: put(b, " n=%zu h=%016" PRIx64, out->n, out->hash); break;
  case BS_MOP_COPY: put(b, " n=%zu", out->n); break;
  default: break;
  }
}

static int bad(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, cap, fmt, ap);
  va_end(ap);
  return BS_EINVALID;
}

/* Escaped token @tok (of @n bytes) into @out (at most @max bytes); false if malformed. */
static bool unescape(const char *tok, size_t n, char *out, size_t max) {
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)tok[i];
    if (c == '\\') {
      int h1, h2;
      if (i + 3 >= n || tok[i + 1] != 'x' || (h1 = bs__trace_hexval(tok[i + 2])) < 0 ||
          (h2 = bs__trace_hexval(tok[i + 3])) < 0 || (h1 | h2) == 0)
        return false;
      c = (unsigned char)(h1 * 16 + h2);
      i += 3;
    } else if (c <= 0x20 || c >= 0x7f) {
      return false;
    }
    if (w == max)
      return false;
    out[w++] = (char)c;
  }
  out[w] = '\0';
  return w > 0;
}

static bool parse_time(const char *s, size_t n, int64_t *out) {
  uint64_t x;
  if (n == 4 && memcmp(s, "omit", 4) == 0) {
    *out = BS_MOP_OMIT;
    return true;
  }
  bool neg = n > 0 && s[0] == '-';
  if (!bs__trace_u64(s + neg, n - neg, &x) || x > (uint64_t)INT64_MAX || (neg && x == 0))
    return false;
  *out = neg ? -(int64_t)x : (int64_t)x;
  return true;
}

static bool parse_id(const char *s, size_t n, uint32_t *out) {
  uint64_t x;
  if (n == 4 && memcmp(s, "keep", 4) == 0) {
    *out = BS_ID_KEEP;
    return true;
  }
  if (!bs__trace_u64(s, n, &x) || x >= BS_ID_KEEP)
    return false;
  *out = (uint32_t)x;
  return true;
}

/* One field @f from token @tok of @n bytes. */
static int field(int f, const char *tok, size_t n, bs_mop_text *t, char *why, size_t cap) {
  bs_mop *op = &t->op;
  if (f == F_PATH || f == F_PATH2) {
    char *dst = f == F_PATH ? t->path : t->path2;
    bool target = f == F_PATH2 && op->kind == BS_MOP_SYMLINK;
    if (!unescape(tok, n, dst, BS_MOP_PATH_MAX))
      return bad(why, cap, "bad %s (escaped, \\xHH, 1 to %d bytes)", target ? "symlink target" : "path",
                 BS_MOP_PATH_MAX);
    if (!target && dst[0] != '/')
      return bad(why, cap, "path \"%.40s\" is not absolute", dst);
    return 0;
  }
  if (f == F_NAME)
    return unescape(tok, n, t->name, BS_MOP_NAME_MAX) ? 0
           : bad(why, cap, "bad xattr name (escaped, 1 to %d bytes)", BS_MOP_NAME_MAX);
  if (f == F_POWER) {
    if (n == 4 && memcmp(tok, "drop", 4) == 0)
      op->flags = 0;
    else if (n == 4 && memcmp(tok, "tear", 4) == 0)
      op->flags = 1;
    else
      return bad(why, cap, "power-loss needs drop or tear");
    return 0;
  }
  const char *key = keys[f];
  size_t kl = strlen(key);
  if (n <= kl || memcmp(tok, key, kl) != 0 || tok[kl] != '=')
    return bad(why, cap, "expected %s=", key);
  const char *v = tok + kl + 1;
  size_t vn = n - kl - 1;
  uint64_t x = 0;
  bool ok;
  switch (f) {
  case F_OFF: ok = bs__trace_u64(v, vn, &op->off); break;
  case F_OFF2: ok = bs__trace_u64(v, vn, &op->off2); break;
  case F_LEN: ok = bs__trace_u64(v, vn, &op->len); break;
  case F_SIZE: ok = bs__trace_u64(v, vn, &op->size); break;
  case F_MODE:
    ok = vn >= 1 && vn <= 5 && v[0] == '0';
    for (size_t i = 1; ok && i < vn; i++) {
      ok = v[i] >= '0' && v[i] <= '7';
      x = x * 8 + (uint64_t)(v[i] - '0');
    }
    op->mode = (uint32_t)x;
    break;
  case F_UID: ok = parse_id(v, vn, &op->uid); break;
  case F_GID: ok = parse_id(v, vn, &op->gid); break;
  case F_ATIME: ok = parse_time(v, vn, &op->atime); break;
  case F_MTIME: ok = parse_time(v, vn, &op->mtime); break;
  case F_FLAGS: ok = bs__trace_u64(v, vn, &x) && x <= kinds[op->kind].max_flags; op->flags = (uint32_t)x; break;
  default:
    ok = vn == 16;
    for (size_t i = 0; ok && i < vn; i++) {
      int h = bs__trace_hexval(v[i]);
      ok = h >= 0;
      x = x * 16 + (uint64_t)(h < 0 ? 0 : h);
    }
    op->bytes_hash = x;
    break;
  }
  return ok ? 0 : bad(why, cap, "bad %s value \"%.*s\"", key, (int)(vn < 40 ? vn : 40), v);
}

int bs_mop_parse(const char *s, bs_mop_text *t, char *why, size_t cap) {
  memset(&t->op, 0, sizeof(t->op));
  t->path[0] = t->path2[0] = t->name[0] = '\0';
  bs_mop *op = &t->op;
  op->path = t->path;
  op->path2 = t->path2;
  op->name = t->name;
  size_t n = strcspn(s, " ");
  int k = 0;
  while (k < BS_MOP_COUNT && (strlen(kinds[k].name) != n || memcmp(kinds[k].name, s, n) != 0))
    k++;
  if (k == BS_MOP_COUNT)
    return bad(why, cap, "unknown mount operation \"%.*s\"", (int)(n < 40 ? n : 40), s);
  op->kind = (bs_mop_kind)k;
  s += n;
  for (const unsigned char *f = kinds[k].f; *f != F_END; f++) {
    if (*s != ' ' || s[1] == ' ' || s[1] == '\0')
      return bad(why, cap, "%s: missing or stray-spaced argument", kinds[k].name);
    s++;
    n = strcspn(s, " ");
    int rc = field(*f, s, n, t, why, cap);
    if (rc != 0)
      return rc;
    s += n;
  }
  if (*s)
    return bad(why, cap, "%s: extra text \"%.40s\"", kinds[k].name, s);
  if (bs_mop_has_data(op->kind) && op->len > BS_TRACE_DATA_MAX)
    return bad(why, cap, "%s of %" PRIu64 " bytes: at most %u bytes are carried", kinds[k].name,
               op->len, BS_TRACE_DATA_MAX);
  if ((op->kind == BS_MOP_READ || op->kind == BS_MOP_GETXATTR || op->kind == BS_MOP_LISTXATTR) &&
      (op->kind == BS_MOP_READ ? op->len : op->size) > BS_TRACE_DATA_MAX)
    return bad(why, cap, "%s of more than %u bytes", kinds[k].name, BS_TRACE_DATA_MAX);
  return 0;
}

/* ---- replay -------------------------------------------------------------- */

typedef struct mreplay {
  bs_store *inner, *st;
  bs_replay_result *out;
  bs_trace *rec; /* the recording, or NULL */
  bs_trace_error *err;
  unsigned char *buf; /* BS_TRACE_DATA_MAX bytes for reads */
  bs_mop_text *mt;    /* the operation being run */
  bool check;
} mreplay;

static int open_store(mreplay *m, const bs_trace *t) {
  bs_open_opts o = {.profile = t->profile, .seed = t->seed};
  int rc = bs_open(&m->inner, t->backend, &o);
  if (rc != 0) {
    snprintf(m->err->message, sizeof(m->err->message), "cannot open backend '%s' (profile %s): %s",
             t->backend, t->profile, bs_strerror(rc));
    return rc == BS_ENO_MEMORY ? rc : BS_EINVALID;
  }
  m->st = m->inner;
  bs_sim_bug bug = BS_SIM_BUG_NONE;
  if (t->sim_bug[0] && ((rc = bs_sim_bug_from_name(t->sim_bug, &bug)) != 0 ||
                        (rc = bs_sim_set_bug(m->inner, bug)) != 0)) {
    snprintf(m->err->message, sizeof(m->err->message), "sim bug '%s': %s", t->sim_bug,
             bs_strerror(rc));
    return BS_EINVALID;
  }
  if (t->faults && (rc = bs_faults_wrap(&m->st, m->inner, t->faults, t->seed)) != 0) {
    snprintf(m->err->message, sizeof(m->err->message), "fault spec '%s': %s", t->faults,
             bs_strerror(rc));
    return rc == BS_ENO_MEMORY ? rc : BS_EINVALID;
  }
  m->check = !t->no_backend_check && bs_sim_is_sim(m->inner);
  return 0;
}

/* Append a line with its data to @t. */
int bs__trace_add_data_line(bs_trace *t, const char *text, size_t n, const void *data,
                            size_t len) {
  int rc = bs__trace_add_line(t, text, n, 0);
  if (rc != 0 || len == 0)
    return rc;
  bs_trace_line *l = &t->lines[t->n_lines - 1];
  if (!(l->data = malloc(len)))
    return BS_ENO_MEMORY;
  memcpy(l->data, data, len);
  l->data_len = len;
  return 0;
}

/* Run line @l; 0, 1 when the replay failed (the check), or an error code. */
static int run_line(mreplay *m, const bs_trace_line *l, size_t i) {
  bs_mop_text *mt = m->mt;
  const char *sp = strchr(l->text, ' '), *arrow = strstr(l->text, " -> ");
  char why[200];
  if (!sp || !arrow || arrow < sp) {
    m->err->line = l->lineno;
    snprintf(m->err->message, sizeof(m->err->message), "malformed operation line");
    return BS_EINVALID;
  }
  size_t n = (size_t)(arrow - (sp + 1));
  char *text = malloc(n + 1);
  if (!text)
    return BS_ENO_MEMORY;
  memcpy(text, sp + 1, n);
  text[n] = '\0';
  int rc = bs_mop_parse(text, mt, why, sizeof(why));
  free(text);
  if (rc != 0) {
    m->err->line = l->lineno;
    snprintf(m->err->message, sizeof(m->err->message), "%s", why);
    return BS_EINVALID;
  }
  mt->op.data = l->data;
  bs_mop_out o = {.buf = m->buf, .cap = BS_TRACE_DATA_MAX};
  int res = bs_mop_exec(m->st, &mt->op, &o);
  bs__tbuf b = {0};
  bs__tbuf_add(&b, l->text, (size_t)(sp - l->text) + 1);
  bs_mop_format(&b, &mt->op);
  bs_mop_format_result(&b, &mt->op, res, &o);
  if (b.oom) {
    bs__tbuf_free(&b);
    return BS_ENO_MEMORY;
  }
  bs_replay_result *out = m->out;
  out->ops_run++;
  out->digest = bs__fnv1a(bs__fnv1a(out->digest, b.p, b.n), "\n", 1);
  if (strcmp(b.p, l->text) != 0)
    bs__trace_difference(out, l, i, b.p);
  rc = m->rec ? bs__trace_add_data_line(m->rec, b.p, b.n, l->data, l->data_len) : 0;
  uint32_t index = (uint32_t)strtoul(l->text, NULL, 10);
  int bad_check = 0;
  if (rc == 0 && o.mutated && m->check &&
      (bad_check = bs_sim_check_incremental(m->inner)) != 0) {
    bs_campaign_failure *f = &out->failure;
    out->failed = true;
    f->op_index = index;
    snprintf(f->op, sizeof(f->op), "%.*s", (int)(arrow - (sp + 1)), sp + 1);
    snprintf(f->check, sizeof(f->check), "check");
    snprintf(f->expected, sizeof(f->expected), "OK");
    snprintf(f->actual, sizeof(f->actual), "%s", bs_err_name(bad_check));
    snprintf(f->message, sizeof(f->message), "%s", bs_last_message(m->inner));
  }
  bs__tbuf_free(&b);
  return rc != 0 ? rc : out->failed ? 1 : 0;
}

int bs__trace_replay_mount(bs_replay_result *out, const bs_trace *t, bs_trace **recording,
                           const char *save_image, bs_trace_error *err) {
  mreplay m = {.out = out, .err = err};
  out->digest = BS__FNV_OFFSET;
  int rc = open_store(&m, t);
  if (rc == 0 && recording) {
    if (!(m.rec = calloc(1, sizeof(*m.rec))))
      rc = BS_ENO_MEMORY;
    else {
      *m.rec = (bs_trace){.version = 2, .seed = t->seed, .no_backend_check = t->no_backend_check,
                          .mount = true};
      memcpy(m.rec->backend, t->backend, sizeof(t->backend));
      memcpy(m.rec->profile, t->profile, sizeof(t->profile));
      memcpy(m.rec->sim_bug, t->sim_bug, sizeof(t->sim_bug));
      if (t->faults && !(m.rec->faults = strdup(t->faults)))
        rc = BS_ENO_MEMORY;
    }
  }
  if (rc == 0 && (!(m.buf = malloc(BS_TRACE_DATA_MAX)) || !(m.mt = malloc(sizeof(*m.mt)))))
    rc = BS_ENO_MEMORY;
  for (size_t i = 0; rc == 0 && i < t->n_lines && !out->failed; i++) {
    if (t->lines[i].kind != BS_TRACE_OP)
      continue;
    int x = run_line(&m, &t->lines[i], i);
    if (x < 0)
      rc = x;
  }
  uint64_t fired = 0;
  if (m.st && m.st != m.inner && bs_faults_fired(m.st, &fired) == 0)
    out->faults_fired = (uint32_t)fired;
  out->reproduced = t->failed && out->failed && bs_trace_same_failure(&t->failure, &out->failure);
  if (out->failed)
    out->failure.seed = t->seed;
  if (rc == 0 && save_image && (rc = bs_sim_save(m.inner, save_image)) != 0)
    snprintf(err->message, sizeof(err->message), "cannot save the replayed volume to %s: %s",
             save_image, bs_strerror(rc));
  if (m.st && m.st != m.inner)
    bs_close(m.st);
  if (m.inner)
    bs_close(m.inner);
  free(m.buf);
  free(m.mt);
  if (rc == 0 && m.rec) {
    m.rec->failed = out->failed;
    m.rec->failure = out->failure;
    *recording = m.rec;
  } else {
    bs_trace_free(m.rec);
  }
  if (rc == BS_ENO_MEMORY && !err->message[0])
    snprintf(err->message, sizeof(err->message), "%s", bs_strerror(rc));
  return rc;
}
