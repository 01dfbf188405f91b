#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qpin top against a real guest pinned by qpin run.

The guest is real QEMU under TCG with a thread per vCPU (KVM when a probe shows it works) whose
firmware spins at the reset vector (`jmp $`), so vCPU 0 is busy and vCPU 1 waits for a SIPI that
never comes. qpin run pins vCPU 0 and vCPU 1 on two different host CPUs and writes its report;
then:

- `qpin top -b -n 2 --report R`: two frames, the busy vCPU shows usage and runs inside its pin;
- `--json --pid`, `--json --qmp`, `--json --report`: every line validates against
  docs/schema/top.schema.json (when python3-jsonschema is installed), the busy vCPU's last CPU
  lies in its pin, no drift;
- `--prometheus FILE`: the file parses as the textfile format, is replaced (new inode) at each
  interval, mode 0644; a FIFO and a symlink to a device are refused and left as they were;
- a vCPU thread moved with sched_setaffinity behind qpin's back is flagged as drift within one
  interval, and only that one;
- guest memory without a report: a QEMU started with a backend bound to node 0 and one
  without policy shows both over QMP (query-memdev) and, with --pid, as RAM blocks from smaps,
  resident pages per node, bound nodes known or said unknown, nothing off node;
- a QMP socket the test created and handed to QEMU: refused without --pid (the creator named),
  refused with --pid of a process the creator did not start, watched with --pid of QEMU;
- QEMU ending while top runs ends top with status 0 and a message;
- bad usage exits 2.

Skips (77) only without qemu-system-x86_64. Synchronises on pipes and process exits, never on
sleeps; asserts no timings."""
import json, os, shutil, signal, socket, stat, subprocess, sys, tempfile

qemu = shutil.which("qemu-system-x86_64")
if not qemu:
    print("SKIP: qemu-system-x86_64 is not installed (scripts/setup installs it)")
    sys.exit(77)
allowed = sorted(os.sched_getaffinity(0))
if len(allowed) < 2:
    print("SKIP: pinning two vCPUs apart needs two allowed host CPUs")
    sys.exit(77)

qpin = os.environ["QPIN"]
source = os.environ["QPIN_SOURCE_ROOT"]
try:
    import jsonschema
    with open(os.path.join(source, "docs", "schema", "top.schema.json")) as f:
        validator = jsonschema.Draft202012Validator(json.load(f))
except (ImportError, AttributeError):
    validator = None
    print("# python3-jsonschema (4.0 or later) missing: lines are checked by hand only")

count = 0
failures = []


def check(ok, what, detail=""):
    global count
    count += 1
    print(f"{'ok' if ok else 'not ok'} {count} - {what}")
    if not ok:
        for line in str(detail).splitlines():
            print(f"#   {line}")
        failures.append(what)
    return ok


def accel():
    """KVM when a paused KVM guest answers QMP, else TCG with a thread per vCPU."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg,thread=multi"
    try:
        r = subprocess.run([qemu, "-accel", "kvm", "-cpu", "qemu64", "-display", "none",
                            "-nodefaults", "-S", "-qmp", "stdio"], input=b'{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n',
                           capture_output=True, timeout=60)
        return "kvm" if r.returncode == 0 and b'"return"' in r.stdout else "tcg,thread=multi"
    except subprocess.TimeoutExpired:
        return "tcg,thread=multi"


def top(*args, timeout=120):
    return subprocess.run([qpin, "top", *args], capture_output=True, text=True, timeout=timeout)


tmp = tempfile.mkdtemp(prefix="qpin-top-live-")
firmware = os.path.join(tmp, "spin.bin")
image = bytearray(b"\xf4" * 65536)
image[-16:-14] = b"\xeb\xfe"  # jmp $ at the reset vector: vCPU 0 spins for ever
with open(firmware, "wb") as f:
    f.write(image)
sock = os.path.join(tmp, "qmp.sock")
report = os.path.join(tmp, "report.json")
cpu_a, cpu_b = allowed[0], allowed[1]

