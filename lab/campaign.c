/* One campaign seed: open a fresh store, draw and run the operations, sweep
 * every BS_CAMPAIGN_SWEEP_EVERY operations and at the end; the trace digest.
 * (The command that reruns a seed is bslab's: tools/bslab/campaign.c.) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/stat.h>

#include "backstore/sim.h"
#include "lab/campaign_internal.h"
#include "lab/trace_internal.h"

uint64_t bs__fnv1a(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* File contents are hashed 8 bytes at a time (FNV-1a over little-endian
 * words, with a final xor-shift per word): the byte-wise digest of every
 * read would cost more than the operations it checks. */
uint64_t bs__content_hash(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  return bs__fnv1a(h, b + i, n - i);
}

/* One canonical trace line per operation: index, operation, result code,
 * what came back, virtual clock.  The digest is FNV-1a 64 over the lines. */
void bs__camp_trace(bs__camp *c, const char *op_full, int rc, const char *extra) {
  int64_t t = 0;
  if (c->has_clock && bs_clock_ns(c->st, &t) != 0)
    t = -1;
  int n = snprintf(c->line, sizeof(c->line), "%" PRIu32 " %s -> %s%s t=%" PRId64, c->op_index,
                   op_full, bs_err_name(rc), extra, t);
  size_t len = n < 0 ? 0 : (size_t)n < sizeof(c->line) ? (size_t)n : sizeof(c->line) - 1;
  c->line[len] = '\n'; /* for the digest and the outputs; cut off again below */
  if (c->o->trace)
    fwrite(c->line, 1, len + 1, c->o->trace);
  if (c->rec)
    bs__tbuf_add(c->rec, c->line, len + 1);
  c->res->digest = bs__fnv1a(c->res->digest, c->line, len + 1);
  c->line[len] = '\0';
}

int bs__camp_sweep_line(bs__camp *c) {
  if (c->o->trace)
    fputs("sweep\n", c->o->trace);
  if (c->rec)
    bs__tbuf_add(c->rec, "sweep\n", 6);
  return bs__camp_sweep(c);
}

static const char *backend_of(const bs_campaign_opts *o) { return o->backend ? o->backend : "sim"; }
static const char *profile_of(const bs_campaign_opts *o) { return o->profile ? o->profile : "apfs"; }

/* Open the store of one seed; the store's own seed is derived so that its
 * random choices are independent of the operation stream's. */
static int open_store(bs__camp *c, uint64_t seed) {
  const bs_campaign_opts *o = c->o;
  bs_campaign_failure *f = &c->res->failure;
  bs_sim_bug bug = BS_SIM_BUG_NONE;
  if (o->sim_bug && bs_sim_bug_from_name(o->sim_bug, &bug) != 0) {
    snprintf(f->message, sizeof(f->message), "unknown sim bug \"%s\"", o->sim_bug);
    return BS_EINVALID;
  }
  uint64_t mix = seed ^ 0x6c61622d73696d00ull; /* "lab-sim" */
  bs_open_opts oo = {.profile = profile_of(o), .seed = bs__splitmix64(&mix)};
  char name[96];
  snprintf(name, sizeof(name), "%s", backend_of(o));
  c->has_faults = o->faults && o->faults[0];
  if (c->has_faults) {
    char *canon = NULL;
    int rc = bs__camp_faults_spec(o->faults, &canon, f->message, sizeof(f->message));
    free(canon);
    if (rc != 0)
      return rc;
    if (o->overlay_mix) {
      snprintf(f->message, sizeof(f->message),
               "the overlay mix needs a store with overlay branches, not faults:");
      return BS_EINVALID;
    }
    if (bug != BS_SIM_BUG_NONE) {
      snprintf(f->message, sizeof(f->message), "a sim bug needs the plain sim, not with faults");
      return BS_EINVALID;
    }
    /* The schedule's seed is the store's: both derive from the campaign seed. */
    snprintf(name, sizeof(name), "faults:%s", backend_of(o));
    oo.faults = o->faults;
  }
  int rc = bs_open(&c->st, name, &oo);
  if (rc != 0) {
    snprintf(f->message, sizeof(f->message), "cannot open backend %s with profile %s: %s",
             name, profile_of(o), bs_strerror(rc));
    return rc;
  }
  if (bug != BS_SIM_BUG_NONE && (rc = bs_sim_set_bug(c->st, bug)) != 0) {
    snprintf(f->message, sizeof(f->message), "cannot set sim bug %s: %s", o->sim_bug, bs_strerror(rc));
    return rc;
  }
  bs_caps caps;
  if ((rc = bs_get_caps(c->st, &caps)) != 0) {
    snprintf(f->message, sizeof(f->message), "caps: %s", bs_last_message(c->st));
    return rc;
  }
  bs__cm_init(&c->m, &caps);
  int64_t t;
  c->has_check = !o->no_backend_check && bs_check(c->st) != BS_EUNSUPPORTED;
  c->has_clock = bs_clock_ns(c->st, &t) == 0;
  c->clock0 = c->has_clock ? t : 0;
  c->held_checks = bs_sim_is_sim(c->st);
  /* Nothing is unsynced yet, so this only asks whether power loss exists. */
  c->has_power_loss = bs_power_loss(c->st, BS_POWER_LOSS_DROP) == 0;
  return 0;
}

