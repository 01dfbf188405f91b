/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the topology library: CPU sets and cpulists, the host's topology read from a sysroot,
 * and placement of guest vCPUs onto host CPUs. Include this one header (pkg-config
 * qpin-topology). Never prints, never exits; errors are GErrors in TOPO_ERROR. */
#pragma once

#include <qpin/cpuset.h>
#include <qpin/host.h>
#include <qpin/placement.h>
