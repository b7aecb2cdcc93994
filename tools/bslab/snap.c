/* bslab snapshot create|list|delete and branch create|delete.
 *
 * SSZ output: `snapshot create --format ssz` writes one SnapshotInfo;
 * `snapshot list --format ssz` writes, for each snapshot in id order, a
 * 4-byte little-endian length followed by that many bytes of SnapshotInfo
 * (SSZ messages do not carry their own length).  --format hex writes the SSZ
 * of each SnapshotInfo as one line of lowercase hex. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#include "backstore/wire.h"
#include "tools/bslab/bslab.h"

static const char *const formats[] = {"text", "json", "ssz", "hex", NULL};

/* A snapshot by name, or else by decimal id. */
static int resolve(bs_store *st, const char *arg, uint64_t *id) {
  bs_snapshot_info info;
  int rc = bs_snapshot_lookup(st, arg, &info);
  if (rc == 0)
    *id = info.id;
  else if (rc == BS_ENOT_FOUND && bslab_parse_u64(arg, id))
    rc = BS_OK;
  return rc;
}

/* A failed resolve, reported as part of the verb the user ran: the lookup
 * reads the snapshot list, whose own name in the library's message ("snapshot
 * list: ...") would name a command the user did not run. */
static int resolve_error(const bslab_args *a, const char *arg, int rc, bs_store *st) {
  const char *msg = bs_last_message(st);
  if (rc == BS_ENOT_FOUND)
    return bslab_op_error(a, arg, rc, st);
  static const char list[] = "snapshot list: ";
  if (strncmp(msg, list, sizeof(list) - 1) == 0)
    msg += sizeof(list) - 1;
  char detail[1024];
  snprintf(detail, sizeof(detail), "looking up snapshot \"%s\": %s", arg, msg);
  return bslab_op_error_detail(a, arg, rc, detail);
}

static void info_json(const bs_snapshot_info *s) {
  char uuid[37];
  bslab_uuid_str(uuid, s->uuid);
  printf("{\"id\":%" PRIu64 ",\"uuid\":\"%s\",\"name\":", s->id, uuid);
  bslab_json_str(stdout, s->name);
  printf(",\"readonly\":%s,\"branch_count\":%" PRIu32 ",\"created_ns\":%" PRIu64 "}", 
         s->readonly ? "true" : "false", s->branch_count, s->created_ns);
}

/* Write one SnapshotInfo in format @fmt (not text/json); @framed adds the
 * 4-byte little-endian length of the ssz format. */
static int info_ssz(const bslab_args *a, const bs_snapshot_info *s, const char *fmt, bool framed) {
  uint8_t buf[4 + BS_SNAPSHOT_INFO_SSZ_MAX];
  size_t len = 0;
  int rc = bs_snapshot_info_encode(buf + 4, sizeof(buf) - 4, &len, s);
  if (rc != 0)
    return bslab_op_error(a, s->name, rc, NULL);
  if (strcmp(fmt, "hex") == 0) {
    bslab_hex(stdout, buf + 4, len);
    putchar('\n');
    return BSLAB_OK;
  }
  for (int i = 0; i < 4; i++)
    buf[i] = (uint8_t)(len >> (8 * i));
  return bslab_write_raw(a, framed ? buf : buf + 4, framed ? len + 4 : len) ? BSLAB_OK : BSLAB_USAGE;
}

/* Print what snapshot create made, in format @fmt. */
static int print_created(const bslab_args *a, const bs_snapshot_info *s, const char *fmt) {
  if (strcmp(fmt, "json") == 0) {
    info_json(s);
    putchar('\n');
    return BSLAB_OK;
  }
  if (strcmp(fmt, "text") != 0)
    return info_ssz(a, s, fmt, false);
  char uuid[37], path[BS_NAME_MAX + 32];
  bslab_uuid_str(uuid, s->uuid);
  bs_snapshot_path(path, sizeof(path), s->name);
  printf("created snapshot ");
  bslab_text(stdout, s->name);
  printf(": id %" PRIu64 ", uuid %s, at ", s->id, uuid);
  bslab_text(stdout, path);
  putchar('\n');
  return BSLAB_OK;
}

/* Success is printed only once it is durable (the image saved). */
static int snap_create(bslab_args *a, bslab_vol *v, const char *fmt) {
  bs_snapshot_info s;
  int rc = a->branch ? bs_branch_snapshot(v->st, a->branch, a->pos[1], &s) : bs_snapshot_create(v->st, a->pos[1], &s);
  if (rc != 0)
    return bslab_op_error(a, a->pos[1], rc, v->st);
  int status = bslab_vol_commit(v, a);
  return status != 0 ? status : print_created(a, &s, fmt);
}

