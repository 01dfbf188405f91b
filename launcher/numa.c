/* qpin — guest NUMA memory, see numa.h. */
#include "numa.h"
