/* qpin — automatic topology-aware placement (--pin auto, --emulator-pin auto). */
#include "placement.h"

TopoMap *topo_place_auto(const TopoVcpu *vcpus, guint n_vcpus, const TopoPlaceCtx *ctx,
                         GError **error)
{
    g_set_error(error, TOPO_ERROR, TOPO_ERROR_NOFIT, "automatic placement is not available yet");
    return NULL;
}

TopoCpuSet *topo_place_emulator_auto(const TopoMap *map, const TopoPlaceCtx *ctx, GError **error)
{
    g_set_error(error, TOPO_ERROR, TOPO_ERROR_NOFIT, "automatic placement is not available yet");
    return NULL;
}
