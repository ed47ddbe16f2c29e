#!/usr/bin/env python3
"""Instructions per call of the named functions in a callgrind output file.

    per-call.py CALLGRIND_OUT FUNCTION_SUBSTRING...

For each function whose name contains a substring: the inclusive instruction count (every call, from every
caller), the number of calls, and their ratio. Uses callgrind_annotate's caller tree.
"""
import re
import subprocess
import sys


def main():
    out, names = sys.argv[1], sys.argv[2:]
    text = subprocess.run(
        ["callgrind_annotate", "--tree=caller", "--inclusive=yes", out],
        capture_output=True, text=True, check=True,
    ).stdout
    calls, cost = {}, {}
    pending = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+<\s.*\((\d[\d,]*)x\)", line)
        if m:
            pending.append(int(m.group(2).replace(",", "")))
            continue
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+\*\s+(\S+?):(.+?)(\s\[.*\])?$", line)
        if m:
            fn = m.group(3)
            for name in names:
                # callgrind_annotate may list one function as several entries (its lines under an absolute
                # and a relative path, or inlined lines under another file); the entries with callers are
                # the function itself, each with the inclusive cost of the calls it lists.
                if name in fn and pending:
                    key = (name, fn)
                    calls[key] = calls.get(key, 0) + sum(pending)
                    cost[key] = cost.get(key, 0) + int(m.group(1).replace(",", ""))
            pending = []
            continue
        if not line.strip():
            pending = []
    for name in names:
        keys = [k for k in calls if k[0] == name and calls[k]]
        if not keys:
            print(f"{name}: not found")
            continue
        # The out-of-line copy with the most calls is the one the workload uses.
        key = max(keys, key=lambda k: calls[k])
        print(f"{name}: {cost[key] / calls[key]:.0f} instructions per call ({calls[key]} calls)")


main()
