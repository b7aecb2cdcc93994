/* Two processes on one real btrfs store (made by bs_store_create, so
 * snapshots and branches are native subvolumes) create and delete snapshots
 * and branches at once: names both use and names of their own, deletes of
 * each other's snapshots that may be BUSY, branches of snapshots the other
 * may be deleting.  Each child logs every call and its answer
 * (tests/support/snap_log.h).  Afterwards the logs must fit one order the
 * registry's rules allow, ending at the registry there is (every call
 * happened whole or not at all), and the registry, `btrfs subvolume list`
 * and the trees under <root>/.bs must agree exactly.  Then the same with
 * kill -9: one of the two is killed at a random (seeded) moment, the other
 * stopped; the parent's next change reconciles, and everything agrees again
 * with no orphan tree left.
 *
 * $BS_TEST_ITER sets the rounds of the race (200) and, halved, the kill runs
 * (50 at most); valgrind runs 20 rounds and 10 kills.  $BS_TEST_SEED seeds
 * the choices and the kill delays. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/bs_test.h"
#include "tests/support/snap_log.h"
#include "tests/support/snap_test.h"
#include "tests/support/volume.h"

#define PROCS 2
#define ACTIONS_PER_ROUND 3
/* Calls a child makes at most in one round: a create and, per action, a
 * lookup and a change. */
#define CALLS_PER_ROUND (1 + 2 * ACTIONS_PER_ROUND)
/* The longest a kill waits once both children are under way. */
#define MAX_KILL_DELAY_US 20000

/* Children still running, for the teardown to kill when a test fails. */
static pid_t live_children[PROCS];

/* ---- the children -------------------------------------------------------------- */

/* A name of process @who: one of the @shared names both processes use
 * ("<kind>0".."<kind>N"), or one of its @own ("p<who><kind>0"..). */
static void pick_name(uint64_t *r, int who, char kind, uint64_t shared, uint64_t own, char *out, size_t cap) {
  uint64_t k = bs_test_rand(r) % (shared + own);
  if (k < shared)
    snprintf(out, cap, "%c%" PRIu64, kind, k);
  else
    snprintf(out, cap, "p%d%c%" PRIu64, who, kind, k - shared);
}

/* Snapshot names: four shared, three of the process's own; branch names:
 * three and two. */
static void snap_name(uint64_t *r, int who, char *out, size_t cap) { pick_name(r, who, 's', 4, 3, out, cap); }
static void branch_name(uint64_t *r, int who, char *out, size_t cap) {
  pick_name(r, who, 'b', 3, 2, out, cap);
}

typedef struct child_args {
  const char *root;
  bs_log *log;
  int who;
  uint64_t seed;
  int rounds;         /* 0: until *stop */
  volatile int *stop; /* shared with the parent */
} child_args;

/* Look @name up, logged.  *@id gets its id; when it is not there, *@id
 * keeps the last id this process saw, so that the change that follows
 * meets a snapshot that may have gone. */
static bool lookup(bs_store *st, bs_log *log, const char *name, uint64_t *id) {
  bs_log_op *op = bs_log_begin(log, BS_LOG_LOOKUP, name, 0);
  if (!op)
    return false;
  bs_snapshot_info si;
  int rc = bs_snapshot_lookup(st, name, &si);
  bs_log_end(op, rc, rc == 0 ? si.id : 0);
  if (rc == 0)
    *id = si.id;
  return true;
}

/* One round: write this process's file in the main tree (so that snapshots
 * differ), create a snapshot, then three of: branch a snapshot (found by
 * name), delete a snapshot (found by name), delete a branch.  False when
 * the log is full. */
