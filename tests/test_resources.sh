# test_resources.sh - degenerate texts: empty and one-character texts go through every stage
# cleanly (out of memory and threads that cannot start: test_oom.sh). See ROBUSTNESS.md.
# Run by tests/run.sh with BIN, TMP and TESTS set.
. "$TESTS/lib.sh"
cd "$TMP" || exit 1

small_inputs || exit 1

# ---- empty and one-character texts through every stage (streams with empty text frames made
# by Python: vocab itself refuses an empty input)
if have_py; then
    "$PY" - <<'PY'
import gzip, msgpack
def stream(path, texts):
    V = sorted(set(b"".join(texts)) | {ord("a"), ord("b")})
    idx = {c: i for i, c in enumerate(V)}
    fr = [{"name": "header", "format": "charpipe", "version": 1},
          {"name": "vocab", "dtype": "u4", "shape": [len(V)], "data": b"".join(c.to_bytes(4, "little") for c in V),
           "attrs": {"unit": "codepoint", "lower": False}}]
    fr += [{"name": "text", "dtype": "u1", "shape": [len(t)], "data": bytes(idx[c] for c in t)} for t in texts]
    fr.append({"name": "end", "frames": len(fr) - 1})
    open(path, "wb").write(gzip.compress(b"".join(msgpack.packb(o, use_bin_type=True) for o in fr), mtime=0))
stream("t-empty.ts", [b""])
stream("t-one.ts", [b"a"])
stream("t-empty-one.ts", [b"", b"a", b""])
stream("t-empty-long.ts", [b"", b"abababababababababab", b""])
PY
    for t in t-empty t-one t-empty-one; do
        ok=1
        for cmd in "window -n 2 --streams 1" "window -n 2 --streams 3" "window -n 2" "window -n 1 --seq" \
                   "train --streams -n 2 -b 1 -H 4 -e 1 -j 1 --no-progress -o $t.model" "tdump"; do
            $cmd <$t.ts >out 2>err; rc=$?
            if [ $rc = 0 ] && [ "${cmd%% *}" = tdump ]; then continue; fi
            if [ $rc != 1 ] || [ "$(wc -l <err)" != 1 ] || ! grep -q "^${cmd%% *}: stdin: " err; then
                fail "$t through every stage" "$cmd: exit $rc: $(head -c 300 err)"; ok=0
            elif [ "${cmd%% *}" = window ] && tdump out >/dev/null 2>&1; then
                fail "$t through every stage" "$cmd wrote a complete stream"; ok=0
            fi
        done
        [ -e $t.model ] && { fail "$t through every stage" "a model was written"; ok=0; }
        [ $ok = 1 ] && pass "window (--streams, --seq) and train --streams on $t: one line, exit 1, nothing complete"
    done
    if window -n 2 --streams 2 <t-empty-long.ts >out 2>err && [ "$(tdump --summary out | awk '$1 == "x" { print $2 }')" = 4 ]; then
        pass "window --streams skips empty text frames around a text (4 frames of 2 x 2)"
    else fail "window --streams skips empty text frames around a text" "$(head -c 300 err) $(tdump --summary out 2>&1 | head -3)"; fi
else
    skip "empty and one-character texts" "$NO_PY"
fi
