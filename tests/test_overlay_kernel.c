/* The overlay's on-disk format is the kernel's (issue 17, docs/overlay.md):
 * on real xfs, ext4 and tmpfs volumes the layers of an overlay branch
 * (bs_branch_layers_get) are mounted with Linux overlayfs
 * (-o lowerdir=..,upperdir=..,workdir=..,userxattr) and the merged view the
 * kernel shows is compared with the library's, both ways: what the library
 * wrote (copy-ups, xattr whiteouts, opaque directories, renames) the kernel
 * sees, and what the kernel wrote (its copy-ups, character-device
 * whiteouts) the library sees.  Nothing is asserted while the overlay is
 * mounted: the views are dumped, the mount is taken down, then compared.
 * The mount point lies in the fixture volume's registry directory, so the
 * fixture unmounts it even if the process dies midway.  A branch of a
 * stacked snapshot (bs_branch_snapshot) is mounted with all its lowers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"

#ifdef __linux__
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/volume.h"

#define B "/.bs/branches/b"
#define DUMP_MAX 8192

/* A dump: one line per entry below the top, "path d mode" or
 * "path f mode size content", in byte order of paths. */
typedef struct dump {
  char s[DUMP_MAX];
  size_t n;
} dump;

static void dump_add(dump *d, const char *path, bool dir, unsigned mode, unsigned long long size,
                     const char *content) {
  int w = dir ? snprintf(d->s + d->n, DUMP_MAX - d->n, "%s d %o\n", path, mode)
              : snprintf(d->s + d->n, DUMP_MAX - d->n, "%s f %o %llu %s\n", path, mode, size, content);
  if (w > 0 && (size_t)w < DUMP_MAX - d->n)
    d->n += (size_t)w;
}

/* ---- the library's view ---- */

typedef struct names {
  char v[64][256];
  int n;
} names;

static int collect(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  names *l = ctx;
  if (l->n < 64)
    snprintf(l->v[l->n++], 256, "%s", name);
  return 0;
}

static void lib_dump(bs_store *st, const char *top, const char *rel, dump *d) {
  char p[1024];
  snprintf(p, sizeof(p), "%s%s", top, rel);
  names l = {.n = 0};
  assert_bs_ok(bs_readdir(st, p, collect, &l));
  for (int i = 0; i < l.n; i++) {
    char r[1024], full[2048];
    snprintf(r, sizeof(r), "%s/%s", rel, l.v[i]);
    snprintf(full, sizeof(full), "%s%s", top, r);
    bs_stat_info si;
    assert_bs_ok(bs_stat(st, full, &si));
    if (si.kind == BS_KIND_DIR) {
      dump_add(d, r, true, si.mode, 0, "");
      lib_dump(st, top, r, d);
    } else {
      char c[128] = "";
      size_t n = 0;
      assert_bs_ok(bs_read(st, full, 0, c, sizeof(c) - 1, &n));
      c[n] = '\0';
      dump_add(d, r, false, si.mode, si.size, c);
    }
  }
}

/* ---- the kernel's view (no asserts: the overlay may be mounted) ---- */

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

static int kernel_dump(const char *top, const char *rel, dump *d) {
  char p[2048];
  snprintf(p, sizeof(p), "%s%s", top, rel);
  DIR *dir = opendir(p);
  if (!dir) {
    fprintf(stderr, "opendir %s: %s\n", p, strerror(errno));
    return -errno;
  }
  char(*mine)[256] = calloc(64, 256);
  if (!mine) {
    closedir(dir);
    return -ENOMEM;
  }
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dir)) && n < 64)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      snprintf(mine[n++], 256, "%s", e->d_name);
  closedir(dir);
  qsort(mine, (size_t)n, 256, by_name);
  int rc = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    char r[1024], full[2048];
    snprintf(r, sizeof(r), "%s/%s", rel, mine[i]);
    snprintf(full, sizeof(full), "%s%s", top, r);
    struct stat sb;
    if (lstat(full, &sb) != 0) {
      rc = -errno;
      fprintf(stderr, "lstat %s: %s\n", full, strerror(errno));
      break;
    }
    if (S_ISDIR(sb.st_mode)) {
      dump_add(d, r, true, sb.st_mode & 07777, 0, "");
      rc = kernel_dump(top, r, d);
    } else {
      char c[128] = "";
      int fd = open(full, O_RDONLY);
      ssize_t got = fd >= 0 ? read(fd, c, sizeof(c) - 1) : -1;
      if (fd >= 0)
        close(fd);
      c[got > 0 ? got : 0] = '\0';
      dump_add(d, r, false, sb.st_mode & 07777, (unsigned long long)sb.st_size, c);
    }
  }
  free(mine);
  return rc;
}

