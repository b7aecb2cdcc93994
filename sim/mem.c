/* The sim's one allocation seam: every heap allocation of sim/ goes through
 * these, so the zero-size and overflow rules live in one place.  They have
 * no fault point: failing the sim's own bookkeeping would test the harness,
 * not a filesystem; what a full volume does is bs/sim/alloc (block
 * allocation, sim/blocks.c). */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

void *bs__sim_malloc(size_t n) { return malloc(n ? n : 1); }

void *bs__sim_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

void *bs__sim_realloc_array(void *p, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size)
    return NULL;
  size_t bytes = n * size;
  return realloc(p, bytes ? bytes : 1);
}

char *bs__sim_strndup(const char *s, size_t n) {
  char *p = bs__sim_malloc(n + 1);
  if (!p)
    return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}
