/* The seeded fault schedule: one call counter and one PRNG per catalogue
 * point, and the queue of fired faults.
 *
 * A call of a point fails when the first term (in spec order) that matches
 * the point fires: "@N" on call N, "@N+" on calls N and later, "%P" when the
 * point's PRNG draws below P.  The PRNG of a point is seeded from the
 * schedule's seed and the point's name, so adding a term for one point never
 * changes the draws of another, and nothing depends on a global generator. */
#include <stdlib.h>
#include <string.h>

#include "faults/faults_internal.h"
#include "src/rng.h"

struct bs__fault_sched {
  bs_fault_spec spec;     /* a private copy */
  size_t npoints;
  uint8_t *match;         /* npoints x spec.count: term t matches point p */
  bool *any;              /* npoints: some term matches */
  uint64_t *calls;        /* npoints: calls counted so far */
  bs__rng *rng;           /* npoints */
  bs_fault_event *ev;     /* queued events, ev[head..nev) */
  size_t head, nev, cap;
  uint64_t fired;
  bool has_lower;
};

/* FNV-1a 64 of a name, mixed into the seed of the point's PRNG. */
static uint64_t fnv1a(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
  return h;
}

int bs__fault_sched_new(bs__fault_sched **out, const bs_fault_spec *spec, uint64_t seed) {
  *out = NULL;
  const bs_fault_point_info *cat;
  size_t np = bs_fault_catalogue(&cat);
  size_t nt = spec ? spec->count : 0;
  bs__fault_sched *s = calloc(1, sizeof(*s));
  if (!s)
    return BS_ENO_MEMORY;
  s->npoints = np;
  s->spec.count = nt;
  s->spec.terms = calloc(nt ? nt : 1, sizeof(bs_fault_term));
  s->match = calloc(np * (nt ? nt : 1), 1);
  s->any = calloc(np, sizeof(*s->any));
  s->calls = calloc(np, sizeof(*s->calls));
  s->rng = calloc(np, sizeof(*s->rng));
  if (!s->spec.terms || !s->match || !s->any || !s->calls || !s->rng) {
    bs__fault_sched_free(s);
    return BS_ENO_MEMORY;
  }
  if (nt)
    memcpy(s->spec.terms, spec->terms, nt * sizeof(bs_fault_term));
  uint64_t st = seed;
  uint64_t base = bs__splitmix64(&st);
  for (size_t p = 0; p < np; p++) {
    bs__rng_seed(&s->rng[p], base ^ fnv1a(cat[p].name));
    for (size_t t = 0; t < nt; t++) {
      bool m = bs__fault_glob(s->spec.terms[t].point, cat[p].name);
      s->match[p * nt + t] = m;
      s->any[p] |= m;
      s->has_lower |= m && bs__fault_point_is_lower(p);
    }
  }
  *out = s;
  return BS_OK;
}

void bs__fault_sched_free(bs__fault_sched *s) {
  if (!s)
    return;
  free(s->spec.terms);
  free(s->match);
  free(s->any);
  free(s->calls);
  free(s->rng);
  free(s->ev);
  free(s);
}

bool bs__fault_sched_has_lower(const bs__fault_sched *s) { return s->has_lower; }

bool bs__fault_sched_matches(const bs__fault_sched *s, size_t index) {
  return index < s->npoints && s->any[index];
}

/* Queue an event; if the queue cannot grow the event is only counted
 * (bs_faults_fired() still sees it). */
static void record(bs__fault_sched *s, size_t index, int err, uint64_t call) {
  s->fired++;
  if (s->nev == s->cap) {
    if (s->head > 0) { /* reuse the drained front first */
      memmove(s->ev, s->ev + s->head, (s->nev - s->head) * sizeof(*s->ev));
      s->nev -= s->head;
      s->head = 0;
    }
    if (s->nev == s->cap) {
      size_t ncap = s->cap ? s->cap * 2 : 16;
      bs_fault_event *ne = realloc(s->ev, ncap * sizeof(*ne));
      if (!ne)
        return;
      s->ev = ne;
      s->cap = ncap;
    }
  }
  const bs_fault_point_info *cat;
  bs_fault_catalogue(&cat);
  s->ev[s->nev++] = (bs_fault_event){.point = cat[index].name, .error = err, .call = call};
}

int bs__fault_sched_call(bs__fault_sched *s, size_t index, uint64_t *call) {
  if (index >= s->npoints || !s->any[index])
    return BS_OK;
  uint64_t n = ++s->calls[index];
  if (call)
    *call = n;
  size_t nt = s->spec.count;
  for (size_t t = 0; t < nt; t++) {
    if (!s->match[index * nt + t])
      continue;
    const bs_fault_term *term = &s->spec.terms[t];
    bool fire = false;
    switch (term->trigger) {
    case BS_FAULT_NTH:
      fire = n == term->nth;
      break;
    case BS_FAULT_FROM:
      fire = n >= term->nth;
      break;
    case BS_FAULT_PROB:
      fire = bs__rng_below(&s->rng[index], BS_FAULT_PPM) < term->ppm;
      break;
    }
    if (fire) {
      record(s, index, term->error, n);
      return term->error;
    }
  }
  return BS_OK;
}

int bs__fault_sched_drain(bs__fault_sched *s, bs_fault_event *out, size_t cap, size_t *n) {
  size_t k = s->nev - s->head;
  if (k > cap)
    k = cap;
  if (k)
    memcpy(out, s->ev + s->head, k * sizeof(*out));
  s->head += k;
  if (s->head == s->nev)
    s->head = s->nev = 0;
  *n = k;
  return BS_OK;
}

uint64_t bs__fault_sched_fired(const bs__fault_sched *s) { return s->fired; }
