#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Validates the JSON documents qpin prints against docs/schema/*.schema.json.

Also `qpin check --json` on the check fixtures, on this machine and with a plan's map.

Produces real documents: `qpin host --json` of this machine and of every fixture under
tests/fixtures/hosts (and the fixtures' expected .json files); `qpin plan --json` under real
QEMU with TCG (plain, with two guest NUMA nodes, with `--pin auto --explain`) and the 240-vCPU
plan of examples/seed-240.ini on the Xeon Phi fixture; `qpin run` reports of a guest that shuts
itself down at once (its --report file and its --json, with and without guest NUMA nodes and
iothreads, and one written after a failure, with "error"); a `qpin pin --json` report on a QEMU
this test started paused, and the `qpin top --json` lines of that QEMU (over its QMP socket and
by --pid, with a memory backend bound to host node 0). Each must validate, carry
"schema_version": 1 as its first member, and hold no member the schema does not describe.

Then checks that the schemas are not vacuous: documents with schema_version 2 (or "1", or
none), a vCPU "cpus" of the wrong type, a missing required member, a plan of command "run"
must be rejected, while an extra member must be accepted.

Skips (77) only without python3-jsonschema or QEMU (scripts/setup installs both)."""
import copy, json, os, shutil, signal, subprocess, sys, tempfile, time

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed (scripts/setup installs it)")
    sys.exit(77)
try:
    from jsonschema import Draft202012Validator
except ImportError:  # jsonschema < 4.0: a failure, not a skip, since the package is there
    sys.exit("FAIL: this python3-jsonschema has no draft 2020-12 validator: 4.0 or later is needed"
             " (Debian 12 and Ubuntu 24.04 ship 4.10)")

qemu = shutil.which("qemu-system-x86_64")
if not qemu:
    print("SKIP: qemu-system-x86_64 is not installed (scripts/setup installs it)")
    sys.exit(77)

source, qpin = os.environ["QPIN_SOURCE_ROOT"], os.environ["QPIN"]
firmware = os.environ["QPIN_EXIT_FIRMWARE"]
schema_dir = os.path.join(source, "docs", "schema")
hosts_dir = os.path.join(source, "tests", "fixtures", "hosts")
SCHEMAS = ("host.schema.json", "plan.schema.json", "report.schema.json", "check.schema.json",
           "top.schema.json")

failures = []
count = 0


def check(ok, what, detail=""):
    global count
    count += 1
    print(f"{'ok' if ok else 'not ok'} {count} - {what}")
    if not ok:
        for line in str(detail).splitlines():
            print(f"#   {line}")
        failures.append(what)
    return ok


def load(name):
    with open(os.path.join(schema_dir, name)) as f:
        return json.load(f)


schemas = {name: load(name) for name in SCHEMAS}


def make_validator(name):
    """A validator of @name that finds the sibling schemas its relative $refs name."""
    schema = schemas[name]
    try:
        from referencing import Registry, Resource
    except ImportError:  # jsonschema < 4.18 (Debian 12 has 4.10)
        resolver = jsonschema.RefResolver(base_uri="", referrer=schema, store=dict(schemas))
        return Draft202012Validator(schema, resolver=resolver)
    registry = Registry().with_resources(
        [(n, Resource.from_contents(s)) for n, s in schemas.items()])
    return Draft202012Validator(schema, registry=registry)


for name, schema in schemas.items():
    try:
        Draft202012Validator.check_schema(schema)
        check(True, f"{name} is a valid draft 2020-12 schema")
    except jsonschema.SchemaError as e:
        check(False, f"{name} is a valid draft 2020-12 schema", e)
validators = {name: make_validator(name) for name in SCHEMAS}


def errors(name, doc):
    return sorted(validators[name].iter_errors(doc), key=lambda e: list(e.absolute_path))


# ---- every member a document has must be described by the schema ----

def resolve(node, base):
    """Follows $ref (local or to a sibling file) from @node in the schema file @base."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        file, _, pointer = ref.partition("#")
        if file:
            base = file
        target = schemas[base]
        for part in filter(None, pointer.split("/")):
            target = target[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        if not rest:
            node = target
            continue
        # $ref next to other keywords: both apply.
        return [(rest, base)] + flatten(target, base)
    return [(node, base)]


def flatten(node, base):
    """@node and every subschema that applies alongside it: $ref, allOf, oneOf, anyOf, then."""
    out = []
    for n, b in resolve(node, base):
        if not isinstance(n, dict):
            continue
        out.append((n, b))
        for key in ("allOf", "oneOf", "anyOf"):
            for sub in n.get(key, []):
                out += flatten(sub, b)
        if "then" in n:
            out += flatten(n["then"], b)
    return out


def undescribed(doc, node, base, path="$"):
    """Paths in @doc that no `properties` (or schema-valued additionalProperties) describes."""
    nodes = flatten(node, base)
    missing = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            subs = [(n["properties"][key], b) for n, b in nodes if key in n.get("properties", {})]
            subs += [(n["additionalProperties"], b) for n, b in nodes
                     if isinstance(n.get("additionalProperties"), dict)]
            if not subs:
                missing.append(f"{path}.{key}")
            for sub, b in subs:
                missing += undescribed(value, sub, b, f"{path}.{key}")
    elif isinstance(doc, list):
        subs = [(n["items"], b) for n, b in nodes if isinstance(n.get("items"), dict)]
        for i, value in enumerate(doc):
            for sub, b in subs:
                missing += undescribed(value, sub, b, f"{path}[{i}]")
    return sorted(set(missing))


def validate(name, doc, what):
    errs = errors(name, doc)
    check(not errs, f"{what} validates against {name}",
          "\n".join(f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}"
                    for e in errs[:10]))
    missing = undescribed(doc, schemas[name], name)
    check(not missing, f"{what}: every member is described in {name}",
          "not in the schema: " + ", ".join(missing))


def parse(text, what):
    """The one JSON document in @text; also checks that schema_version is its first member."""
    try:
        pairs = json.loads(text, object_pairs_hook=lambda p: p)
    except json.JSONDecodeError as e:
        check(False, f"{what} is one JSON document", f"{e}\n{text[:2000]}")
        return None
    first = pairs[0] if pairs else (None, None)
    check(first[0] == "schema_version" and type(first[1]) is int and first[1] == 1,
          f"{what}: \"schema_version\": 1 (an integer) is the first member", f"first member {first}")
    return json.loads(text)


def run(args, what, expect=(0,), **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=240, **kw)
    check(r.returncode in expect, f"{what} exits {' or '.join(map(str, expect))}",
          f"{' '.join(args)} exited {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r


documents = {}  # a few valid documents, for the negative checks


# ---- qpin host --json ----

r = run([qpin, "host", "--json"], "qpin host --json")
doc = parse(r.stdout, "qpin host --json")
if doc is not None:
    validate("host.schema.json", doc, "qpin host --json")
    documents["host"] = doc

fixtures = sorted(n for n in os.listdir(hosts_dir) if os.path.isdir(os.path.join(hosts_dir, n)))
check(len(fixtures) >= 8, f"{len(fixtures)} host fixtures found", fixtures)
for name in fixtures:
    what = f"qpin host --sysroot {name} --json"
    r = run([qpin, "host", "--sysroot", os.path.join(hosts_dir, name), "--json"], what)
    doc = parse(r.stdout, what)
    if doc is not None:
        validate("host.schema.json", doc, what)
    expected = os.path.join(hosts_dir, name + ".json")
    if os.path.exists(expected):
        with open(expected) as f:
            doc = parse(f.read(), f"tests/fixtures/hosts/{name}.json")
        if doc is not None:
            validate("host.schema.json", doc, f"tests/fixtures/hosts/{name}.json")

# ---- qpin plan --json with real QEMU ----

guest = [qemu, "-accel", "tcg,thread=multi", "-display", "none", "-nodefaults", "-m", "64",
         "-smp", "4"]
plans = [
    ("qpin plan --json", []),
    ("qpin plan --json --numa 32M --numa 32M", ["--numa", "32M", "--numa", "32M"]),
    # Overcommit: this machine may have fewer than 4 CPUs.
    ("qpin plan --json --pin auto --explain", ["--pin", "auto", "--allow-overcommit", "--explain"]),
]
for what, opts in plans:
    r = run([qpin, "plan", "--json", *opts, "--", *guest], what)
    doc = parse(r.stdout, what)
    if doc is not None:
        validate("plan.schema.json", doc, what)
        validate("report.schema.json", doc, what)
        documents.setdefault("plan-numa" if "numa" in doc else "plan", doc)
        if "--explain" in opts:
            check(doc.get("explain"), f"{what} has explain[]", doc.get("explain"))

what = "qpin plan --sysroot xeon-phi-7250 --config seed-240.ini --json"
r = run([qpin, "plan", "--sysroot", os.path.join(hosts_dir, "xeon-phi-7250"), "--config",
         os.path.join(source, "examples", "seed-240.ini"), "--json", "--",
         qemu, "-accel", "tcg", "-smp", "cpus=240,cores=60,threads=4", "-display", "none",
         "-nodefaults"], what)
doc = parse(r.stdout, what)
if doc is not None:
    validate("plan.schema.json", doc, what)
    check(len(doc.get("vcpus", [])) == 240 and len(doc.get("numa", [])) == 2,
          f"{what}: 240 vCPUs and 2 guest nodes", r.stdout[:500])

what = "qpin plan --sysroot xeon-gold-6148-2s --mirror node=1 --json (KVM and a disk absent here)"
r = run([qpin, "plan", "--sysroot", os.path.join(hosts_dir, "xeon-gold-6148-2s"), "--mirror",
         "node=1", "--mirror-memory", "160G:hugepages=1G:prealloc", "--json", "--",
         qemu, "-enable-kvm", "-cpu", "host", "-drive", "file=/absent/guest.qcow2,if=virtio"], what)
doc = parse(r.stdout, what)
if doc is not None:
    validate("plan.schema.json", doc, what)
    check(doc.get("mirror", {}).get("smp") == "40,sockets=1,cores=20,threads=2"
          and [n.get("kind") for n in doc.get("notes", [])][:1] == ["probe-tcg"],
          f"{what}: the mirror's -smp and the probe-tcg note", r.stdout[:500])
    bare = doc.get("bare_metal") or {}
    check(doc.get("mirror", {}).get("bare_metal", {}).get("numactl") == bare.get("numactl")
          and (bare.get("offline_others") or {}).get("destructive") is True,
          f"{what}: mirror.bare_metal has bare_metal's numactl; offline_others is destructive",
          json.dumps(bare)[:500])
    documents["plan-mirror"] = doc

# ---- qpin run reports: a guest that shuts itself down at once (status 1) ----

tmp = tempfile.mkdtemp(prefix="qpin-schema-")
exiting = [qemu, "-accel", "tcg,thread=multi", "-display", "none", "-nodefaults", "-m", "64",
           "-smp", "2", "-bios", firmware, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
runs = [
    ("qpin run --report R --pin 0,1", "run", ["--pin", "0,1"], [], (1,)),
    ("qpin run --report R --pin 0,1 --numa 32M --numa 32M --iothread-pin io0=1 --emulator-pin 0",
     "run-numa", ["--pin", "0,1", "--numa", "32M", "--numa", "32M", "--iothread-pin", "io0=1",
                  "--emulator-pin", "0"], ["-object", "iothread,id=io0"], (1,)),
    # Refused once QEMU listed its iothreads: the report says why, in "error".
    ("qpin run --report R --iothread-pin nosuch=0 (a failure)", "run-error",
     ["--pin", "0,1", "--iothread-pin", "nosuch=0"], [], (14,)),
]
try:
    for what, key, opts, extra, expect in runs:
        report = os.path.join(tmp, key + ".json")
        r = run([qpin, "run", "--json", "--quiet", "--report", report, *opts, "--", *exiting,
                 *extra], what, expect=expect)
        if not check(os.path.exists(report), f"{what} wrote its report"):
            continue
        with open(report) as f:
            text = f.read()
        doc = parse(text, f"{what}: the report file")
        if doc is None:
            continue
        validate("report.schema.json", doc, f"{what}: the report file")
        documents[key] = doc
        if key == "run-error":
            check("error" in doc, f"{what} has \"error\"", text[:1000])
        else:
            check(r.stdout == text, f"{what}: --json on stdout is the report file",
                  f"stdout:\n{r.stdout[:1000]}")
        if key == "run-numa":
            check(len(doc.get("memory", [])) == 2 and len(doc.get("iothreads", [])) == 1,
                  f"{what} has memory[] and iothreads[]", text[:1000])

    # ---- qpin pin --json: a QEMU started paused with its own QMP socket ----
    sock = os.path.join(tmp, "qmp.sock")
    qemu_log = open(os.path.join(tmp, "qemu.log"), "w+")
    q = subprocess.Popen([qemu, "-accel", "tcg,thread=multi", "-display", "none", "-nodefaults",
                          "-m", "64", "-smp", "2", "-S", "-name", "debug-threads=on",
                          "-object", "iothread,id=io0",
                          "-object", "memory-backend-ram,id=m0,size=64M,host-nodes=0,policy=bind",
                          "-numa", "node,memdev=m0",
                          "-qmp", f"unix:{sock},server=on,wait=off"],
                         stdin=subprocess.DEVNULL, stdout=qemu_log, stderr=qemu_log)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and q.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        qemu_log.seek(0)
        if check(os.path.exists(sock), "QEMU for qpin pin is listening",
                 f"QEMU exit status {q.poll()}\n{qemu_log.read()}"):
            what = "qpin pin --json --vcpu-sched batch --iothread-pin io0=1"
            r = run([qpin, "pin", "--qmp", sock, "--pin", "0,1", "--emulator-pin", "0",
                     "--iothread-pin", "io0=1", "--vcpu-sched", "batch", "--json", "--quiet"],
                    what)
            doc = parse(r.stdout, what)
            if doc is not None:
                validate("report.schema.json", doc, what)
                documents["pin"] = doc

            # ---- qpin top --json: one line per interval, each a document ----
            for how in (["--qmp", sock], ["--pid", str(q.pid)]):
                what = f"qpin top --json -n 2 {how[0]}"
                r = run([qpin, "top", "--json", "-n", "2", "-d", "0.1", *how], what)
                lines = r.stdout.splitlines()
                check(len(lines) == 2, f"{what} prints two lines", r.stdout[-2000:])
                for n, line in enumerate(lines):
                    doc = parse(line, f"{what}, line {n + 1}")
                    if doc is None:
                        continue
                    validate("top.schema.json", doc, f"{what}, line {n + 1}")
                    check(len(doc.get("memory", [])) >= 1,
                          f"{what}, line {n + 1} has the memory backend", line[:1000])
                    documents.setdefault("top-" + how[0][2:], doc)
    finally:
        q.send_signal(signal.SIGTERM)
        try:
            q.wait(timeout=10)
        except subprocess.TimeoutExpired:
            q.kill()
            q.wait()
        qemu_log.close()
finally:
    shutil.rmtree(tmp, ignore_errors=True)

# ---- qpin check --json: the fixture hosts, this machine, and a map from a plan ----

check_map = ["--vcpu-cpus", "1-3,5-7,9-11,13-15", "--housekeeping-cpus", "0,4,8,12", "--rt",
             "--hugepages", "8G@0:1G", "--hugepages", "8G@1:1G"]
for name, code in (("rt-tuned-2s", 0), ("untuned-2s", 20), ("offline-isolated", 20)):
    what = f"qpin check --sysroot {name} --json"
    args = check_map if name != "offline-isolated" else ["--vcpu-cpus", "2-5"]
    r = run([qpin, "check", "--sysroot", os.path.join(hosts_dir, name), *args, "--json"], what,
            expect=(code,))
    doc = parse(r.stdout, what)
    if doc is not None:
        validate("check.schema.json", doc, what)
        documents.setdefault("check", doc)
r = run([qpin, "check", "--vcpu-cpus", "0", "--json"], "qpin check --json on this machine",
        expect=(0, 20))
doc = parse(r.stdout, "qpin check --json on this machine")
if doc is not None:
    validate("check.schema.json", doc, "qpin check --json on this machine")
what = "qpin check --sysroot untuned-2s --json --pin 1,2 -- QEMU"
r = run([qpin, "check", "--sysroot", os.path.join(hosts_dir, "untuned-2s"), "--json", "--pin",
         "1,2", "--emulator-pin", "0", "--", *guest[:-2], "-smp", "2"], what, expect=(20,))
doc = parse(r.stdout, what)
if doc is not None:
    validate("check.schema.json", doc, what)

# ---- the schemas are not vacuous ----

def mutated(key, change):
    doc = copy.deepcopy(documents[key])
    change(doc)
    return doc


def rejected(name, key, change, what):
    if key not in documents:
        check(False, f"{name} rejects {what}", f"no valid {key} document to start from")
        return
    check(bool(errors(name, mutated(key, change))), f"{name} rejects {what}")


def accepted(name, key, change, what):
    if key not in documents:
        check(False, f"{name} accepts {what}", f"no valid {key} document to start from")
        return
    errs = errors(name, mutated(key, change))
    check(not errs, f"{name} accepts {what}", "\n".join(e.message for e in errs[:5]))


def setter(path, value):
    def change(doc):
        *parents, last = path
        for p in parents:
            doc = doc[p]
        doc[last] = value
    return change


def deleter(path):
    def change(doc):
        *parents, last = path
        for p in parents:
            doc = doc[p]
        del doc[last]
    return change


for name, key in (("host.schema.json", "host"), ("plan.schema.json", "plan"),
                  ("report.schema.json", "run"), ("report.schema.json", "pin")):
    rejected(name, key, setter(["schema_version"], 2), f"a {key} document with schema_version 2")
    rejected(name, key, setter(["schema_version"], "1"), f"a {key} document with schema_version \"1\"")
    rejected(name, key, setter(["schema_version"], True), f"a {key} document with schema_version true")
    rejected(name, key, deleter(["schema_version"]), f"a {key} document without schema_version")
    accepted(name, key, setter(["a_member_of_tomorrow"], {"x": [1]}), f"a {key} document with an extra member")

for name, key in (("plan.schema.json", "plan"), ("report.schema.json", "run"),
                  ("report.schema.json", "pin")):
    rejected(name, key, setter(["vcpus", 0, "cpus"], 0), f"a {key} whose vCPU cpus is a number")
    rejected(name, key, setter(["vcpus", 0, "cpus"], [0]), f"a {key} whose vCPU cpus is an array")
    rejected(name, key, setter(["vcpus", 0, "cpus"], "CPU 0"), f"a {key} whose vCPU cpus is no cpulist")
    rejected(name, key, deleter(["vcpus", 0, "thread_id"]), f"a {key} with a vCPU without thread_id")
    rejected(name, key, deleter(["vcpus"]), f"a {key} without vcpus")
    rejected(name, key, deleter(["timings_ms"]), f"a {key} without timings_ms")
    rejected(name, key, setter(["command"], "launch"), f"a {key} of command \"launch\"")
    accepted(name, key, setter(["vcpus", 0, "cpus"], None), f"a {key} with an unpinned vCPU (cpus null)")
    accepted(name, key, setter(["vcpus", 0, "a_member_of_tomorrow"], 1),
             f"a {key} with an extra vCPU member")

for key in ("top-qmp", "top-pid"):
    name = "top.schema.json"
    rejected(name, key, setter(["schema_version"], 2), f"a {key} line with schema_version 2")
    rejected(name, key, deleter(["schema_version"]), f"a {key} line without schema_version")
    accepted(name, key, setter(["a_member_of_tomorrow"], {"x": [1]}), f"a {key} line with an extra member")
    rejected(name, key, deleter(["vcpus"]), f"a {key} line without vcpus")
    rejected(name, key, setter(["vcpus", 0, "usage_pct"], "99"), f"a {key} line whose usage_pct is a string")
    rejected(name, key, setter(["vcpus", 0, "steal_pct"], -1), f"a {key} line with a negative steal_pct")
    rejected(name, key, deleter(["vcpus", 0, "drift"]), f"a {key} line with a vCPU without drift")
    rejected(name, key, setter(["vcpus", 0, "cpus"], "0-"), f"a {key} line whose vCPU cpus is \"0-\"")
    rejected(name, key, setter(["emulator", 0, "kind"], "vcpu"), f"a {key} line with an emulator thread of kind vcpu")
    rejected(name, key, setter(["time"], "yesterday"), f"a {key} line whose time is no RFC 3339 time")
    rejected(name, key, setter(["memory_source"], "smaps"), f"a {key} line with memory_source \"smaps\"")
    rejected(name, key, deleter(["memory", 0, "bound_nodes"]), f"a {key} line with a backend without bound_nodes")
    rejected(name, key, setter(["memory", 0, "off_node"], "no"), f"a {key} line whose off_node is a string")
    rejected(name, key, setter(["memory", 0, "address"], "7f00"), f"a {key} line with an address without 0x")
    accepted(name, key, setter(["memory", 0, "bound_nodes"], None), f"a {key} line with a backend of unknown nodes")

rejected("plan.schema.json", "run", lambda d: None, "a run report (command \"run\")")
rejected("plan.schema.json", "plan", deleter(["qemu_argv"]), "a plan without qemu_argv")
rejected("report.schema.json", "run", deleter(["qemu_argv"]), "a run report without qemu_argv")
rejected("report.schema.json", "pin", deleter(["qmp"]), "a pin report without qmp")
rejected("report.schema.json", "run", setter(["state"], "stopped"), "a report in state \"stopped\"")
rejected("report.schema.json", "run", setter(["timings_ms", "pin"], "0.1"), "a timing as a string")
rejected("report.schema.json", "run-error", setter(["error"], None), "an error that is null")
rejected("report.schema.json", "plan-numa", deleter(["numa", 0, "size_bytes"]),
         "a guest node without size_bytes")
rejected("report.schema.json", "plan-numa", setter(["numa", 0, "prealloc"], "on"),
         "a guest node whose prealloc is a string")
rejected("report.schema.json", "run-numa", deleter(["memory", 1, "ok"]),
         "a memory placement without ok")
rejected("report.schema.json", "run-numa", setter(["iothreads", 0, "thread_id"], "1"),
         "an iothread whose thread_id is a string")
rejected("report.schema.json", "plan-mirror", deleter(["mirror", "bare_metal"]),
         "a mirror without bare_metal")
rejected("plan.schema.json", "plan-mirror", deleter(["bare_metal"]), "a plan without bare_metal")
accepted("plan.schema.json", "plan-mirror", setter(["bare_metal"], None),
         "a plan whose bare_metal is null (no vCPU pinned)")
rejected("report.schema.json", "plan-mirror",
         setter(["bare_metal", "offline_others", "destructive"], False),
         "a chcpu line not marked destructive")
rejected("report.schema.json", "plan-mirror", setter(["bare_metal", "srun", 0], "sbatch"),
         "a bare-metal srun argv that is not srun's")
rejected("report.schema.json", "plan-mirror", deleter(["bare_metal", "numactl"]),
         "a bare_metal without numactl")
rejected("report.schema.json", "plan-mirror", setter(["bare_metal", "policy"], "strict"),
         "a bare_metal of an unknown policy")
rejected("report.schema.json", "plan-mirror", setter(["notes", 0, "kind"], "guess"),
         "a note of an unknown kind")
rejected("report.schema.json", "plan-mirror", setter(["numa", 0, "prealloc_threads_auto"], 1),
         "prealloc_threads_auto that is a number")
rejected("check.schema.json", "check", setter(["schema_version"], 2), "a check with schema_version 2")
rejected("check.schema.json", "check", setter(["verdict"], "unknown"), "a verdict \"unknown\"")
rejected("check.schema.json", "check", deleter(["checks", 0, "fix"]), "a check without fix")
rejected("check.schema.json", "check", setter(["checks", 0, "status"], "ok"), "a check status \"ok\"")
rejected("check.schema.json", "check", setter(["checks", 0, "id"], "cpu.other"), "an unknown check id")
rejected("check.schema.json", "check", setter(["vcpu_cpus"], 3), "vcpu_cpus as a number")
accepted("check.schema.json", "check", setter(["checks", 0, "fix"], None), "a check whose fix is null")
accepted("check.schema.json", "check", setter(["a_member_of_tomorrow"], 1), "a check with an extra member")
rejected("host.schema.json", "host", deleter(["nodes"]), "a host without nodes")
rejected("host.schema.json", "host", deleter(["cpus", 0, "siblings"]), "a host CPU without siblings")
rejected("host.schema.json", "host", setter(["cpus", 0, "node"], "0"), "a host CPU whose node is a string")
rejected("host.schema.json", "host", setter(["cpus_online"], "0-"), "a cpulist \"0-\"")
rejected("host.schema.json", "host", setter(["nodes", 0, "distances"], ["10"]),
         "a node distance that is a string")

print(f"1..{count}")
if failures:
    print(f"# {len(failures)} of {count} checks failed", file=sys.stderr)
    sys.exit(1)
