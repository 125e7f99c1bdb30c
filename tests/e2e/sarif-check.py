#!/usr/bin/env python3
"""Checks a SARIF file against the required properties of the SARIF 2.1.0
schema (sarif-schema-2.1.0.json, OASIS) that lockhound's output uses:

  sarifLog: version == "2.1.0", runs (array)      run: tool
  tool: driver                                    toolComponent: name
  reportingDescriptor (rules[]): id               result: message
  message: text or id                             stack: frames
  physicalLocation: artifactLocation or address   region.startLine >= 1
  ruleIndex in range and rules[ruleIndex].id == ruleId
  partialFingerprints: strings; relatedLocations[].id: integer >= -1

    sarif-check.py FILE [MIN_RESULTS]   exits 1 with the first problem
"""
import json
import sys


def fail(msg):
    print("sarif-check: " + msg, file=sys.stderr)
    sys.exit(1)


def message(m, where):
    if not isinstance(m, dict) or not (isinstance(m.get("text"), str) or "id" in m):
        fail(where + ": message without text or id")


def location(loc, where):
    if not isinstance(loc, dict):
        fail(where + ": location is not an object")
    if "id" in loc and (not isinstance(loc["id"], int) or loc["id"] < -1):
        fail(where + ": bad location id")
    pl = loc.get("physicalLocation")
    if pl is not None:
        if "artifactLocation" not in pl and "address" not in pl:
            fail(where + ": physicalLocation without artifactLocation or address")
        al = pl.get("artifactLocation", {})
        if "uri" in al and not isinstance(al["uri"], str):
            fail(where + ": uri is not a string")
        reg = pl.get("region")
        if reg is not None and (not isinstance(reg.get("startLine"), int)
                                or reg["startLine"] < 1):
            fail(where + ": region.startLine is not an integer >= 1")
    for ll in loc.get("logicalLocations", []):
        if not isinstance(ll, dict):
            fail(where + ": logicalLocation is not an object")
    if "message" in loc:
        message(loc["message"], where)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        log = json.load(f)
    minimum = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    if log.get("version") != "2.1.0":
        fail("version is not 2.1.0")
    runs = log.get("runs")
    if not isinstance(runs, list) or not runs:
        fail("no runs")
    total = 0
    for run in runs:
        driver = run.get("tool", {}).get("driver")
        if not isinstance(driver, dict) or not isinstance(driver.get("name"), str):
            fail("run without tool.driver.name")
        rules = driver.get("rules", [])
        for r in rules:
            if not isinstance(r.get("id"), str):
                fail("rule without id")
        for i, res in enumerate(run.get("results", [])):
            where = "results[%d]" % i
            total += 1
            message(res.get("message"), where)
            if "ruleIndex" in res:
                ri = res["ruleIndex"]
                if not isinstance(ri, int) or not 0 <= ri < len(rules):
                    fail(where + ": ruleIndex out of range")
                if res.get("ruleId") != rules[ri]["id"]:
                    fail(where + ": ruleId does not match rules[ruleIndex].id")
            if res.get("level", "warning") not in ("none", "note", "warning", "error"):
                fail(where + ": bad level")
            for loc in res.get("locations", []) + res.get("relatedLocations", []):
                location(loc, where)
            for st in res.get("stacks", []):
                if not isinstance(st.get("frames"), list):
                    fail(where + ": stack without frames")
                for fr in st["frames"]:
                    if "location" in fr:
                        location(fr["location"], where + " frame")
            for k, v in res.get("partialFingerprints", {}).items():
                if not isinstance(v, str):
                    fail(where + ": partialFingerprints values must be strings")
    if total < minimum:
        fail("%d results, expected at least %d" % (total, minimum))


if __name__ == "__main__":
    main()
