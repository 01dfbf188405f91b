#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The man pages: rendered by groff without a warning, complete, and in step with the program.

Usage: test-man.py SOURCE-PAGE BUILT-PAGE [SOURCE-PAGE BUILT-PAGE...]
Environment: QPIN (the binary), QPIN_SOURCE_ROOT. Prints TAP.
"""
import os
import re
import shutil
import subprocess
import sys

QPIN = os.environ["QPIN"]
SRC = os.environ["QPIN_SOURCE_ROOT"]
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]

results = []


def check(ok, name, why=""):
    results.append((bool(ok), name, why))


def help_text(cmd):
    argv = [QPIN] + ([cmd, "--help"] if cmd else ["--help"])
    p = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    if p.returncode != 0:
        raise SystemExit(f"Bail out! {' '.join(argv)} exited with {p.returncode}")
    return p.stdout


def help_options(text):
    """The options an option list of --help shows: '  -q, --quiet   ...', '  --pin=MAP  ...'."""
    opts = set()
    for line in text.splitlines():
        m = re.match(r"^\s+((?:-[A-Za-z?], )?--[a-z][a-z-]*)", line)
        if m:
            for o in m.group(1).split(", "):
                opts.add(o)
    return opts


def plain(roff):
    """Roff source text as a reader sees it (escapes of this project's pages only)."""
    s = roff.replace("\\-", "-").replace("\\e", "\\").replace("\\(aq", "'").replace("\\(dq", '"')
    s = re.sub(r"\\f[BIRP]", "", s)
    s = s.replace("\\&", "")
    return s


def sections(roff):
    out, name = {}, None
    for line in roff.splitlines():
        m = re.match(r'^\.SH\s+"?([^"]*)"?\s*$', line)
        if m:
            name = m.group(1)
            out[name] = []
        elif name:
            out[name].append(line)
    return out


def option_items(lines):
    """The options each '.TP' item of a section names in its tag line (nested lists skipped)."""
    items, depth = set(), 0
    for i, line in enumerate(lines):
        if line.startswith(".RS"):
            depth += 1
        elif line.startswith(".RE"):
            depth -= 1
        elif line == ".TP" and depth == 0 and i + 1 < len(lines):
            tag = plain(lines[i + 1])
            if not tag.startswith("."):
                continue
            for o in re.findall(r"(?<![\w-])(--?[A-Za-z][a-z-]*)", tag):
                items.add(o)
    return items


def exit_codes_header():
    text = open(os.path.join(SRC, "launcher/cli/qpin-cli.h")).read()
    return {name: int(n) for name, n in re.findall(r"\b(QPIN_EXIT_[A-Z_]+)\s*=\s*(\d+)", text)}


def exit_codes_readme():
    text = open(os.path.join(SRC, "README.md")).read()
    section = text.split("\n## Exit status\n", 1)[1].split("\n## ", 1)[0]
    return {name: int(n) for n, name in re.findall(r"^\|\s*(\d+)\s*\|\s*`(QPIN_EXIT_[A-Z_]+)`", section, re.M)}


def exit_codes_page(lines):
    return {name: int(n) for n, name in
            re.findall(r'^\.BR (\d+) " \(" (QPIN_EXIT_[A-Z_]+) \)$', "\n".join(lines), re.M)}


def main():
    args = sys.argv[1:]
    pages = dict(zip(args[0::2], args[1::2]))  # source -> built
    groff = shutil.which("groff")
    if not groff:
        print("1..0 # SKIP groff is not installed (Debian: groff-base)")
        return 0
    version = subprocess.run([QPIN, "--version"], capture_output=True, text=True).stdout.split()[-1]

    header = exit_codes_header()
    readme = exit_codes_readme()
    check(header == readme, "README's Exit status table has the codes of launcher/cli/qpin-cli.h",
          f"header {header} README {readme}")
    check(header.get("QPIN_EXIT_RESUMED") == 19, "QPIN_EXIT_RESUMED is 19")

    top = help_text(None)
    commands = re.findall(r"^  ([a-z]+)\s{2,}", top.split("Commands:", 1)[1].split("\n\n", 1)[0], re.M)
    check(commands, "qpin --help lists commands")
    names = {os.path.basename(s)[:-2] for s in pages}
    check(names == {"qpin"} | {f"qpin-{c}" for c in commands},
          "a page for qpin and for every command of qpin --help", f"pages {sorted(names)}")
    check({"-V", "--version", "-h", "--help"} <= help_options(top), "qpin --help lists -V, --version")
    p = subprocess.run([QPIN, "-V"], capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout == f"qpin {version}\n", "qpin -V prints the version",
          repr(p.stdout))

    for source, built in sorted(pages.items()):
        page = os.path.basename(built)[:-2]
        cmd = page[len("qpin-"):] if page != "qpin" else None
        roff = open(built).read()
        src = open(source).read()

        for dev in (None, "utf8"):
            argv = [groff, "-man", "-ww", "-z"] + ([f"-T{dev}"] if dev else []) + [built]
            r = subprocess.run(argv, capture_output=True, text=True)
            check(r.returncode == 0 and r.stderr == "", f"{page}: {' '.join(argv[1:-1])} is silent",
                  r.stderr.strip())
        check("@VERSION@" not in roff and "@DATADIR@" not in roff and f'"qpin {version}"' in roff,
              f"{page}: version and paths filled in")
        check(src.replace("@VERSION@", "").replace("@DATADIR@", "").count("@")
              == roff.count("@"), f"{page}: configure_file replaced nothing else")
        th = re.search(r"^\.TH (\S+) 1 ", roff, re.M)
        check(th and th.group(1).replace("\\-", "-") == page.upper(), f"{page}: .TH names the page")

        secs = sections(roff)
        missing = [s for s in SECTIONS if s not in secs]
        check(not missing, f"{page}: has {', '.join(SECTIONS)}", f"missing {missing}")
        name_line = plain(" ".join(secs.get("NAME", [])))
        check(name_line.startswith(f"{page} - "), f"{page}: NAME is '{page} - ...'", name_line)

        wanted = help_options(help_text(cmd))
        documented = option_items(secs.get("OPTIONS", []))
        check(wanted - documented == set(), f"{page}: OPTIONS has every option of --help",
              f"missing {sorted(wanted - documented)}")
        check(documented - wanted == set(), f"{page}: OPTIONS has no option --help lacks",
              f"extra {sorted(documented - wanted)}")

        codes = exit_codes_page(secs.get("EXIT STATUS", []))
        wrong = {n: c for n, c in codes.items() if header.get(n) != c}
        check(not wrong, f"{page}: EXIT STATUS pairs codes and names as qpin-cli.h", str(wrong))
        if cmd in (None, "run", "plan", "pin"):
            check(codes == header, f"{page}: EXIT STATUS has every status, 19 included",
                  f"missing {sorted(set(header) - set(codes))}")
        else:
            check(codes and "QPIN_EXIT_RESUMED" in "\n".join(secs["EXIT STATUS"])
                  and ".BR qpin (1)" in "\n".join(secs["EXIT STATUS"]),
                  f"{page}: EXIT STATUS has its statuses and points to qpin(1) for 19")

        # Every qpin command line of EXAMPLES uses a real command and options it has.
        text = plain("\n".join(secs.get("EXAMPLES", []))).replace("\\\n", " ")
        lines = [l for l in text.splitlines() if re.match(r"^(srun .*?)?qpin ", l)]
        check(lines, f"{page}: EXAMPLES has qpin commands")
        for line in lines:
            words = re.split(r" -- | \| ", line[line.index("qpin "):])[0].split()
            sub = words[1]
            if sub not in commands:
                check(False, f"{page}: example uses a command", line)
                continue
            opts = help_options(help_text(sub))
            used = {w.split("=")[0] for w in words[2:] if w.startswith("-")}
            check(used <= opts, f"{page}: example '{' '.join(words[:3])} ...' uses options of qpin {sub}",
                  f"unknown {sorted(used - opts)}")
        # SEE ALSO: qpin(1) names every command's page, each command's page names qpin(1).
        see = plain("\n".join(secs.get("SEE ALSO", [])))
        refs = set(re.findall(r"^\.BR (qpin(?:-[a-z]+)?) \(1\)", see, re.M))
        expect = names - {"qpin"} if page == "qpin" else {"qpin"}
        check(expect <= refs, f"{page}: SEE ALSO names {', '.join(sorted(expect))}",
              f"missing {sorted(expect - refs)}")

    print(f"1..{len(results)}")
    for i, (ok, name, why) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok and why:
            for l in why.splitlines():
                print(f"# {l}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
