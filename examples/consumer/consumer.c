/* A minimal consumer of the installed backstore library: it finds the
 * library only through `pkg-config backstore` (see Makefile) and uses only
 * <backstore.h>.
 *
 * It opens a real store on a fresh temporary directory, writes a file,
 * clones it (a reflink where the filesystem has one, else it checks that
 * the store said UNSUPPORTED because the capabilities say no reflink), takes
 * a snapshot (native, or a byte copy on ext4 and tmpfs), changes the file
 * and checks that the snapshot kept the old bytes.  It then does the same
 * on the simulated backend, where every step is supported.  Exit 0 when
 * every check holds, 1 with a message otherwise. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <backstore.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "consumer: FAILED %s:%d: ", __FILE__, __LINE__);          \
      fprintf(stderr, __VA_ARGS__);                                             \
      fputc('\n', stderr);                                                      \
      failures++;                                                               \
    }                                                                           \
  } while (0)

/* rc must be 0; says which call and the store's message otherwise. */
static int ok(bs_store *st, int rc, const char *what) {
  if (rc != BS_OK) {
    fprintf(stderr, "consumer: FAILED %s: %s (%s)%s%s\n", what, bs_err_name(rc), bs_strerror(rc),
            st ? ": " : "", st ? bs_last_message(st) : "");
    failures++;
  }
  return rc;
}

static int file_is(bs_store *st, const char *path, const char *want) {
  char buf[64] = {0};
  size_t n = 0;
  if (ok(st, bs_read(st, path, 0, buf, sizeof(buf) - 1, &n), path) != BS_OK)
    return 0;
  return n == strlen(want) && memcmp(buf, want, n) == 0;
}

/* The checks on one open store.  The real backend on a filesystem without
 * reflink answers UNSUPPORTED, as its capabilities say. */
static void exercise(bs_store *st, const char *label) {
  bs_caps caps;
  if (ok(st, bs_get_caps(st, &caps), "bs_get_caps") != BS_OK)
    return;
  printf("consumer: %s store on %s (reflink %s, snapshots %s)\n", label, caps.fs_type_name,
         caps.native_reflink ? "native" : "none", caps.native_snapshots ? "native" : "copied");

  static const char v1[] = "version one\n", v2[] = "version two\n";
  if (ok(st, bs_mkdir(st, "/docs", 0755), "bs_mkdir") != BS_OK ||
      ok(st, bs_create(st, "/docs/a.txt", 0644), "bs_create") != BS_OK ||
      ok(st, bs_write(st, "/docs/a.txt", 0, v1, strlen(v1)), "bs_write") != BS_OK)
    return;

  int rc = bs_reflink(st, "/docs/a.txt", "/docs/b.txt");
  if (rc == BS_EUNSUPPORTED && !caps.native_reflink) {
    printf("consumer: %s: no reflink on %s, as its capabilities say\n", label, caps.fs_type_name);
  } else if (ok(st, rc, "bs_reflink") == BS_OK) {
    CHECK(file_is(st, "/docs/b.txt", v1), "%s: the clone does not hold the source's bytes", label);
  }

  bs_snapshot_info info;
  if (ok(st, bs_snapshot_create(st, "before", &info), "bs_snapshot_create") != BS_OK)
    return;
  CHECK(strcmp(info.name, "before") == 0 && info.readonly, "%s: snapshot info %s", label, info.name);
  if (ok(st, bs_write(st, "/docs/a.txt", 0, v2, strlen(v2)), "bs_write after the snapshot") != BS_OK)
    return;

  char snap[256], path[300];
  if (ok(st, bs_snapshot_path(snap, sizeof(snap), "before"), "bs_snapshot_path") != BS_OK)
    return;
  snprintf(path, sizeof(path), "%s/docs/a.txt", snap);
  CHECK(file_is(st, path, v1), "%s: the snapshot's %s does not hold the old bytes", label, path);
  CHECK(file_is(st, "/docs/a.txt", v2), "%s: the main tree lost the write", label);

  rc = bs_write(st, path, 0, v2, strlen(v2));
  CHECK(rc == BS_EPERMISSION, "%s: a write into the snapshot answered %s, not PERMISSION", label,
        bs_err_name(rc));
  ok(st, bs_snapshot_delete(st, info.id), "bs_snapshot_delete");
}

int main(void) {
  printf("consumer: backstore %s (compiled against %d.%d.%d)\n", bs_version(), BS_VERSION_MAJOR,
         BS_VERSION_MINOR, BS_VERSION_PATCH);
  CHECK(atoi(bs_version()) == BS_VERSION_MAJOR, "runtime major %s != %d", bs_version(), BS_VERSION_MAJOR);

  /* A real store on a fresh temporary directory. */
  const char *tmp = getenv("TMPDIR");
  char base[4096], root[4200];
  snprintf(base, sizeof(base), "%s/bs-consumer-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(base)) {
    perror("consumer: mkdtemp");
    return 1;
  }
  snprintf(root, sizeof(root), "%s/store", base);
  bs_open_opts ro = {.root = root, .flags = BS_OPEN_SNAPSHOT_COPY};
  bs_store *st = NULL;
  if (ok(NULL, bs_store_create("real", &ro), "bs_store_create") == BS_OK &&
      ok(NULL, bs_open(&st, "real", &ro), "bs_open real") == BS_OK) {
    exercise(st, "real");
    bs_close(st);
  }
  char cmd[4300]; /* the snapshot is gone; the store is ordinary files */
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
  if (system(cmd) != 0)
    fprintf(stderr, "consumer: warning: could not remove %s\n", base);

  /* The simulated backend: an APFS-like volume in memory. */
  bs_open_opts so = {.profile = "apfs", .seed = 1};
  st = NULL;
  if (ok(NULL, bs_open(&st, "sim", &so), "bs_open sim") == BS_OK) {
    exercise(st, "sim");
    bs_close(st);
  }

  if (failures) {
    fprintf(stderr, "consumer: %d check(s) failed\n", failures);
    return 1;
  }
  printf("consumer: all checks passed\n");
  return 0;
}
