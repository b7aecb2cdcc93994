/* The fault-point catalogue: the wrapper's per-method points, then the sim's
 * and real/'s, each generated from the X-macro that its own layer keeps, so
 * a point added there is listed (and accepted by specs) automatically. */
#include <string.h>

#include "faults/faults_internal.h"
#include "real/sys.h"
#include "sim/fault.h"

static const bs_fault_point_info catalogue[] = {
#define BS__XX(m) {"bs/op/" #m, "the faults backend fails " #m " before calling the inner store"},
  BS__FAULT_OP_METHODS(BS__XX)
#undef BS__XX
#define BS__XX(point, meaning) {point, meaning},
  BS_SIM_FAULT_POINTS(BS__XX)
  BS_REAL_FAULT_POINTS(BS__XX)
#undef BS__XX
};
#define N_POINTS (sizeof(catalogue) / sizeof(catalogue[0]))

size_t bs_fault_catalogue(const bs_fault_point_info **out) {
  if (out)
    *out = catalogue;
  return N_POINTS;
}

int bs_fault_point_find(size_t *index, const char *name) {
  if (!name)
    return BS_EINVALID;
  for (size_t i = 0; i < N_POINTS; i++)
    if (strcmp(catalogue[i].name, name) == 0) {
      if (index)
        *index = i;
      return BS_OK;
    }
  return BS_ENOT_FOUND;
}

bool bs__fault_point_is_lower(size_t index) { return index >= BS__FP_OP_COUNT && index < N_POINTS; }

bool bs__fault_glob(const char *pat, const char *name) {
  /* Iterative '*' matching with one backtrack point: linear enough for names. */
  const char *star = NULL, *resume = NULL;
  while (*name) {
    if (*pat == '*') {
      star = pat++;
      resume = name;
    } else if (*pat == *name) {
      pat++;
      name++;
    } else if (star) {
      pat = star + 1;
      name = ++resume;
    } else {
      return false;
    }
  }
  while (*pat == '*')
    pat++;
  return *pat == '\0';
}

bool bs_fault_point_matches(const char *glob, const char *point) {
  return glob && point && bs__fault_glob(glob, point);
}

/* Levenshtein distance, capped: names are short (< 64 bytes). */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > BS_FAULT_POINT_MAX || lb > BS_FAULT_POINT_MAX)
    return (size_t)-1;
  size_t row[BS_FAULT_POINT_MAX + 2];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

void bs__fault_near(char *buf, size_t cap, const char *name) {
  if (cap == 0)
    return;
  buf[0] = '\0';
  /* Close means a few typos, or the same last component in another layer. */
  const char *leaf = strrchr(name, '/');
  size_t used = 0, shown = 0;
  for (size_t limit = 1; limit <= 3 && shown == 0; limit++)
    for (size_t i = 0; i < N_POINTS && shown < 4; i++) {
      const char *cl = strrchr(catalogue[i].name, '/');
      bool same_leaf = leaf && cl && strcmp(leaf, cl) == 0 && limit == 3;
      if (distance(name, catalogue[i].name) > limit && !same_leaf)
        continue;
      size_t len = strlen(catalogue[i].name) + (shown ? 2 : 0);
      if (used + len + 1 > cap)
        return;
      if (shown)
        memcpy(buf + used, ", ", 2);
      memcpy(buf + used + (shown ? 2 : 0), catalogue[i].name, strlen(catalogue[i].name) + 1);
      used += len;
      shown++;
    }
}