static int snap_list(bslab_args *a, bslab_vol *v, const char *fmt) {
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  int rc = bs_snapshot_list(v->st, &all, &n);
  if (rc != 0)
    return bslab_op_error(a, NULL, rc, v->st);
  int status = BSLAB_OK;
  if (strcmp(fmt, "text") == 0)
    printf("%-6s %-8s %-20s %-36s %s\n", "ID", "BRANCHES", "CREATED_NS", "UUID", "NAME");
  if (strcmp(fmt, "json") == 0)
    putchar('[');
  for (size_t i = 0; i < n && status == BSLAB_OK; i++) {
    char uuid[37];
    bslab_uuid_str(uuid, all[i].uuid);
    if (strcmp(fmt, "text") == 0) {
      printf("%-6" PRIu64 " %-8" PRIu32 " %-20" PRIu64 " %-36s ", all[i].id, all[i].branch_count,
             all[i].created_ns, uuid);
      bslab_text(stdout, all[i].name); /* one row, whatever the name holds */
      putchar('\n');
    } else if (strcmp(fmt, "json") == 0) {
      if (i)
        putchar(',');
      info_json(&all[i]);
    } else
      status = info_ssz(a, &all[i], fmt, true);
  }
  if (strcmp(fmt, "json") == 0)
    puts("]");
  free(all);
  return status;
}

static int snap_delete(bslab_args *a, bslab_vol *v) {
  uint64_t id = 0;
  int rc = resolve(v->st, a->pos[1], &id);
  if (rc != 0)
    return resolve_error(a, a->pos[1], rc, v->st);
  if ((rc = bs_snapshot_delete(v->st, id)) != 0)
    return bslab_op_error(a, a->pos[1], rc, v->st);
  int status = bslab_vol_commit(v, a);
  if (status == BSLAB_OK) {
    printf("deleted snapshot ");
    bslab_text(stdout, a->pos[1]);
    printf(" (id %" PRIu64 ")\n", id);
  }
  return status;
}

int bslab_snapshot(bslab_args *a) {
  int status = bslab_check_format(a, formats);
  if (status != 0)
    return status;
  const char *sub = a->pos[0], *fmt = a->format ? a->format : "text";
  bool list = strcmp(sub, "list") == 0;
  if (!list && strcmp(sub, "create") != 0 && strcmp(sub, "delete") != 0)
    return bslab_usage_error(a, "unknown subcommand '%s' (create, list or delete)", sub);
  a->verb = list ? "snapshot list" : sub[0] == 'c' ? "snapshot create" : "snapshot delete";
  if (a->branch && sub[0] != 'c')
    return bslab_usage_error(a, "--branch applies to snapshot create only");
  if (a->npos != (list ? 1 : 2))
    return bslab_usage_error(a, a->npos < (list ? 1 : 2) ? "missing argument" : "too many arguments");
  bslab_vol v;
  if ((status = bslab_vol_open(&v, a, !list)) != 0)
    return status;
  if (list)
    status = snap_list(a, &v, fmt);
  else if (sub[0] == 'c')
    status = snap_create(a, &v, fmt);
  else
    status = snap_delete(a, &v);
  return bslab_vol_finish(&v, a, !list && status == BSLAB_OK, status);
}

/* Delete @branch only if it was made from snapshot @id (named @snap). */
static int branch_delete_of(bslab_args *a, bslab_vol *v, uint64_t id, const char *snap,
                            const char *branch) {
  uint64_t parent = 0;
  int rc = bs_branch_parent(v->st, branch, &parent);
  if (rc != 0)
    return bslab_op_error(a, branch, rc, v->st);
  if (parent != id) {
    char why[BS_NAME_MAX * 2 + 32];
    snprintf(why, sizeof(why), "%s is not a branch of %s", branch, snap);
    return bslab_op_error_detail(a, branch, BS_ENOT_FOUND, why);
  }
  if ((rc = bs_branch_delete(v->st, branch)) != 0)
    return bslab_op_error(a, branch, rc, v->st);
  return BSLAB_OK;
}

/* branch create --lower-dir DIR BRANCH: an overlay branch over a host
 * directory, named absolute (symlinks on the way resolved) so the record
 * does not depend on the working directory. */
