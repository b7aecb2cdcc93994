#include "src/rng.h"

uint64_t bs__splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void bs__rng_seed(bs__rng *r, uint64_t seed) {
  uint64_t sm = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = bs__splitmix64(&sm);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t bs__rng_next(bs__rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t bs__rng_below(bs__rng *r, uint64_t n) {
  if (n == 0)
    return 0;
  /* Rejection sampling: drop the top partial range so every value is equally likely. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = bs__rng_next(r);
  while (x >= limit);
  return x % n;
}

double bs__rng_unit(bs__rng *r) { return (double)(bs__rng_next(r) >> 11) * 0x1.0p-53; }
