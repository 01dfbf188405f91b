#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Installs the build into a DESTDIR, builds examples/qmp-client against the installed
libqpin-qmp with pkg-config, and runs it against a real QEMU. Also checks that the installed
headers compile on their own, next to <threads.h> and libnuma's <numa.h>, and that the
libraries carry versioned sonames. Skips (77) only without QEMU or a C compiler."""
import os, shutil, socket, subprocess, sys, tempfile

build, source = os.environ["QPIN_BUILD_ROOT"], os.environ["QPIN_SOURCE_ROOT"]
qemu = shutil.which("qemu-system-x86_64")
cc = shutil.which(os.environ.get("CC", "cc"))
if not qemu or not cc:
    print("SKIP: qemu-system-x86_64 or a C compiler is not installed (scripts/setup installs them)")
    sys.exit(77)


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(argv)} exited {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout


tmp = tempfile.mkdtemp(prefix="qpin-install-")
try:
    dest = os.path.join(tmp, "dest")
    run(["meson", "install", "-C", build, "--destdir", dest, "--no-rebuild", "--quiet"])
    pcs = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs if f.endswith(".pc")]
    names = sorted(os.path.basename(p) for p in pcs)
    if names != ["qpin-qmp.pc", "qpin-topology.pc"]:
        sys.exit(f"FAIL: installed pkg-config files {names}, want qpin-qmp.pc and qpin-topology.pc")
    # The .pc files name the final prefix; point them at the DESTDIR copy.
    pcdir = os.path.join(tmp, "pkgconfig")
    os.mkdir(pcdir)
    for p in pcs:
        text = open(p).read().splitlines()
        prefix = next(l.split("=", 1)[1] for l in text if l.startswith("prefix="))
        with open(os.path.join(pcdir, os.path.basename(p)), "w") as out:
            for l in text:
                out.write(("prefix=" + dest + prefix if l.startswith("prefix=") else l) + "\n")
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
    flags = run(["pkg-config", "--cflags", "--libs", "qpin-qmp"], env=env).split()
    libdir = next(f[2:] for f in flags if f.startswith("-L"))
    if not libdir.startswith(dest):
        sys.exit(f"FAIL: pkg-config qpin-qmp points outside the install: {flags}")
    # Versioned sonames.
    for lib in ("libqpin-qmp.so.0", "libqpin-topology.so.0"):
        if not os.path.exists(os.path.join(libdir, lib)):
            sys.exit(f"FAIL: {lib} is not installed in {libdir}: {os.listdir(libdir)}")
    soname = run(["objdump", "-p", os.path.join(libdir, "libqpin-qmp.so")])
    if "SONAME               libqpin-qmp.so.0" not in soname:
        sys.exit("FAIL: libqpin-qmp.so has no versioned SONAME")

    # The headers on their own, with every other header a program may include.
    probe = os.path.join(tmp, "probe.c")
    with open(probe, "w") as f:
        f.write("#include <qpin/qmp.h>\n#include <qpin/topology.h>\n#include <threads.h>\n"
                "#include <numa.h>\nG_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)\n"
                "int main(void) { g_autoptr(QmpJson) j = json_object_new_object();\n"
                "  g_autoptr(TopoCpuSet) s = topo_cpuset_new(); g_autoptr(json_object) k = NULL;\n"
                "  return j && s && !k ? 0 : 1; }\n")
    both = run(["pkg-config", "--cflags", "--libs", "qpin-qmp", "qpin-topology"], env=env).split()
    run([cc, "-Wall", "-Wextra", "-Werror", "-o", os.path.join(tmp, "probe"), probe, *both, "-lnuma"])

    # The example, built against the installed library, talks to a real QEMU.
    exe = os.path.join(tmp, "qpin-vcpus")
    run([cc, "-Wall", "-Wextra", "-Werror", "-o", exe,
         os.path.join(source, "examples", "qmp-client", "qpin-vcpus.c"), *flags])
    sock_path = os.path.join(tmp, "qmp.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    # QEMU serves QMP on the socket the test already listens on: no wait for a file to appear.
    fd = listener.fileno()
    qemu_proc = subprocess.Popen(
        [qemu, "-S", "-display", "none", "-nodefaults", "-m", "64", "-smp", "2",
         "-accel", "tcg,thread=multi",
         "-chardev", f"socket,id=m,fd={fd},server=on,wait=off", "-mon", "chardev=m,mode=control"],
        pass_fds=[fd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        out = run([exe, sock_path], env=dict(os.environ, LD_LIBRARY_PATH=libdir))
    finally:
        qemu_proc.kill()
        qemu_proc.wait()
    lines = out.splitlines()
    if not lines or "2 vCPUs" not in lines[0] or len(lines) != 3:
        sys.exit(f"FAIL: unexpected output of the example:\n{out}")
    for l in lines[1:]:
        tid = int(l.split()[3])
        if tid <= 0:
            sys.exit(f"FAIL: vCPU without a thread id: {l}")
    ldd = run(["ldd", exe], env=dict(os.environ, LD_LIBRARY_PATH=libdir))
    if not any("libqpin-qmp.so.0 => " + libdir in l for l in ldd.splitlines()):
        sys.exit(f"FAIL: the example did not use the installed library:\n{ldd}")
    print(out, end="")
    print("PASS: installed, built against pkg-config qpin-qmp, talked to QEMU")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
