# test_zero.sh - tensors with a zero dimension ((0, N), (N, 0), (B, 0) targets, empty text
# and vocab pieces, one-hot frames of no rows, a scalar where a matrix belongs) in every tool
# that reads them: no undefined behaviour (make check-san runs this under ASan and UBSan),
# exit 0 with a readable stream, or exit 1 with one line naming the program. The streams are
# made with Python's gzip and msgpack. Run by tests/run.sh with BIN, TMP and TESTS set.
. "$TESTS/lib.sh"
cd "$TMP" || exit 1
if ! have_py; then skip "tensors with a zero dimension" "$NO_PY"; exit 0; fi

"$PY" - <<'PY' || fail "streams" "could not write them"
import gzip, struct, msgpack
def t(name, dtype, shape, data=b"", **attrs):
    f = {"name": name, "dtype": dtype, "shape": list(shape), "data": data}
    if attrs: f["attrs"] = attrs
    return f
def stream(path, frames):
    out = [msgpack.packb({"name": "header", "format": "charpipe", "version": 1})]
    out += [msgpack.packb(f, use_bin_type=True) for f in frames]
    out.append(msgpack.packb({"name": "end", "frames": len(frames)}))
    open(path, "wb").write(gzip.compress(b"".join(out), mtime=0))
voc = t("vocab", "u4", [3], struct.pack("<3I", 97, 98, 99), unit="codepoint", lower=False)
text = t("text", "u1", [12], bytes([0, 1, 2] * 4))
cases = {
    "x-rows0": [voc, t("x", "u1", [0, 4], maxlen=4), t("y", "u1", [0])],
    "x-cols0": [voc, t("x", "u1", [2, 0], maxlen=0), t("y", "u1", [2], b"\0\1")],
    "y-cols0": [voc, t("x", "u1", [1, 2], b"\0\1"), t("y", "u1", [1, 0])],
    "x-piece0": [voc, t("x", "u1", [2, 2], b"\0\1\1\2"), t("x", "u1", [0, 2]), t("y", "u1", [2], b"\2\0"), t("y", "u1", [0])],
    "onehot-rows0": [voc, t("x", "f4", [0, 4, 3]), t("y", "f4", [0, 3])],
    "onehot-v0": [voc, t("x", "f4", [2, 4, 0]), t("y", "f4", [2, 0])],
    "x-huge-rows0": [voc, t("x", "u1", [0, 1 << 40]), t("y", "u1", [0])],
    "x-huge-cols0": [voc, t("x", "u1", [1 << 40, 0]), t("y", "u1", [1 << 40, 0])],
    "text0": [voc, t("text", "u1", [0])],
    "text-pieces0": [voc, t("text", "u1", [0]), text, t("text", "u1", [0])],
    "vocab0": [t("vocab", "u4", [0], unit="codepoint"), text],
    "vocab-piece0": [voc, t("vocab", "u4", [0]), text],
    "scalar-x": [voc, t("x", "u1", [], b"\0"), t("y", "u1", [], b"\0")],
}
for name, frames in cases.items():
    stream(name + ".ts", frames)
PY
printf 'abcabcabcabcabcabc' >abc.txt
vocab <abc.txt >V.ts && window -n 4 <V.ts | train -q -H 4 -e 1 -j 1 --no-progress -o M.model 2>/dev/null
[ -s M.model ] || { fail inputs "could not make M.model"; exit 1; }

tools=("window -n 2" "window -n 2 --seq" "window -n 2 --streams 1" "onehot" "tdump -a" "tdump -a --text"
       "tdump --json -a" "tdump --summary" "train -q -H 4 -e 1 -j 1 --no-progress -o z.model"
       "train -q --streams -n 2 -b 1 -H 4 -e 1 -j 1 --no-progress -o z.model" "train --summary"
       "evaluate -m M.model")
ok=1; n=0
for s in *.ts; do
    [ "$s" = V.ts ] && continue
    for c in "${tools[@]}" "vocab -v $s"; do
        prog=${c%% *}
        if [ "$prog" = vocab ]; then $c <abc.txt >out 2>err; else $c <"$s" >out 2>err; fi
        rc=$?; n=$((n + 1))
        if grep -q 'runtime error\|Sanitizer' err; then
            fail "$c < $s" "undefined behaviour: $(grep -m1 'runtime error\|ERROR' err)"; ok=0
        elif [ $rc = 0 ]; then
            case $prog in window|onehot|vocab)
                tdump <out >/dev/null 2>err2 || { fail "$c < $s" "exit 0, but its output: $(cat err2)"; ok=0; } ;;
            esac
        elif [ $rc != 1 ] || [ "$(grep -cv "^$prog: epoch" err)" != 1 ] || ! grep -q "^$prog: " err; then
            fail "$c < $s" "exit $rc: $(head -c 300 err)"; ok=0
        fi
    done
done
[ $ok = 1 ] && pass "tensors with a zero dimension: $n runs of every tool that reads them, no undefined behaviour, exit 0 or one line"

# the cases that make data: what the whole input would
window -n 2 <text-pieces0.ts >a.ts 2>err
printf 'abcabcabcabc' | vocab | window -n 2 >b.ts
if tdump -a a.ts | grep -v '^vocab' >a.txt && tdump -a b.ts | grep -v '^vocab' >b.txt && cmp -s a.txt b.txt; then
    pass "window: empty text pieces around a text change nothing"
else fail "window: empty text pieces around a text change nothing" "$(head -c 300 err)"; fi
onehot <x-piece0.ts >oh.ts 2>err && train -q -H 4 -e 1 -j 1 --no-progress -o p.model <oh.ts 2>>err \
    && pass "onehot and train: an x piece of no rows between two pieces" \
    || fail "onehot and train: an x piece of no rows" "$(tail -1 err)"
