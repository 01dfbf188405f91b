/* qpin — see placement.h. */
#include "placement.h"