static bool round_of(bs_store *st, const child_args *a, uint64_t *r, uint64_t *seen, uint64_t n) {
  char path[16], name[BS_LOG_NAME_MAX], bname[BS_LOG_NAME_MAX];
  snprintf(path, sizeof(path), "/c%d", a->who);
  if (bs_write(st, path, 0, &n, sizeof(n)) != 0)
    _exit(4);
  snap_name(r, a->who, name, sizeof(name));
  bs_log_op *op = bs_log_begin(a->log, BS_LOG_SNAP_CREATE, name, 0);
  if (!op)
    return false;
  bs_snapshot_info si;
  int rc = bs_snapshot_create(st, name, &si);
  bs_log_end(op, rc, rc == 0 ? si.id : 0);
  if (rc == 0)
    *seen = si.id;
  for (int k = 0; k < ACTIONS_PER_ROUND; k++) {
    uint64_t what = bs_test_rand(r) % 3;
    if (what < 2) {
      snap_name(r, a->who, name, sizeof(name));
      if (!lookup(st, a->log, name, seen))
        return false;
    }
    if (what == 0) {
      branch_name(r, a->who, bname, sizeof(bname));
      if (!(op = bs_log_begin(a->log, BS_LOG_BRANCH_CREATE, bname, *seen)))
        return false;
      bs_log_end(op, bs_branch_create(st, *seen, bname), 0);
    } else if (what == 1) {
      if (!(op = bs_log_begin(a->log, BS_LOG_SNAP_DELETE, NULL, *seen)))
        return false;
      bs_log_end(op, bs_snapshot_delete(st, *seen), 0);
    } else {
      branch_name(r, a->who, bname, sizeof(bname));
      if (!(op = bs_log_begin(a->log, BS_LOG_BRANCH_DELETE, bname, 0)))
        return false;
      bs_log_end(op, bs_branch_delete(st, bname), 0);
    }
  }
  return true;
}

/* The child: its own store on the same root, rounds until done or stopped.
 * It asserts nothing (the parent judges the log); it exits 0, or 3 when the
 * store does not open, 4 when the main tree cannot be written. */
static void child_main(const child_args *a) {
  bs_open_opts o = {.root = a->root};
  bs_store *st = NULL;
  if (bs_open(&st, "real", &o) != 0)
    _exit(3);
  char path[16];
  snprintf(path, sizeof(path), "/c%d", a->who);
  if (bs_create(st, path, 0644) != 0 && bs_stat(st, path, &(bs_stat_info){0}) != 0)
    _exit(4);
  uint64_t r = a->seed;
  uint64_t seen = 1;
  for (uint64_t n = 0; a->rounds ? n < (uint64_t)a->rounds : !*a->stop; n++)
    if (!round_of(st, a, &r, &seen, n))
      break;
  bs_close(st);
  _exit(0);
}

/* A word shared with the children forked later (the parent's "stop"). */
static volatile int *shared_word(void) {
  void *p = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    fail_msg("mmap of a shared word failed");
  return p;
}

static pid_t start_child(const child_args *a) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    child_main(a);
  live_children[a->who] = pid;
  return pid;
}

/* Wait for child @who; its wait status. */
static int reap(int who) {
  int status = 0;
  pid_t pid = live_children[who];
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  live_children[who] = 0;
  return status;
}

/* ---- registry, trees and subvolumes agree ------------------------------------------ */

typedef struct subvol {
  char path[256];
  char uuid[40], parent_uuid[40];
  bool readonly;
} subvol;

#define MAX_SUBVOLS 512

/* Whether the subvolume at @path is read-only (BTRFS_IOC_SUBVOL_GETFLAGS). */
static bool subvol_readonly(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    fail_msg("open %s: %s", path, strerror(errno));
  uint64_t flags = 0;
  if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) != 0)
    fail_msg("BTRFS_IOC_SUBVOL_GETFLAGS %s: %s", path, strerror(errno));
  close(fd);
  return flags & BTRFS_SUBVOL_RDONLY;
}

/* The subvolumes of the volume mounted at @mnt, from the real tool
 * (`btrfs subvolume list -u -q`: paths, uuids and parent uuids); which are
 * read-only, from the kernel. */
