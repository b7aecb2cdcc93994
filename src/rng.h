/* Seeded PRNG shared by the sim and the lab: xoshiro256** seeded through
 * splitmix64.  Every random choice in backstore flows from one of these,
 * passed down explicitly; there is no global generator. */
#ifndef BS_RNG_H
#define BS_RNG_H

#include <stdint.h>

typedef struct bs__rng {
  uint64_t s[4];
} bs__rng;

/* Seed @r from @seed; any seed, 0 included, gives a good state. */
void bs__rng_seed(bs__rng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t bs__rng_next(bs__rng *r);
/* Uniform in [0, n); n must be > 0 (n == 0 returns 0). No modulo bias. */
uint64_t bs__rng_below(bs__rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double bs__rng_unit(bs__rng *r);
/* splitmix64 step: also a good 64-bit mixer for deriving sub-seeds. */
uint64_t bs__splitmix64(uint64_t *state);

#endif
