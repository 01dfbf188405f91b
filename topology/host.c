/* qpin — see host.h. */
#include "host.h"
