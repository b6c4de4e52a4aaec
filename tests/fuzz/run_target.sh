#!/usr/bin/env bash
# Run one libFuzzer target for a while from a scratch copy of its corpus (ctest's fuzz tests and
# scripts/fuzz both use this; the repository's corpus is never written).
#   run_target.sh TARGET_BINARY CORPUS_DIR SECONDS WORK_DIR
# WORK_DIR is emptied, then holds corpus/ (the seeds plus what the run found), crashes/ (any
# input that crashed, leaked or timed out) and log. Prints one summary line (runs, exec/s,
# coverage, corpus size); on a failure, the end of the log and the command that replays each
# crash, and exits 1.
set -uo pipefail
[ $# -eq 4 ] || { echo "usage: $0 TARGET_BINARY CORPUS_DIR SECONDS WORK_DIR" >&2; exit 2; }
target=$1 seeds=$2 seconds=$3 work=$4
name=$(basename "$target")

rm -rf "$work"
mkdir -p "$work/corpus" "$work/crashes"
if [ -d "$seeds" ]; then
    cp -R "$seeds/." "$work/corpus/"
fi
# -timeout: one input taking seconds is a bug too (a loop, a quadratic path).
"$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/crashes/" "$work/corpus" >"$work/log" 2>&1
rc=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/log" | tail -1)
files=$(find "$work/corpus" -type f | wc -l)
echo "$name: ${runs:-?} runs in $seconds s (${rate:-?} exec/s), ${cov:-cov: ?}, corpus $files files"

mapfile -t crashes < <(find "$work/crashes" -type f 2>/dev/null | sort)
if [ $rc -ne 0 ] || [ ${#crashes[@]} -gt 0 ]; then
    tail -40 "$work/log"
    echo "$name FAILED (exit $rc); log: $work/log"
    for c in "${crashes[@]}"; do
        echo "  reproduce: $target $c"
    done
    exit 1
fi
