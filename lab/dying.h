/* A backend table that dies after a number of calls (lab/dying.c): every
 * file method of the store's own table, counted; past the limit each fails
 * with BS_EIO and reaches nothing, as the calls of a killed process.  One
 * store per thread at a time. */
#ifndef BS_LAB_DYING_H
#define BS_LAB_DYING_H

#include <stdint.h>

#include "backstore/backend.h"

/* Put the counting table under @st / put the store's own back (and lift the limit). */
void bs__dying_install(bs_store *st);
void bs__dying_uninstall(bs_store *st);
/* bs__dying_install, and the tree and registry methods counted too
 * (tree_create, tree_delete, tree_freeze, registry_open, registry_save): a
 * snapshot dies between its steps (registry_close, which only releases,
 * is not counted). */
void bs__dying_install_all(bs_store *st);
/* File-method calls made through the table so far. */
uint64_t bs__dying_calls(void);
/* Every call after call number @last fails (UINT64_MAX: none). */
void bs__dying_limit(uint64_t last);

#endif
