/* fsync(2) of the directory that holds a host file, after a rename into it:
 * shared by the sim's image save (sim/image.c) and the files the lab writes
 * (lab/labfile.c). */
#ifndef BS_DIRSYNC_H
#define BS_DIRSYNC_H

/* 0, or the errno of the open or the fsync.  A filesystem that cannot fsync
 * a directory (EINVAL) counts as success. */
int bs__fsync_dir_of(const char *file);

#endif
