/* The volume a bslab verb works on.  The sim keeps a volume in an image file
 * (--image FILE or $BSLAB_IMAGE) between invocations: loaded at the start,
 * saved after a verb changed it, under the image lock (lock.c) from before
 * the load to after the save.  A missing image is created from --profile
 * and --seed by the verbs that change a volume. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backstore/sim.h"
#include "tools/bslab/bslab.h"

bool bslab_is_profile(const char *name) {
  for (int i = 0; name && i < BS_SIM_PROFILE_COUNT; i++)
    if (strcmp(name, bs_sim_profile_names[i]) == 0)
      return true;
  return false;
}

int bslab_split_backend(bslab_args *a) {
  if (!a->backend || strncmp(a->backend, "sim:", 4) != 0)
    return 0;
  const char *inner = a->backend + 4;
  if (*inner && a->profile && strcmp(a->profile, inner) != 0)
    return bslab_usage_error(a, "--backend %s and --profile %s name different profiles",
                             a->backend, a->profile);
  if (*inner)
    a->profile = inner;
  a->backend = "sim";
  return 0;
}

static const char *backend_of(const bslab_args *a) { return a->backend ? a->backend : "sim"; }

int bslab_check_backend_name(const bslab_args *a, const char *name) {
  /* A wrapper names its inner backend after a colon ("faults:sim"); the
   * sim's "sim:FS" names a profile. */
  for (const char *p = name;;) {
    size_t len = strcspn(p, ":");
    char one[64];
    if (len == 0 || len >= sizeof(one))
      return bslab_env_error(a, "unknown backend '%s': '%.*s' is not a backend name (sim, real, "
                                "faults:INNER)", name, (int)len, p);
    snprintf(one, sizeof(one), "%.*s", (int)len, p);
    if (!bs_backend_find(one))
      return bslab_env_error(a, "unknown backend '%s'%s%s%s (sim, real, faults:INNER)", one,
                             p != name ? " in '" : "", p != name ? name : "", p != name ? "'" : "");
    if (!p[len] || strcmp(one, "sim") == 0)
      return 0;
    p += len + 1;
  }
}

/* 0 for the sim, 1 for another registered backend, BSLAB_USAGE if absent. */
static int check_backend(const bslab_args *a) {
  const char *b = backend_of(a);
  if (strcmp(b, "sim") == 0 && a->root)
    return bslab_usage_error(a, "--root names a real backend's store; the sim keeps its volume "
                                "in --image FILE");
  if (strcmp(b, "sim") == 0)
    return 0;
  if (bslab_check_backend_name(a, b) != 0)
    return BSLAB_USAGE;
  if (a->profile)
    return bslab_usage_error(a, "--profile names a sim profile; backend '%s' works on the "
                                "filesystem of --root", b);
  if (a->image)
    return bslab_usage_error(a, "--image is the sim's volume file; backend '%s' works on --root", b);
  return 1;
}

/* --root as the library should see it: a symbolic link to a directory is
 * followed here, once (the store is the directory it names; paths inside a
 * store are confined by the backend); a root that is no directory is said
 * to be one.  Its absence is left to the backend (NOT_FOUND).  0, or
 * BSLAB_USAGE after a message. */
static int resolve_root(const bslab_args *a, char buf[PATH_MAX], const char **root) {
  struct stat sb;
  *root = a->root;
  if (!a->root || lstat(a->root, &sb) != 0)
    return 0;
  if (S_ISLNK(sb.st_mode)) {
    if (!realpath(a->root, buf) || stat(buf, &sb) != 0)
      return bslab_env_error(a, "--root '%s' is a symbolic link that cannot be followed: %s",
                             a->root, strerror(errno));
    *root = buf;
  }
  if (!S_ISDIR(sb.st_mode))
    return bslab_env_error(a, "--root '%s' is not a directory%s%s", a->root,
                           *root != a->root ? ": the symbolic link leads to " : "",
                           *root != a->root ? *root : "");
  return 0;
}

