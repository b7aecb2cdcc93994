/* Replaying a trace (docs/traces.md, "Replay"): the campaign engine runs the
 * trace's lines instead of drawn operations.  Each operation's expected
 * result comes from the oracle (campaign_oracle.c), so the model judges a
 * replay exactly as it judged the campaign, and a shrunk trace whose
 * operations lost their context is still judged right.  Each line's actual
 * result is compared with the recorded one: a difference means the library
 * changed (or was not deterministic), and is counted and shown. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/campaign_internal.h"
#include "lab/trace_internal.h"
#include "lab/trace_mount.h"

/* @s shortened to fit @cap for a message. */
static void shorten(char *out, size_t cap, const char *s) {
  size_t n = strlen(s);
  if (n < cap)
    memcpy(out, s, n + 1);
  else
    snprintf(out, cap, "%.*s...", (int)(cap - 4), s);
}

void bs__trace_difference(bs_replay_result *out, const bs_trace_line *l, size_t i,
                          const char *actual) {
  if (out->differences++ == 0) {
    out->first_difference = l->lineno ? l->lineno : (uint32_t)(i + 1);
    shorten(out->recorded, sizeof(out->recorded), l->text);
    shorten(out->actual, sizeof(out->actual), actual);
  }
}

/* Run one operation line; 0, 1 when the seed failed, or an error code. */
static int run_op(bs__camp *c, const bs_trace_line *l, bs_trace_error *err) {
  const char *sp = strchr(l->text, ' ');
  const char *arrow = strstr(l->text, " -> ");
  if (!sp || !arrow || arrow < sp) {
    err->line = l->lineno;
    snprintf(err->message, sizeof(err->message), "malformed operation line");
    return BS_EINVALID;
  }
  char text[CM_LINE];
  size_t n = (size_t)(arrow - (sp + 1));
  if (n >= sizeof(text))
    n = sizeof(text) - 1;
  memcpy(text, sp + 1, n);
  text[n] = '\0';
  bs__op op;
  char why[200];
  if (bs__op_parse(text, &op, why, sizeof(why)) != 0 ||
      bs__camp_expect(&c->m, c->has_power_loss, &op, why, sizeof(why)) != 0) {
    err->line = l->lineno;
    snprintf(err->message, sizeof(err->message), "%s", why);
    return BS_EINVALID;
  }
  c->op_index = (uint32_t)strtoul(l->text, NULL, 10);
  return bs__camp_exec(c, &op) != 0 ? 1 : 0;
}

int bs_trace_replay(bs_replay_result *out, const bs_trace *t, bs_trace **recording,
                    bs_trace_error *err) {
  bs_trace_error dummy;
  if (!err)
    err = &dummy;
  memset(err, 0, sizeof(*err));
  if (recording)
    *recording = NULL;
  if (!out || !t)
    return BS_EINVALID;
  memset(out, 0, sizeof(*out));
  if (t->mount)
    return bs__trace_replay_mount(out, t, recording, NULL, err);
  bs_campaign_opts o;
  bs__trace_opts(t, &o);
  bs_campaign_result res;
  bs__camp c;
  bs__tbuf body = {0};
  int rc = bs__camp_open(&c, &o, &res, t->seed);
  if (rc != 0)
    snprintf(err->message, sizeof(err->message), "%s",
             res.failure.message[0] ? res.failure.message : bs_strerror(rc));
  c.replaying = true;
  c.rec = recording ? &body : NULL;
  uint32_t last_op = 0;
  for (size_t i = 0; rc == 0 && i < t->n_lines && !res.failed; i++) {
    const bs_trace_line *l = &t->lines[i];
    if (l->kind == BS_TRACE_SWEEP) {
      snprintf(c.op_text, sizeof(c.op_text), "sweep after op %" PRIu32, last_op);
      bs__camp_sweep_line(&c);
      continue;
    }
    if (l->kind != BS_TRACE_OP)
      continue; /* fired faults are results: compared as they fire */
    c.line[0] = '\0';
    out->ops_run++;
    int x = run_op(&c, l, err);
    last_op = c.op_index;
    if (x < 0) {
      rc = x;
      break;
    }
    if (c.line[0] && strcmp(c.line, l->text) != 0)
      bs__trace_difference(out, l, i, c.line);
    /* The faults this operation fired, against the fault lines after it. */
    size_t j = i + 1;
    bs__tbuf want = {0};
    for (; j < t->n_lines && t->lines[j].kind == BS_TRACE_FAULT; j++) {
      bs__tbuf_add(&want, t->lines[j].text, strlen(t->lines[j].text));
      bs__tbuf_add(&want, "\n", 1);
    }
    if (want.n != c.fault_lines.n || (want.n && memcmp(want.p, c.fault_lines.p, want.n) != 0)) {
      char now[200];
      const char *fired = c.fault_lines.n ? c.fault_lines.p : "(no fault fired)";
      snprintf(now, sizeof(now), "%.*s", (int)strcspn(fired, "\n"), fired);
      bs__trace_difference(out, j > i + 1 ? &t->lines[i + 1] : l, j > i + 1 ? i + 1 : i, now);
    }
    bs__tbuf_free(&want);
    i = j - 1;
  }
  out->failed = res.failed;
  out->failure = res.failure;
  out->digest = res.digest;
  out->faults_fired = res.faults_fired;
  out->reproduced = t->failed && res.failed && bs_trace_same_failure(&t->failure, &res.failure);
  bs__camp_close(&c);
  if (rc == 0 && recording) {
    bs_trace *r = NULL;
    rc = body.oom ? BS_ENO_MEMORY : bs__trace_new(&r, &o, t->seed);
    if (rc == 0 && (rc = bs__trace_set_body(r, body.p ? body.p : "", body.n)) == 0) {
      r->failed = res.failed;
      r->failure = res.failure;
      *recording = r;
    } else {
      bs_trace_free(r);
    }
    if (rc != 0)
      snprintf(err->message, sizeof(err->message), "%s", bs_strerror(rc));
  }
  bs__tbuf_free(&body);
  return rc;
}

int bs_trace_replay_save(bs_replay_result *out, const bs_trace *t, const char *image,
                         bs_trace_error *err) {
  bs_trace_error dummy;
  if (!err)
    err = &dummy;
  memset(err, 0, sizeof(*err));
  if (!out || !t || !image)
    return BS_EINVALID;
  memset(out, 0, sizeof(*out));
  if (!t->mount) {
    snprintf(err->message, sizeof(err->message),
             "saving the replayed volume needs a mount trace (\"source mount\")");
    return BS_EUNSUPPORTED;
  }
  return bs__trace_replay_mount(out, t, NULL, image, err);
}
