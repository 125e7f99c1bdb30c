#!/usr/bin/env python3
"""Runs the commands of examples/README and records their real output there.

    examples/regen.py --write   rerun every example, rewrite the blocks
    examples/regen.py --check   rerun every example, compare with the blocks

A block in the README is

    .. output: NAME
        $ command
        ...output...
    .. end

and the commands of NAME are in EXAMPLES below. The check compares the
outputs after masking what changes from run to run and machine to machine:
pids and thread ids, addresses and offsets, durations, counts and the
source directory. It runs in the build tree (top_builddir, default: the
directory above this file), with tools/ first in PATH.
"""
import os
import difflib
import re
import subprocess
import sys
import tempfile

# name: the shell commands, run one after another in a scratch directory.
# $B is the build tree; `lockhound` is the one built there.
EXAMPLES = {
    "bank": [
        "lockhound run --log_path=bank.log -- $B/examples/bank",
        "lockhound explain bank.log",
    ],
    "philosophers": [
        "lockhound run -- $B/examples/philosophers",
        "lockhound run -- $B/examples/philosophers waiter",
    ],
    "deadlock": [
        "lockhound run --on_deadlock=abort -- $B/examples/deadlock",
    ],
    "service": [
        "lockhound run -- $B/examples/service 3 & sleep 1; lockhound dump $!; wait",
    ],
    "config": [
        "lockhound run --timeout_ms=500 -- $B/examples/config",
    ],
    "hotspot": [
        "lockhound run --log_path=hotspot.log -- $B/examples/hotspot",
        "lockhound stats --top 2 hotspot.log",
    ],
    "rwcond": [
        "lockhound run -- $B/examples/rwcond",
    ],
    "queue": [
        "lockhound run -- $B/examples/queue",
        "lockhound run -- $B/examples/queue shared",
    ],
    "exit": [
        "lockhound run -- $B/examples/exit",
    ],
    "recursive": [
        "lockhound run -- $B/examples/recursive",
        "lockhound run --on_deadlock=abort -- $B/examples/recursive normal",
    ],
    "counter": [
        "lockhound-cc -g -o counter $S/examples/counter.c",
        "LOCKHOUND_OPTIONS=log_path=counter.log ./counter",
        "lockhound explain counter.log",
        "./counter fixed",
    ],
    "runs": [
        "lockhound run --log_path=export.log -- $B/examples/runs export",
        "lockhound run --log_path=import.log -- $B/examples/runs import",
        "lockhound replay export.log import.log",
        "lockhound graph export.log import.log",
        "lockhound graph --svg export.log import.log > runs.svg",
    ],
}

# Where the recorded outputs say the tree is.
HOME = "~/lockhound/"

BLOCK = re.compile(r"^\.\. output: (\S+)\n(.*?)^\.\. end\n", re.M | re.S)


def run(name, top, srcdir):
    out = []
    env = dict(os.environ)
    env["PATH"] = os.path.join(top, "tools") + os.pathsep + env["PATH"]
    env["LOCKHOUND_LIBRARY"] = os.path.join(top, "lib/.libs/liblockhound.so")
    # lockhound-cc builds against the build tree, not the installed runtime
    env["LOCKHOUND_LIBDIR"] = os.path.join(top, "lib/.libs")
    env["LOCKHOUND_INCLUDEDIR"] = os.path.join(top, "include")
    env.pop("LOCKHOUND_OPTIONS", None)
    env.pop("LD_PRELOAD", None)
    with tempfile.TemporaryDirectory() as tmp:
        for cmd in EXAMPLES[name]:
            shown = cmd.replace("$B/", "").replace("$S/", "")
            real = cmd.replace("$B", top).replace("$S", srcdir)
            p = subprocess.run(["sh", "-c", "ulimit -c 0; { " + real + "; } 2>&1"],
                               cwd=tmp, env=env, stdout=subprocess.PIPE,
                               timeout=120)
            text = p.stdout.decode("utf-8", "replace")
            # The tree's own path is the reader's business, not ours.
            for d in sorted({top, srcdir}, key=len, reverse=True):
                text = text.replace(d + "/", HOME)
            out.append("$ " + shown)
            out.extend(text.rstrip("\n").split("\n") if text.strip() else [])
            if p.returncode:
                out.append("(exit status %d)" % p.returncode)
    return "".join("    " + line + "\n" for line in out)


