/* bslab file verbs on a volume: init, clone, put, cat, ls, stat, usage,
 * mkdir, rm, ln, readlink.  Each opens the volume, does one thing, saves the image if it
 * changed the volume. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backstore/backend.h"
#include "tools/bslab/bslab.h"

#define CHUNK (1u << 20)

/* A real store: its directory, made ready for native snapshots. */
static int init_store(bslab_args *a) {
  if (!a->root)
    return bslab_usage_error(a, "init --backend %s needs --root DIR, the directory to make", a->backend);
  if (a->image || a->profile)
    return bslab_usage_error(a, "--image and --profile are the sim's; backend '%s' works on --root",
                             a->backend);
  if (bslab_check_backend_name(a, a->backend) != 0)
    return BSLAB_USAGE;
  bs_open_opts o = {.root = a->root};
  int rc = bs_store_create(a->backend, &o);
  if (rc != 0)
    return bslab_op_error_detail(a, a->root, rc, rc == BS_EUNSUPPORTED ? "this backend makes no store directories"
                                                                        : "");
  printf("created store %s\n", a->root);
  return BSLAB_OK;
}

int bslab_init(bslab_args *a) {
  if (a->backend && strcmp(a->backend, "sim") != 0)
    return init_store(a);
  bslab_vol v;
  int status = bslab_vol_open(&v, a, true);
  if (status != 0)
    return status;
  /* Under the image lock: of two inits, one makes the image, one is EXISTS. */
  if (!v.created)
    return bslab_vol_finish(&v, a, false, bslab_op_error(a, v.image, BS_EEXISTS, NULL));
  return bslab_vol_finish(&v, a, true, BSLAB_OK);
}

/* Host path @p as a store path of a real store rooted at "/": absolute, and
 * its directory resolved as the shell would ("./a", "../a", "d/../a",
 * symbolic links), so that no "." or ".." is left for the store to refuse;
 * the last component stays as given.  A directory that cannot be resolved
 * (missing) is left for the store to report. */
static int host_path(const bslab_args *a, const char *p, char *out, size_t cap) {
  char dir[PATH_MAX], real[PATH_MAX];
  size_t len = strlen(p), cut = 0; /* p[0..len) without trailing slashes; base at p[cut] */
  while (len > 1 && p[len - 1] == '/')
    len--;
  for (size_t i = 0; i < len; i++)
    if (p[i] == '/')
      cut = i + 1;
  const char *base = p + cut;
  size_t blen = len - cut;
  if (cut)
    snprintf(dir, sizeof(dir), "%.*s", cut == 1 ? 1 : (int)(cut - 1), p);
  else
    snprintf(dir, sizeof(dir), ".");
  bool whole = (blen == 1 && base[0] == '.') || (blen == 2 && base[0] == '.' && base[1] == '.');
  int n;
  if (realpath(whole ? p : dir, real))
    n = whole ? snprintf(out, cap, "%s", real)
              : snprintf(out, cap, "%s/%.*s", strcmp(real, "/") == 0 ? "" : real, (int)blen, base);
  else if (p[0] == '/')
    n = snprintf(out, cap, "%s", p);
  else
    n = getcwd(real, sizeof(real)) ? snprintf(out, cap, "%s/%s", real, p) : -1;
  if (n < 0 || (size_t)n >= cap)
    return bslab_env_error(a, "cannot make '%s' an absolute path", p);
  return 0;
}

int bslab_clone(bslab_args *a) {
  /* A real backend without --root clones host paths: its store is "/". */
  static char host[2][PATH_MAX];
  if (a->backend && strcmp(a->backend, "sim") != 0 && !a->root) {
    for (int i = 0; i < 2; i++) {
      if (host_path(a, a->pos[i], host[i], sizeof(host[i])) != 0)
        return BSLAB_USAGE;
      a->pos[i] = host[i];
    }
    a->root = "/";
  }
  bslab_vol v;
  int status = bslab_vol_open(&v, a, true);
  if (status != 0)
    return status;
  int rc = bs_reflink(v.st, a->pos[0], a->pos[1]);
  if (rc != 0) {
    /* NOT_FOUND and INVALID may be about SRC (missing, not a regular file)
     * or about DST (its parent, "/.bs"): name SRC if it is at fault.  The
     * detail stays reflink's own message. */
    char detail[256];
    snprintf(detail, sizeof(detail), "%s", bs_last_message(v.st));
    bs_stat_info si;
    bool about_src = false;
    if (rc == BS_ENOT_FOUND || rc == BS_EINVALID)
      about_src = bs_stat(v.st, a->pos[0], &si) != 0 || si.kind != BS_KIND_FILE;
    status = bslab_op_error_detail(a, about_src ? a->pos[0] : a->pos[1], rc, detail);
  }
  return bslab_vol_finish(&v, a, rc == 0, status);
}

/* The host side of put: a regular file, or a pipe (a FIFO, process
 * substitution, '-' as standard input); never a directory or a device,
 * whose reads may never end (/dev/zero) or mean something else. */
typedef struct host_src {
  int fd;
  bool owned; /* opened here (not standard input): close it */
  int err;    /* errno of a failed read, 0 if none */
} host_src;

