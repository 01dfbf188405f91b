/* qpin — QMP client, see qmp.h. */
#include "qmp.h"
