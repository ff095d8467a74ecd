# test_valgrind.sh - a short end-to-end pipeline under valgrind memcheck: no invalid reads or
# writes, no use of uninitialised values, no leaks ("definitely lost"), in any tool of it.
# SKIPs when valgrind is missing.
# plain build only: valgrind cannot run ASan code
. "$TESTS/lib.sh"
cd "$TMP" || exit 1
if ! command -v valgrind >/dev/null 2>&1; then
    skip "valgrind pipeline" "valgrind is not installed (apt-get install valgrind)"; exit 0
fi
if grep -q __asan_init "$BIN/vocab" 2>/dev/null; then
    skip "valgrind pipeline" "sanitizer build (ASan and valgrind exclude each other)"; exit 0
fi
VG="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite"
for i in $(seq 4); do printf 'To be, or not to be: that is the question. %d\n' "$i"; done >t.txt

vg() {   # NAME IN OUT CMD...: CMD <IN >OUT under valgrind exits 0 and valgrind reports nothing
    local name=$1 in=$2 out=$3 rc; shift 3
    $VG "$@" <"$in" >"$out" 2>"$TMP/err"; rc=$?
    if [ $rc -eq 0 ] && ! grep -q '^==[0-9][0-9]*==' "$TMP/err"; then pass "$name"
    else fail "$name" "exit $rc: $(grep '^==' "$TMP/err" | head -20)"; fi
}
vg "valgrind vocab" t.txt v.ts vocab
vg "valgrind vocab -v" t.txt v2.ts vocab -v v.ts --chunk 16
vg "valgrind window" v.ts w.ts window -n 8 -b 32
vg "valgrind onehot" w.ts o.ts onehot
vg "valgrind tdump" o.ts /dev/null tdump --json -a
vg "valgrind train" w.ts /dev/null train -e 1 -H 8 -j 2 --no-progress -o m.model
vg "valgrind sample" /dev/null /dev/null sample -m m.model --seed 'To be' -n 40 -t 0.8 --rng-seed 3
vg "valgrind sample --stateful" /dev/null /dev/null sample -m m.model -n 40 --stateful --rng-seed 3
vg "valgrind sample --count --stop --json" /dev/null /dev/null sample -m m.model --seed 'To be' -n 40 -t 1 --count 3 --stop o --json --rng-seed 3
vg "valgrind sample --beam --stop" /dev/null /dev/null sample -m m.model --seed 'To be' -n 30 --beam 4 --beam-all --stop ' '
printf '%s\n' '{"prompt": "To be", "n": 20, "stop": ["e"], "count": 2}' 'not json' '' '{"prompt": "QQ"}' > req.jsonl
vg "valgrind sample --prompts" req.jsonl /dev/null sample -m m.model --stateful --prompts
vg "valgrind evaluate (text)" t.txt /dev/null evaluate -m m.model -j 2
vg "valgrind evaluate (stream)" w.ts /dev/null evaluate -m m.model --json
vg "valgrind export-model" /dev/null m.st export-model -m m.model
vg "valgrind export-model --layout keras" /dev/null /dev/null export-model -m m.model --layout keras -o m.k.st
vg "valgrind train --init" w.ts /dev/null train --init m.model -e 1 -j 2 --no-progress -o i.model
# and on a damaged stream: errors are reported without memory errors
head -c $(($(wc -c <w.ts) / 2)) w.ts >cut.ts
for t in "window -n 2" onehot tdump "train -H 4 -o x.model" "evaluate -m m.model"; do
    $VG $t <cut.ts >/dev/null 2>"$TMP/err"; rc=$?
    if [ $rc -eq 1 ] && ! grep -q '^==[0-9][0-9]*==' "$TMP/err"; then pass "valgrind ${t%% *} on a truncated stream"
    else fail "valgrind ${t%% *} on a truncated stream" "exit $rc: $(head -c 600 "$TMP/err")"; fi
done
exit 0
