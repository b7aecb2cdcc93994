/* Directories: entries sorted by the profile's name order.
 *
 * Case-sensitive profiles order names by bytes.  apfs and hfs are
 * case-insensitive and case-preserving: names are ordered and compared after
 * ASCII case folding (A-Z -> a-z).  This is a simplification of the Unicode
 * folding the real filesystems do (HFS+ uses its own case table, APFS
 * normalisation-insensitive Unicode folding): non-ASCII letters are compared
 * byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

static unsigned char fold(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

int bs__sim_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c != 0)
    return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int bs__sim_name_cmp(const bs__sim_store *s, const char *a, size_t alen, const char *b, size_t blen) {
  if (s->caps.case_sensitive)
    return bs__sim_bytes_cmp(a, alen, b, blen);
  size_t n = alen < blen ? alen : blen;
  const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
  for (size_t i = 0; i < n; i++) {
    if (x[i] == y[i])
      continue; /* equal bytes fold equally */
    unsigned char p = fold(x[i]), q = fold(y[i]);
    if (p != q)
      return p < q ? -1 : 1;
  }
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* A name to find in a directory, for bs__sim_search. */
struct dent_key {
  const bs__sim_store *s;
  const bs__sim_inode *dir;
  const char *name;
  size_t nlen;
};

static int dent_cmp(const void *ctx, size_t i) {
  const struct dent_key *k = ctx;
  const bs__sim_dent *e = &k->dir->ents[i];
  return bs__sim_name_cmp(k->s, e->name, e->nlen, k->name, k->nlen);
}

bs__sim_inode *bs__sim_dir_find(const bs__sim_store *s, const bs__sim_inode *dir, const char *name,
                                size_t nlen, size_t *pos) {
  const struct dent_key k = {s, dir, name, nlen};
  size_t at;
  bool found = bs__sim_search(dir->nents, dent_cmp, &k, &at);
  if (pos)
    *pos = at;
  return found ? dir->ents[at].node : NULL;
}

int bs__sim_dir_reserve(bs__sim_inode *dir) {
  if (dir->nents < dir->capents)
    return BS_OK;
  size_t cap = dir->capents ? dir->capents * 2 : 8;
  bs__sim_dent *e = bs__sim_realloc_array(dir->ents, cap, sizeof(*e));
  if (!e)
    return BS_ENO_MEMORY;
  dir->ents = e;
  dir->capents = cap;
  return BS_OK;
}

void bs__sim_dir_insert(bs__sim_inode *dir, size_t pos, char *name, size_t nlen, bs__sim_inode *node) {
  memmove(&dir->ents[pos + 1], &dir->ents[pos], (dir->nents - pos) * sizeof(*dir->ents));
  dir->ents[pos] = (bs__sim_dent){name, nlen, node};
  dir->nents++;
  node->parent = dir;
  if (node->kind == BS_KIND_DIR)
    dir->ndirs++;
}

bs__sim_inode *bs__sim_dir_remove(bs__sim_inode *dir, size_t pos) {
  bs__sim_inode *node = dir->ents[pos].node;
  free(dir->ents[pos].name);
  memmove(&dir->ents[pos], &dir->ents[pos + 1], (dir->nents - pos - 1) * sizeof(*dir->ents));
  dir->nents--;
  if (node->kind == BS_KIND_DIR)
    dir->ndirs--;
  node->parent = NULL;
  return node;
}

void bs__sim_names_free(char **names, size_t n) {
  if (!names)
    return;
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

struct name_kind {
  const char *name;
  size_t nlen;
  bs_file_kind kind;
};

static int byte_order(const void *a, const void *b) {
  const struct name_kind *x = a, *y = b;
  size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
  int c = memcmp(x->name, y->name, n);
  return c ? c : (x->nlen < y->nlen ? -1 : x->nlen > y->nlen ? 1 : 0);
}

int bs__sim_dir_names(const bs__sim_inode *dir, char ***names, bs_file_kind **kinds, size_t *n) {
  *names = NULL;
  *kinds = NULL;
  *n = 0;
  size_t cnt = dir->nents;
  struct name_kind *tmp = bs__sim_calloc(cnt, sizeof(*tmp));
  char **nv = bs__sim_calloc(cnt, sizeof(*nv));
  bs_file_kind *kv = bs__sim_calloc(cnt, sizeof(*kv));
  int rc = BS_ENO_MEMORY;
  size_t done = 0;
  if (!tmp || !nv || !kv)
    goto out;
  for (size_t i = 0; i < cnt; i++)
    tmp[i] = (struct name_kind){dir->ents[i].name, dir->ents[i].nlen, dir->ents[i].node->kind};
  /* Case-insensitive dirs are kept in folded order; readdir promises byte order. */
  if (cnt > 1)
    qsort(tmp, cnt, sizeof(*tmp), byte_order);
  for (; done < cnt; done++) {
    nv[done] = bs__sim_strndup(tmp[done].name, tmp[done].nlen);
    if (!nv[done])
      goto out;
    kv[done] = tmp[done].kind;
  }
  *names = nv;
  *kinds = kv;
  *n = cnt;
  nv = NULL;
  kv = NULL;
  rc = BS_OK;
out:
  free(tmp);
  bs__sim_names_free(nv, done);
  free(kv);
  return rc;
}