static size_t list_subvols(const char *mnt, subvol *out) {
  char cmd[4200];
  snprintf(cmd, sizeof(cmd), "btrfs subvolume list -u -q '%s' 2>&1", mnt);
  FILE *p = popen(cmd, "r");
  if (!p)
    fail_msg("popen %s: %s", cmd, strerror(errno));
  size_t n = 0;
  char line[1024];
  while (fgets(line, sizeof(line), p)) {
    char pu[40], u[40], path[256];
    unsigned long long id, gen, top;
    if (sscanf(line, "ID %llu gen %llu top level %llu parent_uuid %39s uuid %39s path %255s", &id, &gen, &top,
               pu, u, path) != 6)
      fail_msg("%s: unexpected line: %s", cmd, line);
    assert_true(n < MAX_SUBVOLS);
    subvol *s = &out[n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->path, sizeof(s->path), "%s", path);
    snprintf(s->uuid, sizeof(s->uuid), "%s", u);
    snprintf(s->parent_uuid, sizeof(s->parent_uuid), "%s", pu);
    char host[4400];
    snprintf(host, sizeof(host), "%s/%s", mnt, path);
    s->readonly = subvol_readonly(host);
  }
  int st = pclose(p);
  if (st != 0)
    fail_msg("%s: exit status %d (btrfs-progs is installed by scripts/deps.sh)", cmd, st);
  return n;
}

static void uuid_text(const uint8_t u[16], char out[40]) {
  snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
           u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

typedef struct names {
  size_t n;
  char v[MAX_SUBVOLS][32];
} names;

/* The entries of <root>@rel on the host ("." and ".." left out). */
static void host_names(const bs_target *t, const char *rel, names *out) {
  char dir[4096];
  bs_test_host_path(t, rel, dir);
  out->n = 0;
  DIR *d = opendir(dir);
  if (!d)
    fail_msg("opendir %s: %s", dir, strerror(errno));
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    size_t len = strlen(e->d_name);
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    assert_true(out->n < MAX_SUBVOLS && len < sizeof(out->v[0]));
    memcpy(out->v[out->n++], e->d_name, len + 1);
  }
  closedir(d);
}

/* Trees under <root>/.bs that the registry does not name: snapshot trees
 * by id, branch trees by count (their ids are not in the API). */
static size_t orphans(bs_store *st, const bs_target *t) {
  bs_reg_state s;
  bs_reg_state_read(st, &s);
  names *h = malloc(sizeof(*h));
  assert_non_null(h);
  size_t extra = 0;
  host_names(t, "/.bs/snap", h);
  for (size_t i = 0; i < h->n; i++) {
    bool named = false;
    for (size_t k = 0; k < s.nsnaps; k++)
      named |= strtoull(h->v[i], NULL, 10) == s.snap[k].id;
    extra += !named;
  }
  host_names(t, "/.bs/branch", h);
  if (h->n > s.nbranches)
    extra += h->n - s.nbranches;
  free(h);
  return extra;
}

/* The registry (@what names the moment) agrees exactly with the trees under
 * <root>/.bs and with btrfs's own list of subvolumes: one read-only
 * subvolume snap/<id> per snapshot, with the snapshot's uuid, a snapshot of
 * the store root; one writable subvolume per branch, a snapshot of its
 * snapshot (as many per snapshot as its branch count); nothing else.  And
 * each branch holds its snapshot's tree. */
