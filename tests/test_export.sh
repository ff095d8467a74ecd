# test_export.sh - export-model: a model as safetensors, read back by an independent reader
# (tests/st_ref.py: json + numpy, no charpipe code) that reproduces evaluate's loss for every
# cell, 1 and 2 layers, windows and streams models, in the torch and the keras layouts; with
# torch (when a python3 has it: PY_TORCH, tests/lib.sh) nn.LSTM / nn.GRU + nn.Linear loaded by load_state_dict
# give the same loss and the same greedy sample as sample; bad input is refused.
. "$TESTS/lib.sh"
REF="$TESTS/st_ref.py"

# errors: one line on stderr naming the program, exit 1 (or 2 for bad usage)
err1() {
    local name=$1 pat=$2 want=$3 rc; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc -ne "$want" ]; then fail "$name" "exit $rc (want $want) from: $*; stderr: $(head -c 300 "$TMP/err")"; return; fi
    if [ "$want" = 1 ] && [ "$(wc -l <"$TMP/err")" -ne 1 ]; then fail "$name" "stderr is not one line: $(head -c 400 "$TMP/err")"; return; fi
    if ! grep -q "^export-model: " "$TMP/err"; then fail "$name" "stderr does not name the program: $(cat "$TMP/err")"; return; fi
    if ! grep -Eq -- "$pat" "$TMP/err"; then fail "$name" "stderr does not match /$pat/: $(cat "$TMP/err")"; return; fi
    pass "$name"
}

expect_ok export_help export-model --help
grep -q -- '--layout' "$TMP/out" && grep -q 'rnn.weight_ih_l0' "$TMP/out" && pass export_help_content \
    || fail export_help_content "$(head -5 "$TMP/out")"
err1 export_needs_model 'model is required' 2 export-model -o x.st
err1 export_bad_layout "'onnx' is not torch or keras" 2 export-model -m x --layout onnx

# A text with some structure but not learnt by heart in a few epochs.
for i in $(seq 90); do printf 'the %s sat on the %s; ' "$(echo cat dog fox hen | cut -d' ' -f$((i % 4 + 1)))" \
    "$(echo mat log box rug den | cut -d' ' -f$((i % 5 + 1)))"; done > a.txt
head -c 700 a.txt > ev.txt

# name: cell layers kind (windows / seq / streams); trained from seed 3 (plus the offset
# CHARPIPE_TEST_SEED, as tests/seeds_export.sh sweeps it)
SEED=$((3 + ${CHARPIPE_TEST_SEED:-0}))
models="lstm1w:lstm:1:windows gru2w:gru:2:windows lnlstm1w:lnlstm:1:windows lstm2s:lstm:2:streams
        gru1s:gru:1:streams lnlstm2s:lnlstm:2:streams lstm1q:lstm:1:seq"
for spec in $models; do
    IFS=: read -r name cell L kind <<< "$spec"
    case $kind in
        windows) vocab < a.txt | window -n 8 | train -H 12 -L "$L" --cell "$cell" --lr 0.02 -e 6 -j 1 --seed $SEED -o "$name.model" ;;
        seq) vocab < a.txt | window -n 8 --seq | train -H 12 -L "$L" --cell "$cell" --lr 0.02 -e 6 -j 1 --seed $SEED -o "$name.model" ;;
        streams) vocab < a.txt | train --streams -n 16 -b 5 -H 12 -L "$L" --cell "$cell" --lr 0.02 -e 15 -j 1 --seed $SEED -o "$name.model" ;;
    esac 2> "$name.err" || { fail "export_train_$name" "$(tail -2 "$name.err")"; continue; }
    if export-model -m "$name.model" -o "$name.st" 2> "$name.err" \
        && export-model -m "$name.model" --layout keras > "$name.k.st" 2>> "$name.err"; then
        pass "export_$name"; else fail "export_$name" "$(cat "$name.err")"; continue; fi
done

if ! have_py; then
    skip export_independent_reader "$NO_PY"