static int branch_create_host(bslab_args *a) {
  if (a->npos != 2)
    return bslab_usage_error(a, a->npos < 2 ? "needs BRANCH" : "--lower-dir takes BRANCH only, no SNAPSHOT");
  char *dir = realpath(a->lower_dir, NULL);
  if (!dir) {
    char why[256];
    snprintf(why, sizeof(why), "--lower-dir %s: %s", a->lower_dir, strerror(errno));
    return bslab_op_error_detail(a, a->lower_dir, bs_err_from_errno(errno), why);
  }
  bslab_vol v;
  int status = bslab_vol_open(&v, a, true);
  if (status != 0) {
    free(dir);
    return status;
  }
  const char *branch = a->pos[1];
  int rc = bs_branch_create_host(v.st, dir, branch);
  if (rc != 0)
    status = bslab_op_error(a, branch, rc, v.st);
  if (status == BSLAB_OK)
    status = bslab_vol_commit(&v, a);
  if (status == BSLAB_OK) {
    char path[BS_NAME_MAX + 32];
    bs_branch_path(path, sizeof(path), branch);
    printf("created overlay branch ");
    bslab_text(stdout, branch);
    printf(" of host directory ");
    bslab_text(stdout, dir);
    printf(" at ");
    bslab_text(stdout, path);
    putchar('\n');
  }
  free(dir);
  return bslab_vol_finish(&v, a, status == BSLAB_OK, status);
}

int bslab_branch(bslab_args *a) {
  const char *sub = a->pos[0];
  bool create = strcmp(sub, "create") == 0;
  if (!create && strcmp(sub, "delete") != 0)
    return bslab_usage_error(a, "unknown subcommand '%s' (create or delete)", sub);
  a->verb = create ? "branch create" : "branch delete";
  if (a->lower_dir && !create)
    return bslab_usage_error(a, "--lower-dir applies to branch create only");
  if (a->lower_dir && a->kind && strcmp(a->kind, "overlay") != 0)
    return bslab_usage_error(a, "--lower-dir makes an overlay branch, not --kind %s", a->kind);
  if (a->lower_dir)
    return branch_create_host(a);
  if (create && a->npos != 3)
    return bslab_usage_error(a, "needs SNAPSHOT and BRANCH");
  bs_branch_opts bo = {.kind = BS_BRANCH_NATIVE};
  if (a->kind && !create)
    return bslab_usage_error(a, "--kind applies to branch create only");
  if (a->kind && strcmp(a->kind, "overlay") == 0)
    bo.kind = BS_BRANCH_OVERLAY;
  else if (a->kind && strcmp(a->kind, "auto") == 0)
    bo.kind = BS_BRANCH_AUTO;
  else if (a->kind && strcmp(a->kind, "native") != 0)
    return bslab_usage_error(a, "--kind must be native, overlay or auto, not '%s'", a->kind);
  bslab_vol v;
  int status = bslab_vol_open(&v, a, true);
  if (status != 0)
    return status;
  const char *branch = a->pos[a->npos - 1];
  uint64_t id = 0;
  int rc = BS_OK;
  if (a->npos == 3 && (rc = resolve(v.st, a->pos[1], &id)) != 0)
    status = resolve_error(a, a->pos[1], rc, v.st);
  else if (!create && a->npos == 3)
    status = branch_delete_of(a, &v, id, a->pos[1], branch);
  else if ((rc = create ? bs_branch_create_opts(v.st, id, branch, &bo) : bs_branch_delete(v.st, branch)) != 0)
    status = bslab_op_error(a, branch, rc, v.st);
  if (status == BSLAB_OK)
    status = bslab_vol_commit(&v, a); /* success is printed once it is durable */
  if (status == BSLAB_OK && create) {
    char path[BS_NAME_MAX + 32];
    bs_branch_path(path, sizeof(path), branch);
    bs_branch_info bi;
    bool overlay = bs_branch_info_get(v.st, branch, &bi) == 0 && bi.kind == BS_BRANCH_OVERLAY;
    printf("created %sbranch ", overlay ? "overlay " : "");
    bslab_text(stdout, branch);
    printf(" of snapshot ");
    bslab_text(stdout, a->pos[1]);
    printf(" (id %" PRIu64 ") at ", id);
    bslab_text(stdout, path);
    putchar('\n');
  } else if (status == BSLAB_OK) {
    printf("deleted branch ");
    bslab_text(stdout, branch);
    putchar('\n');
  }
  return bslab_vol_finish(&v, a, status == BSLAB_OK, status);
}
