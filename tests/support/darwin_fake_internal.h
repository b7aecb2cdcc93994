/* Inside the darwin fake: the state shared by darwin_fake.c (the files and
 * the store) and darwin_fake_snap.c (mounts, snapshots, diskutil). */
#ifndef BS_DARWIN_FAKE_INTERNAL_H
#define BS_DARWIN_FAKE_INTERNAL_H

#include <stdbool.h>

#include "real/darwin.h"
#include "tests/support/darwin_fake.h"

/* The sim directory that is the volume's root: host "/x" is sim "/v/x", so
 * the host store's "/.bs" is an ordinary directory of the sim. */
#define BS_FAKE_VOL "/v"
/* The volume's device, as statfs and diskutil name it. */
#define BS_FAKE_DEV "disk3s5"

/* A snapshot mounted on a host directory. */
typedef struct fake_mount {
  char *dir;
  char name[BS_NAME_MAX + 1];
} fake_mount;

typedef struct fake {
  bs_store *sim;
  const char *profile;  /* "apfs" or "hfs" */
  int fail_next_clone;  /* errno for the next clonefile, 0 for none */
  uint32_t last_clone_flags;
  char fstypename[BS_DARWIN_FSTYPENAME_LEN]; /* tweak, "" for the profile's */
  bs_darwin_fake_tweak tweak;
  fake_mount *mounts;
  size_t nmounts;
  int snap_errno;       /* fs_snapshot_* fail with this (EPERM: no entitlement); 0 */
  bool scripted;        /* the next run_tool gives `script` */
  bs__tool_result script;
  char last_tool[512];  /* argv of the last run_tool, joined by spaces */
  uint64_t rng;         /* xorshift state of random() */
  bool resolved_mounts; /* statfs names mount points "/private<dir>" */
  int fail_next_tool;   /* the next run_tool cannot start: this errno; 0 */
} fake;

/* The fake under a darwin-fake store, or NULL. */
fake *bs__fake_of(bs_store *st);
/* A sim result as the OS would give it: 0 or -errno. */
int bs__fake_errno(int rc);
/* The sim path of host path @host (through the mounts), malloc'd or NULL. */
char *bs__fake_sim_path(const fake *f, const char *host);
/* Fill the snapshot half of @sys (darwin_fake_snap.c). */
void bs__fake_snap_sys(bs_darwin_sys *sys);
/* Free what the snapshot half holds. */
void bs__fake_snap_release(fake *f);

#endif
