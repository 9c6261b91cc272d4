#!/usr/bin/env python3
"""Prints the markdown table of docs/benchmarks.md from criterion's saved estimates.

Usage: python3 benches/report.py [target/criterion] [group ...]
Reads <dir>/<group>/<runtime>/new/estimates.json for runtime in spindle, tokio, smol and
prints each group's medians with the spindle/tokio and spindle/smol ratios.
"""
import json
import os
import sys

RUNTIMES = ("spindle", "tokio", "smol")


def median_ns(root, group, runtime):
    path = os.path.join(root, group, runtime, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except FileNotFoundError:
        return None


def human(ns):
    if ns is None:
        return "n/a"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    groups = sys.argv[2:] or sorted(
        g for g in os.listdir(root) if os.path.isdir(os.path.join(root, g, "spindle"))
    )
    print("| benchmark | spindle | tokio | smol | spindle/tokio | spindle/smol |")
    print("| --- | --- | --- | --- | --- | --- |")
    for group in groups:
        s, t, m = (median_ns(root, group, r) for r in RUNTIMES)
        ratio = lambda a, b: f"{a / b:.2f}" if a and b else "n/a"
        print(f"| {group} | {human(s)} | {human(t)} | {human(m)} | {ratio(s, t)} | {ratio(s, m)} |")


if __name__ == "__main__":
    main()
