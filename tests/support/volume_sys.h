/* Internal to the volume fixture: the OS half (volume_sys.c) that volume.c
 * builds the registry on.  Not for tests; use volume.h. */
#ifndef BS_TEST_VOLUME_SYS_H
#define BS_TEST_VOLUME_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Loop devices looked at in one scan of /sys/block. */
#define BS__VOL_MAX_LOOPS 256

/* The message of the last failure in this thread (bs_vol_last_error()). */
extern _Thread_local char bs__vol_last_err[1024];
/* Set that message. */
void bs__vol_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* snprintf that says whether the text fit. */
bool bs__vol_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read the small file @path into @buf (one trailing newline removed). 0 or -errno. */
int bs__vol_read(const char *path, char *buf, size_t cap);
/* Create @path, which must not exist, holding @text.  0 or -errno. */
int bs__vol_write_new(const char *path, const char *text);
/* State letter and start time (/proc/<pid>/stat field 22) of @pid; 0 or -1. */
int bs__vol_proc_stat(pid_t pid, char *state, unsigned long long *start);
/* True if process @pid, started at @start, runs (a zombie does not). */
bool bs__vol_owner_alive(pid_t pid, unsigned long long start);
/* True if @path is @dir or lies below it. */
bool bs__vol_under(const char *path, const char *dir);

/* Backing file of /dev/loop@n (" (deleted)" removed); false if unbound. */
bool bs__vol_loop_backing(int n, char *out, size_t cap);
/* Numbers of the loop devices backed by a file below @dir; how many. */
size_t bs__vol_loops_under(const char *dir, int *ids, size_t cap);
/* Detach /dev/loop@n if its backing file (checked with the device open) lies below @dir. */
int bs__vol_detach_loop(int n, const char *dir);
/* Bind @imgfd (file @image) to a free loop device with autoclear, retrying
 * on EBUSY; its name into @dev, an open fd of it into *lfd.  0 or BS_E*. */
int bs__vol_loop_attach(int imgfd, const char *image, char *dev, size_t cap, int *lfd);

/* Mount points at or below @dir in mountinfo order (malloc'd); 0 or -1. */
int bs__vol_mounts_under(const char *dir, char ***out, size_t *count);
/* Free what bs__vol_mounts_under returned. */
void bs__vol_free_list(char **list, size_t n);

/* The release path of destroy and reap: unmount everything below registry
 * entry @dir, detach the loop devices backed below it, remove it.  Counts
 * unmounts in *unmounted, names devices it had to clear in @detached (may be
 * NULL).  0 or BS_E* (message set). */
int bs__vol_release(const char *dir, int *unmounted, char *detached, size_t cap);

#endif
