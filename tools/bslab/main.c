/* bslab: the lab CLI of backstore (docs/bslab.1).  This file: the verb table,
 * usage texts and dispatch.  The verbs live in caps.c, fileops.c, snap.c and
 * campaign.c; each is a thin layer over the library. */
#include <signal.h>
#include <string.h>

#include "tools/bslab/bslab.h"

static const char top_usage[] =
  "usage: bslab [GLOBAL OPTIONS] VERB [OPTIONS] [ARGS]\n"
  "\n"
  "Global options (a verb accepts them after its name too):\n"
  "  --image FILE     sim volume image, kept between invocations (default $BSLAB_IMAGE)\n"
  "  --backend NAME   backend: sim (default), or real (the filesystem of --root)\n"
  "  --profile FS     sim profile: apfs (default), hfs, btrfs, xfs, ext4, tmpfs\n"
  "  --seed S         seed of a new sim volume (default 0)\n"
  "  --root DIR       directory of a real backend's store (a symbolic link is followed);\n"
  "                   implies --backend real\n"
  "  --wait SECONDS   how long a verb that changes an image waits for another's\n"
  "                   image lock before it fails with BUSY (default $BSLAB_WAIT, else 5)\n"
  "  --copy-snapshots real backend on a filesystem without snapshots or reflink (ext4,\n"
  "                   tmpfs): make snapshots and branches as full copies\n"
  "  -h, --help       this text; 'bslab VERB --help' describes a verb\n"
  "  --version        print the version\n"
  "\n"
  "Verbs:\n"
  "  caps       capabilities of a sim profile or a real volume (text, json, ssz, hex)\n"
  "  probe      the type of the filesystem holding a host path\n"
  "  clone      clone SRC to DST copy-on-write (clonefile(2) semantics)\n"
  "  snapshot   create, list or delete read-only snapshots\n"
  "  branch     create or delete writable branches of a snapshot\n"
  "  campaign   seeded random operations checked against a reference model\n"
  "  replay     re-run a campaign trace and check every result\n"
  "  merge      join the JSON summaries of a campaign's shards (campaign --shard)\n"
  "  shrink     the smallest trace that still fails the same way (delta debugging)\n"
  "  diff       the same operations on a sim profile and the real kernel, compared\n"
  "  calibrate  measure a real filesystem for the sim's latency model\n"
  "  faults     the fault-point catalogue; check a fault spec\n"
  "  ramdisk    create, list, destroy or reap RAM disks (scratch volumes in memory)\n"
  "  init       create an empty sim volume image\n"
  "  mount      serve a sim volume (or a real store) through FUSE to real programs\n"
  "  power-loss simulate a power loss on a bslab mount now\n"
  "  put cat ls stat usage mkdir rm ln readlink\n"
  "             populate and inspect a sim volume\n"
  "  help       this text, or 'bslab help VERB'\n"
  "\n"
  "Exit status: 0 success, 1 a check or an operation failed, 2 usage or environment error.\n";

#define VOL_OPTS                                                                           \
  "  --image FILE  --profile FS  --seed S  --backend NAME  --wait SECONDS  (see bslab --help)\n"

