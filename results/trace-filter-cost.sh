#!/bin/sh
# The added cost of `evbench trace --cgroup` / `--comm` on tasks that are NOT traced:
# a ping-pong helper (pipe round trips between two processes) runs outside the targets
# while a session is loaded, alternating: --pid of an idle process (no kernel-side
# selection: its code is pruned), --cgroup of an empty cgroup v2 directory (every other
# task of the machine is checked once per stint), --comm of a name nothing has.
# The floor, the helper with no session loaded, alternates with them ("none").
# Prints ns per round trip for each run; medians at the end.
# Usage: results/trace-filter-cost.sh EVBENCH HELPER ROUNDS PAIRS
set -eu
EV=$1 H=$2 N=$3 PAIRS=$4
CG2=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
CG=$CG2/evbench-cost-$$
mkdir "$CG"
sleep 1000 & IDLE=$!
trap 'kill $IDLE 2>/dev/null; rmdir "$CG" 2>/dev/null' EXIT
one() { # $1: label, rest: evbench trace target args
  label=$1; shift
  if [ "$label" = none ]; then
    t0=$(date +%s%N); "$H" "$N" fork; t1=$(date +%s%N)
    echo "none $(( (t1 - t0) / N ))"
    return
  fi
  err=$(mktemp)
  "$EV" trace "$@" -d 600s >/dev/null 2>"$err" & ev=$!
  # Attached once it says it is tracing.
  i=0; while [ $i -lt 400 ] && ! grep -q "^evbench: tracing" "$err"; do sleep 0.05; i=$((i+1)); done
  sleep 0.3
  t0=$(date +%s%N); "$H" "$N" fork; t1=$(date +%s%N)
  kill -INT $ev; wait $ev || true; rm -f "$err"
  echo "$label $(( (t1 - t0) / N ))"
}
out=$(mktemp)
for p in $(seq "$PAIRS"); do
  one none
  one pid --pid $IDLE
  one cgroup --cgroup "$CG"
  one comm --comm evb-nothing
done | tee "$out"
for k in none pid cgroup comm; do
  vals=$(awk -v k=$k '$1 == k {print $2}' "$out" | sort -n)
  n=$(echo "$vals" | wc -l)
  echo "$k: median $(echo "$vals" | sed -n "$(( (n + 1) / 2 ))p") ns per round trip, runs: $(echo $vals)"
done
rm -f "$out"