/* ---- the mount ---- */

typedef struct ovl {
  char mnt[4096];
  bool mounted;
} ovl;

/* Mount the layers of overlay branch @branch; a branch of a stacked
 * snapshot has several lowers, top first (lowerdir=a:b:...). */
static int ovl_mount(const bs_target *t, bs_store *st, const char *branch, ovl *o) {
  bs_branch_layers ly;
  int rc = bs_branch_layers_get(st, branch, &ly);
  if (rc != 0)
    return rc;
  const bs_vol *v = bs_test_volume(t->profile);
  static unsigned seq;
  snprintf(o->mnt, sizeof(o->mnt), "%.4000s/ovl-%u-%u", v->dir, (unsigned)getpid(), seq++);
  if (mkdir(o->mnt, 0700) != 0)
    return -errno;
  char lower[4096] = "", opts[8192];
  for (uint32_t i = 0; i < ly.nlowers; i++) {
    size_t at = strlen(lower);
    snprintf(lower + at, sizeof(lower) - at, "%s%s%s", i ? ":" : "", t->root, ly.lowers[i]);
  }
  snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s%s,workdir=%s%s,userxattr", lower, t->root, ly.upper,
           t->root, ly.work);
  if (mount("overlay", o->mnt, "overlay", 0, opts) != 0) {
    int e = errno;
    rmdir(o->mnt);
    return -e;
  }
  o->mounted = true;
  return 0;
}

static void ovl_umount(ovl *o) {
  if (o->mounted) {
    umount2(o->mnt, MNT_DETACH);
    rmdir(o->mnt);
    o->mounted = false;
  }
}

static void setup(bs_store *st) {
  bs_test_put_text(st, "/a", "lower-a");
  bs_test_put_text(st, "/b", "lower-b");
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  bs_test_put_text(st, "/d/x", "x");
  bs_test_put_text(st, "/d/y", "y");
  assert_bs_ok(bs_mkdir(st, "/e", 0750));
  bs_test_put_text(st, "/e/z", "z");
  assert_bs_ok(bs_mkdir(st, "/g", 0755));
  bs_test_put_text(st, "/g/w", "w");
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &o));
}

static bool kernel_target(const bs_target *t) {
  return t->kind == BS_TARGET_REAL && (strcmp(t->profile, "xfs") == 0 ||
                                       (strcmp(t->profile, "ext4") == 0 && (t->open_flags & BS_OPEN_SNAPSHOT_COPY)) ||
                                       (strcmp(t->profile, "tmpfs") == 0 && (t->open_flags & BS_OPEN_SNAPSHOT_COPY)));
}

/* The library's view of branch @branch in @lib; the kernel's mount of its
 * layers must show the same. */
static void kernel_sees(const bs_target *t, bs_store *st, const char *branch, dump *lib) {
  char top[300];
  snprintf(top, sizeof(top), "/.bs/branches/%s", branch);
  lib_dump(st, top, "", lib);
  assert_bs_ok(bs_sync(st, NULL));
  dump ker = {.n = 0};
  ovl o = {.mounted = false};
  int mrc = ovl_mount(t, st, branch, &o);
  int krc = mrc == 0 ? kernel_dump(o.mnt, "", &ker) : 0;
  ovl_umount(&o);
  if (mrc != 0)
    fail_msg("%s: mount -t overlay: %s", t->label, strerror(-mrc));
  if (krc != 0)
    fail_msg("%s: walking the overlay mount: %s", t->label, strerror(-krc));
  assert_string_equal(ker.s, lib->s);
}