static const bslab_verb verbs[] = {
  {"caps",
   "usage: bslab caps [--backend sim] [--profile FS] [--image FILE] [--format text|json|ssz|hex]\n"
   "       bslab caps --backend real --root DIR [--format text|json|ssz|hex]\n"
   "Print the capabilities of a sim profile (or of the volume in --image), or of\n"
   "the real filesystem holding DIR.\n"
   "  --format text  aligned 'key: value' lines (default)\n"
   "  --format json  one JSON object\n"
   "  --format ssz   the raw SSZ CapabilityResponse bytes (DESIGN 4)\n"
   "  --format hex   the SSZ bytes as one line of lowercase hex\n",
   BO_VOLUME | BO_FORMAT, 0, 0, bslab_caps},
  {"probe",
   "usage: bslab probe [--format text|json] PATH\n"
   "Print the type of the filesystem holding host path PATH: apfs, hfs, btrfs, xfs,\n"
   "ext4 or tmpfs, another type by its own name (overlay, fuse, nfs, ...), or other.\n",
   BO_FORMAT, 1, 1, bslab_probe},
  {"init",
   "usage: bslab init --image FILE [--profile FS] [--seed S]\n"
   "       bslab init --backend real --root DIR\n"
   "Create an empty sim volume in FILE; fails (EXISTS) if FILE exists.\n"
   "With --backend real, make DIR the directory of a new store, ready for native\n"
   "snapshots: on btrfs a subvolume, elsewhere a plain directory (EXISTS if DIR exists).\n",
   BO_VOLUME, 0, 0, bslab_init},
  {"clone",
   "usage: bslab clone [--backend sim] [--image FILE] SRC DST\n"
   "       bslab clone --backend real [--root DIR] SRC DST\n"
   "Clone file SRC to DST sharing all blocks (reflink); DST must not exist. Mode,\n"
   "owner (as root), times and extended attributes are kept; on failure nothing is\n"
   "left at DST. With --backend real, SRC and DST are host paths (a relative one from\n"
   "the current directory: ./b, ../a), or paths below DIR when --root is given.\n" VOL_OPTS,
   BO_VOLUME, 2, 2, bslab_clone},
  {"snapshot",
   "usage: bslab snapshot create [--format text|json|ssz|hex] [--branch BRANCH] NAME\n"
   "       bslab snapshot list   [--format text|json|ssz|hex]\n"
   "       bslab snapshot delete NAME|ID\n"
   "Snapshots of the volume's main tree, readable below /.bs/snapshots/NAME.\n"
   "With --backend real --root DIR: native on btrfs (DIR must be a subvolume: see\n"
   "bslab init), reflink copies on xfs, full copies with --copy-snapshots elsewhere.\n"
   "  --branch BRANCH  a snapshot of branch BRANCH instead: of an overlay branch, its\n"
   "                   upper layer frozen over the branch's snapshot (a stacked\n"
   "                   snapshot; past 8 layers its merged view, flattened;\n"
   "                   docs/overlay.md), of a native branch a copy of its tree\n"
   "A NAME|ID argument is a snapshot's name, or else a decimal snapshot id.\n"
   "list --format ssz writes each SnapshotInfo as a 4-byte little-endian length\n"
   "followed by that many bytes of SSZ.\n" VOL_OPTS,
   BO_VOLUME | BO_FORMAT | BO_BRANCH, 1, 2, bslab_snapshot},
  {"branch",
   "usage: bslab branch create [--kind native|overlay|auto] SNAPSHOT BRANCH\n"
   "       bslab branch create --lower-dir DIR BRANCH\n"
   "       bslab branch delete [SNAPSHOT] BRANCH\n"
   "Writable branches of a snapshot (name or id), below /.bs/branches/BRANCH.\n"
   "  --kind native   a copy of the snapshot's tree (the default)\n"
   "  --kind overlay  an empty upper layer over the snapshot: made in O(1), files\n"
   "                  copied up on their first change (docs/overlay.md)\n"
   "  --kind auto     native where the filesystem snapshots natively, else overlay\n"
   "  --lower-dir DIR an overlay branch over host directory DIR (outside the store,\n"
   "                  e.g. your workspace) instead of a snapshot: DIR is only read,\n"
   "                  never changed; a file is copied up on its first change (a\n"
   "                  byte copy from another filesystem). Real stores only (a RAM\n"
   "                  disk's too); the sim answers UNSUPPORTED\n" VOL_OPTS,
   BO_VOLUME | BO_KIND | BO_LOWER_DIR, 2, 3, bslab_branch},
  {"put",
   "usage: bslab put HOSTFILE PATH\n"
   "Copy host file HOSTFILE ('-' for standard input) to PATH on the volume, replacing\n"
   "PATH whole and atomically: through a temporary file in PATH's directory, synced\n"
   "and renamed over PATH. On a failure PATH is as it was. HOSTFILE must be a regular\n"
   "file or a pipe, not a directory or a device.\n" VOL_OPTS,
   BO_VOLUME, 2, 2, bslab_put},
  {"cat", "usage: bslab cat PATH\nWrite the content of file PATH to standard output.\n" VOL_OPTS,
   BO_VOLUME, 1, 1, bslab_cat},
  {"ls",
   "usage: bslab ls [PATH]\nList directory PATH (default /), one name a line, '/' after "
   "directories.\n" VOL_OPTS,
   BO_VOLUME, 0, 1, bslab_ls},
  {"stat", "usage: bslab stat [--format text|json] PATH\nMetadata of PATH.\n" VOL_OPTS,
   BO_VOLUME | BO_FORMAT, 1, 1, bslab_stat},
  {"usage",
   "usage: bslab usage [--format text|json]\nSpace of the volume: total, used, free and shared "
   "bytes.\n" VOL_OPTS,
   BO_VOLUME | BO_FORMAT, 0, 0, bslab_usage_verb},
  {"mkdir", "usage: bslab mkdir PATH\nCreate directory PATH.\n" VOL_OPTS, BO_VOLUME, 1, 1,
   bslab_mkdir},
  {"rm", "usage: bslab rm PATH\nRemove file PATH, or empty directory PATH.\n" VOL_OPTS, BO_VOLUME,
   1, 1, bslab_rm},
  {"ln",
   "usage: bslab ln [-s] TARGET LINK\n"
   "Make LINK a hard link of file TARGET (a second name of the same inode), or with\n"
   "-s a symbolic link holding the text TARGET (not resolved; it may name nothing).\n"
   "A hard link of a directory, or between trees, is refused.\n"
   "  -s, --symbolic  make a symbolic link\n" VOL_OPTS,
   BO_VOLUME | BO_SYMBOLIC, 2, 2, bslab_ln},
  {"readlink", "usage: bslab readlink PATH\nPrint the target text of symbolic link PATH.\n" VOL_OPTS,
   BO_VOLUME, 1, 1, bslab_readlink},
  {"campaign",
   "usage: bslab campaign [--backend sim] [--profile FS] [--seeds N | --seed S] [--ops N]\n"
   "                      [--jobs J] [--faults SPEC] [--trace-dir DIR] [--trace-all]\n"
   "                      [--json FILE] [--sim-bug NAME] [--digest] [--trace FILE] [--quiet]\n"
   "                      [--shard I/N] [--mix default|overlay]\n"
   "Run seeded random operations on fresh stores, checking invariants after each.\n"
   "  --profile FS    sim profile (default apfs)\n"
   "  --seed S        run seed S only; with --seeds N, run N seeds from S\n"
   "  --seeds N       run N seeds: 1..N, or S..S+N-1 with --seed S (default 1)\n"
   "  --ops N         operations per seed (default 1000)\n"
   "  --jobs J        run seeds in J processes (default 1); results do not depend on J\n"
   "  --faults SPEC   inject faults on this schedule, seeded by each seed (docs/faults.md)\n"
   "  --trace-dir DIR write the trace of every failing seed to DIR (default\n"
   "                  $BSLAB_TRACE_DIR, else ./bslab-traces); see 'bslab replay'\n"
   "  --trace-all     write the traces of passing seeds too\n"
   "  --json FILE     write the summary as JSON to FILE (for CI gates); '-': standard\n"
   "                  output, the text summary then going to standard error\n"
   "  --sim-bug NAME  testing the checkers: turn on a sim defect (cow-in-place, leak-block,\n"
   "                  copy-up-order, stray-write)\n"
   "  --mix MIX       operation mix: default, or overlay (adds symlink, readlink and\n"
   "                  overlay branches; docs/campaign.md, not with --faults)\n"
   "  --digest        print 'seed S digest HEX' for every seed\n"
   "  --trace FILE    write every operation's canonical trace line to FILE ('-': stdout)\n"
   "  --quiet         no progress line on standard error\n"
   "  --shard I/N     run only the I-th (0 <= I < N) of N disjoint slices of the seeds;\n"
   "                  N machines with I = 0..N-1 run exactly the seeds of one, and\n"
   "                  'bslab merge' joins their --json summaries (docs/campaign.md)\n"
   "Exit status 1 if any invariant was violated; each failure is printed with the\n"
   "command that reproduces it and the 'bslab replay TRACE' command. SIGINT stops the\n"
   "campaign: the seeds that finished are summarised (JSON: \"interrupted\": true),\n"
   "then bslab ends by SIGINT (exit status 130).\n",
   BO_BACKEND | BO_PROFILE | BO_SEED | BO_SEEDS | BO_OPS | BO_JOBS | BO_SIM_BUG | BO_DIGEST |
       BO_QUIET | BO_FAULTS | BO_TRACE | BO_TRACE_DIR | BO_TRACE_ALL | BO_JSON | BO_SHARD | BO_MIX,
   0, 0, bslab_campaign},
  {"merge",
   "usage: bslab merge [-o FILE] SHARD.json...\n"
   "Join the --json summaries of the shards of one campaign ('bslab campaign --shard\n"
   "I/N --json SHARD.json', I = 0..N-1) into the summary one unsharded run writes:\n"
   "totals, failures, trace paths and every seed's digest, the same bytes but for\n"
   "the last line (jobs and timing: summed seconds).  Refuses summaries of different\n"
   "campaigns (backend, profile, faults, sim bug, seeds, ops, shard count), a shard\n"
   "given twice or missing, and a file that is not such a summary.\n"
   "  -o, --output FILE  write the merged summary to FILE (default: standard output)\n"
   "Exit status 0 when the merged campaign passed, 1 when it found violations (or\n"
   "was interrupted), 2 when the shards cannot be merged.\n",
   BO_OUTPUT, 1, (int)BSLAB_SHARDS_MAX, bslab_merge},
  {"faults",
   "usage: bslab faults list [--format text|json]\n"
   "       bslab faults check SPEC\n"
   "Fault injection (docs/faults.md).\n"
   "  list   every fault point a spec may name, with what failing it simulates:\n"
   "         bs/op/<method> (the faults:<inner> backend), bs/sim/... and bs/real/...\n"
   "  check  parse fault spec SPEC and print its canonical form, or say which\n"
   "         column is wrong (exit 2). SPEC is POINT=ERROR[@N|@N+|%P],... e.g.\n"
   "         bs/real/ficlone=enospc@3 or bs/sim/write=eio%0.01\n",
   BO_FORMAT, 1, 2, bslab_faults},
  {"replay",
   "usage: bslab replay [--faults SPEC] [--image FILE] TRACE\n"
   "Re-run the operations of trace file TRACE (written by 'bslab campaign' or by\n"
   "'bslab mount --trace', see docs/traces.md) on a fresh store of the trace's\n"
   "backend, profile, seed and faults. A campaign trace's results are judged by the\n"
   "reference model as in the campaign; a mount trace's by the sim's check after\n"
   "every change. Every result is compared with the recorded one.\n"
   "  --faults SPEC   replace the trace's fault spec ('none': no faults)\n"
   "  --image FILE    mount traces: save the replayed volume to FILE (a sim image,\n"
   "                  to compare with the image the mount saved)\n"
   "TRACE is a regular file of at most 64 MiB, or a pipe; lines are at most 1000 bytes\n"
   "(34000 in a version-2 trace).\n"
   "Exit status 1 if the replay fails (it says whether as recorded), 0 if the trace\n"
   "passes, 2 for a malformed trace (FILE:LINE: reason).\n",
   BO_FAULTS | BO_IMAGE, 1, 1, bslab_replay},
  {"shrink",
   "usage: bslab shrink [--max-tests N] [--quiet] TRACE -o MIN_TRACE\n"
   "Write to MIN_TRACE the smallest trace (delta debugging over TRACE's operation\n"
   "and sweep lines) that still fails the way TRACE records: the same operation\n"
   "kind and invariant (and result code, for a result failure). Progress goes to\n"
   "standard error.\n"
   "  -o, --output FILE  where to write the shrunk trace\n"
   "  --max-tests N      stop after N replays (default: no limit)\n"
   "  --quiet            no progress on standard error\n"
   "A trace that records no failure (a mount trace) is shrunk to the failure its\n"
   "replay shows.\n"
   "Exit status 0 when MIN_TRACE was written, 2 if TRACE is malformed, records no\n"
   "failure and its replay passes, or its failure does not reproduce.\n",
   BO_OUTPUT | BO_MAX_TESTS | BO_QUIET | BO_FAULTS, 1, 1, bslab_shrink},
  {"diff",
   "usage: bslab diff [--profile FS] --root DIR [--seeds N] [--seed S] [--ops N]\n"
   "                  [--trace FILE] [--trace-dir DIR] [--quiet]\n"
   "                  [--mix default|links|overlay]\n"
   "Run seeded streams of file operations on a sim profile and on a fresh directory\n"
   "below DIR (a real volume of the same filesystem), comparing results, contents,\n"
   "sizes, modes, owners, xattrs, listings and capabilities after every operation.\n"
   "  --profile FS  sim profile (default: the filesystem holding DIR); DIR must be on\n"
   "                that filesystem (btrfs, xfs, ext4 or tmpfs here)\n"
   "  --root DIR    a directory on a real volume; each seed works in a fresh\n"
   "                subdirectory, removed afterwards\n"
   "  --seed S      first seed (default 1); --seeds N: run N seeds (default 1)\n"
   "  --ops N       operations per seed (default 400)\n"
   "  --trace FILE  write every operation of every seed, with both results, to FILE\n"
   "                ('-': stdout)\n"
   "  --trace-dir DIR  without --trace, write a diverging seed's trace to\n"
   "                DIR/diff-FS-seed-S.trace (default $BSLAB_TRACE_DIR, else\n"
   "                ./bslab-traces)\n"
   "  --quiet       no progress on standard error\n"
   "  --mix MIX     default; links: symlink, readlink and link too; overlay: snapshot s\n"
   "                and overlay branch b of it after 40 ops, then paths in it too\n"
   "                (docs/diff.md)\n"
   "Stops at the first divergence and prints it with the command that reproduces it.\n"
   "Exit status 0 when sim and kernel agreed, 1 on a divergence, 2 usage or environment\n"
   "(DIR missing, not on the profile's filesystem, or the real volume full: a NO_SPACE\n"
   "of the real side on a volume out of inodes or space is reported as such).\n",
   BO_PROFILE | BO_ROOT | BO_SEED | BO_SEEDS | BO_OPS | BO_TRACE | BO_TRACE_DIR | BO_QUIET | BO_MIX, 0, 0,
   bslab_diff},
  {"calibrate",
   "usage: bslab calibrate --root DIR [--ops N] [--quiet]\n"
   "Measure the real backend on the filesystem holding DIR (in a fresh subdirectory,\n"
   "removed afterwards) and print the sim's latency model for it: per class (meta,\n"
   "read, write, sync, reflink) a fixed cost in ns and a cost per byte in ps, from\n"
   "medians, and the LAT(...) line of sim/profile.c (docs/sim.md, \"Calibration\").\n"
   "  --root DIR  a directory on the filesystem to measure\n"
   "  --ops N     repetitions per measurement (default 200)\n"
   "  --quiet     no progress on standard error\n",
   BO_ROOT | BO_OPS | BO_QUIET, 0, 0, bslab_calibrate},
  {"mount",
   "usage: bslab mount [--image FILE | --profile FS [--seed S]] [--foreground] [--direct-io]\n"
   "                   [--power-loss-after N] [--power-loss drop|tear] [--faults SPEC]\n"
   "                   [--trace FILE] MOUNTPOINT\n"
   "       bslab mount --backend real --root DIR [--foreground] [--direct-io] [--faults SPEC]\n"
   "                   MOUNTPOINT\n"
   "       bslab mount --reap [MOUNTPOINT]\n"
   "Serve a volume through FUSE at directory MOUNTPOINT, so that programs do ordinary\n"
   "file I/O on it (docs/mount.md). Every request is one store call, served by one\n"
   "thread in arrival order; the kernel caches no names or attributes and writes go\n"
   "through, so programs see the store's state and the profile's rules (case-\n"
   "insensitive names on apfs and hfs, name lengths, exact space in statfs).\n"
   "Needs /dev/fuse (and root, or fusermount3).\n"
   "  --image FILE   the sim volume to serve (created from --profile and --seed if\n"
   "                 missing), locked while mounted and saved (fsynced) on unmount\n"
   "  --profile FS   without --image: a fresh sim volume, gone at unmount\n"
   "  --backend real --root DIR  serve the real store in DIR\n"
   "  --foreground   serve without going to the background; say where on stderr\n"
   "  --quiet        with --foreground: no line on stderr\n"
   "  --direct-io    no page cache either (no shared mmap then)\n"
   "  --power-loss-after N  simulate a power loss once N requests changed the\n"
   "                 volume (before the next request); SIGUSR1 to the server does\n"
   "                 it on demand. The volume then serves the post-crash state.\n"
   "  --power-loss drop|tear  unsynced writes all lost (drop), or each unsynced\n"
   "                 block kept or lost, seeded by the volume's seed (tear, default)\n"
   "  --faults SPEC  inject faults (docs/faults.md), seeded by --seed: a failed\n"
   "                 request answers the error's errno and changes nothing\n"
   "  --trace FILE   record every request served, its result and the bytes written,\n"
   "                 power losses included, to FILE (written at unmount; a new volume\n"
   "                 only); 'bslab replay FILE' and 'bslab shrink' work on it\n"
   "  --sim-bug NAME test only: a deliberate sim defect (cow-in-place, leak-block)\n"
   "  --reap         unmount bslab mounts whose server was killed (all of them, or\n"
   "                 the one at MOUNTPOINT), printing 'reaped MOUNTPOINT' for each\n"
   "SIGINT, SIGTERM, SIGHUP, 'fusermount3 -u MOUNTPOINT' or umount end the mount;\n"
   "the image is then saved. Without --foreground, bslab returns once the mount is\n"
   "ready and the server's messages are lost. 'bslab power-loss MOUNTPOINT' asks\n"
   "the server for a power loss now.\n" VOL_OPTS,
   BO_VOLUME | BO_FOREGROUND | BO_REAP | BO_QUIET | BO_DIRECT_IO | BO_POWER_AFTER | BO_POWER_MODE |
       BO_FAULTS | BO_TRACE | BO_SIM_BUG,
   0, 1, bslab_mount},
  {"power-loss",
   "usage: bslab power-loss MOUNTPOINT\n"
   "Simulate a power loss now on the sim volume served by 'bslab mount' at MOUNTPOINT\n"
   "(docs/mount.md, \"Power loss\"): unsynced writes are dropped or torn as the\n"
   "mount's --power-loss says, in order with the programs' requests; the mount then\n"
   "serves the post-crash state. Exit 2 if MOUNTPOINT is not a bslab mount, or\n"
   "serves a real store (UNSUPPORTED).\n",
   0, 1, 1, bslab_power_loss},
  {"ramdisk",
   "usage: bslab ramdisk create --fs FS --size-mb N [--label L] [--format text|json]\n"
   "       bslab ramdisk list [--format text|json]\n"
   "       bslab ramdisk destroy MOUNT|ID\n"
   "       bslab ramdisk reap\n"
   "RAM disks: volumes in memory, made, mounted and destroyed by the library\n"
   "(docs/ramdisk.md). Needs root. Each is recorded in the runtime directory\n"
   "($BS_RAMDISK_DIR, else $XDG_RUNTIME_DIR/backstore, else /run/backstore) with\n"
   "its owner's pid; reap removes those whose owner is gone, even after kill -9.\n"
   "  create   make one: FS btrfs, xfs (reflink=1), ext4 or tmpfs (apfs on macOS),\n"
   "           N MiB (at most the memory available); prints its id, mount point,\n"
   "           fs, size and whether it has native snapshots. It outlives bslab:\n"
   "           its owner is bslab's parent (the shell), so reap leaves it alone\n"
   "           until that process ends\n"
   "  list     every recorded RAM disk: id, fs, size, owner (alive or dead),\n"
   "           device, mounted or not, mount point\n"
   "  destroy  unmount, detach and free the RAM disk of id ID or mount point MOUNT\n"
   "           (only one the library made: anything else is NOT_FOUND)\n"
   "  reap     tear down every RAM disk whose owner is gone, and what a crash left\n"
   "           half-made; prints how many\n",
   BO_FORMAT | BO_FS | BO_SIZE_MB | BO_LABEL, 1, 2, bslab_ramdisk},
  {"help", "usage: bslab help [VERB]\nPrint the usage of bslab, or of VERB.\n", 0, 0, 1, NULL},
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

const bslab_verb *bslab_find_verb(const char *name) {
  for (size_t i = 0; i < N_VERBS; i++)
    if (strcmp(verbs[i].name, name) == 0)
      return &verbs[i];
  return NULL;
}

static int help(const char *name) {
  const bslab_verb *v = name ? bslab_find_verb(name) : NULL;
  if (name && !v) {
    fprintf(stderr, "bslab: help: unknown verb '%s'\nTry 'bslab --help'.\n", name);
    return BSLAB_USAGE;
  }
  fputs(v ? v->usage : top_usage, stdout);
  return BSLAB_OK;
}

/* The first option in @given that @allowed does not include, or NULL. */
static const char *stray_option(uint64_t given, uint64_t allowed) {
  static const struct {
    uint64_t flag;
    const char *name;
  } vol[] = {{BO_BACKEND, "backend"}, {BO_PROFILE, "profile"}, {BO_IMAGE, "image"},
             {BO_SEED, "seed"},       {BO_ROOT, "root"},       {BO_WAIT, "wait"}};
  for (size_t i = 0; i < sizeof(vol) / sizeof(vol[0]); i++)
    if ((given & vol[i].flag) && !(allowed & vol[i].flag))
      return vol[i].name;
  return NULL;
}

static int run(int argc, char **argv) {
  bslab_args a;
  memset(&a, 0, sizeof(a));
  if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
    printf("bslab %s\n", bs_version());
    return BSLAB_OK;
  }
  int vi = 0;
  if (bslab_parse_global(&a, argc - 1, argv + 1, &vi) != 0)
    return BSLAB_USAGE;
  vi += 1;
  if (vi >= argc) {
    fputs(top_usage, a.help ? stdout : stderr);
    return a.help ? BSLAB_OK : BSLAB_USAGE;
  }
  const char *name = argv[vi];
  const bslab_verb *v = bslab_find_verb(name);
  if (!v) {
    fprintf(stderr, "bslab: unknown verb '%s'\nTry 'bslab --help'.\n", name);
    return BSLAB_USAGE;
  }
  bool global_help = a.help;
  a.help = false;
  a.verb = v->name;
  if (bslab_parse(&a, argc - vi - 1, argv + vi + 1, v->allowed) != 0)
    return BSLAB_USAGE;
  if (a.help || global_help)
    return help(v->name);
  /* Global options before the verb were parsed before the verb was known. */
  const char *stray = v->run ? stray_option(a.given, v->allowed) : NULL;
  if (stray)
    return bslab_usage_error(&a, "option '--%s' does not apply here", stray);
  if (a.npos < v->min_pos || a.npos > v->max_pos)
    return bslab_usage_error(&a, a.npos < v->min_pos ? "missing argument" : "too many arguments");
  if (!v->run)
    return help(a.npos ? a.pos[0] : NULL);
  if (bslab_split_backend(&a) != 0)
    return BSLAB_USAGE;
  /* --root only means something to a real backend: it implies --backend
   * real.  An explicit --backend sim with --root stays a usage error. */
  if (!a.backend && a.root && (v->allowed & BO_BACKEND))
    a.backend = "real";
  return v->run(&a);
}

int main(int argc, char **argv) {
  int status = run(argc, argv);
  /* Output that never reached its file is a failure, not a success. */
  if (bslab_close_stdout() != 0)
    return BSLAB_USAGE;
  if (status == BSLAB_INTERRUPTED) {
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
  }
  return status;
}
