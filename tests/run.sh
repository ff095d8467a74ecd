#!/usr/bin/env bash
# run.sh O BIN [TEST...] - run every C test in O/tests and every tests/test_*.sh (or only the
# TESTs named, e.g. test_model.sh or test_kern), a line each (and a line per skipped check
# with its reason), then one line "N passed, M failed, K skipped". A program
# that exits non-zero without reporting a FAIL (a crash, a sanitizer report) counts as one
# failure. Exit status 1 if anything failed. The C tests' fingerprints of the data they drew
# ("# data" lines, check.h) are kept for test_seeds.sh (SUMS) and not shown.
set -u
O=${1:-build}; BIN=${2:-bin}
shift 2 2>/dev/null || shift $#
only=" $* "
matched=0
wanted() { [ "$only" = "  " ] || [[ $only == *" $1 "* ]] && matched=$((matched + 1)); }
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "$BIN" && pwd)
pass=0; failed=0; skipped=0
log=$(mktemp); sums=$(mktemp); trap 'rm -f "$log" "$sums"' EXIT
CTESTS=$(cd "$O/tests" 2>/dev/null && pwd)

run_one() {   # NAME CMD...
    local name=$1 rc; shift
    local tmp t0; tmp=$(mktemp -d); t0=$SECONDS
    ( cd "$tmp" && BIN="$BIN" TMP="$tmp" TESTS="$here" CTESTS="$CTESTS" SUMS="$sums" "$@" ) >"$log" 2>&1; rc=$?
    rm -rf "$tmp"
    local p f s
    p=$(grep -c '^ok ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; echo "FAIL $name: exit status $rc" >>"$log"
    fi
    pass=$((pass + p)); failed=$((failed + f)); skipped=$((skipped + s))
    grep '^# data ' "$log" >>"$sums"
    if [ "$f" -gt 0 ]; then
        echo "--- $name"; grep -v '^# data ' "$log"
    else
        printf '%-28s %3d ok%s (%d s)\n' "$name" "$p" "$([ "$s" -gt 0 ] && echo ", $s skipped")" $((SECONDS - t0))
    fi
    # every skipped check says why, under its file's line
    sed -n 's/^SKIP /    skipped: /p' "$log"
}

for t in "$O"/tests/test_*; do
    case $t in *.o|*.d) continue ;; esac
    [ -x "$t" ] && wanted "$(basename "$t")" || continue
    run_one "$(basename "$t")" env CHARPIPE_TEST_SUMS=1 "$CTESTS/$(basename "$t")"
done
# The sanitizer build runs every file but those marked "# plain build only: REASON" (valgrind
# cannot run ASan code; the MPI train is the plain build's): the plain half runs them.
san=; grep -q __asan_init "$BIN/vocab" 2>/dev/null && san=1
for t in "$here"/test_*.sh; do
    [ -f "$t" ] && wanted "$(basename "$t")" || continue
    why=$(sed -n 's/^# plain build only: //p' "$t")
    if [ -n "$san" ] && [ -n "$why" ]; then
        printf '%-28s not in this build: %s\n' "$(basename "$t")" "$why"; continue
    fi
    run_one "$(basename "$t")" bash "$t"
done
if [ $matched -eq 0 ]; then
    echo "run.sh: no test named$only- see $O/tests/ and tests/test_*.sh" >&2; exit 2
fi
echo "$pass $failed $skipped" > "$O/test-counts"
echo "${O##*/}: $pass passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