static void assert_agree(bs_store *st, const bs_target *t, const char *what) {
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  bs_reg_state reg;
  bs_reg_state_read(st, &reg);
  /* The volume's mount point: the store's directory lies right below it (on
   * the shared btrfs volume, or on a RAM disk of the ramdisk:btrfs target). */
  char mnt[4096];
  snprintf(mnt, sizeof(mnt), "%s", t->root);
  char *slash = strrchr(mnt, '/');
  assert_true(slash && slash != mnt);
  *slash = '\0';
  const char *rel = slash + 1 - mnt + t->root;
  subvol *sv = calloc(MAX_SUBVOLS, sizeof(*sv));
  names *h = malloc(sizeof(*h));
  assert_true(sv && h);
  size_t nsv = list_subvols(mnt, sv);
  const char *root_uuid = NULL;
  char pre[300], path[400];
  snprintf(pre, sizeof(pre), "%s/.bs/", rel);
  size_t snaps = 0, branches = 0;
  for (size_t i = 0; i < nsv; i++) {
    if (strcmp(sv[i].path, rel) == 0)
      root_uuid = sv[i].uuid;
    if (strncmp(sv[i].path, pre, strlen(pre)) != 0)
      continue;
    const char *leaf = sv[i].path + strlen(pre);
    if (strncmp(leaf, "snap/", 5) == 0) {
      snaps++;
      if (!sv[i].readonly)
        fail_msg("%s: snapshot subvolume %s is writable", what, sv[i].path);
    } else if (strncmp(leaf, "branch/", 7) == 0) {
      branches++;
      if (sv[i].readonly)
        fail_msg("%s: branch subvolume %s is read-only", what, sv[i].path);
    } else {
      fail_msg("%s: a subvolume the store does not make: %s", what, sv[i].path);
    }
  }
  if (!root_uuid)
    fail_msg("%s: the store root %s is not in btrfs subvolume list", what, rel);
  if (snaps != n || branches != reg.nbranches)
    fail_msg("%s: %zu snapshot and %zu branch subvolumes, the registry has %zu and %zu", what, snaps,
             branches, n, reg.nbranches);
  host_names(t, "/.bs/snap", h);
  if (h->n != n)
    fail_msg("%s: %zu trees in .bs/snap, %zu snapshots in the registry", what, h->n, n);
  for (size_t k = 0; k < n; k++) {
    char u[40];
    uuid_text(all[k].uuid, u);
    snprintf(path, sizeof(path), "%s%s/%" PRIu64, pre, "snap", all[k].id);
    const subvol *found = NULL;
    for (size_t i = 0; i < nsv; i++)
      if (strcmp(sv[i].path, path) == 0)
        found = &sv[i];
    if (!found)
      fail_msg("%s: snapshot %s (id %" PRIu64 ") has no subvolume %s", what, all[k].name, all[k].id, path);
    if (strcmp(found->uuid, u) != 0 || strcmp(found->parent_uuid, root_uuid) != 0)
      fail_msg("%s: %s: uuid %s parent %s, the registry says %s, the store root is %s", what, path,
               found->uuid, found->parent_uuid, u, root_uuid);
    size_t of_it = 0;
    for (size_t i = 0; i < nsv; i++)
      of_it += strncmp(sv[i].path, pre, strlen(pre)) == 0 &&
               strncmp(sv[i].path + strlen(pre), "branch/", 7) == 0 && strcmp(sv[i].parent_uuid, u) == 0;
    if (of_it != all[k].branch_count)
      fail_msg("%s: snapshot %s has branch count %u, %zu branch subvolumes are snapshots of it", what,
               all[k].name, all[k].branch_count, of_it);
  }
  host_names(t, "/.bs/branch", h);
  if (h->n != reg.nbranches)
    fail_msg("%s: %zu trees in .bs/branch, %zu branches in the registry", what, h->n, reg.nbranches);
  for (size_t b = 0; b < reg.nbranches; b++) {
    size_t k = 0;
    while (k < n && all[k].id != reg.branch[b].parent)
      k++;
    if (k == n)
      fail_msg("%s: branch %s names snapshot %" PRIu64 ", which is not listed", what, reg.branch[b].name,
               reg.branch[b].parent);
    char bp[300], sp[300];
    assert_bs_ok(bs_branch_path(bp, sizeof(bp), reg.branch[b].name));
    assert_bs_ok(bs_snapshot_path(sp, sizeof(sp), all[k].name));
    bs_snap_test_assert_same_tree(st, bp, sp);
  }
  free(all);
  free(sv);
  free(h);
}

/* ---- figures ------------------------------------------------------------------------ */

typedef struct tally {
  size_t calls, changes, ok, busy, not_found, exists, in_flight;
} tally;