/* ---- library_writes_the_kernel_reads ---- */

static void lib_to_kernel_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st);
  assert_bs_ok(bs_write(st, B "/a", 0, "UPPER", 5));     /* copy-up */
  assert_bs_ok(bs_chmod(st, B "/b", 0600));               /* metadata copy-up */
  assert_bs_ok(bs_unlink(st, B "/d/x"));                  /* whiteout */
  assert_bs_ok(bs_unlink(st, B "/e/z"));
  assert_bs_ok(bs_rmdir(st, B "/e"));                     /* whiteout of a directory */
  assert_bs_ok(bs_unlink(st, B "/g/w"));
  assert_bs_ok(bs_rmdir(st, B "/g"));
  assert_bs_ok(bs_mkdir(st, B "/g", 0700));               /* opaque */
  bs_test_put_text(st, B "/g/new", "fresh");
  assert_bs_ok(bs_rename(st, B "/d/y", B "/y2"));         /* copy-up, rename, whiteout */
  bs_test_put_text(st, B "/n", "new");
  dump lib = {.n = 0};
  kernel_sees(t, st, "b", &lib);
  assert_non_null(strstr(lib.s, "/a f 644 7 UPPER-a\n"));
  assert_null(strstr(lib.s, "/d/x"));
  assert_null(strstr(lib.s, "/e "));
  assert_null(strstr(lib.s, "/g/w"));
}

static void library_writes_the_kernel_reads(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), kernel_target, lib_to_kernel_body, NULL, bs_test_seed());
}

/* ---- kernel_writes_the_library_reads ---- */

static int write_file(const char *path, const char *text, int flags) {
  int fd = open(path, O_WRONLY | flags, 0644);
  if (fd < 0)
    return -errno;
  ssize_t w = write(fd, text, strlen(text));
  int rc = w == (ssize_t)strlen(text) ? 0 : -EIO;
  if (fsync(fd) != 0)
    rc = -errno;
  close(fd);
  return rc;
}

/* The kernel's changes; the first error (-errno) or 0.  The snapshot's
 * files are immutable (docs/snapshots.md), and overlayfs carries that flag
 * up: a kernel mount cannot change a file only the lower holds.  The files
 * it changes here were copied up by the library first (/a, /b, /d/x). */
static int kernel_changes(const char *m) {
  char p[4200], q[4200];
  int rc = 0;
  snprintf(p, sizeof(p), "%s/a", m);
  if (rc == 0)
    rc = write_file(p, "KERN", 0); /* into the library's copy-up */
  snprintf(p, sizeof(p), "%s/d/x", m);
  if (rc == 0 && unlink(p) != 0) /* the kernel's whiteout: a character device 0/0 */
    rc = -errno;
  snprintf(p, sizeof(p), "%s/b", m);
  snprintf(q, sizeof(q), "%s/b2", m);
  if (rc == 0 && rename(p, q) != 0) /* moved, and a whiteout left at /b */
    rc = -errno;
  snprintf(p, sizeof(p), "%s/k", m);
  if (rc == 0 && mkdir(p, 0711) != 0)
    rc = -errno;
  snprintf(p, sizeof(p), "%s/k/f", m);
  if (rc == 0)
    rc = write_file(p, "kf", O_CREAT | O_EXCL);
  snprintf(p, sizeof(p), "%s/d/new", m);
  if (rc == 0)
    rc = write_file(p, "dn", O_CREAT | O_EXCL);
  return rc;
}

