#!/usr/bin/env bash
# Instructions per engine round trip (`start` + `finish`, 16 deployments unless given), per
# strategy, for the plain round trip and the one with affinity and hedging on (see
# engine/examples/round_trip.rs). Instruction counts do not grow when other work shares the
# cores, unlike wall time. Counted by valgrind's callgrind (the VMs have no hardware counters
# for `perf stat`). Each figure is the difference between a run of 40,000 and one of 20,000
# iterations, divided by 20,000, so config parsing and engine construction cancel out.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p switchyard-engine --example round_trip
bin=${CARGO_TARGET_DIR:-target}/release/examples/round_trip
n=${1:-16}
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" "$n" 2>&1 |
        awk '/Collected :/ { print $4 }'
}
printf '%-22s %10s %10s\n' strategy plain sessions
for s in random weighted-round-robin least-latency least-outstanding peak-ewma capacity-aware \
    error-weighted adaptive cost-aware; do
    row=()
    for mode in plain sessions; do
        a=$(count "$s" 20000 "$mode")
        b=$(count "$s" 40000 "$mode")
        row+=("$(((b - a) / 20000))")
    done
    printf '%-22s %10s %10s\n' "$s" "${row[0]}" "${row[1]}"
done
