/* qpin — preallocation progress, see numa.h. */
#include "numa.h"
