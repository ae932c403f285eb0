#!/usr/bin/env python3
"""Rewrites the example in results/SCHEMA.md from results/examples/result.json, so the
example is always the current schema as evbench writes it (regenerate.sh runs this).

The example is one ping-pong case of that document, shortened: its first judged repeat
(with its probed pass), two histograms per repeat, `hdr` strings cut to their first 24
characters, the per-thread and per-task details replaced by "…", two mitigations.
Everything else is the document's own JSON, field for field.
Usage: schema_example.py [RESULT.json [SCHEMA.md]]
"""
import json
import sys

RESULT = sys.argv[1] if len(sys.argv) > 1 else "results/examples/result.json"
SCHEMA = sys.argv[2] if len(sys.argv) > 2 else "results/SCHEMA.md"
BEGIN = "<!-- example: written by results/examples/schema_example.py from result.json -->"
END = "<!-- end of example -->"
CUT = "…"


def cut_hists(hists, keep):
    out = {}
    for name in keep:
        if name in hists:
            h = dict(hists[name])
            if "hdr" in h:
                h["hdr"] = h["hdr"][:24] + CUT
            out[name] = h
    return out


def cut_details(details):
    out = {}
    for k, v in details.items():
        if k == "kernel" and isinstance(v, dict):
            out[k] = {
                "sets": v.get("sets"),
                "window_ns": v.get("window_ns"),
                "threads": [CUT],
            }
        else:
            out[k] = [CUT] if isinstance(v, list) else CUT
    return out


def cut_repeat(r, keep):
    r = dict(r)
    r["histograms"] = cut_hists(r.get("histograms", {}), keep)
    r["details"] = cut_details(r.get("details", {}))
    if "probed" in r:
        r["probed"] = cut_repeat(r["probed"], keep[:1])
    return r


def example(doc):
    d = dict(doc)
    mit = d["machine"].get("mitigations", {})
    d["machine"] = dict(d["machine"], mitigations=dict(list(mit.items())[:2]))
    case = next(c for c in d["cases"] if c["id"].startswith("pingpong/pipe/block/pin=same"))
    c = dict(case)
    keep = ["round_trip_ns", "kernel.offcpu_ns"]
    c["histograms"] = {k: v for k, v in c["histograms"].items() if k in keep}
    c["repeats"] = [cut_repeat(c["repeats"][0], keep)]
    if c.get("warmup_repeats"):
        c["warmup_repeats"] = [CUT]
    d["cases"] = [c]
    return d


def main():
    doc = json.load(open(RESULT))
    text = json.dumps(example(doc), indent=2, ensure_ascii=False)
    n_cases = len(doc["cases"])
    reps = {len(c["repeats"]) for c in doc["cases"]}
    intro = (
        f"One case of `results/examples/result.json` (a real run of the default suite at its quick\n"
        f"size on this project's 2-CPU VM: {n_cases} cases, {'/'.join(map(str, sorted(reps)))} judged repeats each, "
        f"probes {'on' if doc['probes']['on'] else 'off'}),\n"
        f"shortened by `results/examples/schema_example.py`: its first judged repeat (with its\n"
        f"probed pass), two histograms, `hdr` strings cut, per-thread and per-task details and the\n"
        f"warm-up repeat replaced by \"…\", two mitigations. Every field is as evbench wrote it.\n"
    )
    block = f"{BEGIN}\n{intro}\n```json\n{text}\n```\n{END}"
    schema = open(SCHEMA).read()
    if BEGIN not in schema or END not in schema:
        sys.exit(f"{SCHEMA}: no example markers ({BEGIN!r} … {END!r})")
    head, rest = schema.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    open(SCHEMA, "w").write(head + block + tail)
    print(f"rewrote the example in {SCHEMA} from {RESULT}")


if __name__ == "__main__":
    main()
