# test_oom.sh - resource failures: out of memory (a small ulimit -v) and threads that cannot be
# started give one line and exit 1, never a crash or an abort. See ROBUSTNESS.md.
# Run by tests/run.sh with BIN, TMP and TESTS set.
# plain build only: ASan reserves terabytes of address space, so ulimit -v cannot bound it
. "$TESTS/lib.sh"
cd "$TMP" || exit 1

small_inputs || exit 1

# ---- out of memory: every tool under address-space limits from too small to start to enough.
# Each run must exit 0 with a complete output, or 1 with one line naming the tool; 127 is the
# dynamic loader failing before the tool runs (too small to start at all: not counted).
oom_cases() {
    cat <<'C'
vocab vocab <small.txt
vocab-v vocab -v M.model <small.txt
window window -n 8 <V.ts
window-streams window -n 8 --streams 4 <V.ts
onehot onehot <W.ts
tdump tdump W.ts
train train -H 8 -e 1 -j 2 --no-progress -o out.model <W.ts
train-streams train --streams -n 8 -b 4 -H 8 -e 1 -j 2 --no-progress -o out.model <V.ts
evaluate evaluate -j 2 -m M.model <W.ts
evaluate-streams evaluate -j 2 -m S.model --streams 4 <small.txt
sample sample -m M.model -n 50 --seed hello
C
}
while read -r name cmd; do
    prog=${cmd%% *}; ok=1; failed=0; worked=0
    for kb in $(seq 4000 1000 40000) 60000 100000; do
        rm -f out.model
        (ulimit -v "$kb"; sh -c "$cmd" >out 2>err); rc=$?
        [ $rc = 127 ] && continue
        if [ $rc = 0 ]; then
            worked=$((worked + 1))
            case $name in
                sample) [ -s out ] || { fail "$name out of memory" "ulimit -v $kb: exit 0, no text"; ok=0; } ;;
                evaluate*) grep -q nats out || { fail "$name out of memory" "ulimit -v $kb: exit 0, no result"; ok=0; } ;;
                train*) tdump out.model >/dev/null 2>&1 || { fail "$name out of memory" "ulimit -v $kb: exit 0, no model"; ok=0; } ;;
                tdump) [ -s out ] || { fail "$name out of memory" "ulimit -v $kb: exit 0, nothing printed"; ok=0; } ;;
                *) tdump out >/dev/null 2>&1 || { fail "$name out of memory" "ulimit -v $kb: exit 0, an incomplete stream"; ok=0; } ;;
            esac
        elif [ $rc != 1 ]; then
            fail "$name out of memory" "ulimit -v $kb: exit $rc: $(head -c 300 err)"; ok=0
        elif [ "$prog" != train ] && { [ "$(wc -l <err)" != 1 ] || ! grep -q "^$prog: " err; }; then
            fail "$name out of memory" "ulimit -v $kb: not one line naming $prog: $(head -c 300 err)"; ok=0
        elif [ "$prog" = train ] && ! tail -n 1 err | grep -Eq "^train: .*(out of memory|cannot)"; then
            # (train's banner comes first on stderr: the error is its last line)
            fail "$name out of memory" "ulimit -v $kb: the last line is not train's error: $(tail -c 300 err)"; ok=0
        elif [ "$prog" = train ] && ls out.model out.model.tmp.* >/dev/null 2>&1; then
            fail "$name out of memory" "ulimit -v $kb: exit 1 but a model or a temporary was written"; ok=0
        else
            failed=$((failed + 1))
        fi
        [ $ok = 1 ] || break
    done
    if [ $ok = 1 ] && [ $worked -gt 0 ]; then
        pass "$name under ulimit -v 4-100 MB: one line and exit 1 ($failed limits) or a complete result ($worked)"
    elif [ $ok = 1 ]; then
        fail "$name out of memory" "never ran to the end, even with 100 MB"
    fi
done < <(oom_cases)

# threads that cannot be started (each wants its stack): one line, nothing written
cp M.model keep.model
(ulimit -v 30000; train -H 8 -e 1 -j 200 --no-progress -o keep.model <W.ts >out 2>err); rc=$?
if [ $rc = 1 ] && [ "$(tail -n 1 err | grep -Ec '^train: cannot start 200 threads: .+')" = 1 ] && cmp -s keep.model M.model; then
    pass "train -j 200 without room for the threads' stacks: one line, exit 1, model unchanged"
else fail "train -j 200 without room for the threads' stacks" "exit $rc: $(tail -c 300 err)"; fi
(ulimit -v 30000; evaluate -j 200 -m M.model <W.ts >out 2>err); rc=$?
if [ $rc = 1 ] && [ "$(wc -l <err)" = 1 ] && grep -Eq '^evaluate: (cannot start 200 threads|out of memory)' err && [ ! -s out ]; then
    pass "evaluate -j 200 without room for the threads' stacks: one line, exit 1, no result"
else fail "evaluate -j 200 without room for the threads' stacks" "exit $rc: $(head -c 300 err)"; fi

# a stream-layout model claiming maxlen 100,000: evaluate sizes its work areas by the text (8
# steps here), not by the claim, so 100 MB of address space give the loss the model's own
# maxlen gives
if have_py; then
    for i in $(seq 40); do printf 'the quick brown fox jumps over the lazy dog %d. ' $((i % 7)); done > t.txt
    vocab < t.txt > VT.ts
    train --streams --cell lnlstm -n 8 -b 4 -H 8 -e 1 -j 1 --seed 1 -o s.model < VT.ts 2>/dev/null
    "$PY" "$TESTS/hostile_model.py" s.model sml.model maxlen_claims_100000
    want=$(evaluate -m s.model < t.txt 2>&1 | awk '{ print $1 }')
    got=$( (ulimit -v 100000; evaluate -m sml.model < t.txt) 2>&1 | awk '{ print $1 }')
    check_num eval_steps_claim_bounded 'a == b' "loss '$got' under 100 MB, '$want' with 8 steps" a="$got" b="$want"
else
    skip eval_steps_claim_bounded "$NO_PY"
fi
