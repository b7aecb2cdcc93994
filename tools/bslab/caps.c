/* bslab caps: the capability response of a filesystem, in four formats. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backstore/wire.h"
#include "tools/bslab/bslab.h"

static void caps_json(const bs_caps *c) {
  printf("{\"schema_version\":%u,\"fs_type\":%u,\"fs_type_name\":", c->schema_version, c->fs_type);
  bslab_json_str(stdout, c->fs_type_name);
  printf(",\"native_snapshots\":%s,\"native_reflink\":%s,\"xattrs\":%s,\"case_sensitive\":%s,"
         "\"max_name_len\":%u}\n",
         c->native_snapshots ? "true" : "false", c->native_reflink ? "true" : "false",
         c->xattrs ? "true" : "false", c->case_sensitive ? "true" : "false", c->max_name_len);
}

static void caps_text(const bs_caps *c) {
  const char *yes = "true", *no = "false";
  printf("schema_version:   %u\n", c->schema_version);
  printf("fs_type:          %u\n", c->fs_type);
  printf("fs_type_name:     %s\n", c->fs_type_name);
  printf("native_snapshots: %s\n", c->native_snapshots ? yes : no);
  printf("native_reflink:   %s\n", c->native_reflink ? yes : no);
  printf("xattrs:           %s\n", c->xattrs ? yes : no);
  printf("case_sensitive:   %s\n", c->case_sensitive ? yes : no);
  printf("max_name_len:     %u\n", c->max_name_len);
}

int bslab_caps(bslab_args *a) {
  static const char *const formats[] = {"text", "json", "ssz", "hex", NULL};
  int status = bslab_check_format(a, formats);
  if (status != 0)
    return status;
  /* The volume of --image (which must exist), or of an existing
   * $BSLAB_IMAGE; else a fresh store of --profile. */
  const char *image = a->image ? a->image : getenv("BSLAB_IMAGE");
  bslab_vol v = {0};
  bs_store *st = NULL;
  if (image && *image && (a->image || access(image, F_OK) == 0)) {
    if ((status = bslab_vol_open(&v, a, false)) != 0)
      return status;
    st = v.st;
  } else if ((status = bslab_open_fresh(&st, a)) != 0) {
    return status;
  }
  bs_caps c;
  int rc = bs_get_caps(st, &c);
  const char *fmt = a->format ? a->format : "text";
  uint8_t buf[BS_CAPS_SSZ_MAX];
  size_t len = 0;
  if (rc == 0 && (strcmp(fmt, "ssz") == 0 || strcmp(fmt, "hex") == 0))
    rc = bs_caps_encode(buf, sizeof(buf), &len, &c);
  if (rc != 0)
    status = bslab_op_error(a, NULL, rc, st);
  else if (strcmp(fmt, "ssz") == 0)
    status = bslab_write_raw(a, buf, len) ? BSLAB_OK : BSLAB_USAGE;
  else if (strcmp(fmt, "hex") == 0) {
    bslab_hex(stdout, buf, len);
    putchar('\n');
  } else if (strcmp(fmt, "json") == 0)
    caps_json(&c);
  else
    caps_text(&c);
  if (v.st)
    return bslab_vol_finish(&v, a, false, status);
  bs_close(st);
  return status;
}

/* bslab probe PATH: the type of the filesystem holding host path PATH, as the
 * real backend sees it ("btrfs"; an unlisted type by its own name, "overlay"). */
int bslab_probe(bslab_args *a) {
  static const char *const formats[] = {"text", "json", NULL};
  int status = bslab_check_format(a, formats);
  if (status != 0)
    return status;
  const char *path = a->pos[0];
  bs_store *st = NULL;
  bs_open_opts o = {.root = "/"};
  int rc = bs_open(&st, "real", &o);
  if (rc != 0)
    return bslab_env_error(a, "cannot open the real backend: %s (%s)", bs_strerror(rc),
                           bs_err_name(rc));
  bs_fs_type t = BS_FS_OTHER;
  rc = bs_probe_fs_type(st, path, &t);
  /* A type outside the table is named by the volume's own caps. */
  bs_caps c = {0};
  snprintf(c.fs_type_name, sizeof(c.fs_type_name), "%s", bs_fs_type_name(t));
  if (rc == 0 && t == BS_FS_OTHER) {
    bs_store *at = NULL;
    bs_open_opts ao = {.root = path};
    if (bs_open(&at, "real", &ao) == 0 && bs_get_caps(at, &c) != 0)
      snprintf(c.fs_type_name, sizeof(c.fs_type_name), "other");
    bs_close(at);
  }
  if (rc != 0)
    status = bslab_op_error(a, path, rc, st);
  else if (a->format && strcmp(a->format, "json") == 0) {
    printf("{\"path\":");
    bslab_json_str(stdout, path);
    printf(",\"fs_type\":%d,\"fs_type_name\":", (int)t);
    bslab_json_str(stdout, c.fs_type_name);
    printf("}\n");
  } else
    printf("%s\n", c.fs_type_name);
  bs_close(st);
  return status;
}
