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
/* File-method calls made through the table so far. */
uint64_t bs__dying_calls(void);
/* Every call after call number @last fails (UINT64_MAX: none). */
void bs__dying_limit(uint64_t last);

#endif
