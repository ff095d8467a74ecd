#!/usr/bin/env bash
# sample_count.sh BIN TEXT [CHARS] - sample --count N (N samples as one batch) against N
# separate runs of sample, for N = 1, 8, 64: total characters/s of each and their ratio, with
# the same model, seed and options (a model of H 128 on the first 200k characters of TEXT,
# untrained: the speed does not depend on the weights). CHARS per sample in stateful mode
# (default 20000; window mode does 1/50 of it). Run by run.sh; quick by itself with a small
# CHARS (e.g. 2000). Timings on a loaded machine: compare the ratios, not the figures.
set -u -o pipefail
BIN=$(cd "${1:?BIN}" && pwd); TEXT=${2:?TEXT}; C=${3:-20000}
export PATH="$BIN:$PATH"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
head -c 200000 "$TEXT" | vocab | window -n 40 | train -e 0 -H 128 -o "$tmp/m" 2>/dev/null \
    || { echo "sample_count: train failed"; exit 1; }
now() { date +%s.%N; }
printf '%-9s %4s %16s %16s %8s\n' mode N "batch chars/s" "N runs chars/s" ratio
for mode in stateful window; do
    c=$C; [ $mode = window ] && c=$((C / 50))
    for N in 1 8 64; do
        t0=$(now)
        sample -m "$tmp/m" --$mode --count $N -n $c -t 1 --rng-seed 1 --seed "First Citizen:" > "$tmp/b" || exit 1
        t1=$(now)
        for i in $(seq 0 $((N - 1))); do
            sample -m "$tmp/m" --$mode -n $c -t 1 --rng-seed $((1 + i)) --seed "First Citizen:" || exit 1
        done > "$tmp/s"
        t2=$(now)
        awk -v m=$mode -v n=$N -v c=$c -v a="$t0" -v b="$t1" -v d="$t2" 'BEGIN {
            x = n * c / (b - a); y = n * c / (d - b)
            printf "%-9s %4d %16.0f %16.0f %7.2fx\n", m, n, x, y, x / y }'
    done
done
echo "(ratio = batch / separate runs; the same N samples either way: sample i is the run with --rng-seed 1+i)"
