/* The sim's fault hooks (sim/fault.h): libfiu points that a fault schedule
 * arms; the failinfo of a fired point is the errno to fail with. */
#include <errno.h>
#include <stdint.h>

#include "sim/fault.h"
#include "sim/sim_internal.h"

#ifdef FIU_ENABLE
#include <fiu.h>
#else
#define fiu_fail(name) 0
#define fiu_failinfo() NULL
#endif

int bs__sim_fault_fires(const char *point) {
  (void)point;
  return fiu_fail(point) != 0;
}

int bs__sim_fault(struct bs__sim_store *s, const char *point) {
  if (!bs__sim_fault_fires(point))
    return BS_OK;
  intptr_t e = (intptr_t)fiu_failinfo();
  int err = bs_err_from_errno(e > 0 ? (int)e : EIO);
  return bs_store_fail(&s->base, err, 0, "%s: injected fault: %s", point, bs_strerror(err));
}
