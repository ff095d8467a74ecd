#!/usr/bin/env bash
# run.sh O BIN - run every C test in O/tests and every tests/test_*.sh, then print one line
# "N passed, M failed, K skipped". A program that exits non-zero without reporting a FAIL
# (a crash, a sanitizer report) counts as one failure. Exit status 1 if anything failed.
set -u
O=${1:-build}; BIN=${2:-bin}
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "$BIN" && pwd)
pass=0; failed=0; skipped=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

run_one() {   # NAME CMD...
    local name=$1 rc; shift
    local tmp; tmp=$(mktemp -d)
    ( cd "$tmp" && BIN="$BIN" TMP="$tmp" TESTS="$here" "$@" ) >"$log" 2>&1; rc=$?
    rm -rf "$tmp"
    local p f s
    p=$(grep -c '^ok ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; echo "FAIL $name: exit status $rc" >>"$log"
    fi
    pass=$((pass + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$f" -gt 0 ]; then
        echo "--- $name"; cat "$log"
    else
        printf '%-28s %3d ok%s\n' "$name" "$p" "$([ "$s" -gt 0 ] && echo ", $s skipped")"
    fi
}

for t in "$O"/tests/test_*; do
    case $t in *.o|*.d) continue ;; esac
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$(cd "$(dirname "$t")" && pwd)/$(basename "$t")"
done
for t in "$here"/test_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" bash "$t"
done
echo "$pass $failed $skipped" > "$O/test-counts"
echo "${O##*/}: $pass passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