static void count(const bs_log *l, tally *t) {
  size_t n = bs_log_len(l);
  for (size_t i = 0; i < n; i++) {
    const bs_log_op *op = &l->op[i];
    t->calls++;
    t->changes += op->kind != BS_LOG_LOOKUP;
    if (op->state != 2) {
      t->in_flight++;
      continue;
    }
    t->ok += op->rc == BS_OK;
    t->busy += op->rc == BS_EBUSY;
    t->not_found += op->rc == BS_ENOT_FOUND;
    t->exists += op->rc == BS_EEXISTS;
  }
}

static void check_logs(bs_log *const *logs, const bs_reg_state *from, const bs_reg_state *to,
                       const char *what) {
  char why[512];
  if (!bs_log_linearizable((const bs_log *const *)logs, PROCS, from, to, why, sizeof(why)))
    fail_msg("%s: the calls fit no order the registry's rules allow: %s", what, why);
}

/* ---- the check itself ------------------------------------------------------------------ */

/* A call in @l as a child would have logged it; @t1 < 0: still in flight. */
static void put(bs_log *l, bs_log_kind kind, const char *name, uint64_t id, int rc, int64_t t0, int64_t t1) {
  bs_log_op *op = &l->op[bs_log_len(l)];
  *op = (bs_log_op){.state = t1 < 0 ? 1 : 2, .kind = (int)kind, .rc = rc, .id = id, .t0 = t0, .t1 = t1};
  snprintf(op->name, sizeof(op->name), "%s", name ? name : "");
}

static bool fits(bs_log *const *logs, const bs_reg_state *to) {
  bs_reg_state from = {.next_id = 1};
  char why[512];
  return bs_log_linearizable((const bs_log *const *)logs, PROCS, &from, to, why, sizeof(why));
}

/* The check accepts what some order explains, and only that: overlapping
 * calls may go either way, calls that do not overlap keep their order, a
 * call in flight may have happened or not, and the order must end at the
 * registry there is. */
static void log_check_rejects_what_no_order_explains(void **state) {
  (void)state;
  bs_log *l[PROCS] = {bs_log_new(8), bs_log_new(8)};
  bs_reg_state one = {.next_id = 2}, none = {.next_id = 1}, at2 = {.next_id = 3};
  bs_reg_state_add(&one, "s", 1);
  bs_reg_state_add(&at2, "s", 2);
  /* Two creates of one name, at once: one of them is EXISTS. */
  put(l[0], BS_LOG_SNAP_CREATE, "s", 1, BS_OK, 0, 10);
  put(l[1], BS_LOG_SNAP_CREATE, "s", 1, BS_OK, 5, 15);
  assert_false(fits(l, &one));
  bs_log_clear(l[1]);
  put(l[1], BS_LOG_SNAP_CREATE, "s", 0, BS_EEXISTS, 5, 15);
  assert_true(fits(l, &one));
  assert_false(fits(l, &none)); /* ... and the snapshot is there */
  /* A lookup that began after the create returned sees it. */
  bs_log_clear(l[1]);
  put(l[1], BS_LOG_LOOKUP, "s", 0, BS_ENOT_FOUND, 20, 30);
  assert_false(fits(l, &one));
  bs_log_clear(l[1]);
  put(l[1], BS_LOG_LOOKUP, "s", 0, BS_ENOT_FOUND, 5, 30); /* overlapping: it may have come first */
  assert_true(fits(l, &one));
  /* A branch racing a delete: BUSY or NOT_FOUND, never both OK. */
  bs_reg_state branched = one;
  branched.snap[0].branches = 1;
  branched.nbranches = 1;
  branched.branch[0].parent = 1;
  snprintf(branched.branch[0].name, sizeof(branched.branch[0].name), "b");
  put(l[0], BS_LOG_BRANCH_CREATE, "b", 1, BS_OK, 20, 40);
  bs_log_clear(l[1]);
  put(l[1], BS_LOG_SNAP_DELETE, NULL, 1, BS_OK, 25, 35);
  assert_false(fits(l, &branched));
  assert_false(fits(l, &none));
  bs_log_clear(l[1]);
  put(l[1], BS_LOG_SNAP_DELETE, NULL, 1, BS_EBUSY, 25, 35);
  assert_true(fits(l, &branched));
  /* An answer the rules never give. */
  bs_log_clear(l[1]);
  put(l[1], BS_LOG_SNAP_DELETE, NULL, 1, BS_EIO, 25, 35);
  assert_false(fits(l, &branched));
  /* A create cut short by a kill happened whole, under the next id, or not at all. */
  bs_log_clear(l[0]);
  bs_log_clear(l[1]);
  put(l[0], BS_LOG_SNAP_CREATE, "s", 0, 0, 0, -1);
  assert_true(fits(l, &one));
  assert_true(fits(l, &none));
  assert_false(fits(l, &at2));
  bs_log_free(l[0]);
  bs_log_free(l[1]);
}

