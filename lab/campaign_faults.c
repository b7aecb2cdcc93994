/* Fault schedules in a campaign (docs/campaign.md, "Faults"): the store is
 * opened as "faults:<backend>" with the spec, seeded from the campaign seed.
 * After each operation the faults that fired during its call are drained:
 * each becomes a trace line, and the operation must then have failed with
 * the first injected error and changed nothing (the model is not applied, and
 * the usual checks confirm it).  The campaign's own checks read the store
 * through the same wrapper, so a spec may not name the methods they use
 * (caps, usage, stat, read, readdir, getxattr, listxattr, snapshot_list):
 * the campaign injects faults into operations, never into its observations. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/faults.h"
#include "lab/campaign_internal.h"

static const char *const observers[] = {
  "bs/op/caps", "bs/op/usage", "bs/op/stat", "bs/op/read", "bs/op/readdir",
  "bs/op/getxattr", "bs/op/listxattr", "bs/op/snapshot_list",
};

int bs__camp_faults_spec(const char *text, char **canon, char *why, size_t cap) {
  bs_fault_spec *spec = NULL;
  *canon = NULL;
  int rc = bs_fault_spec_parse(&spec, text, why, cap);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < spec->count; i++)
    for (size_t k = 0; k < sizeof(observers) / sizeof(observers[0]); k++)
      if (bs_fault_point_matches(spec->terms[i].point, observers[k])) {
        snprintf(why, cap, "fault term %zu (%s) would fail %s, which the campaign's checks use "
                 "to observe the store: name the operations to fail (e.g. bs/op/write, bs/sim/alloc)",
                 i + 1, spec->terms[i].point, observers[k]);
        bs_fault_spec_free(spec);
        return BS_EINVALID;
      }
  rc = bs_fault_spec_format(canon, spec);
  bs_fault_spec_free(spec);
  if (rc != 0)
    snprintf(why, cap, "%s", bs_strerror(rc));
  return rc;
}

int bs__camp_faults_drain(bs__camp *c, int *first_error) {
  *first_error = 0;
  if (!c->has_faults)
    return 0;
  bs_fault_event ev[16];
  size_t n = 0, total = 0;
  do {
    if (bs_faults_drain(c->st, ev, sizeof(ev) / sizeof(ev[0]), &n) != 0)
      break;
    for (size_t i = 0; i < n; i++, total++) {
      if (total == 0)
        *first_error = ev[i].error;
      char line[160];
      const char *en = bs_fault_error_name(ev[i].error);
      int len = snprintf(line, sizeof(line), "fault %s %s call=%" PRIu64 "\n", ev[i].point,
                         en ? en : "unknown", ev[i].call);
      size_t ln = len < 0 ? 0 : (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1;
      if (c->o->trace)
        fwrite(line, 1, ln, c->o->trace);
      if (c->rec)
        bs__tbuf_add(c->rec, line, ln);
      bs__tbuf_add(&c->fault_lines, line, ln);
      c->res->digest = bs__fnv1a(c->res->digest, line, ln);
      c->res->faults_fired++;
    }
  } while (n == sizeof(ev) / sizeof(ev[0]));
  return (int)total;
}
