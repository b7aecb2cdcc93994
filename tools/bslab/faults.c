/* bslab faults: the fault-point catalogue, and checking a fault spec. */
#include <stdlib.h>
#include <string.h>

#include "backstore/faults.h"
#include "tools/bslab/bslab.h"

static int list(const bslab_args *a) {
  const bs_fault_point_info *cat;
  size_t n = bs_fault_catalogue(&cat);
  if (a->format && strcmp(a->format, "json") == 0) {
    fputs("[", stdout);
    for (size_t i = 0; i < n; i++) {
      fputs(i ? ",\n {\"point\": " : "{\"point\": ", stdout);
      bslab_json_str(stdout, cat[i].name);
      fputs(", \"meaning\": ", stdout);
      bslab_json_str(stdout, cat[i].meaning);
      fputs("}", stdout);
    }
    fputs("]\n", stdout);
    return BSLAB_OK;
  }
  size_t w = 0;
  for (size_t i = 0; i < n; i++)
    if (strlen(cat[i].name) > w)
      w = strlen(cat[i].name);
  for (size_t i = 0; i < n; i++)
    printf("%-*s  %s\n", (int)w, cat[i].name, cat[i].meaning);
  return BSLAB_OK;
}

/* Print the canonical form of a spec, or say what is wrong with it. */
static int check(const bslab_args *a, const char *text) {
  if (text[strspn(text, " \t\n")] == '\0')
    return bslab_usage_error(a, "bad fault spec: it is empty (SPEC is POINT=ERROR[@N|@N+|%%P],...; "
                                "'bslab faults list' names the points)");
  bs_fault_spec *spec = NULL;
  char err[512];
  int rc = bs_fault_spec_parse(&spec, text, err, sizeof(err));
  if (rc == BS_EINVALID)
    return bslab_usage_error(a, "bad fault spec: %s", err);
  if (rc != 0)
    return bslab_op_error_detail(a, "fault spec", rc, "");
  char *canon = NULL;
  rc = bs_fault_spec_format(&canon, spec);
  bs_fault_spec_free(spec);
  if (rc != 0)
    return bslab_op_error_detail(a, "fault spec", rc, "");
  puts(canon);
  free(canon);
  return BSLAB_OK;
}

int bslab_faults(bslab_args *a) {
  static const char *const formats[] = {"text", "json", NULL};
  int status = bslab_check_format(a, formats);
  if (status != 0)
    return status;
  const char *sub = a->pos[0];
  if (strcmp(sub, "list") == 0) {
    if (a->npos != 1)
      return bslab_usage_error(a, "list takes no argument");
    return list(a);
  }
  if (strcmp(sub, "check") == 0) {
    if (a->npos != 2)
      return bslab_usage_error(a, "check takes one SPEC argument");
    if (a->format && strcmp(a->format, "text") != 0)
      return bslab_usage_error(a, "check has no --format");
    return check(a, a->pos[1]);
  }
  return bslab_usage_error(a, "unknown subcommand '%s' (expected list or check)", sub);
}