static const char *kind_of(mode_t m) {
  return S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
       : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

static bool readable_kind(mode_t m, bool is_stdin) {
  return S_ISREG(m) || S_ISFIFO(m) || (is_stdin && S_ISSOCK(m));
}

static int refuse_kind(const bslab_args *a, const char *name, mode_t m) {
  return bslab_env_error(a, "%s: %s, not a regular file or a pipe (put copies a file, or standard "
                            "input with '-')", name, kind_of(m));
}

/* Open host file @name ("-": standard input) for put; 0, or BSLAB_USAGE
 * after a message.  The kind is checked before open(2) (opening a device
 * may do something) and again on the open file, which is what is read. */
static int open_source(const bslab_args *a, const char *name, host_src *s) {
  bool is_stdin = strcmp(name, "-") == 0;
  struct stat sb;
  *s = (host_src){.fd = -1};
  if (!is_stdin) {
    if (stat(name, &sb) != 0)
      return bslab_env_error(a, "cannot open '%s': %s", name, strerror(errno));
    if (!readable_kind(sb.st_mode, false))
      return refuse_kind(a, name, sb.st_mode);
  }
  int fd = is_stdin ? 0 : open(name, O_RDONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return bslab_env_error(a, "cannot open '%s': %s", name, strerror(errno));
  int status = BSLAB_OK;
  if (fstat(fd, &sb) != 0)
    status = bslab_env_error(a, "cannot open '%s': %s", name, strerror(errno));
  else if (!readable_kind(sb.st_mode, is_stdin))
    status = refuse_kind(a, is_stdin ? "standard input" : name, sb.st_mode);
  if (status != 0 && !is_stdin)
    close(fd);
  if (status == 0) {
    s->fd = fd;
    s->owned = !is_stdin;
  }
  return status;
}

/* bs_source_cb over the host file: one read(2) at a time. */
static int read_source(void *ctx, void *buf, size_t cap, size_t *n) {
  host_src *s = ctx;
  for (;;) {
    ssize_t got = read(s->fd, buf, cap);
    if (got >= 0) {
      *n = (size_t)got;
      return 0;
    }
    if (errno != EINTR) {
      s->err = errno;
      return BS_EIO;
    }
  }
}

int bslab_put(bslab_args *a) {
  host_src src;
  int status = open_source(a, a->pos[0], &src);
  if (status != 0)
    return status;
  bslab_vol v;
  if ((status = bslab_vol_open(&v, a, true)) == 0) {
    int rc = bs_replace(v.st, a->pos[1], 0644, read_source, &src);
    if (rc != 0 && src.err)
      status = bslab_env_error(a, "cannot read '%s': %s; %s is unchanged", a->pos[0], strerror(src.err),
                               a->pos[1]);
    else if (rc != 0)
      status = bslab_op_error(a, a->pos[1], rc, v.st);
    status = bslab_vol_finish(&v, a, rc == 0, status);
  }
  if (src.owned)
    close(src.fd);
  return status;
}

int bslab_cat(bslab_args *a) {
  bslab_vol v;
  int status = bslab_vol_open(&v, a, false);
  if (status != 0)
    return status;
  uint8_t *buf = malloc(CHUNK);
  int rc = buf ? BS_OK : BS_ENO_MEMORY;
  for (uint64_t off = 0; rc == 0;) {
    size_t n = 0;
    rc = bs_read(v.st, a->pos[0], off, buf, CHUNK, &n);
    if (rc != 0 || n == 0)
      break;
    if (!bslab_write_raw(a, buf, n)) {
      status = BSLAB_USAGE;
      break;
    }
    off += n;
  }
  free(buf);
  if (rc != 0)
    status = bslab_op_error(a, a->pos[0], rc, v.st);
  return bslab_vol_finish(&v, a, false, status);
}

static int print_entry(void *ctx, const char *name, bs_file_kind kind) {
  (void)ctx;
  bslab_text(stdout, name); /* one line per entry: /.bs/snapshots lists snapshot names */
  printf("%s\n", kind == BS_KIND_DIR ? "/" : "");
  return 0;
}

int bslab_ls(bslab_args *a) {
  bslab_vol v;
  int status = bslab_vol_open(&v, a, false);
  if (status != 0)
    return status;
  const char *path = a->npos ? a->pos[0] : "/";
  int rc = bs_readdir(v.st, path, print_entry, NULL);
  if (rc != 0)
    status = bslab_op_error(a, path, rc, v.st);
  return bslab_vol_finish(&v, a, false, status);
}

static const char *kind_name(bs_file_kind k) {
  return k == BS_KIND_FILE ? "file" : k == BS_KIND_DIR ? "directory" : "symlink";
}

int bslab_stat(bslab_args *a) {
  static const char *const formats[] = {"text", "json", NULL};
  int status = bslab_check_format(a, formats);
  bslab_vol v;
  if (status != 0 || (status = bslab_vol_open(&v, a, false)) != 0)
    return status;
  bs_stat_info s;
  int rc = bs_stat(v.st, a->pos[0], &s);
  if (rc != 0) {
    status = bslab_op_error(a, a->pos[0], rc, v.st);
  } else if (a->format && strcmp(a->format, "json") == 0) {
    printf("{\"path\":");
    bslab_json_str(stdout, a->pos[0]);
    printf(",\"ino\":%" PRIu64 ",\"kind\":\"%s\",\"mode\":%" PRIu32 ",\"uid\":%" PRIu32
           ",\"gid\":%" PRIu32 ",\"nlink\":%" PRIu32 ",\"size\":%" PRIu64 ",\"blocks\":%" PRIu64
           ",\"atime_ns\":%" PRId64 ",\"mtime_ns\":%" PRId64 ",\"ctime_ns\":%" PRId64
           ",\"btime_ns\":%" PRId64 "}\n",
           s.ino, kind_name(s.kind), s.mode, s.uid, s.gid, s.nlink, s.size, s.blocks, s.atime_ns,
           s.mtime_ns, s.ctime_ns, s.btime_ns);
  } else {
    printf("path:     %s\nino:      %" PRIu64 "\nkind:     %s\nmode:     %04" PRIo32
           "\nuid:      %" PRIu32 "\ngid:      %" PRIu32 "\nnlink:    %" PRIu32
           "\nsize:     %" PRIu64 "\nblocks:   %" PRIu64 "\natime_ns: %" PRId64
           "\nmtime_ns: %" PRId64 "\nctime_ns: %" PRId64 "\nbtime_ns: %" PRId64 "\n",
           a->pos[0], s.ino, kind_name(s.kind), s.mode, s.uid, s.gid, s.nlink, s.size, s.blocks,
           s.atime_ns, s.mtime_ns, s.ctime_ns, s.btime_ns);
  }
  return bslab_vol_finish(&v, a, false, status);
}

int bslab_usage_verb(bslab_args *a) {
  static const char *const formats[] = {"text", "json", NULL};
  int status = bslab_check_format(a, formats);
  bslab_vol v;
  if (status != 0 || (status = bslab_vol_open(&v, a, false)) != 0)
    return status;
  bs_usage u;
  int rc = bs_usage_get(v.st, &u);
  if (rc != 0)
    status = bslab_op_error(a, NULL, rc, v.st);
  else if (a->format && strcmp(a->format, "json") == 0)
    printf("{\"block_size\":%" PRIu64 ",\"total_bytes\":%" PRIu64 ",\"used_bytes\":%" PRIu64
           ",\"free_bytes\":%" PRIu64 ",\"shared_bytes\":%" PRIu64 "}\n",
           u.block_size, u.total_bytes, u.used_bytes, u.free_bytes, u.shared_bytes);
  else
    printf("block_size:   %" PRIu64 "\ntotal_bytes:  %" PRIu64 "\nused_bytes:   %" PRIu64
           "\nfree_bytes:   %" PRIu64 "\nshared_bytes: %" PRIu64 "\n",
           u.block_size, u.total_bytes, u.used_bytes, u.free_bytes, u.shared_bytes);
  return bslab_vol_finish(&v, a, false, status);
}

int bslab_mkdir(bslab_args *a) {
  bslab_vol v;
  int status = bslab_vol_open(&v, a, true);
  if (status != 0)
    return status;
  int rc = bs_mkdir(v.st, a->pos[0], 0755);
  if (rc != 0)
    status = bslab_op_error(a, a->pos[0], rc, v.st);
  return bslab_vol_finish(&v, a, rc == 0, status);
}

int bslab_rm(bslab_args *a) {
  bslab_vol v;
  int status = bslab_vol_open(&v, a, true);
  if (status != 0)
    return status;
  bs_stat_info s;
  int rc = bs_stat(v.st, a->pos[0], &s);
  if (rc == 0)
    rc = s.kind == BS_KIND_DIR ? bs_rmdir(v.st, a->pos[0]) : bs_unlink(v.st, a->pos[0]);
  if (rc != 0)
    status = bslab_op_error(a, a->pos[0], rc, v.st);
  return bslab_vol_finish(&v, a, rc == 0, status);
}

int bslab_ln(bslab_args *a) {
  bslab_vol v;
  int status = bslab_vol_open(&v, a, true);
  if (status != 0)
    return status;
  int rc = a->symbolic ? bs_symlink(v.st, a->pos[0], a->pos[1]) : bs_link(v.st, a->pos[0], a->pos[1]);
  if (rc != 0)
    status = bslab_op_error(a, a->pos[1], rc, v.st);
  return bslab_vol_finish(&v, a, rc == 0, status);
}

int bslab_readlink(bslab_args *a) {
  bslab_vol v;
  int status = bslab_vol_open(&v, a, false);
  if (status != 0)
    return status;
  char target[BS_SYMLINK_TARGET_MAX + 1];
  size_t len = 0;
  int rc = bs_readlink(v.st, a->pos[0], target, sizeof(target), &len);
  if (rc != 0)
    status = bslab_op_error(a, a->pos[0], rc, v.st);
  else
    printf("%s\n", target);
  return bslab_vol_finish(&v, a, false, status);
}