else
    for spec in $models; do
        IFS=: read -r name cell L kind <<< "$spec"
        [ -s "$name.st" ] || continue
        if $PY "$REF" check "$name.st" > chk.out 2>&1 && $PY "$REF" check "$name.k.st" >> chk.out 2>&1; then
            pass "export_format_$name"; else fail "export_format_$name" "$(tail -3 chk.out)"; fi
        want=$(evaluate -m "$name.model" --json < ev.txt | sed 's/.*"loss_nats": \([0-9.]*\).*/\1/')
        got=$($PY "$REF" loss "$name.st" ev.txt 2> ref.err)
        check_num "export_numpy_loss_$name" '(a > b ? a - b : b - a) < 1e-5 + 1e-5 * b' \
            "numpy from the torch layout $got, evaluate $want: $(tail -1 ref.err)" a="$got" b="$want"
        got=$($PY "$REF" keras-loss "$name.k.st" ev.txt 2> ref.err)
        check_num "export_keras_set_weights_loss_$name" '(a > b ? a - b : b - a) < 1e-5 + 1e-5 * b' \
            "numpy from the keras layout in set_weights order $got, evaluate $want: $(tail -1 ref.err)" a="$got" b="$want"
    done

    # what the file holds: the torch names and shapes, no optimizer state, the metadata
    $PY - lstm2s.st gru2w.st lnlstm1w.st lstm1w.k.st "$SEED" <<'PY' > meta.out 2>&1
import json, struct, sys
def header(p):
    raw = open(p, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n])
h = header(sys.argv[1]); m = h.pop("__metadata__")
V = int(m["vocab_size"])
assert {k: v["shape"] for k, v in h.items()} == {
    "rnn.weight_ih_l0": [48, V], "rnn.weight_hh_l0": [48, 12], "rnn.bias_ih_l0": [48], "rnn.bias_hh_l0": [48],
    "rnn.weight_ih_l1": [48, 12], "rnn.weight_hh_l1": [48, 12], "rnn.bias_ih_l1": [48], "rnn.bias_hh_l1": [48],
    "out.weight": [V, 12], "out.bias": [V]}, h
text = open("a.txt").read()
assert json.loads(m["vocab"]) == sorted(ord(c) for c in set(text)), m["vocab"]
assert (m["cell"], m["layers"], m["hidden"], m["maxlen"], m["layout"], m["streams"]) == ("lstm", "2", "12", "16", "streams", "5"), m
assert (m["lr"], m["batch"], m["seed"], m["epochs"], m["format"], m["tensor_layout"]) == ("0.02", "5", sys.argv[5], "15", "charpipe", "torch"), m
assert all(isinstance(v, str) for v in m.values())
h = header(sys.argv[2]); h.pop("__metadata__")
assert h["rnn.weight_ih_l0"]["shape"] == [36, V] and h["rnn.bias_hh_l1"]["shape"] == [36] and h["rnn.weight_ih_l1"]["shape"] == [36, 12]
h = header(sys.argv[3]); h.pop("__metadata__")
assert sorted(h) == ["out.bias", "out.weight", "rnn.bias_l0", "rnn.gamma_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l0"], sorted(h)
h = header(sys.argv[4]); m = h.pop("__metadata__")
assert json.loads(m["order"]) == ["lstm/kernel", "lstm/recurrent_kernel", "lstm/bias", "dense/kernel", "dense/bias"], m["order"]
assert h["lstm/kernel"]["shape"] == [V, 48] and h["dense/kernel"]["shape"] == [12, V]
for p in sys.argv[1:5]:
    assert not any("adam" in k or "rng" in k or "state" in k for k in header(p)), p
print("metadata ok")
PY
    grep -q '^metadata ok$' meta.out && pass export_names_shapes_metadata || fail export_names_shapes_metadata "$(tail -3 meta.out)"
fi

# no optimizer state: the export is the weights and a header, well under the model file
w=$(wc -c < lstm2s.st); mf=$(wc -c < lstm2s.model)
check_num export_no_optimizer_state 'a < b / 2' "export $w bytes, model $mf" a="$w" b="$mf"
export-model -m lstm1w.model > again.st 2>/dev/null
cmp -s lstm1w.st again.st && pass export_deterministic_stdout_same_as_o || fail export_deterministic_stdout_same_as_o "differ"

# torch: load_state_dict, the same loss and the same greedy text as sample
if [ -z "$PY_TORCH" ]; then
    skip export_torch "no python3 that imports torch (make test-deps installs python3-torch)"