int bs__camp_open(bs__camp *c, const bs_campaign_opts *o, bs_campaign_result *res, uint64_t seed) {
  memset(c, 0, sizeof(*c));
  memset(res, 0, sizeof(*res));
  res->seed = seed;
  res->digest = BS__FNV_OFFSET;
  c->o = o;
  c->res = res;
  bs__rng_seed(&c->rng, seed);
  int rc = open_store(c, seed);
  c->buf = malloc(CM_FILE_MAX + CM_BLOCK);
  c->buf2 = malloc(CM_FILE_MAX + CM_BLOCK);
  if (rc == 0 && (!c->buf || !c->buf2))
    rc = BS_ENO_MEMORY;
  return rc;
}

void bs__camp_close(bs__camp *c) {
  bs__tbuf_free(&c->fault_lines);
  free(c->buf);
  free(c->buf2);
  bs__cm_free(&c->m);
  bs_close(c->st);
  c->buf = c->buf2 = NULL;
  c->st = NULL;
}

/* Write the trace of a finished seed to o->trace_dir; its path goes into
 * the failure.  A trace that cannot be written is reported in the message,
 * not as an error: the failure itself stands. */
static void save_trace(const bs_campaign_opts *o, bs_campaign_result *out, const bs__tbuf *body) {
  bs_campaign_failure *f = &out->failure;
  char path[sizeof(f->trace)];
  bs_trace *t = NULL;
  bs_trace_error err = {0};
  int rc = body->oom ? BS_ENO_MEMORY : bs__trace_new(&t, o, out->seed);
  if (rc == 0 && (rc = bs__trace_set_body(t, body->p ? body->p : "", body->n)) == 0) {
    t->failed = out->failed;
    t->failure = *f;
    if (mkdir(o->trace_dir, 0777) != 0 && errno != EEXIST) {
      snprintf(err.message, sizeof(err.message), "cannot make %s: %s", o->trace_dir, strerror(errno));
      rc = BS_EIO;
    } else if ((size_t)snprintf(path, sizeof(path), "%s/%s-seed-%" PRIu64 ".trace", o->trace_dir,
                                t->profile, out->seed) >= sizeof(path)) {
      snprintf(err.message, sizeof(err.message), "trace directory name too long");
      rc = BS_ENAME_TOO_LONG;
    } else {
      rc = bs_trace_save(t, path, &err);
    }
  }
  bs_trace_free(t);
  if (rc == 0 && out->failed)
    snprintf(f->trace, sizeof(f->trace), "%s", path);
  else if (rc != 0 && out->failed)
    snprintf(f->message + strlen(f->message), sizeof(f->message) - strlen(f->message),
             " (no trace: %s)", err.message[0] ? err.message : bs_strerror(rc));
}

int bs__campaign_seed(bs_campaign_result *out, const bs_campaign_opts *o, uint64_t seed,
                      void (*tick)(void *ctx, uint32_t ops), void *tick_ctx) {
  if (!o) {
    memset(out, 0, sizeof(*out));
    out->seed = seed;
    return BS_EINVALID;
  }
  bs__camp c;
  bs__tbuf body = {0};
  if (o->trace)
    fprintf(o->trace, "# seed %" PRIu64 "\n", seed);
  int rc = bs__camp_open(&c, o, out, seed);
  if (o->trace_dir)
    c.rec = &body;
  uint32_t ops = o->ops ? o->ops : BS_CAMPAIGN_DEFAULT_OPS, reported = 0;
  bool stopped = false;
  for (uint32_t i = 0; rc == 0 && i < ops && !out->failed; i++) {
    if (o->stop && *o->stop) {
      stopped = true;
      break;
    }
    bs__op op;
    c.op_index = i;
    bs__camp_draw(&c, &op);
    out->ops_run = i + 1;
    if (bs__camp_exec(&c, &op) != 0)
      break;
    if ((i + 1) % BS_CAMPAIGN_SWEEP_EVERY == 0) {
      snprintf(c.op_text, sizeof(c.op_text), "sweep after op %" PRIu32, i);
      if (bs__camp_sweep_line(&c) != 0)
        break;
    }
    if (tick && (i + 1) % 256 == 0) {
      tick(tick_ctx, i + 1 - reported);
      reported = i + 1;
    }
  }
  if (rc == 0 && !out->failed && !stopped) {
    snprintf(c.op_text, sizeof(c.op_text), "sweep (final)");
    bs__camp_sweep_line(&c);
  }
  if (tick && out->ops_run > reported)
    tick(tick_ctx, out->ops_run - reported);
  int64_t t_end = 0;
  if (rc == 0 && c.has_clock && bs_clock_ns(c.st, &t_end) == 0 && t_end > c.clock0)
    out->sim_ns = (uint64_t)(t_end - c.clock0);
  bs__camp_close(&c);
  if (rc == 0 && !stopped && o->trace_dir && (out->failed || o->trace_all))
    save_trace(o, out, &body);
  bs__tbuf_free(&body);
  return rc == 0 && stopped ? BS__CAMPAIGN_STOPPED : rc;
}

int bs_campaign_run_seed(bs_campaign_result *out, const bs_campaign_opts *o, uint64_t seed) {
  if (!out)
    return BS_EINVALID;
  if (!o)
    return bs__campaign_seed(out, o, seed, NULL, NULL);
  bs_campaign_opts whole = *o;
  whole.stop = NULL; /* one seed runs to its end */
  return bs__campaign_seed(out, &whole, seed, NULL, NULL);
}
