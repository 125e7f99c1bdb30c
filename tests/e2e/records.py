#!/usr/bin/env python3
"""Reads lockhound JSON-lines logs for the end-to-end tests.

    records.py LOG EXPR   prints the value of the Python expression EXPR

Every line must be a JSON object and the first a header: anything else
exits 3, so that a malformed log fails the test. EXPR sees:
  recs            all records, in order
  kind(k)         the records of kind k
  lock(id)        the "lock" record of a lock id
  names(inv)      sorted lock names of an inversion's cycle
  stack(ref)      a stack: the frames list itself, or a stack id's frames
  pcs_ok(frames)  every frame has a hex pc, and a module when it has an offset
"""
import json
import sys


def load(path):
    recs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except ValueError as e:
                print("records.py: %s:%d: not JSON: %s" % (path, n, e), file=sys.stderr)
                sys.exit(3)
            if not isinstance(r, dict) or "kind" not in r:
                print("records.py: %s:%d: not a record" % (path, n), file=sys.stderr)
                sys.exit(3)
            recs.append(r)
    if not recs or recs[0].get("kind") != "header" or recs[0].get("lockhound") != 1:
        print("records.py: %s: no header first" % path, file=sys.stderr)
        sys.exit(3)
    for m in recs[0]["modules"]:
        for key in ("index", "path", "build_id", "base"):
            if key not in m:
                print("records.py: module without %s" % key, file=sys.stderr)
                sys.exit(3)
    for r in recs:
        if "pid" not in r or ("time" not in r and r["kind"] != "header"):
            print("records.py: record without pid/time: %s" % r, file=sys.stderr)
            sys.exit(3)
    return recs


def main():
    recs = load(sys.argv[1])
    locks = {r["id"]: r for r in recs if r["kind"] == "lock"}
    stacks = {r["id"]: r["frames"] for r in recs if r["kind"] == "stack"}

    def kind(k):
        return [r for r in recs if r["kind"] == k]

    def lock(i):
        return locks[i]

    def names(inv):
        return sorted(locks[i]["name"] for i in inv["cycle"])

    def stack(ref):
        return ref if isinstance(ref, list) else stacks[ref]

    def pcs_ok(frames):
        return len(frames) > 0 and all(
            f["pc"].startswith("0x") and ("offset" not in f or "module" in f)
            for f in frames)

    env = dict(recs=recs, kind=kind, lock=lock, names=names, stack=stack,
               pcs_ok=pcs_ok, len=len, all=all, any=any, sorted=sorted, set=set)
    print(eval(sys.argv[2], env))


if __name__ == "__main__":
    main()
