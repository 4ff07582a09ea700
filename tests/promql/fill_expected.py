#!/usr/bin/env python3
"""Fill `exp_samples` in promtool rule-test files with what promtool computes.

Usage: fill_expected.py [--promtool PATH] FILE.yml...

For each test group the script writes a copy of the group with every
`exp_samples` emptied, runs `promtool test rules` on it and parses the
"got:" line that promtool prints for each case whose result is not empty.
It then rewrites the `exp_samples:` block of each case in place, keeping
every other line (comments included) as written.

The rewrite is line based, so the files must keep the layout of this corpus:
test groups start with `  - name:` and each `promql_expr_test` entry is
`      - expr: ...`, `        eval_time: ...`, `        exp_samples: ...`.

A result that contains NaN is an error: promtool 2.42 compares samples with
reflect.DeepEqual, under which NaN never equals NaN, so such a case must
assert NaN through `x != bool x` instead.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

import yaml

GOT_RE = re.compile(r'^\s*expr: (".*"), time: (.*),$')


def parse_go_string(text, pos):
    """Parse a Go double-quoted string literal at text[pos] into (value, end)."""
    assert text[pos] == '"', text[pos:]
    out = []
    i = pos + 1
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
               "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
    while text[i] != '"':
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = text[i + 1]
        if e in escapes:
            out.append(escapes[e])
            i += 2
        elif e == "x":
            out.append(chr(int(text[i + 2:i + 4], 16)))
            i += 4
        elif e == "u":
            out.append(chr(int(text[i + 2:i + 6], 16)))
            i += 6
        elif e == "U":
            out.append(chr(int(text[i + 2:i + 10], 16)))
            i += 10
        else:
            raise ValueError(f"unknown escape in {text}")
    return "".join(out), i + 1


def parse_samples(text):
    """Parse promtool's `{a="b"} 1E+00, {} 2E+00` (or `nil`) into a list."""
    if text == "nil":
        return []
    samples = []
    i = 0
    while i < len(text):
        assert text[i] == "{", text[i:]
        i += 1
        labels = []
        while text[i] != "}":
            eq = text.index("=", i)
            name = text[i:eq]
            value, i = parse_go_string(text, eq + 1)
            labels.append((name, value))
            if text.startswith(", ", i):
                i += 2
        i += 2  # "} "
        end = text.find(", {", i)
        if end < 0:
            end = len(text)
        samples.append((labels, float(text[i:end])))
        i = end + 2
    return samples


def yaml_quote(s):
    return "'" + s.replace("'", "''") + "'"


def format_labels(labels):
    name = ""
    rest = []
    for key, value in labels:
        if key == "__name__":
            name = value
        else:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            rest.append(f'{key}="{escaped}"')
    return name + "{" + ", ".join(rest) + "}"


def format_value(v):
    if v == float("inf"):
        return ".inf"
    if v == float("-inf"):
        return "-.inf"
    return repr(v)


def group_without_expectations(doc, group):
    """Return a one-group test file whose cases all expect nothing."""
    copy = dict(group)
    copy["promql_expr_test"] = [
        {"expr": c["expr"], "eval_time": c["eval_time"], "exp_samples": []}
        for c in group.get("promql_expr_test", [])
    ]
    copy.pop("alert_rule_test", None)
    return {"evaluation_interval": doc.get("evaluation_interval", "1m"), "tests": [copy]}


def run_promtool(promtool, test_file):
    """Run `promtool test rules` on test_file (a dict) and return its stderr."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(test_file, f)
        path = f.name
    try:
        proc = subprocess.run([promtool, "test", "rules", path], capture_output=True, text=True)
    finally:
        os.unlink(path)

    if proc.returncode != 0 and "FAILED:" not in proc.stderr:
        raise SystemExit(f"promtool failed:\n{proc.stderr}")
    return proc.stderr


def run_group(promtool, doc, group):
    """Run promtool on one group with emptied expectations.

    Returns a dict from (expr, eval time as promtool prints it) to samples.
    Cases whose result is empty pass and are missing from the dict.
    """
    lines = run_promtool(promtool, group_without_expectations(doc, group)).splitlines()

    results = {}
    for n, line in enumerate(lines):
        m = GOT_RE.match(line)
        if not m:
            if line.strip() and not line.strip().startswith(("FAILED", "exp:", "got:")):
                raise SystemExit(f"group {group.get('name')!r}: unexpected promtool output: {line}")
            continue
        expr = parse_go_string(m.group(1), 0)[0]
        got = lines[n + 2].strip()
        assert got.startswith("got: "), got
        results[(expr, m.group(2))] = parse_samples(got[len("got: "):])
    return results


def go_duration(text):
    """Normalise a duration as Go's model.Duration.String prints it (10m30s, 0s)."""
    ms = 0
    units = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000,
             "w": 604800000, "y": 31536000000}
    for num, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", str(text)):
        ms += int(num) * units[unit]
    if str(text).strip() == "0":
        ms = 0
    if ms == 0:
        return "0s"
    out = ""
    for unit in ["y", "w", "d", "h", "m", "s", "ms"]:
        size = units[unit]
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


def render(samples, indent):
    if not samples:
        return [" " * indent + "exp_samples: []"]
    lines = [" " * indent + "exp_samples:"]
    for labels, value in sorted(samples, key=lambda s: s[0]):
        if value != value:
            raise ValueError("NaN")
        lines.append(" " * indent + "  - labels: " + yaml_quote(format_labels(labels)))
        lines.append(" " * indent + "    value: " + format_value(value))
    return lines


def rewrite(path, text, per_group):
    """Return text with each `exp_samples:` block replaced, and the block count."""
    out = []
    group = -1
    expr = None
    time = None
    lines = text.splitlines()
    count = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("  - name:") or line.startswith("  - interval:"):
            group += 1
        m = re.match(r"^      - expr: (.*)$", line)
        if m:
            expr = yaml.safe_load(m.group(1))
        m = re.match(r"^        eval_time: (.*)$", line)
        if m:
            time = go_duration(yaml.safe_load(m.group(1)))

        if not re.match(r"^        exp_samples:", line):
            out.append(line)
            i += 1
            continue

        samples = per_group[group].get((expr, time), [])
        try:
            out.extend(render(samples, 8))
        except ValueError:
            raise SystemExit(f"{path}: {expr!r} at {time} returns NaN. Write the case as `expr != bool expr`.")
        count += 1
        # Skip the old block: every line indented deeper than exp_samples.
        i += 1
        while i < len(lines) and lines[i].startswith("          "):
            i += 1
    return "\n".join(out) + "\n", count


def fill_file(promtool, path):
    with open(path) as f:
        text = f.read()
    doc = yaml.safe_load(text)
    per_group = [run_group(promtool, doc, g) for g in doc["tests"]]

    new_text, count = rewrite(path, text, per_group)
    cases = sum(len(g.get("promql_expr_test", [])) for g in doc["tests"])
    if count != cases:
        raise SystemExit(f"{path}: found {count} exp_samples lines for {cases} cases. Keep the corpus layout.")

    with open(path, "w") as f:
        f.write(new_text)
    print(f"{path}: {count} cases filled")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    for path in args.files:
        fill_file(args.promtool, path)


if __name__ == "__main__":
    main()
