/* Shared by the image writer (sim/image.c) and reader (sim/image_read.c,
 * sim/image_load.c). */
#ifndef BS_SIM_IMAGE_H
#define BS_SIM_IMAGE_H

#include "sim/sim_internal.h"

#define BS__SIM_IMAGE_MAGIC "BSSIMIMG"
/* 3: trees by id and the core's registry bytes; 2 (trees named, the sim's
 * own registry) is read and converted; 1 is rejected. */
#define BS__SIM_IMAGE_VERSION 4u
/* Version 4: the kind of an inode record that is a further name of a
 * hard-linked inode written before (u64 ino, this kind, nothing more). */
#define BS__SIM_IMG_ANOTHER_NAME 4u
#define BS__SIM_IMAGE_HEADER 24u /* magic, version, flags, body length */

/* FNV-1a 64 of @n bytes at @p: the image checksum. */
uint64_t bs__sim_fnv1a(const uint8_t *p, size_t n);

/* ---- reading (sim/image_read.c): every read is bounds-checked ------------- */
/* A cursor over image bytes; @bad latches on the first out-of-bounds read
 * (or failed copy: then @oom is set too, and the load is NO_MEMORY). */
typedef struct bs__sim_rbuf {
  const uint8_t *p;
  size_t n, off;
  bool bad, oom;
} bs__sim_rbuf;

/* Loading context: the store being filled and every inode number seen. */
typedef struct bs__sim_ld {
  bs__sim_store *s;
  bs__sim_rbuf r;
  uint32_t version;     /* of the image */
  uint64_t *inos;
  size_t ninos, capinos;
  /* Version 4: inodes of more than one name, and how many they declared. */
  bs__sim_inode **linked;
  uint32_t *declared;
  size_t nlinked, caplinked;
} bs__sim_ld;

/* @n bytes at the cursor, or NULL (and @r bad) if fewer are left. */
const uint8_t *bs__sim_img_take(bs__sim_rbuf *r, size_t n);
/* A little-endian unsigned integer of @n bytes (0 once @r is bad). */
uint64_t bs__sim_img_get(bs__sim_rbuf *r, size_t n);
/* A count of records of at least @min bytes each: no more than could still fit. */
uint64_t bs__sim_img_count(bs__sim_rbuf *r, size_t width, size_t min);
int bs__sim_img_inode(bs__sim_ld *c, bool writable, bool main_root, int depth, bs__sim_inode **out);
/* Version 4: every hard-linked inode got as many names as it declared. */
bool bs__sim_img_links_complete(const bs__sim_ld *c);
int bs__sim_img_blocks(bs__sim_ld *c);
/* The snapshot and branch trees and the registry, of an image @version (2
 * needs the snapshot id counter it kept). */
int bs__sim_img_trees(bs__sim_ld *c, uint32_t version, uint64_t next_snap_id);

#endif
