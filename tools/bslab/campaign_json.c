/* bslab campaign --json FILE: the summary as one JSON object, for CI gates
 * (docs/campaign.md, "JSON summary"), through bslab_out: a FILE is replaced
 * whole through a temporary file (bs_lab_file), so a gate never reads half a
 * summary and a failed write leaves the old FILE; "-" is standard output;
 * a FILE that exists and is not a regular file (a pipe, /dev/stdout, a
 * device) is written in place, never renamed over. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tools/bslab/bslab.h"

static void field_str(FILE *f, const char *key, const char *v, bool comma) {
  fprintf(f, "\"%s\": ", key);
  if (v)
    bslab_json_str(f, v);
  else
    fputs("null", f);
  fputs(comma ? ", " : "", f);
}

static void failure(FILE *f, const bs_campaign_opts *o, const bs_campaign_failure *x) {
  char cmd[256], replay[300];
  bslab_campaign_reproduce(cmd, sizeof(cmd), o, x->seed);
  snprintf(replay, sizeof(replay), "bslab replay %s", x->trace);
  fprintf(f, "    {\"seed\": %" PRIu64 ", \"op_index\": %" PRIu32 ", ", x->seed, x->op_index);
  field_str(f, "op", x->op, true);
  field_str(f, "check", x->check, true);
  field_str(f, "expected", x->expected, true);
  field_str(f, "actual", x->actual, true);
  field_str(f, "message", x->message, true);
  field_str(f, "trace", x->trace[0] ? x->trace : NULL, true);
  field_str(f, "replay", x->trace[0] ? replay : NULL, true);
  field_str(f, "reproduce", cmd, false);
  fputs("}", f);
}

static void summary(FILE *f, const bslab_report *r) {
  const bs_campaign_opts *o = r->o;
  const bs_campaign_summary *s = r->s;
  fputs("{\n  ", f);
  fprintf(f, "\"format\": 1, ");
  field_str(f, "backend", o->backend ? o->backend : "sim", true);
  field_str(f, "profile", o->profile, true);
  field_str(f, "faults", o->faults, true);
  field_str(f, "sim_bug", o->sim_bug, false);
  fprintf(f, ",\n  \"first_seed\": %" PRIu64 ", \"seeds\": %" PRIu32 ", \"ops_per_seed\": %" PRIu32 ",\n",
          r->first_seed, r->seeds, o->ops);
  if (r->shard_count)
    fprintf(f, "  \"shard\": {\"index\": %" PRIu32 ", \"count\": %" PRIu32 ", \"first_seed\": %" PRIu64
            ", \"seeds\": %" PRIu32 "},\n", r->shard_index, r->shard_count, o->first_seed, o->seeds);
  else
    fputs("  \"shard\": null,\n", f);
  fprintf(f, "  \"seeds_run\": %" PRIu32 ", \"ops\": %" PRIu64 ", \"sim_ns\": %" PRIu64 ",\n", s->seeds_run,
          s->ops, s->sim_ns);
  fprintf(f, "  \"faults_fired\": %" PRIu64 ", \"power_losses\": %" PRIu64
          ", \"injected_faults\": %" PRIu64 ", \"expected_errors\": %" PRIu64 ",\n",
          s->power_losses + s->faults_fired, s->power_losses, s->faults_fired, s->expected_errors);
  /* An interrupted campaign did not pass, whatever the seeds that ran did. */
  fprintf(f, "  \"violations\": %" PRIu64 ", \"interrupted\": %s, \"passed\": %s,\n",
          s->violations, s->interrupted ? "true" : "false",
          s->violations || s->interrupted ? "false" : "true");
  fputs("  \"failures\": [", f);
  for (size_t i = 0; i < s->n_failures; i++) {
    fputs(i ? ",\n" : "\n", f);
    failure(f, o, &s->failures[i]);
  }
  fputs(s->n_failures ? "\n  ],\n  \"traces\": [" : "],\n  \"traces\": [", f);
  bool first = true;
  for (size_t i = 0; i < s->n_failures; i++) {
    if (!s->failures[i].trace[0])
      continue;
    fputs(first ? "" : ", ", f);
    bslab_json_str(f, s->failures[i].trace);
    first = false;
  }
  fputs("],\n  \"digests\": [", f);
  for (size_t i = 0; i < r->n_digests; i++)
    fprintf(f, "%s{\"seed\": %" PRIu64 ", \"digest\": \"%016" PRIx64 "\"}", i ? ",\n    " : "\n    ",
            r->digest_seed[i], r->digest[i]);
  fputs(r->n_digests ? "\n  ],\n" : "],\n", f);
  /* Last, on a line of their own: what depends on the run, not on the
   * campaign (a merge of shards differs from the whole run only here). */
  fprintf(f, "  \"jobs\": %" PRIu32 ", \"seconds\": %.3f, \"ops_per_sec\": %.0f, \"time_compression\": %.1f\n}\n",
          o->jobs, s->seconds, s->ops_per_sec, s->time_compression);
}

void bslab_report_write(FILE *f, const bslab_report *r) { summary(f, r); }

int bslab_campaign_json(const bslab_args *a, const bslab_report *r) {
  bslab_out out;
  if (bslab_out_open(&out, a, a->json, "--json") != 0)
    return BSLAB_USAGE;
  summary(out.f, r);
  return bslab_out_close(&out, a, true);
}