static void kernel_to_lib_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st);
  assert_bs_ok(bs_chmod(st, B "/a", 0644)); /* copy-ups the kernel may then change */
  assert_bs_ok(bs_chmod(st, B "/b", 0644));
  assert_bs_ok(bs_chmod(st, B "/d/x", 0644));
  assert_bs_ok(bs_sync(st, NULL));
  dump lib = {.n = 0}, ker = {.n = 0};
  ovl o = {.mounted = false};
  int mrc = ovl_mount(t, st, "b", &o);
  int crc = mrc == 0 ? kernel_changes(o.mnt) : 0;
  int krc = mrc == 0 && crc == 0 ? kernel_dump(o.mnt, "", &ker) : 0;
  ovl_umount(&o);
  if (mrc != 0)
    fail_msg("%s: mount -t overlay: %s", t->label, strerror(-mrc));
  if (crc != 0 || krc != 0)
    fail_msg("%s: changes through the overlay mount: %s", t->label, strerror(-(crc ? crc : krc)));
  st = bs_test_reopen(t, st);
  lib_dump(st, B, "", &lib);
  assert_string_equal(lib.s, ker.s);
  assert_non_null(strstr(lib.s, "/a f 644 7 KERNr-a\n"));
  assert_null(strstr(lib.s, "/d/x"));
  assert_null(strstr(lib.s, "/b f"));
  assert_non_null(strstr(lib.s, "/b2 f 644 7 lower-b\n"));
  /* The library goes on from the kernel's state: a new file over the
   * kernel's whiteout, a removal of the kernel's copy-up. */
  bs_stat_info si;
  assert_bs_err(bs_stat(st, B "/d/x", &si), BS_ENOT_FOUND);
  bs_test_put_text(st, B "/d/x", "again");
  assert_bs_ok(bs_unlink(st, B "/a"));
  assert_bs_err(bs_stat(st, B "/a", &si), BS_ENOT_FOUND);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, B, l);
  assert_string_equal(l, "b2;d/;e/;g/;k/;");
  bs_test_listing(st, B "/d", l);
  assert_string_equal(l, "new;x;y;");
}

static void kernel_writes_the_library_reads(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), kernel_target, kernel_to_lib_body, NULL, bs_test_seed());
}

/* ---- stacked_layers_mount_as_the_library_shows ---- */

/* Branch "c" of a snapshot of "b" (stacked): the kernel mounts its upper
 * over both lowers (lowerdir=frozen-upper:snapshot) and shows what the
 * library shows, whiteouts and an opaque directory of the middle layer
 * included. */
static void stacked_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st);
  assert_bs_ok(bs_write(st, B "/a", 0, "MID", 3));  /* copy-up into the middle layer */
  assert_bs_ok(bs_unlink(st, B "/d/x"));            /* whiteout in the middle layer */
  assert_bs_ok(bs_unlink(st, B "/g/w"));
  assert_bs_ok(bs_rmdir(st, B "/g"));
  assert_bs_ok(bs_mkdir(st, B "/g", 0700));         /* opaque in the middle layer */
  bs_test_put_text(st, B "/g/mid", "mid");
  bs_snapshot_info s1;
  assert_bs_ok(bs_branch_snapshot(st, "b", "s1", &s1));
  bs_branch_opts bo = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, s1.id, "c", &bo));
  assert_bs_ok(bs_write(st, "/.bs/branches/c/d/y", 0, "TOP", 3)); /* copy-up from the bottom */
  assert_bs_ok(bs_unlink(st, "/.bs/branches/c/b"));                 /* whiteout of the bottom */
  bs_test_put_text(st, "/.bs/branches/c/d/x", "again");                          /* over the middle's whiteout */
  dump lib = {.n = 0};
  kernel_sees(t, st, "c", &lib);
  assert_non_null(strstr(lib.s, "/a f 644 7 MIDer-a\n"));
  assert_non_null(strstr(lib.s, "/d/x f 644 5 again\n"));
  assert_non_null(strstr(lib.s, "/d/y f 644 3 TOP\n"));
  assert_non_null(strstr(lib.s, "/g/mid f 644 3 mid\n"));
  assert_null(strstr(lib.s, "/g/w"));
  assert_null(strstr(lib.s, "/b f"));
}

static void stacked_layers_mount_as_the_library_shows(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), kernel_target, stacked_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(library_writes_the_kernel_reads),
    cmocka_unit_test(kernel_writes_the_library_reads),
    cmocka_unit_test(stacked_layers_mount_as_the_library_shows),
  };
  return cmocka_run_group_tests_name("overlay_kernel", tests, NULL, NULL);
}
#else
int main(void) {
  printf("overlay_kernel: Linux only\n");
  return 0;
}
#endif
