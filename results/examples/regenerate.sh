#!/usr/bin/env bash
# Regenerates results/examples/ from two real runs of three ping-pong cases (5 repeats
# each, probes on when they load), then every rendering of them. Needs the eBPF object
# (`cargo xtask build` once). Run as root for kernel figures. `regenerate.sh render`
# re-renders the committed result files without measuring again.
set -euo pipefail
cd "$(dirname "$0")/../.."
ex=results/examples
export EVBENCH_EBPF_OBJ="${EVBENCH_EBPF_OBJ:-$PWD/target/bpfel-unknown-none/release/bench-ebpf}"
cargo build -q --release -p bench-cli --bin evbench --example results_example
gen=target/release/examples/results_example
evbench=target/release/evbench
if [ "${1:-}" != render ]; then
  $gen $ex/result.json 5 20000
  $gen $ex/current.json 5 20000
fi
rm -rf $ex/svg
$evbench report $ex/result.json --svg $ex/svg --html $ex/report.html --hlog $ex/result.hlog > $ex/report.txt
$evbench report $ex/result.json --markdown > $ex/report.md
# compare exits 1 when something regressed: the example keeps whatever it says.
$evbench compare $ex/result.json $ex/current.json --markdown $ex/compare.md > $ex/compare.txt || true
for f in $ex/svg/*.svg; do
  command -v rsvg-convert >/dev/null && rsvg-convert -b white "$f" -o "/tmp/$(basename "${f%.svg}").png"
done
echo "regenerated $ex (PNG renderings of the SVGs in /tmp)"
