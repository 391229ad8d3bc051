"""Turn one benchmark run's wrk outputs and page weights into a Markdown report.

    python bench/report.py --dir RESULTS --page hello=/hello --page home=/ ... [--min-ratio 0.35]

Reads RESULTS/wrk/r<round>-<name>.txt (wrk --latency output) and RESULTS/weight.json.
Every page's requests/second is divided by the `hello` requests/second *of the same round*,
so machine noise between runs cancels out; with several rounds the median ratio is reported.
Exit status: 0 every target met, 1 a target missed, 2 the measurement itself is not valid
(errors or non-2xx answers during the run, a file missing).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def parse_wrk(text: str) -> dict:
    out: dict = {"rps": None, "requests": 0, "non2xx": 0, "errors": 0, "p50": None, "p99": None}
    if m := re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M):
        out["rps"] = float(m.group(1))
    if m := re.search(r"^\s*(\d+) requests in ([\d.]+\w+)", text, re.M):
        out["requests"] = int(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text):
        out["non2xx"] = int(m.group(1))
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        out["errors"] = sum(int(x) for x in m.groups())
    for pct, key in (("50", "p50"), ("99", "p99")):
        if m := re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M):
            out[key] = _ms(m.group(1))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--page", action="append", required=True, help="name=path; first is the base")
    ap.add_argument("--min-ratio", type=float, default=0.35)
    ap.add_argument("--max-kb", type=float, default=60.0)
    ap.add_argument("--setup", default="", help="one line describing the setup, printed on top")
    args = ap.parse_args()

    pages = [tuple(p.split("=", 1)) for p in args.page]
    base_name = pages[0][0]
    rounds = sorted(
        {int(m.group(1)) for f in (args.dir / "wrk").glob("r*-*.txt")
         if (m := re.match(r"r(\d+)-", f.name))}
    )
    problems: list[str] = []
    data: dict[str, list[dict]] = {name: [] for name, _ in pages}
    for r in rounds:
        for name, _ in pages:
            f = args.dir / "wrk" / f"r{r}-{name}.txt"
            if not f.exists():
                problems.append(f"missing {f}")
                continue
            result = parse_wrk(f.read_text())
            if result["rps"] is None:
                problems.append(f"no Requests/sec in {f}")
                continue
            if result["non2xx"]:
                problems.append(f"round {r} {name}: {result['non2xx']} non-2xx/3xx responses")
            if result["errors"]:
                problems.append(f"round {r} {name}: {result['errors']} socket errors")
            result["round"] = r
            data[name].append(result)

    base_by_round = {x["round"]: x["rps"] for x in data[base_name]}
    lines = []
    if args.setup:
        lines += [args.setup, ""]
    lines += [
        f"| page | path | req/s (median of {len(rounds)}) | ratio to {base_name} (median) "
        f"| ratio per round | p50 / p99 latency | target ≥ {args.min_ratio:g} |",
        "| --- | --- | ---: | ---: | --- | --- | --- |",
    ]
    missed = []
    for name, path in pages:
        runs = data[name]
        if not runs:
            lines.append(f"| {name} | `{path}` | – | – | – | – | no data |")
            continue
        rps = statistics.median(x["rps"] for x in runs)
        ratios = [x["rps"] / base_by_round[x["round"]] for x in runs if x["round"] in base_by_round]
        ratio = statistics.median(ratios) if ratios else float("nan")
        p50 = statistics.median(x["p50"] for x in runs if x["p50"] is not None)
        p99 = statistics.median(x["p99"] for x in runs if x["p99"] is not None)
        if name == base_name:
            verdict = "(baseline)"
        elif ratio >= args.min_ratio:
            verdict = "met"
        else:
            verdict = "**missed**"
            missed.append(f"{name} {ratio:.2f} < {args.min_ratio:g}")
        lines.append(
            f"| {name} | `{path}` | {rps:,.0f} | {ratio:.2f} | "
            f"{', '.join(f'{x:.2f}' for x in ratios)} | {p50:.1f} ms / {p99:.1f} ms | {verdict} |"
        )

    weight_file = args.dir / "weight.json"
    if weight_file.exists():
        weight = json.loads(weight_file.read_text())
        lines += [
            "",
            f"| page | HTML (raw → gzip) | CSS gzip | JS gzip | total gzip | "
            f"target < {args.max_kb:g} KB |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for page in weight["pages"]:
            kb = page["total_gz"] / 1024
            ok = kb < args.max_kb
            if not ok:
                missed.append(f"{page['path']} weighs {kb:.1f} KB ≥ {args.max_kb:g} KB")
            lines.append(
                f"| `{page['path']}` | {page['html_bytes'] / 1024:.1f} → "
                f"{page['html_gz'] / 1024:.1f} KB | {page['css_gz'] / 1024:.1f} KB | "
                f"{page['js_gz'] / 1024:.1f} KB | {kb:.1f} KB | "
                f"{'met' if ok else '**missed**'} |"
            )
            problems += [f"{page['path']}: {p}" for p in page["problems"]
                         if "not counted" not in p]
        assets = {a["ref"]: a for page in weight["pages"] for a in page["assets"]}
        lines += ["", "Assets: " + "; ".join(
            f"`{ref}` {a['gz'] / 1024:.1f} KB gzipped ({a['bytes'] / 1024:.1f} KB raw)"
            for ref, a in assets.items()
        ) + f" (gzip level {weight.get('gzip_level', '?')}; 1 KB = 1024 bytes)."]
    else:
        problems.append(f"missing {weight_file}")

    lines.append("")
    if problems:
        lines.append("Measurement problems: " + "; ".join(problems))
    lines.append("Targets missed: " + "; ".join(missed) if missed else "Every target met.")
    text = "\n".join(lines)
    print(text)
    (args.dir / "report.md").write_text(text + "\n", encoding="utf-8")
    if problems:
        return 2
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
