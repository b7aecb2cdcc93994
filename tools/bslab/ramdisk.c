/* bslab ramdisk: create, list, destroy and reap RAM disks (docs/ramdisk.md),
 * a thin layer over bs_ramdisk_*. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/bslab/bslab.h"

static void info_json(const bs_ramdisk_info *i) {
  printf("{\"id\":");
  bslab_json_str(stdout, i->id);
  printf(",\"fs\":");
  bslab_json_str(stdout, i->fs);
  printf(",\"size_mb\":%llu,\"label\":", (unsigned long long)i->size_mb);
  bslab_json_str(stdout, i->label);
  printf(",\"mount\":");
  bslab_json_str(stdout, i->mount);
  printf(",\"device\":");
  bslab_json_str(stdout, i->device);
  printf(",\"owner_pid\":%d,\"owner_alive\":%s,\"mounted\":%s,\"supports_native_snapshots\":%s}",
         i->owner_pid, i->owner_alive ? "true" : "false", i->mounted ? "true" : "false",
         i->supports_native_snapshots ? "true" : "false");
}

static int create(bslab_args *a, const char *fmt) {
  if (!a->fs)
    return bslab_usage_error(a, "--fs FS is needed (btrfs, xfs, ext4, tmpfs; apfs on macOS)");
  if (!a->size_mb_set)
    return bslab_usage_error(a, "--size-mb N is needed");
  bs_ramdisk_opts o = {.fs = a->fs, .size_mb = a->size_mb, .label = a->label,
                       .owner_pid = (int)getppid()};
  bs_ramdisk *rd = NULL;
  int rc = bs_ramdisk_create(&rd, &o);
  if (rc != 0)
    return bslab_op_error_detail(a, NULL, rc, bs_ramdisk_last_message());
  const bs_ramdisk_info *i = bs_ramdisk_info_of(rd);
  if (strcmp(fmt, "json") == 0) {
    info_json(i);
    putchar('\n');
  } else {
    printf("id:                        %s\nmount:                     ", i->id);
    bslab_text(stdout, i->mount);
    printf("\nfs:                        %s\nsize_mb:                   %llu\n", i->fs,
           (unsigned long long)i->size_mb);
    printf("device:                    %s\nsupports_native_snapshots: %s\n",
           i->device[0] ? i->device : "-", i->supports_native_snapshots ? "true" : "false");
  }
  bs_ramdisk_release(rd); /* the handle only: the RAM disk stays, owned by our parent */
  return BSLAB_OK;
}

static int list(bslab_args *a, const char *fmt) {
  bs_ramdisk_info *v = NULL;
  size_t n = 0;
  int rc = bs_ramdisk_list(&v, &n);
  if (rc != 0)
    return bslab_op_error_detail(a, NULL, rc, bs_ramdisk_last_message());
  if (strcmp(fmt, "json") == 0) {
    putchar('[');
    for (size_t i = 0; i < n; i++) {
      if (i)
        putchar(',');
      info_json(&v[i]);
    }
    puts("]");
  } else {
    for (size_t i = 0; i < n; i++) {
      printf("%s  %s  %llu MiB  owner %d %s  %s  %s  ", v[i].id, v[i].fs[0] ? v[i].fs : "?",
             (unsigned long long)v[i].size_mb, v[i].owner_pid, v[i].owner_alive ? "alive" : "dead",
             v[i].device[0] ? v[i].device : "-", v[i].mounted ? "mounted" : "unmounted");
      bslab_text(stdout, v[i].mount);
      putchar('\n');
    }
  }
  free(v);
  return BSLAB_OK;
}

int bslab_ramdisk(bslab_args *a) {
  static const char *const formats[] = {"text", "json", NULL};
  int status = bslab_check_format(a, formats);
  if (status != 0)
    return status;
  const char *sub = a->pos[0], *fmt = a->format ? a->format : "text";
  static const char *const subs[] = {"create", "list", "destroy", "reap"};
  static const char *const verbs[] = {"ramdisk create", "ramdisk list", "ramdisk destroy",
                                      "ramdisk reap"};
  size_t k = 0;
  while (k < 4 && strcmp(sub, subs[k]) != 0)
    k++;
  if (k == 4)
    return bslab_usage_error(a, "unknown subcommand '%s' (create, list, destroy or reap)", sub);
  a->verb = verbs[k];
  int want = k == 2 ? 2 : 1;
  if (a->npos != want)
    return bslab_usage_error(a, a->npos < want ? "missing argument" : "too many arguments");
  if (k != 0 && (a->fs || a->size_mb_set || a->label))
    return bslab_usage_error(a, "--fs, --size-mb and --label belong to 'ramdisk create'");
  if (k == 0)
    return create(a, fmt);
  if (k == 1)
    return list(a, fmt);
  if (k == 2) {
    int rc = bs_ramdisk_destroy_id(a->pos[1]);
    return rc == 0 ? BSLAB_OK : bslab_op_error_detail(a, a->pos[1], rc, bs_ramdisk_last_message());
  }
  size_t reaped = 0;
  int rc = bs_ramdisk_reap(&reaped);
  printf("reaped %zu\n", reaped);
  return rc == 0 ? BSLAB_OK : bslab_op_error_detail(a, NULL, rc, bs_ramdisk_last_message());
}
