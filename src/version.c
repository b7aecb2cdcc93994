/* The runtime version of the library (bs_version()): the BS_VERSION_* macros
 * as they were when this library was built. */
#include "backstore.h"

#define BS__STR2(x) #x
#define BS__STR(x) BS__STR2(x)

const char *bs_version(void) {
  return BS__STR(BS_VERSION_MAJOR) "." BS__STR(BS_VERSION_MINOR) "." BS__STR(BS_VERSION_PATCH);
}