else
    for name in lstm1w gru2w lstm2s gru1s lstm1q; do
        [ -s "$name.st" ] || continue
        want=$(evaluate -m "$name.model" --json < ev.txt | sed 's/.*"loss_nats": \([0-9.]*\).*/\1/')
        got=$($PY_TORCH "$REF" torch-loss "$name.st" ev.txt 2> ref.err)
        check_num "export_torch_loss_$name" '(a > b ? a - b : b - a) < 1e-4' \
            "torch $got, evaluate $want: $(tail -1 ref.err)" a="$got" b="$want"
        sample -m "$name.model" --seed 'the dog sat' -n 60 > s.want 2> s.err
        $PY_TORCH "$REF" torch-sample "$name.st" 'the dog sat' 60 > s.got 2> ref.err
        # (a sample that only repeats one character would not test much)
        if [ "$(fold -w1 s.want | sort -u | wc -l)" -lt 6 ]; then fail "export_torch_greedy_sample_$name" "degenerate: $(cat s.want)"
        elif cmp -s s.want s.got; then pass "export_torch_greedy_sample_$name"
        else fail "export_torch_greedy_sample_$name" "sample: $(cat s.want s.err) torch: $(cat s.got; tail -1 ref.err)"; fi
    done
    # examples/torch-sample.py, greedy, writes sample's text (plus a newline)
    for name in gru2w lstm2s; do
        sample -m "$name.model" --seed 'the dog sat' -n 50 > s.want 2>/dev/null; echo >> s.want
        $PY_TORCH "$TESTS/../examples/torch-sample.py" "$name.st" --seed 'the dog sat' -n 50 > s.got 2> ex.err
        cmp -s s.want s.got && pass "example_torch_sample_$name" \
            || fail "example_torch_sample_$name" "sample: $(cat s.want) example: $(cat s.got; tail -2 ex.err)"
    done
    $PY_TORCH "$TESTS/../examples/torch-sample.py" lnlstm1w.st > s.got 2> ex.err
    [ $? -ne 0 ] && grep -q 'lnlstm has no PyTorch module' ex.err && pass example_torch_sample_refuses_lnlstm \
        || fail example_torch_sample_refuses_lnlstm "$(cat ex.err)"
fi

# bad input: a damaged model, an unknown cell, an output that cannot be written; an existing
# output is never lost and no temporary is left
printf 'keep me' > keep.st
head -c $(($(wc -c < lstm1w.model) / 2)) lstm1w.model > cut.model
err1 export_damaged_model 'cut.model: .*(truncated|corrupt|unexpected end)' 1 export-model -m cut.model -o keep.st
printf 'not a model at all\n' > text.model
err1 export_not_a_model 'text.model: ' 1 export-model -m text.model -o keep.st
err1 export_missing_model 'nope.model: No such file' 1 export-model -m nope.model -o keep.st
if have_py; then
    $PY - lstm1w.model bad.model <<'PY'
import gzip, sys, msgpack
with gzip.open(sys.argv[1], "rb") as f:
    frames = list(msgpack.Unpacker(f, raw=False))
for fr in frames:
    if fr["name"] == "model":
        fr["attrs"]["cell"] = "transformer"
with gzip.open(sys.argv[2], "wb") as f:
    for fr in frames:
        f.write(msgpack.packb(fr))
PY
    err1 export_unknown_cell "cell 'transformer' is not supported" 1 export-model -m bad.model -o keep.st
fi
[ "$(cat keep.st)" = "keep me" ] && pass export_keeps_existing_output || fail export_keeps_existing_output "keep.st changed"
err1 export_unwritable_dir 'nodir/x.st: cannot write' 1 export-model -m lstm1w.model -o nodir/x.st
[ ! -e out.st ] || rm out.st
err1 export_to_full_disk 'write failed' 1 export-model -m lstm1w.model -o /dev/full
[ -z "$(ls ./*.tmp.* 2>/dev/null)" ] && pass export_no_temp_left || fail export_no_temp_left "$(ls ./*.tmp.*)"
# the safetensors file is binary: not to a terminal (script(1) gives the tool one)
if command -v script >/dev/null 2>&1; then
    script -qec "$BIN/export-model -m lstm1w.model" /dev/null > tty.out 2>&1; rc=$?
    [ $rc -eq 1 ] && grep -q '^export-model: refusing to write a binary stream to a terminal' tty.out \
        && pass export_refuses_terminal || fail export_refuses_terminal "rc $rc: $(head -c 200 tty.out)"
else
    skip export_refuses_terminal "no script(1)"
fi
