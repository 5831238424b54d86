#!/usr/bin/python3
"""Prints each doctest binary's summary from a meson test log and one total line.

Usage: test-summary.py BUILD_DIR [LABEL]
A binary that died before doctest printed its summary (crash, timeout) counts as one failure.
Exit status: 0 when nothing failed, 1 otherwise.
"""
import json
import re
import sys

build, label = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "tests")
pytest_re = re.compile(r"^=*\s*(?P<body>(?:\d+ \w+(?:, )?)+) in [\d.]+s", re.M)
line_re = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed\s*\|\s*(\d+) skipped")
passed = failed = skipped = 0
try:
    log = open(f"{build}/meson-logs/testlog.json", encoding="utf-8")
except OSError as e:
    print(f"{label}: no test log in {build}: {e}")
    sys.exit(1)
for raw in log:
    t = json.loads(raw)
    out = t.get("stdout", "") or ""
    m = line_re.search(out)
    ok = t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL")
    pm = None if m else pytest_re.search(out)
    if pm:
        counts = {w: int(n) for n, w in re.findall(r"(\d+) (\w+)", pm.group("body"))}
        p = counts.get("passed", 0)
        f = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
        s = counts.get("skipped", 0)
        if not ok and f == 0:
            f = 1
        print(f"  {t['name']:<28} {p:>5} passed, {f} failed, {s} skipped  ({t.get('duration', 0):.1f}s)")
    elif m:
        _, p, f, s = map(int, m.groups())
        if not ok and f == 0:
            f = 1  # the binary failed outside doctest's count (crash after the summary, leak, ...)
        print(f"  {t['name']:<28} {p:>5} passed, {f} failed, {s} skipped  ({t.get('duration', 0):.1f}s)")
    else:
        p, f, s = 0, (0 if ok else 1), 0
        print(f"  {t['name']:<28} {t.get('result')}: no doctest summary")
    passed, failed, skipped = passed + p, failed + f, skipped + s
print(f"{label}: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
