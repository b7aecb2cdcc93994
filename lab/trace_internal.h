/* Internals shared by lab/trace*.c and lab/campaign.c: building a trace from
 * a campaign's recording. */
#ifndef BS_TRACE_INTERNAL_H
#define BS_TRACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/trace.h"

/* A new empty trace with the header of seed @seed of campaign @o. */
int bs__trace_new(bs_trace **out, const bs_campaign_opts *o, uint64_t seed);
/* The campaign options that replay @t (pointers into @t). */
void bs__trace_opts(const bs_trace *t, bs_campaign_opts *o);
/* Append one body line of @n bytes (no newline) / every line of @body. */
int bs__trace_add_line(bs_trace *t, const char *text, size_t n, uint32_t lineno);
int bs__trace_set_body(bs_trace *t, const char *body, size_t n);
/* Count line @l (index @i) of a replay as differing from @actual; the
 * first one is kept, shortened, in @out. */
void bs__trace_difference(bs_replay_result *out, const bs_trace_line *l, size_t i,
                          const char *actual);
/* The decimal number of the @n bytes at @s (no sign, no leading zero, at
 * most UINT64_MAX) into *@out; false if it is none. */
bool bs__trace_u64(const char *s, size_t n, uint64_t *out);
/* The value of lower-case hex digit @c, or -1. */
static inline int bs__trace_hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
/* The kind of the body line @text. */
bs_trace_line_kind bs__trace_kind_of(const char *text);

#endif
