#!/usr/bin/env bash
# Regenerates results/examples/ from two real runs of the default suite at its quick
# size (EVBENCH_SUITE_SIZE=quick: pipetest, pingpong and http cases, 5 judged repeats
# each, probes on when they load; schema v2), then every rendering of them. Needs the
# eBPF object (`cargo xtask build` once); run as root for kernel figures. About 3
# minutes on the project's 2-CPU VM. `regenerate.sh render` re-renders the committed
# result files without measuring again. Also rewrites the example in results/SCHEMA.md
# from result.json (schema_example.py; needs python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
ex=results/examples
export EVBENCH_EBPF_OBJ="${EVBENCH_EBPF_OBJ:-$PWD/target/bpfel-unknown-none/release/bench-ebpf}"
cargo build -q --release -p bench-cli --bin evbench
evbench=target/release/evbench
if [ "${1:-}" != render ]; then
  EVBENCH_SUITE_SIZE=quick $evbench run --repeat 5 --seed 1 -q -o $ex/result.json > /dev/null
  EVBENCH_SUITE_SIZE=quick $evbench run --repeat 5 --seed 2 -q -o $ex/current.json > /dev/null
fi
# SCHEMA.md's example is this result, shortened: it can never be an older schema.
python3 $ex/schema_example.py $ex/result.json results/SCHEMA.md
rm -rf $ex/svg $ex/compare-svg
$evbench report $ex/result.json --svg $ex/svg --html $ex/report.html --hlog $ex/result.hlog \
  --csv $ex/result.csv > $ex/report.txt
$evbench report $ex/result.json --csv $ex/repeats.csv --csv-repeats > /dev/null
$evbench report $ex/result.json --markdown > $ex/report.md
# compare exits 1 when something regressed: the example keeps whatever it says.
$evbench compare $ex/result.json $ex/current.json --markdown $ex/compare.md \
  --svg $ex/compare-svg --html $ex/compare.html > $ex/compare.txt || true
if command -v rsvg-convert >/dev/null; then
  mkdir -p /tmp/evbench-examples
  for f in $ex/svg/*.svg $ex/compare-svg/*.svg; do
    rsvg-convert -b white "$f" -o "/tmp/evbench-examples/$(basename "${f%.svg}").png"
  done
  echo "PNG renderings of the SVGs in /tmp/evbench-examples (look at them)"
fi
echo "regenerated $ex"
