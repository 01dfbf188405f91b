#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Documented commands run as written: every code block of README.md, docs/*.md and the
header comments of examples/* that shows a qpin command is marked docs:run or
docs:illustrative; docs:run blocks are executed (no shell) and their exit statuses and the
output they show are compared with what qpin really prints. The conventions, the placeholders
and the wildcards are described in docs/README.md.

Usage: test-examples.py [FILE...]   (default: the whole source tree's documentation)
Environment: QPIN (the qpin under test), QPIN_SOURCE_ROOT, QPIN_TEST_ACCEL=tcg forces TCG,
QPIN_DOCS_TIMEOUT (seconds a command may take before it counts as hung, default 300).
Output: TAP, one test per block (a marker missing fails; docs:illustrative is counted, not run).
"""

import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.environ.get("QPIN_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QPIN = os.environ.get("QPIN")
QEMU = shutil.which("qemu-system-x86_64")
# A bound on a hung command, far above what any documented command takes on a loaded machine
# (the slowest, a 240-vCPU plan under TCG, takes 5-16 s); never a synchronisation.
TIMEOUT = float(os.environ.get("QPIN_DOCS_TIMEOUT", "300"))

# A block shows a qpin command when one of its lines runs qpin (not a "qpin: ..." message).
QPIN_COMMAND = re.compile(
    r"(^|[\s'\"(/$])qpin(\s+|$)(run|plan|pin|host|qmp|check|top|-V\b|--version|--help|-h\b|\[)")
MARKER = re.compile(r"^\s*(?:<!--\s*(docs:[^>]*?)\s*-->|#\s*(docs:\S.*?))\s*$")
EXIT_LINE = re.compile(r"^#\s*exit\s+(\d+)\s*$")
# Markers a block may carry until a feature it needs is on the branch: the block is run and
# must fail; when it passes, the test says so, so that the marker is removed.
PENDING = {"plan-anywhere"}
# Words standing for the qpin under test.
QPIN_WORDS = {"qpin", "./build/qpin", "build/qpin"}
# Paths of the source tree the commands name relative to its top.
TREE_LINKS = ("examples", "tests", "docs", "scripts", "README.md")


class Block:
    def __init__(self, path, line, text, marker):
        self.path, self.line, self.text, self.marker = path, line, text, marker

    def name(self):
        return f"{os.path.relpath(self.path, ROOT)}:{self.line}"


def markdown_blocks(path):
    """Fenced code blocks with the marker comment lines just above their opening fence."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(```+|~~~+)", lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m.group(1), m.group(2)
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        # The comment lines right above the fence (a docs: marker among other markers).
        markers = []
        j = start - 1
        while j >= 0 and lines[j].strip().startswith("<!--"):
            mm = MARKER.match(lines[j])
            if mm:
                markers.append(mm.group(1) or mm.group(2))
            j -= 1
        yield Block(path, start + 1, "\n".join(body), markers)


def example_blocks(path):
    """Indented blocks in the leading comment of an example (lines '#   ...', or ' *   ...' in
    C), with a '# docs:...' comment line just above them."""
    lines = open(path, encoding="utf-8").read().split("\n")
    comment = re.compile(r"^(#|\s?\*|/\*)( ?)(.*)$")
    header = []
    for n, line in enumerate(lines):
        if line.startswith("#!") and n == 0:
            continue
        m = comment.match(line)
        if not m:
            if line.strip() == "":
                continue
            break
        header.append((n + 1, m.group(3)))
    i = 0
    while i < len(header):
        n, text = header[i]
        if not text.startswith("  ") or not text.strip():
            i += 1
            continue
        start = i
        body = []
        while i < len(header) and header[i][1].startswith("  ") and header[i][1].strip():
            body.append(header[i][1][2:].rstrip())
            i += 1
        markers = []
        if start > 0:
            mm = MARKER.match("#" + header[start - 1][1]) or MARKER.match(header[start - 1][1])
            if mm:
                markers.append(mm.group(1) or mm.group(2))
        yield Block(path, n, "\n".join(body), markers)


def documents(args):
    if args:
        return [os.path.abspath(a) for a in args]
    files = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    for f in sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*"), recursive=True)):
        if os.path.isfile(f):
            files.append(f)
    return files


def blocks_of(path):
    if path.endswith(".md"):
        return markdown_blocks(path)
    return example_blocks(path)


# --- parsing a docs:run block -------------------------------------------------------------

def join_continuations(lines):
    out, cur = [], None
    for line in lines:
        if cur is not None:
            cur += " " + line.strip()
        else:
            cur = line
        if cur.rstrip().endswith("\\"):
            cur = cur.rstrip()[:-1]
            continue
        out.append(cur)
        cur = None
    if cur is not None:
        out.append(cur)
    return out


def parse_steps(text):
    """[(command line, expected output lines or None, expected exit status)].
    With '$ ' prompts: each prompt line (and its continuations, each written '\\' at the end of
    a line) is a command, the lines up to the next prompt its output. Without prompts every
    line is a command and no output is compared. '# exit N' gives the preceding command's exit
    status (default 0); other lines starting with '#' are comments."""
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    steps = []
    if any(l.startswith("$ ") for l in lines):
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.startswith("$ "):
                if EXIT_LINE.match(line) and steps:
                    steps[-1][2] = int(EXIT_LINE.match(line).group(1))
                elif line.strip() and not steps:
                    raise ValueError(f"text before the first '$ ' prompt: {line!r}")
                elif steps:
                    steps[-1][1].append(line)
                i += 1
                continue
            cmd = [line[2:]]
            while cmd[-1].rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd.append(lines[i].lstrip("> ").lstrip() if lines[i].startswith(">") else lines[i])
            steps.append([join_continuations(cmd)[0], [], 0])
            i += 1
        return [(c, out, rc) for c, out, rc in steps]
    for line in join_continuations(lines):
        if not line.strip():
            continue
        m = EXIT_LINE.match(line.strip())
        if m and steps:
            steps[-1][2] = int(m.group(1))
            continue
        if line.lstrip().startswith("#"):
            continue
        steps.append([line, None, 0])
    return [(c, out, rc) for c, out, rc in steps]


def substitute(argv, accel_kvm):
    """The documented placeholders (docs/README.md), nothing else."""
    out = []
    i = 0
    while i < len(argv):
        w = argv[i]
        if w in QPIN_WORDS:
            out.append(QPIN)
        elif w == "-accel" and i + 1 < len(argv) and argv[i + 1] == "kvm" and not accel_kvm:
            out += ["-accel", "tcg,thread=multi"]
            i += 1
        else:
            out.append(w)
        i += 1
    return out


# --- comparing output -----------------------------------------------------------------------

NUMBER = r"-?\d+(?:\.\d+)?"
WILDCARDS = {"<pid>": r"\d+", "<tid>": r"\d+", "<n>": NUMBER, "…": r".*?"}


def output_pattern(expected):
    """A regex for the documented output: any run of whitespace (line breaks included, so a
    long message may be wrapped in the docs) matches any run of whitespace, each wildcard its
    values, everything else itself."""
    text = "\n".join(expected).strip()
    rx = ""
    for p in re.split(r"(<pid>|<tid>|<n>|…|\s+)", text):
        if not p:
            continue
        if p in WILDCARDS:
            rx += WILDCARDS[p]
        elif p.isspace():
            rx += r"\s+"
        else:
            rx += re.escape(p)
    return re.compile(rx, re.DOTALL)


def output_matches(expected, actual):
    return output_pattern(expected).fullmatch("\n".join(actual).strip()) is not None


def first_difference(expected, actual):
    """The longest documented prefix (in words) that still matches, for the diagnostic."""
    words = re.split(r"(\s+)", "\n".join(expected).strip())
    text = "\n".join(actual).strip()
    good = 0
    for k in range(1, len(words) + 1):
        if output_pattern(["".join(words[:k])]).match(text):
            good = k
        else:
            break
    return "".join(words[:good])[-200:], "".join(words[good:good + 20])


# --- running --------------------------------------------------------------------------------

def kvm_usable():
    """KVM when a paused guest under it answers QMP and survives a cont, as the C tests probe."""
    if os.environ.get("QPIN_TEST_ACCEL") == "tcg" or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        p = subprocess.run([QEMU, "-accel", "kvm", "-cpu", "qemu64", "-S", "-display", "none",
                            "-nodefaults", "-m", "64", "-qmp", "stdio"],
                           input=b'{"execute":"qmp_capabilities"}\n{"execute":"cont"}\n'
                                 b'{"execute":"quit"}\n',
                           capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return p.returncode == 0 and p.stdout.count(b'"return"') >= 2 and b'"error"' not in p.stdout


def run_command(argv, cwd):
    """(exit status, output lines): stdout and stderr through one pipe, as '2>&1' would show
    them; stdin is /dev/null. A command still running after TIMEOUT is killed and fails."""
    env = dict(os.environ, LC_ALL="C")
    env.pop("G_DEBUG", None)
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out.decode(errors="replace").split("\n")
    # Nothing the command started may outlive it (qpin never leaves a QEMU behind).
    try:
        os.killpg(proc.pid, 0)
        os.killpg(proc.pid, signal.SIGKILL)
        left = True
    except ProcessLookupError:
        left = False
    lines = out.decode(errors="replace").split("\n")
    if left:
        lines.append("docs test: processes of this command were left behind (killed)")
        return -1, lines
    return proc.returncode, lines


def run_block(block, accel_kvm, diag):
    """True when every command of the block exits as documented and prints what it shows."""
    try:
        steps = parse_steps(block.text)
    except ValueError as e:
        diag.append(str(e))
        return False
    if not steps:
        diag.append("a docs:run block without a command")
        return False
    with tempfile.TemporaryDirectory(prefix="qpin-docs-") as tmp:
        for name in TREE_LINKS:
            os.symlink(os.path.join(ROOT, name), os.path.join(tmp, name))
        for cmd, expected, want_rc in steps:
            try:
                words = shlex.split(cmd, comments=True)
            except ValueError as e:
                diag.append(f"{cmd!r}: {e}")
                return False
            argv = substitute(words, accel_kvm)
            rc, lines = run_command(argv, tmp)
            shown = " ".join(shlex.quote(a) for a in argv)
            if rc is None:
                diag.append(f"{shown}: still running after {TIMEOUT:g} s, killed")
                diag += lines[-20:]
                return False
            if rc != want_rc:
                diag.append(f"{shown}: exit status {rc}, documented {want_rc}")
                diag += lines[-30:]
                return False
            if expected is not None and not output_matches(expected, lines):
                same, differs = first_difference(expected, lines)
                diag.append(f"{shown}: output differs from the documented one")
                diag.append(f"  matches up to: ...{same!r}")
                diag.append(f"  then documented: {differs!r}...")
                diag.append("  printed:")
                diag += ["    " + l for l in lines]
                return False
    return True


def main():
    if not QPIN:
        print("Bail out! QPIN is not set")
        return 1
    found = []
    for path in documents(sys.argv[1:]):
        for b in blocks_of(path):
            if QPIN_COMMAND.search(b.text) or b.marker:
                found.append(b)
    runnable = [b for b in found if any(m.split()[0] == "docs:run" for m in b.marker)]
    if runnable and not QEMU:
        print("1..0 # SKIP qemu-system-x86_64 not found: documented commands need it")
        return 77
    accel_kvm = kvm_usable() if runnable else False
    print(f"# accelerator for '-accel kvm' in docs:run blocks: {'kvm' if accel_kvm else 'tcg,thread=multi'}")
    print(f"1..{len(found)}")
    failed = 0
    for n, b in enumerate(found, 1):
        kinds = [m.split()[0] for m in b.marker]
        diag = []
        if not b.marker:
            ok, what = False, "unmarked: put <!-- docs:run --> or <!-- docs:illustrative --> " \
                "(in an example header '# docs:run' or '# docs:illustrative') before it"
        elif len(b.marker) > 1 or kinds[0] not in ("docs:run", "docs:illustrative"):
            ok, what = False, f"unknown or several markers: {b.marker}"
        elif kinds[0] == "docs:illustrative":
            ok, what = True, "illustrative (checked by eye)"
        else:
            opts = dict(o.split("=", 1) for o in b.marker[0].split()[1:] if "=" in o)
            needs = opts.get("needs")
            if needs and needs not in PENDING:
                ok, what = False, f"unknown needs={needs}"
            else:
                passed = run_block(b, accel_kvm, diag)
                ok = passed
                if needs:
                    # Known not to run until the feature lands: a TAP TODO. A failure is
                    # expected and does not fail the suite; a pass is reported as unexpected
                    # (meson fails it), so that the needs= marker is removed then.
                    what = (f"runs now: remove needs={needs} from its marker # TODO needs {needs}"
                            if passed else f"# TODO needs {needs}")
                    diag = ["(pending) " + d for d in diag[:8]]
                else:
                    what = "ran as documented" if passed else "does not run as documented"
        if not ok and "# TODO" not in what:
            failed += 1
        print(f"{'ok' if ok else 'not ok'} {n} - {b.name()} {what}")
        for d in diag:
            print(f"# {d}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