int bslab_open_fresh(bs_store **out, const bslab_args *a) {
  int kind = check_backend(a);
  if (kind == BSLAB_USAGE)
    return kind;
  char buf[PATH_MAX];
  const char *root = a->root;
  if (kind == 1 && resolve_root(a, buf, &root) != 0)
    return BSLAB_USAGE;
  bs_open_opts o = {.root = root, .seed = a->seed,
                    .flags = a->copy_snapshots ? BS_OPEN_SNAPSHOT_COPY : 0};
  if (kind == 1 && !a->root)
    return bslab_usage_error(a, "backend '%s' needs --root DIR, the directory of its store",
                             backend_of(a));
  if (kind == 0) {
    o.profile = a->profile ? a->profile : "apfs";
    if (!bslab_is_profile(o.profile))
      return bslab_env_error(a, "unknown profile '%s' (apfs, hfs, btrfs, xfs, ext4 or tmpfs)",
                             o.profile);
  }
  int rc = bs_open(out, backend_of(a), &o);
  if (rc != 0 && kind == 1)
    return bslab_env_error(a, "cannot open a '%s' store on '%s': %s (%s)", backend_of(a), a->root,
                           bs_strerror(rc), bs_err_name(rc));
  if (rc != 0)
    return bslab_env_error(a, "cannot open backend '%s': %s (%s)", backend_of(a), bs_strerror(rc),
                           bs_err_name(rc));
  return 0;
}

/* @image as a volume file: absent (to be made), or a regular file.  0, or
 * BSLAB_USAGE after a message that names what it is instead. */
static int check_image_file(const bslab_args *a, const char *image) {
  struct stat sb;
  if (stat(image, &sb) != 0)
    return errno == ENOENT ? 0 : bslab_env_error(a, "cannot access image '%s': %s", image,
                                                 strerror(errno));
  if (S_ISDIR(sb.st_mode))
    return bslab_env_error(a, "image '%s' is a directory, not an image file", image);
  if (!S_ISREG(sb.st_mode))
    return bslab_env_error(a, "image '%s' is not a regular file", image);
  return 0;
}

/* Load the image of @v, or make a new volume if a @mutating verb finds none. */
static int load(bslab_vol *v, const bslab_args *a, bool mutating) {
  const char *image = v->image;
  if (access(image, F_OK) != 0) {
    if (errno != ENOENT)
      return bslab_env_error(a, "cannot access image '%s': %s", image, strerror(errno));
    if (!mutating)
      return bslab_env_error(a, "image '%s' does not exist (bslab init, or any verb that changes "
                                "a volume, creates it)", image);
    v->created = true;
    return bslab_open_fresh(&v->st, a);
  }
  int rc = bs_sim_load(&v->st, image);
  if (rc != 0)
    return bslab_env_error(a, "cannot load image '%s': %s (%s)", image, bs_strerror(rc),
                           bs_err_name(rc));
  bs_caps caps;
  if (a->profile && bs_get_caps(v->st, &caps) == 0 && strcmp(caps.fs_type_name, a->profile) != 0) {
    bs_close(v->st);
    v->st = NULL;
    return bslab_env_error(a, "image '%s' has profile %s, not %s", image, caps.fs_type_name,
                           a->profile);
  }
  return 0;
}

int bslab_vol_open(bslab_vol *v, const bslab_args *a, bool mutating) {
  memset(v, 0, sizeof(*v));
  v->lock.fd = -1;
  int kind = check_backend(a);
  if (kind == BSLAB_USAGE)
    return kind;
  if (kind == 1)
    return bslab_open_fresh(&v->st, a);
  const char *image = a->image ? a->image : getenv("BSLAB_IMAGE");
  if (!image || !*image)
    return bslab_env_error(a, "the sim keeps its volume in an image file: give --image FILE or "
                              "set BSLAB_IMAGE");
  v->image = image;
  int status = check_image_file(a, image);
  if (status != 0)
    return status;
  /* From before the load to after the save: no other writer in between. */
  if (mutating && (status = bslab_lock_image(&v->lock, a, image)) != 0)
    return status;
  v->locked = mutating;
  if ((status = load(v, a, mutating)) != 0 && v->locked) {
    bslab_unlock_image(&v->lock);
    v->locked = false;
  }
  return status;
}

int bslab_vol_commit(bslab_vol *v, const bslab_args *a) {
  bool save = !v->committed && v->st && v->image;
  v->committed = true;
  if (!save)
    return 0;
  int rc = bs_sim_save(v->st, v->image);
  if (rc != 0)
    return bslab_env_error(a, "cannot save image '%s': %s (%s); %s; the image is as it was, "
                              "without this change", v->image, bs_strerror(rc), bs_err_name(rc),
                           bs_last_message(v->st));
  return 0;
}

int bslab_vol_finish(bslab_vol *v, const bslab_args *a, bool changed, int status) {
  if (changed && !v->committed && bslab_vol_commit(v, a) != 0)
    status = BSLAB_USAGE;
  bs_close(v->st);
  v->st = NULL;
  if (v->locked)
    bslab_unlock_image(&v->lock);
  v->locked = false;
  return status;
}
