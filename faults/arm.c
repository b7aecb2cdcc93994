/* Arming the lower fault points (bs/sim/..., bs/real/...) through libfiu.
 *
 * libfiu's table of enabled points is process-global, and it hands the
 * failinfo of a point to its caller through a field the external callback
 * writes, so two schedules could not share it safely: one schedule is armed
 * per process at a time (BS_EBUSY otherwise).  A point fires only on the
 * thread that entered the armed schedule (bs__fault_enter(), around each
 * forwarded operation of the faults store), so other stores, on this thread
 * between operations or on other threads, never see an injected fault. */
#include <pthread.h>
#include <stdint.h>

#include "faults/faults_internal.h"

#ifdef FIU_ENABLE
#include <fiu-control.h>
#include <fiu.h>
#endif

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bs__fault_sched *armed;            /* guarded by lock */
static _Thread_local bs__fault_sched *current;

bool bs_faults_lower_available(void) {
#ifdef FIU_ENABLE
  return true;
#else
  return false;
#endif
}

bs__fault_sched *bs__fault_enter(bs__fault_sched *s) {
  bs__fault_sched *prev = current;
  current = s;
  return prev;
}

#ifdef FIU_ENABLE
/* libfiu's external callback: the schedule decides; the errno to fail with
 * goes out as the failinfo that real/sys.c and sim/fault.c read. */
static int decide(const char *name, int *failnum, void **failinfo, unsigned int *flags) {
  (void)flags;
  size_t i;
  if (!current || bs_fault_point_find(&i, name) != 0)
    return 0;
  int err = bs__fault_sched_call(current, i, NULL);
  if (err == 0)
    return 0;
  *failnum = 1;
  *failinfo = (void *)(intptr_t)bs_err_to_errno(err);
  return 1;
}
#endif

static void disable_all(bs__fault_sched *s) {
#ifdef FIU_ENABLE
  const bs_fault_point_info *cat;
  size_t n = bs_fault_catalogue(&cat);
  for (size_t i = 0; i < n; i++)
    if (bs__fault_point_is_lower(i) && bs__fault_sched_matches(s, i))
      fiu_disable(cat[i].name);
#else
  (void)s;
#endif
}

int bs__fault_arm(bs__fault_sched *s) {
#ifdef FIU_ENABLE
  pthread_mutex_lock(&lock);
  int rc = BS_OK;
  if (armed) {
    rc = BS_EBUSY;
    goto out;
  }
  if (fiu_init(0) != 0) {
    rc = BS_EIO;
    goto out;
  }
  const bs_fault_point_info *cat;
  size_t n = bs_fault_catalogue(&cat);
  for (size_t i = 0; i < n; i++)
    if (bs__fault_point_is_lower(i) && bs__fault_sched_matches(s, i) &&
        fiu_enable_external(cat[i].name, 1, NULL, 0, decide) != 0) {
      disable_all(s);
      rc = BS_ENO_MEMORY;
      goto out;
    }
  armed = s;
out:
  pthread_mutex_unlock(&lock);
  return rc;
#else
  (void)s;
  return BS_EUNSUPPORTED;
#endif
}

void bs__fault_disarm(bs__fault_sched *s) {
  pthread_mutex_lock(&lock);
  if (armed == s && s) {
    disable_all(s);
    armed = NULL;
  }
  pthread_mutex_unlock(&lock);
}
