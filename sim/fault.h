/* The sim's fault points (DESIGN §6): thin hooks at the places where a real
 * filesystem fails on its own, so a fault schedule can fail them.  Each hook
 * runs before its operation changes anything, so an injected failure leaves
 * no partial result.  Without libfiu (FIU_ENABLE undefined) they never fire. */
#ifndef BS_SIM_FAULT_H
#define BS_SIM_FAULT_H

/* XX(point, what failing it simulates); faults/catalogue.c lists them. */
#define BS_SIM_FAULT_POINTS(XX)                                                             \
  XX("bs/sim/alloc", "allocating data blocks fails (a full or failing volume)")             \
  XX("bs/sim/write", "a data write or truncate fails before changing the file")             \
  XX("bs/sim/sync", "sync fails before anything becomes durable")                           \
  XX("bs/sim/reflink", "the filesystem refuses the clone (as FICLONE/clonefile would)")     \
  XX("bs/sim/snapshot", "making a snapshot or branch fails (where real backends run a tool or an ioctl)") \
  XX("bs/sim/snapshot_delete", "deleting a snapshot or branch fails before anything is freed (diskutil deleteSnapshot, SNAP_DESTROY)")

struct bs__sim_store;

/* 0, or the injected BS_E* code after recording "POINT: injected fault" as
 * @s's failure. */
int bs__sim_fault(struct bs__sim_store *s, const char *point);
/* True when @point fires; for hooks without a store (the allocator). */
int bs__sim_fault_fires(const char *point);

#endif