run = subprocess.Popen(
    [qpin, "run", "--quiet", "--json", "--report", report, "--pin", f"{cpu_a},{cpu_b}",
     "--emulator-pin", str(cpu_b), "--", qemu, "-accel", accel(), "-cpu", "qemu64",
     "-display", "none", "-nodefaults", "-m", "64", "-smp", "2", "-bios", firmware,
     "-qmp", f"unix:{sock},server=on,wait=off"],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
try:
    # The report document on stdout comes once the guest is pinned and running; the pipe stays
    # open while qpin supervises QEMU, so read until one whole JSON document has arrived.
    text = b""
    doc = None
    while doc is None:
        chunk = os.read(run.stdout.fileno(), 65536)
        if not chunk:
            break
        text += chunk
        try:
            doc = json.loads(text)
        except ValueError:
            pass
    if not check(doc is not None, "qpin run pinned the guest and printed its report",
                 run.stderr.read().decode() if doc is None else ""):
        sys.exit(1)
    # The --report file is written right after the document: the same content, taken from
    # the pipe so that no wait is needed.
    with open(report, "w") as f:
        json.dump(doc, f)
    pid = doc["qemu_pid"]
    vcpu = {v["index"]: v for v in doc["vcpus"]}
    check(vcpu[0]["cpus"] == str(cpu_a) and vcpu[1]["cpus"] == str(cpu_b),
          "the report holds the thread ids and the plan top needs", doc["vcpus"])

    def lines_of(r):
        out = []
        for line in r.stdout.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError as e:
                check(False, "a --json line parses", f"{e}: {line}")
        return out

    def validate(lines, what):
        for n, line in enumerate(lines):
            if validator:
                errors = list(validator.iter_errors(line))
                check(not errors, f"{what}: line {n + 1} validates against top.schema.json",
                      "\n".join(str(e.message) for e in errors))
            check(next(iter(line)) == "schema_version" and line["schema_version"] == 1,
                  f"{what}: line {n + 1} starts with schema_version 1", line)

    # The schema is no blank cheque: broken copies of a real line are rejected.
    def rejects(line, change, what):
        if not validator:
            return
        import copy
        bad = copy.deepcopy(line)
        change(bad)
        check(list(validator.iter_errors(bad)), f"top.schema.json rejects {what}")

    def set_member(path, value):
        def change(d):
            for key in path[:-1]:
                d = d[key]
            d[path[-1]] = value
        return change

    def del_member(path):
        def change(d):
            for key in path[:-1]:
                d = d[key]
            del d[path[-1]]
        return change

    sample = top("--json", "-n", "1", "-d", "0.2", "--report", report)
    real = json.loads(sample.stdout.splitlines()[0]) if sample.stdout else None
    if check(real is not None, "a --json line to break", sample.stderr) and validator:
        rejects(real, set_member(["schema_version"], 2), "schema_version 2")
        rejects(real, del_member(["vcpus"]), "a line without vcpus")
        rejects(real, set_member(["vcpus", 0, "usage_pct"], "99"), "usage_pct as a string")
        rejects(real, del_member(["vcpus", 0, "drift"]), "a vCPU without drift")
        rejects(real, set_member(["vcpus", 0, "cpus"], "0-"), "a malformed cpulist")
        rejects(real, set_member(["emulator", 0, "kind"], "vcpu"), "an emulator thread of kind vcpu")
        rejects(real, set_member(["host_cpus"], [{"cpu": 0}]), "a host CPU without rates")
        extra = dict(real, something_new=1)
        check(not list(validator.iter_errors(extra)), "top.schema.json accepts an added member")

    # -s in batch: the busy vCPU 0 first by usage, last by CPU when its pin is the higher CPU.
    r = top("-b", "-n", "1", "-d", "0.2", "-s", "usage", "--report", report)
    rows = [l.split()[0] for l in r.stdout.split("VCPU", 1)[-1].splitlines()[1:3]]
    check(r.returncode == 0 and rows == ["0", "1"], "top -b -s usage: the spinning vCPU first",
          r.stdout + r.stderr)
    r = top("-b", "-n", "1", "-d", "0.2", "-s", "cpu", "--report", report)
    rows = [l.split()[0] for l in r.stdout.split("VCPU", 1)[-1].splitlines()[1:3]]
    check(r.returncode == 0 and rows == (["0", "1"] if cpu_a < cpu_b else ["1", "0"]),
          "top -b -s cpu: by last host CPU", r.stdout + r.stderr)

    # Batch text, against the report's plan.
    r = top("-b", "-n", "2", "-d", "0.2", "--report", report)
    check(r.returncode == 0 and r.stdout.count("qpin top - ") == 2,
          "top -b -n 2 --report prints two frames", r.stdout + r.stderr)
    check("VCPU" in r.stdout and "HOST CPU" in r.stdout and "LOC/s" in r.stdout,
          "the frame shows the vCPU, thread and host CPU tables", r.stdout)

    # JSON from each source.
    for how in (["--report", report], ["--pid", str(pid)], ["--qmp", sock]):
        r = top("--json", "-n", "2", "-d", "0.2", *how)
        lines = lines_of(r)
        what = f"top --json {how[0]}"
        check(r.returncode == 0 and len(lines) == 2, f"{what}: two lines, status 0",
              r.stdout + r.stderr)
        validate(lines, what)
        if not lines:
            continue
        last = lines[-1]
        check(last["source"] == how[0][2:] and last["qemu_pid"] == pid, f"{what}: source, pid",
              last)
        v = {x["index"]: x for x in last["vcpus"]}
        check(sorted(v) == [0, 1] and v[0]["thread_id"] == vcpu[0]["thread_id"],
              f"{what}: both vCPUs with their thread ids", last["vcpus"])
        check(v[0]["last_cpu"] == cpu_a and v[0]["cpus"] == str(cpu_a),
              f"{what}: the busy vCPU runs inside its pin", v[0])
        check(not any(x["drift"] for x in last["vcpus"]), f"{what}: no drift", last["vcpus"])
        check(any(x["usage_pct"] > 0 for l in lines for x in l["vcpus"] if x["index"] == 0),
              f"{what}: the spinning vCPU shows usage", [l["vcpus"][0] for l in lines])
        check(sorted(h["cpu"] for h in last["host_cpus"]) == sorted({cpu_a, cpu_b}),
              f"{what}: the host CPUs of the map", last["host_cpus"])
        check(any(h["loc_per_s"] > 0 for l in lines for h in l["host_cpus"]),
              f"{what}: local timer interrupts are counted", last["host_cpus"])
        check(len(last["emulator"]) >= 1 and all(e["kind"] in ("emulator", "iothread")
                                                 for e in last["emulator"]),
              f"{what}: the emulator threads", last["emulator"])
        # A guest without --numa: its 64 MiB of RAM, QEMU's pc.ram, from QMP or from smaps.
        ram = [m for m in last["memory"] if m["size_bytes"] == 64 << 20]
        check(last["memory_source"] == ("qmp" if how[0] == "--qmp" else "numa_maps")
              and len(ram) == 1 and ram[0]["found"] and ram[0]["bound_nodes"] is None
              and not ram[0]["off_node"]
              and (how[0] != "--qmp" or ram[0]["backend_id"] == "pc.ram"),
              f"{what}: the guest RAM, with no bound nodes to judge", last["memory"])
        if how[0] == "--qmp":
            check("kvm_exits_per_s" not in v[0] or last["kvm_stats"],
                  f"{what}: KVM exits only where QEMU has KVM stats", last)

    # The Prometheus textfile.
    prom = os.path.join(tmp, "qpin.prom")
    with open(prom, "w") as f:
        f.write("old\n")
    # A reader holding the old file keeps reading the old content whole: it was replaced by a
    # rename, not rewritten in place.
    with open(prom) as held:
        r = top("-b", "-n", "2", "-d", "0.2", "--report", report, "--prometheus", prom)
        check(r.returncode == 0, "top --prometheus runs", r.stderr)
        old = os.fstat(held.fileno())
        check(old.st_nlink == 0 and held.read() == "old\n",
              "the textfile is replaced by a rename, the old file left whole", old)
    st = os.stat(prom)
    check(stat.S_IMODE(st.st_mode) == 0o644, "the textfile has mode 0644", oct(st.st_mode))
    with open(prom) as f:
        body = f.read()
    samples = {}
    for line in body.splitlines():
        if line.startswith("#"):
            check(line.startswith("# HELP ") or line.startswith("# TYPE "),
                  "textfile comment is HELP or TYPE", line)
            continue
        name, _, value = line.rpartition(" ")
        float(value)
        samples[name] = float(value)
    check(f'qpin_vcpu_usage_ratio{{qemu_pid="{pid}",vcpu="0",thread_id="{vcpu[0]["thread_id"]}"}}'
          in samples and f'qpin_vcpu_drift{{qemu_pid="{pid}",vcpu="1",thread_id="{vcpu[1]["thread_id"]}"}}'
          in samples, "the textfile holds per-vCPU usage and drift", body)
    check(f'qpin_host_cpu_local_timer_interrupts_per_second{{qemu_pid="{pid}",cpu="{cpu_a}"}}'
          in samples, "the textfile holds the timer interrupts per host CPU", body)
    check(not [n for n in os.listdir(tmp) if n.startswith(".qpin.prom")],
          "no temporary file left behind", os.listdir(tmp))
    fifo = os.path.join(tmp, "fifo.prom")
    os.mkfifo(fifo)
    link = os.path.join(tmp, "null.prom")
    os.symlink("/dev/null", link)
    for target in (fifo, link):
        r = top("-b", "-n", "1", "-d", "0.2", "--report", report, "--prometheus", target)
        check(r.returncode == 2 and "never replaces" in r.stderr and r.stdout == "",
              f"--prometheus refuses {os.path.basename(target)}", r.stderr)
    check(stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(link),
          "the FIFO and the symlink are left as they were")

    # Drift: vCPU 1's thread moved behind qpin's back.
    os.sched_setaffinity(vcpu[1]["thread_id"], {cpu_a})
    r = top("--json", "-n", "1", "-d", "0.2", "--report", report)
    lines = lines_of(r)
    validate(lines, "top --json with a moved thread")
    v = {x["index"]: x for x in lines[0]["vcpus"]} if lines else {}
    check(v and v[1]["drift"] and v[1]["cpus"] == str(cpu_a) and
          f"allowed CPUs {cpu_a}, planned {cpu_b}" == v[1]["drift_reason"],
          "a vCPU moved with sched_setaffinity is flagged as drift", v)
    check(v and not v[0]["drift"], "the other vCPU is not", v)
    # With --pid the plan is the affinity when top starts: the moved thread's allowed CPUs are
    # its plan now (it may still be flagged for having last run on its old CPU, if it has not
    # run since).
    r = top("--json", "-n", "1", "-d", "0.2", "--pid", str(pid))
    lines = lines_of(r)
    v = {x["index"]: x for x in lines[0]["vcpus"]} if lines else {}
    check(v and v[1]["plan"] == v[1]["cpus"] == str(cpu_a) and
          not (v[1]["drift_reason"] or "").startswith("allowed"),
          "--pid takes the affinity at start as the plan", v)
    os.sched_setaffinity(vcpu[1]["thread_id"], {cpu_b})

    # Guest memory without a report: QEMU started by hand with two backends, one bound to host
    # node 0 and preallocated, one memfd without policy, and a QMP socket of its own (top proves
    # the socket's peer is QEMU, so QEMU must create it). A second monitor on a socketpair says
    # when QEMU is up: its greeting comes once every chardev, the socket too, is listening.
    mem_sock = os.path.join(tmp, "mem.sock")
    ours, theirs = socket.socketpair()
    memq = subprocess.Popen(
        [qemu, "-accel", "tcg,thread=multi", "-display", "none", "-nodefaults", "-S",
         "-name", "debug-threads=on", "-m", "64", "-smp", "2",
         "-object", "memory-backend-ram,id=m0,size=32M,host-nodes=0,policy=bind,prealloc=on",
         "-object", "memory-backend-memfd,id=m1,size=32M",
         "-numa", "node,memdev=m0", "-numa", "node,memdev=m1",
         "-qmp", f"unix:{mem_sock},server=on,wait=off",
         "-chardev", f"socket,id=sync,fd={theirs.fileno()}", "-mon", "chardev=sync,mode=control"],
        pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    theirs.close()
    greeting = b""
    while b"\n" not in greeting:
        chunk = ours.recv(4096)
        if not chunk:
            break
        greeting += chunk
    check(b'"QMP"' in greeting, "QEMU with memory backends is up", memq.stderr.read() if
          b'"QMP"' not in greeting and memq.poll() is not None else greeting)
    try:
        r = top("--json", "-n", "1", "-d", "0.2", "--qmp", mem_sock)
        lines = lines_of(r)
        validate(lines, "top --json --qmp on a guest with memory backends")
        mem = {m["backend_id"]: m for m in lines[0]["memory"]} if lines else {}
        check(r.returncode == 0 and lines and lines[0]["memory_source"] == "qmp"
              and sorted(mem) == ["m0", "m1"], "--qmp: the backends query-memdev lists",
              r.stdout + r.stderr)
        m0, m1 = mem.get("m0", {}), mem.get("m1", {})
        check(m0.get("found") and m0.get("policy") == "bind:0" and m0.get("bound_nodes") == "0"
              and m0.get("resident_bytes") == 32 << 20
              and m0.get("nodes") == [{"node": 0, "pages": 8192, "bytes": 32 << 20}]
              and m0.get("off_node") is False,
              "--qmp: the bound, preallocated backend is resident on node 0, not off node", m0)
        check(m1.get("found") and m1.get("size_bytes") == 32 << 20 and m1.get("bound_nodes") is None
              and m1.get("off_node") is False and m1.get("address") != m0.get("address"),
              "--qmp: the backend without policy is found, its bound nodes unknown", m1)
        r = top("-b", "-n", "1", "-d", "0.2", "--qmp", mem_sock)
        check("not judged" in r.stdout and "MEMORY" in r.stdout,
              "--qmp text: the memory table says what it cannot judge", r.stdout)

        r = top("--json", "-n", "1", "-d", "0.2", "--pid", str(memq.pid))
        lines = lines_of(r)
        validate(lines, "top --json --pid on a guest with memory backends")
        blocks = lines[0]["memory"] if lines else []
        by_addr = {m["address"]: m for m in blocks}
        check(r.returncode == 0 and lines and lines[0]["memory_source"] == "numa_maps"
              and len(blocks) == 2, "--pid: the two 32 MiB RAM blocks from smaps",
              r.stdout + r.stderr)
        check(by_addr.get(m0.get("address"), {}).get("bound_nodes") == "0"
              and by_addr[m0["address"]]["resident_bytes"] == 32 << 20
              and not by_addr[m0["address"]]["off_node"],
              "--pid: the bound block, found by numa_maps alone, on its node", blocks)
        check(by_addr.get(m1.get("address"), {}).get("bound_nodes", "x") is None
              and by_addr[m1["address"]]["policy"] == "default",
              "--pid: the block without policy has no bound nodes", blocks)
    finally:
        memq.kill()
        memq.wait()
        ours.close()

    # A QMP socket the test binds and listens on itself and hands to QEMU (-chardev fd=N), as a
    # launcher or systemd socket activation does: the socket's peer (SO_PEERCRED) is the test.
    # QEMU calls listen() on the descriptor it is given, which makes it the peer of clients
    # that connect later; once QEMU is up the test listens again and is their peer.
    handed = os.path.join(tmp, "handed.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(handed)
    listener.listen(8)
    ours, theirs = socket.socketpair()
    handq = subprocess.Popen(
        [qemu, "-accel", "tcg,thread=multi", "-display", "none", "-nodefaults", "-S",
         "-name", "debug-threads=on", "-m", "64", "-smp", "2",
         "-chardev", f"socket,id=m,fd={listener.fileno()},server=on,wait=off",
         "-mon", "chardev=m,mode=control",
         "-chardev", f"socket,id=sync,fd={theirs.fileno()}", "-mon", "chardev=sync,mode=control"],
        pass_fds=[listener.fileno(), theirs.fileno()], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    theirs.close()
    greeting = b""
    while b"\n" not in greeting:
        chunk = ours.recv(4096)
        if not chunk:
            break
        greeting += chunk
    check(b'"QMP"' in greeting, "QEMU with a handed QMP socket is up", handq.stderr.read() if
          b'"QMP"' not in greeting and handq.poll() is not None else greeting)
    try:
        listener.listen(8)
        with open("/proc/self/comm") as f:
            comm = f.read().strip()
        creator = f"the QMP socket {handed} was created by process {os.getpid()} ({comm})"
        r = top("-b", "-n", "1", "-d", "0.2", "--qmp", handed)
        check(r.returncode == 15 and creator in r.stderr and "pass --pid" in r.stderr
              and f"belongs to process {handq.pid} (" in r.stderr,
              "--qmp of a handed socket without --pid: refused, the creator named, --pid asked",
              f"{r.returncode} {r.stderr}")
        r = top("-b", "-n", "1", "-d", "0.2", "--qmp", handed, "--pid", str(os.getppid()))
        check(r.returncode == 15 and creator in r.stderr
              and "is neither that process nor one it started" in r.stderr,
              "--qmp with --pid of a process the creator did not start: refused",
              f"{r.returncode} {r.stderr}")
        r = top("-b", "-n", "1", "-d", "0.2", "--qmp", handed, "--pid", str(handq.pid))
        check(r.returncode == 0 and f"QEMU {handq.pid} " in r.stdout
              and "vCPUs 2" in r.stdout
              and f"QEMU is process {handq.pid} (--pid): process {os.getpid()} ({comm}) created"
              in r.stderr,
              "--qmp with --pid of QEMU, a child of the creator: watched, and said why",
              f"{r.returncode} {r.stdout} {r.stderr}")
    finally:
        handq.kill()
        handq.wait()
        ours.close()
        listener.close()

    # Bad usage.
    for args, what in ((["-b"], "no source"), (["--pid", "1", "--report", report], "two sources"),
                       (["--report", report, "-d", "0"], "-d 0"),
                       (["--report", os.path.join(tmp, "none.json")], "a missing report"),
                       (["--report", report, "--json", "-b"], "--json with -b"),
                       (["--report", report, "-b", "-s", "busy"], "-s busy"),
                       (["--report", report, "--json", "-s", "usage"], "--json with -s")):
        r = top(*args)
        check(r.returncode == 2 and r.stderr.startswith("qpin: top: "), f"usage error: {what}",
              r.stderr)

    # The screen on a terminal: q quits, a signal ends it, and the terminal gets its modes back.
    import pty, termios
    for how in ("q", "SIGTERM"):
        master, slave = pty.openpty()
        screen = subprocess.Popen([qpin, "top", "-d", "0.2", "--report", report], stdin=slave,
                                  stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        seen = b""
        while b"(q quits;" not in seen:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            seen += chunk
        check(b"\033[?1049h" in seen and b"VCPU" in seen, f"screen ({how}): a frame is drawn",
              seen[-500:])
        raw = termios.tcgetattr(master)
        check(not raw[3] & (termios.ICANON | termios.ECHO),
              f"screen ({how}): keys are read one by one without echo", raw[3])
        if how == "q":
            # ^Z: the terminal is given back before the stop, and taken again on fg.
            screen.send_signal(signal.SIGTSTP)
            _, st = os.waitpid(screen.pid, os.WUNTRACED)
            stopped = termios.tcgetattr(master)
            check(os.WIFSTOPPED(st) and stopped[3] & termios.ICANON and stopped[3] & termios.ECHO,
                  "screen: stopped by SIGTSTP with the terminal restored", f"{st} {stopped[3]:o}")
            seen = b""
            os.kill(screen.pid, signal.SIGCONT)
            while b"(q quits;" not in seen:
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                seen += chunk
            again = termios.tcgetattr(master)
            check(not again[3] & (termios.ICANON | termios.ECHO) and b"\033[?1049h" in seen,
                  "screen: continued, it takes the terminal again and redraws", again[3])
            check(b"now usage)" in seen, "screen: sorted by usage unless told", seen[-300:])
            # A sort key redraws at once in the new order; the footer names it.
            for key, name in ((b"s", b"steal"), (b"c", b"CPU"), (b"i", b"index")):
                os.write(master, key)
                seen = b""
                # Frames keep coming; a key ignored for 25 of them has failed.
                while b"now " + name.lower() + b")" not in seen and seen.count(b"\033[2J") < 25:
                    chunk = os.read(master, 65536)
                    if not chunk:
                        break
                    seen += chunk
                check(b"now " + name.lower() + b")" in seen, f"screen: key {key.decode()} sorts by {name.decode()}",
                      seen[-300:])
            os.write(master, b"q")
        else:
            screen.send_signal(signal.SIGTERM)
        # Drain the terminal while top ends, so that its last writes never block.
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if b"\033[?1049l" in seen:
                break
        status = screen.wait(timeout=120)
        modes = termios.tcgetattr(master)
        check(status == 0 and modes[3] & termios.ICANON and modes[3] & termios.ECHO
              and b"\033[?25h\033[?1049l" in seen,
              f"screen ({how}): status 0, the terminal restored", f"{status} {modes[3]:o}")
        os.close(master)

    # QEMU ending while top runs ends top cleanly.
    watcher = subprocess.Popen([qpin, "top", "--json", "-d", "0.2", "--report", report],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = watcher.stdout.readline()
    check(first.startswith('{"schema_version":1'), "top runs until stopped", first)
    with open(f"/proc/{watcher.pid}/status") as f:
        mine = [l.split()[1] for l in f if l.startswith("Cpus_allowed_list:")]
    check(mine == [str(cpu_b)], "top runs on the plan's emulator CPUs", mine)
    os.kill(pid, signal.SIGTERM)
    out, err = watcher.communicate(timeout=120)
    check(watcher.returncode == 0 and "ended" in err and "nothing left to watch" in err,
          "QEMU ending ends top with status 0 and a message", f"{watcher.returncode} {err}")
finally:
    if run.poll() is None:
        run.send_signal(signal.SIGTERM)
    try:
        run.wait(timeout=120)
    except subprocess.TimeoutExpired:
        run.kill()
        run.wait()
    shutil.rmtree(tmp, ignore_errors=True)

print(f"1..{count}")
sys.exit(1 if failures else 0)
