/* Names a store already holds (docs/names.md, "Control characters"). */
#ifndef BS_NAMES_H
#define BS_NAMES_H

/* bs_name_validate()'s rules without the one against control characters: a
 * name read from a registry or an image written before that rule, or
 * another program's snapshot, is still one the store can list, reach and
 * delete.  Every NEW name passes bs_name_validate(). */
int bs__name_validate_held(const char *name);

#endif