/* ---- two processes racing ------------------------------------------------------------ */

static void race_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  int rounds = bs_test_iterations(200);
  uint64_t seed = bs_test_seed();
  print_message("    [ seed     ] 0x%" PRIx64 " (BS_TEST_SEED), %d rounds per process\n", seed, rounds);
  bs_log *logs[PROCS];
  volatile int *stop = shared_word();
  bs_reg_state from, to;
  bs_reg_state_read(st, &from);
  from.next_id = 1; /* a fresh store */
  for (int p = 0; p < PROCS; p++) {
    logs[p] = bs_log_new((size_t)rounds * CALLS_PER_ROUND + 1);
    child_args a = {t->root, logs[p], p, seed + (uint64_t)p, rounds, stop};
    start_child(&a);
  }
  for (int p = 0; p < PROCS; p++) {
    int status = reap(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail_msg("process %d ended with status 0x%x", p, status);
  }
  bs_reg_state_read(st, &to);
  check_logs(logs, &from, &to, "after the race");
  assert_agree(st, t, "after the race");
  assert_int_equal(orphans(st, t), 0);
  for (int p = 0; p < PROCS; p++) {
    tally c = {0};
    count(logs[p], &c);
    assert_int_equal(c.in_flight, 0);
    print_message("    [ process %d] %zu calls (%zu changes): %zu OK, %zu BUSY, %zu NOT_FOUND, %zu EXISTS\n",
                  p, c.calls, c.changes, c.ok, c.busy, c.not_found, c.exists);
    bs_log_free(logs[p]);
  }
  munmap((void *)stop, sizeof(int));
  print_message(
      "    [ end      ] %zu snapshots, %zu branches; registry, btrfs subvolume list and trees agree\n",
      to.nsnaps, to.nbranches);
}

static bool plain_btrfs(const bs_target *t) {
  return t->kind == BS_TARGET_REAL && strcmp(t->profile, "btrfs") == 0 && t->open_flags == 0;
}

static void two_processes_racing_keep_registry_and_subvolumes_in_step(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), plain_btrfs, race_body, NULL, bs_test_seed());
}

/* ---- kill -9 ------------------------------------------------------------------------- */

/* Wait until both children have started a call (so that the kill lands
 * among calls, also where start-up is slow: valgrind), 10 s at most. */
static void wait_under_way(bs_log *const *logs) {
  for (int ms = 0; ms < 10000; ms++) {
    bool all = true;
    for (int p = 0; p < PROCS; p++)
      all &= bs_log_len(logs[p]) > 0;
    if (all)
      return;
    usleep(1000);
  }
}

