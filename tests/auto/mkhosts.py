#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Generates the host fixtures that exercise automatic placement: AMD EPYC machines with several
NUMA nodes per socket and L3 caches shared by 4-core complexes (CCX), and processes confined by a
cgroup (or a Slurm step) to a subset of CPUs that splits cores.

Uses the Machine description of tests/fixtures/mkhost.py, so each fixture gets its sysroot tree
and the NAME.json that `qpin host --sysroot ... --json` must print, computed from the description
alone. Run by hand after changing a description, and commit the result:

  python3 tests/auto/mkhosts.py            # all machines
  python3 tests/auto/mkhosts.py NAME...    # some
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import mkhost  # noqa: E402
from mkhost import Machine  # noqa: E402

GIB = 1024 * 1024  # in kB


def epyc(name, sockets, ccds, ccx_per_ccd, cores_per_ccx, nps, core_id, totals, frees,
         cmdline):
    """An AMD EPYC (Zen 2/3) machine: CPU n is thread n // (all cores) of core n % (all cores);
    cores numbered socket by socket, CCD by CCD, CCX by CCX. Each CCX shares one L3; L1 and L2
    are per core. NPS (nodes per socket) splits each socket into equal quadrants of CCDs.
    core_id(socket_core) gives the kernel's core_id, which follows the APIC ids: absent CCDs
    leave gaps."""
    m = Machine(name)
    per_socket = ccds * ccx_per_ccd * cores_per_ccx
    cores = sockets * per_socket
    m.online = set(range(2 * cores))
    m.possible = m.present = m.online
    m.offline_file = set()
    node_cpus = {}
    for n in range(2 * cores):
        core = n % cores
        socket, sc = divmod(core, per_socket)
        ccx = sc // cores_per_ccx
        sib = {core, core + cores}
        l3 = {socket * per_socket + ccx * cores_per_ccx + k + t * cores
              for k in range(cores_per_ccx) for t in range(2)}
        m.cpu(n, socket, core_id(sc), sib,
              [(1, "Data", sib), (1, "Instruction", sib), (2, "Unified", sib), (3, "Unified", l3)])
        node = socket * nps + sc * nps // per_socket
        node_cpus.setdefault(node, set()).add(n)
    n_nodes = sockets * nps
    m.nodes = []
    for i in range(n_nodes):
        dist = [10 if j == i else (12 if j // nps == i // nps else 32) for j in range(n_nodes)]
        m.nodes.append(dict(id=i, cpus=node_cpus[i], total=totals[i], free=frees[i],
                            distances=dist, hugepages={2048: (0, 0), 1048576: (0, 0)}))
    m.has_memory = set(range(n_nodes))
    m.isolated_file = ""
    m.cmdline = cmdline
    return m


def epyc_7452_2s_nps4():
    """Two EPYC 7452 (Rome, 32 cores: 4 CCDs x 2 CCX x 4 cores, SMT), NPS4: 8 nodes of 8 cores
    (2 CCX each), distances 10/12 within a socket, 32 across. The 4 CCDs sit in APIC slots
    0, 2, 4, 6, so core ids are 0-7, 16-23, 32-39, 48-55. 64 GiB per node."""
    totals = [65_831_452] + [66_060_288] * 7
    frees = [52_194_312, 63_902_116, 64_011_408, 63_887_520,
             62_500_104, 64_209_772, 64_100_096, 63_999_880]
    return epyc("epyc-7452-2s-nps4", 2, 4, 2, 4, 4,
                lambda sc: (sc // 8) * 16 + sc % 8, totals, frees,
                "BOOT_IMAGE=/vmlinuz-5.15.0-91-generic root=/dev/mapper/vg0-root ro "
                "amd_iommu=on iommu=pt")


def epyc_7313p_nps2_isolated():
    """One EPYC 7313P (Milan, 16 cores: 4 CCDs of 4 active cores, one CCX = one L3 each, SMT),
    NPS2: 2 nodes of 8 cores. Cores 4-15 (CPUs 4-15, 20-31) isolated for guests with isolcpus=
    and nohz_full=, cores 0-3 kept for housekeeping. Core ids follow the APIC ids: 0-3, 8-11,
    16-19, 24-27."""
    m = epyc("epyc-7313p-nps2-isolated", 1, 4, 1, 4, 2,
             lambda sc: (sc // 4) * 8 + sc % 4, [65_736_400, 66_060_288],
             [60_104_220, 64_880_512],
             "BOOT_IMAGE=/boot/vmlinuz-6.1.0-17-amd64 root=UUID=0b6d1c3e-7f52-4a8e-b1d0-"
             "3c9e5f2a8d47 ro quiet isolcpus=managed_irq,domain,4-15,20-31 nohz_full=4-15,20-31 "
             "rcu_nocbs=4-15,20-31 irqaffinity=0-3,16-19")
    m.isolated_file = m.nohz_file = "4-15,20-31"
    m.expect_isolated = m.expect_nohz = set(range(4, 16)) | set(range(20, 32))
    return m


def cgroup_subset_gold_6148():
    """The two-socket Xeon Gold 6148 of xeon-gold-6148-2s seen from inside a cgroup cpuset (a
    container or a Slurm step without whole cores): CPUs 2-9,11,13,42-45 allowed. The kernel
    alternates CPUs between sockets and pairs n with n+40, so cores 2,42 / 3,43 / 4,44 / 5,45
    are whole, cores 6-9, 11 and 13 have one allowed thread each."""
    m = mkhost.xeon_gold_6148_2s()
    m.name = "cgroup-subset-gold-6148"
    m.status = ("2-9,11,13,42-45", "0-1")
    return m


def cgroup_subset_epyc_nps4():
    """The EPYC 7452 NPS4 machine of epyc-7452-2s-nps4 inside a Slurm step that got CPUs 4-11
    and 68-73: cores 4-7 (second CCX of node 0) and 8-9 whole, cores 10-11 (node 1) one thread
    each; memory allowed on nodes 0-1."""
    m = epyc_7452_2s_nps4()
    m.name = "cgroup-subset-epyc-nps4"
    m.status = ("4-11,68-73", "0-1")
    return m


MACHINES = {f().name: f for f in (epyc_7452_2s_nps4, epyc_7313p_nps2_isolated,
                                   cgroup_subset_gold_6148, cgroup_subset_epyc_nps4)}

if __name__ == "__main__":
    for name in sys.argv[1:] or MACHINES:
        if name not in MACHINES:
            sys.exit(f"mkhosts.py: unknown machine {name} (known: {', '.join(MACHINES)})")
        MACHINES[name]().generate()
        print(f"wrote {os.path.relpath(os.path.join(mkhost.HOSTS, name), os.getcwd())}")
