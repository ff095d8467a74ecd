#!/usr/bin/env bash
# seeds.sh N BUILD... - the seed sweep (make test-seeds): every numeric check of the C tests
# (check.h's CHECK_BOUND: kernels against the reference and the scalar set, gradients against
# differences, batches in parts) rerun with CHARPIPE_TEST_SEED = 0 .. N-1 (0 is the suite's
# own data) in each BUILD directory (its tests/), two runs at a time; then the export against
# its references (tests/seeds_export.sh) over the same seeds. Prints, per check, the worst
# ratio of error to bound, the seed and build where it occurred and what was checked there.
# Exit status 1 if a check failed (a ratio of 1 or more, or any other failure) or a program
# crashed. SEEDS_PROGS="test_charrnn ..." sweeps only those programs, SEEDS_EXPORT=0 leaves
# the export out, CHARPIPE_TEST_ONLY=NAME,... only those tests (for a quicker look).
set -u
N=${1:?usage: seeds.sh N BUILD...}; shift
[ $# -gt 0 ] || set -- build
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; trap 'exit 130' INT TERM
PROGS=${SEEDS_PROGS:-test_kern test_lstm test_charrnn}

# one job per (build, program, seed): "build prog seed" lines, the slow programs first
for b in "$@"; do
    for p in $PROGS; do
        [ -x "$b/tests/$p" ] || { echo "seeds.sh: no $b/tests/$p (make $b/tests/$p)" >&2; exit 2; }
    done
done
t0=$SECONDS
for s in $(seq 0 $((N - 1))); do for b in "$@"; do for p in $PROGS; do echo "$b $p $s"; done; done; done |
    xargs -P 2 -L 1 sh -c '
        f="$0/$(echo "$1" | tr / _).$2.$3"
        CHARPIPE_TEST_SEED=$3 CHARPIPE_TEST_BOUNDS=1 "$1/tests/$2" > "$f.out" 2> "$f.err"
        echo $? > "$f.rc"' "$out"
echo "C tests: $N seeds x $# builds in $((SECONDS - t0)) s" >&2

# the exported models against numpy's and torch's losses, the same seeds (plain build's tools)
t0=$SECONDS
if [ "${SEEDS_EXPORT:-1}" != 0 ]; then
    bash "$here/seeds_export.sh" "$N" > "$out/export.bounds" 2> "$out/export.err"
    echo $? > "$out/export.rc"
    echo "export: $N seeds in $((SECONDS - t0)) s" >&2
else
    : > "$out/export.bounds"; echo 0 > "$out/export.rc"
fi

# "# bound KEY RATIO WHERE..." lines of each run, tagged with the run's seed and build
fails=0
for f in "$out"/*.rc; do
    run=${f%.rc}; base=${run##*/}
    if [ "$(cat "$f")" != 0 ] || grep -q '^FAIL' "$run.out" 2>/dev/null; then
        fails=$((fails + 1))
        echo "--- failed: $base (exit $(cat "$f"))"
        { grep '^FAIL' "$run.out" 2>/dev/null; head -c 1500 "$run.err"; } | sed 's/^/    /'
    fi
done
for f in "$out"/*.out "$out/export.bounds"; do
    base=${f##*/}; base=${base%.out}; seed=${base##*.}; build=${base%%.*}
    [ "$base" = export.bounds ] && { seed=; build=bin; }
    sed -n 's/^# bound //p' "$f" | awk -v seed="$seed" -v build="$build" '
        { s = seed; if (s == "") { s = $3; $3 = "" }    # export lines carry their seed
          key = $1; r = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); print key, r, s, build, $0 }'
done | awk '
    { key = $1; r = $2 + 0
      if (!(key in worst) || r > worst[key] || $2 ~ /nan/) {
          worst[key] = $2 ~ /nan/ ? 1e300 : r; seed[key] = $3; build[key] = $4
          where = $0; for (i = 1; i <= 4; i++) sub(/^[^ ]+ /, "", where); at[key] = where }
      n[key]++ }
    END {
      printf "%-54s %10s %5s  %-10s %s\n", "check", "worst", "seed", "build", "where"
      for (k in worst) printf "%-54s %10.4g %5s  %-10s %s\n", k, worst[k], seed[k], build[k], at[k] | "sort"
      close("sort")
      for (k in worst) if (worst[k] >= 1) bad++
      printf "%d checks, %d with a ratio of 1 or more\n", length(worst), bad
      exit bad > 0 }' || fails=$((fails + 1))
[ "$(cat "$out/export.rc")" = 0 ] || { fails=$((fails + 1)); echo "--- export sweep failed:"; tail -20 "$out/export.err"; }
[ $fails -eq 0 ]