static void kill_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  int runs = bs_test_iterations(200) / 2; /* valgrind's 20 rounds: 10 runs */
  runs = runs < 1 ? 1 : runs > 50 ? 50 : runs;
  uint64_t seed = bs_test_seed();
  print_message("    [ seed     ] 0x%" PRIx64 " (BS_TEST_SEED), %d kill runs\n", seed, runs);
  uint64_t r = seed ^ 0x6b696c6cull;
  bs_log *logs[PROCS];
  for (int p = 0; p < PROCS; p++)
    logs[p] = bs_log_new(1u << 16);
  volatile int *stop = shared_word();
  bs_reg_state from, to;
  bs_reg_state_read(st, &from);
  from.next_id = 1;
  tally c = {0};
  size_t kills[PROCS + 1] = {0}, orphan_trees = 0, runs_with_orphans = 0;
  for (int run = 0; run < runs; run++) {
    char what[64];
    snprintf(what, sizeof(what), "kill run %d", run);
    *stop = 0;
    for (int p = 0; p < PROCS; p++) {
      bs_log_clear(logs[p]);
      child_args a = {t->root, logs[p], p, seed + 1000u * (uint64_t)run + (uint64_t)p, 0, stop};
      start_child(&a);
    }
    /* Process 0, process 1, or both (then no survivor's change comes
     * before the parent's). */
    int victims = (int)(bs_test_rand(&r) % (PROCS + 1));
    useconds_t delay = (useconds_t)(bs_test_rand(&r) % MAX_KILL_DELAY_US);
    wait_under_way(logs);
    usleep(delay);
    for (int p = 0; p < PROCS; p++)
      if (victims == PROCS || victims == p)
        kill(live_children[p], SIGKILL);
    *stop = 1;
    for (int p = 0; p < PROCS; p++) {
      int status = reap(p);
      bool killed = victims == PROCS || victims == p;
      if (killed ? !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
                 : !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fail_msg("%s (seed 0x%" PRIx64 ", delay %u us): process %d ended with status 0x%x", what, seed,
                 (unsigned)delay, p, status);
    }
    kills[victims]++;
    /* What the kill left; then the parent's next change reconciles it. */
    size_t left = orphans(st, t);
    orphan_trees += left;
    runs_with_orphans += left > 0;
    bs_reg_state_read(st, &to);
    bs_snapshot_info mine;
    char name[32];
    snprintf(name, sizeof(name), "k%d", run);
    int rc = bs_snapshot_create(st, name, &mine);
    if (rc != 0)
      fail_msg("%s (seed 0x%" PRIx64 ", delay %u us): the next snapshot create: %s (%s)", what, seed,
               (unsigned)delay, bs_err_name(rc), bs_last_message(st));
    to.next_id = mine.id;
    check_logs(logs, &from, &to, what);
    assert_agree(st, t, what);
    assert_int_equal(orphans(st, t), 0);
    for (int p = 0; p < PROCS; p++)
      count(logs[p], &c);
    assert_bs_ok(bs_snapshot_delete(st, mine.id));
    from = to;
    from.next_id = mine.id + 1;
  }
  for (int p = 0; p < PROCS; p++)
    bs_log_free(logs[p]);
  munmap((void *)stop, sizeof(int));
  print_message(
      "    [ kills    ] %d runs: process 0 killed alone %zu times, process 1 %zu, both %zu; %zu calls "
      "(%zu changes), %zu in flight at a kill; %zu BUSY, %zu NOT_FOUND, %zu EXISTS\n",
      runs, kills[0], kills[1], kills[PROCS], c.calls, c.changes, c.in_flight, c.busy, c.not_found, c.exists);
  print_message(
      "    [ orphans  ] %zu trees left by a kill (in %zu runs), all reconciled by the next change\n",
      orphan_trees, runs_with_orphans);
}

static void kill_9_at_a_random_moment_is_reconciled_by_the_next_change(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), plain_btrfs, kill_body, NULL, bs_test_seed());
}

/* A failed test leaves no child running. */
static int kill_leftovers(void **state) {
  (void)state;
  for (int p = 0; p < PROCS; p++)
    if (live_children[p] > 0) {
      kill(live_children[p], SIGKILL);
      reap(p);
    }
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(log_check_rejects_what_no_order_explains),
    cmocka_unit_test_teardown(two_processes_racing_keep_registry_and_subvolumes_in_step, kill_leftovers),
    cmocka_unit_test_teardown(kill_9_at_a_random_moment_is_reconciled_by_the_next_change, kill_leftovers),
  };
  return cmocka_run_group_tests_name("snapshot_procs", tests, NULL, NULL);
}