def rotate(cycle):
    """A => B => A and B => A => B are the same cycle."""
    locks = cycle.split(" => ")[:-1]
    if not locks:
        return cycle
    i = locks.index(min(locks))
    locks = locks[i:] + locks[:i]
    return " => ".join(locks + locks[:1])


def mask(text, srcdir, name=""):
    if name == "counter":
        # Which of the racing accesses is caught first (a read against a
        # write, or two writes) is timing.
        text = re.sub(r"data-race: .* of (\S+) at the same moment",
                      r"data-race: ACCESSES of \1 at the same moment", text)
        text = re.sub(r"\b(read|write|wrote)\b", "RW", text)
    text = text.replace(srcdir, "SRC")
    # recorded before this change, or in another tree
    text = re.sub(r"[^\s()\"':,]*/examples/", "SRC/examples/", text)
    text = re.sub(r"/tmp/tmp\w+", "TMP", text)
    text = re.sub(r"0x[0-9a-f]+", "ADDR", text)
    text = re.sub(r"worker-\d+", "worker-N", text)
    # durations and counts; keep the line numbers of file:line
    text = re.sub(r"(?<![.:\w])\d+(\.\d+)?(?![\w.]*:\d)", "N", text)
    text = re.sub(r"\bN (ns|us|ms|s)\b", "N UNIT", text)
    text = re.sub(r"cycle: (.*)", lambda m: "cycle: " + rotate(m.group(1)), text)
    # Compare the words, not their order: a dump lists threads in the
    # order they first locked, a cycle starts at whichever thread closed
    # it, and text wraps where a pid of another length ends.
    return sorted(text.split())


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "--check"
    here = os.path.dirname(os.path.abspath(__file__))
    srcdir = os.path.abspath(os.environ.get("top_srcdir", os.path.join(here, "..")))
    top = os.path.abspath(os.environ.get("top_builddir", srcdir))
    readme = os.path.join(srcdir, "examples", "README")
    with open(readme, encoding="utf-8") as f:
        doc = f.read()
    names = BLOCK.findall(doc)
    missing = set(EXAMPLES) - {n for n, _ in names}
    if missing:
        sys.exit("regen.py: README has no block for %s" % ", ".join(sorted(missing)))
    bad = 0

    def replace(m):
        nonlocal bad
        name, old = m.group(1), m.group(2)
        if name not in EXAMPLES:
            sys.exit("regen.py: README block %s has no commands here" % name)
        new = run(name, top, srcdir)
        # A data race is caught by sampling: in a loaded machine a run can
        # miss it. Retry before calling the recording stale.
        for _ in range(2):
            if mode != "--check" or mask(old, srcdir, name) == mask(new, srcdir, name):
                break
            new = run(name, top, srcdir)
        if mode == "--check" and mask(old, srcdir, name) != mask(new, srcdir, name):
            bad += 1
            print("regen.py: %s: the recorded output no longer matches:" % name)
            print("\n".join(difflib.unified_diff(
                mask(old, srcdir, name), mask(new, srcdir, name), "recorded", "now",
                lineterm="", n=0)))
            print(new)
        return ".. output: %s\n%s.. end\n" % (name, new)

    doc = BLOCK.sub(replace, doc)
    if mode == "--write":
        with open(readme, "w", encoding="utf-8") as f:
            f.write(doc)
    elif bad:
        print("regen.py: %d example(s) changed; run examples/regen.py --write" % bad)
        sys.exit(1)


if __name__ == "__main__":
    main()
