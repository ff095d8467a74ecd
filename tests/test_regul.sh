# test_regul.sh - train's regularisation (issue 16): weight drop, locked dropout, AdamW's
# weight decay and the learning-rate warm-up, end to end: recorded in the model, resumed to the
# same bytes, independent of the thread count, and the optimizer's arithmetic checked in numpy.
. "$TESTS/lib.sh"

for i in $(seq 60); do printf 'hello world, charpipe! '; done > rep.txt
vocab < rep.txt > rep.text.ts
vocab < rep.txt | window -n 8 > rep.ts
REG="--dropout 0.1 --weight-drop 0.3 --locked-dropout 0.2 --input-dropout 0.1 --weight-decay 0.1 --warmup 50"

# resume with every option on, for every cell: 1 epoch then resume to 2 == 2 epochs straight
# (the warm-up's 50 steps run across the resume: an epoch is 38 batches)
for cell in lstm gru lnlstm; do
    S="--streams --cell $cell -n 8 -b 4 -H 12 -L 2 --val 0.1 --seed 6 $REG"
    train $S -e 2 -j 2 -o ra-$cell.model < rep.text.ts 2>/dev/null
    train $S -e 1 -j 2 -o rb-$cell.model < rep.text.ts 2>/dev/null
    train --streams -e 2 -j 2 --resume rb-$cell.model -o rb-$cell.model < rep.text.ts 2>/dev/null
    [ -s ra-$cell.model ] && cmp -s ra-$cell.model rb-$cell.model && pass regul_${cell}_resume_equals_uninterrupted \
        || fail regul_${cell}_resume_equals_uninterrupted "models differ"
done
# ... and in the windows layout
W="-H 12 -L 2 -b 32 --seed 5 $REG"
train $W -e 2 -j 2 -o wa.model < rep.ts 2>/dev/null
train $W -e 1 -j 2 -o wb.model < rep.ts 2>/dev/null
train -e 2 -j 2 --resume wb.model -o wb.model < rep.ts 2>/dev/null
[ -s wa.model ] && cmp -s wa.model wb.model && pass regul_windows_resume_equals_uninterrupted \
    || fail regul_windows_resume_equals_uninterrupted "models differ"

# the thread count does not change the masks: -j 1 and -j 3 agree up to float rounding
S="--streams --cell lstm -n 8 -b 4 -H 12 -L 2 --val 0.1 --seed 6 $REG -e 2"
train $S -j 1 --log j1.log -o j1.model < rep.text.ts 2>/dev/null
train $S -j 3 --log j3.log -o j3.model < rep.text.ts 2>/dev/null
v1=$(tail -1 j1.log | cut -f3); v3=$(tail -1 j3.log | cut -f3)
check_num regul_threads_agree '(a > b ? a - b : b - a) < 1e-4 * a' "-j1 $v1, -j3 $v3" a="$v1" b="$v3"

W="-H 12 -L 2 -b 32 --seed 5 $REG -e 2"
train $W -j 1 --log wj1.log -o wj1.model < rep.ts 2>/dev/null
train $W -j 2 --log wj2.log -o wj2.model < rep.ts 2>/dev/null
v1=$(tail -1 wj1.log | cut -f3); v2=$(tail -1 wj2.log | cut -f3)
check_num regul_windows_threads_agree '(a > b ? a - b : b - a) < 1e-4 * a' "-j1 $v1, -j2 $v2" a="$v1" b="$v2"

# validation and evaluate use the weights undropped (the masks scale at training time only):
# evaluate on the held-out tail gives train's validation loss
for _ in $(seq 80); do printf 'hello world, charpipe! the quick brown fox. '; done > vt.txt
vocab < vt.txt | train --streams -n 8 -b 4 -H 12 -L 2 -e 2 --val 0.25 --seed 3 $REG --log vt.log -o vt.model 2>/dev/null
vl=$(tail -1 vt.log | cut -f3)
el=$(tail -c $(( $(wc -c < vt.txt) / 4 )) vt.txt | evaluate -m vt.model --tsv | tail -1 | cut -f4)
check_num regul_evaluate_equals_validation '(a > b ? a - b : b - a) < 1e-5 * a' "train $vl, evaluate $el" a="$vl" b="$el"

# recorded in the model; resume takes them from it
tdump --json ra-gru.model > ra.json
grep -q '"weight_drop": 0.3' ra.json && grep -q '"locked_dropout": 0.2' ra.json && grep -q '"input_dropout": 0.1' ra.json \
    && grep -q '"weight_decay": 0.1' ra.json && grep -q '"warmup": 50' ra.json \
    && pass regul_recorded_in_model || fail regul_recorded_in_model "$(head -c 600 ra.json)"
for o in "--weight-drop 0.1" "--locked-dropout 0.1" "--input-dropout 0.1" "--weight-decay 0.1" "--warmup 3"; do
    expect_fail "regul_resume_refuses_${o%% *}" 'takes --weight-drop' train --streams -e 3 $o --resume rb-gru.model -o rc.model < rep.text.ts
done
expect_fail regul_bad_rate "weight-drop" train --weight-drop 1.5 -o x.model < rep.ts

# each option changes the training; all at 0 are no options (the same bytes)
S="--streams -n 8 -b 4 -H 12 -L 2 --val 0.1 --seed 6 -e 1 -j 2"
train $S -o none.model < rep.text.ts 2>/dev/null
train $S --weight-drop 0 --locked-dropout 0 --input-dropout 0 --weight-decay 0 --warmup 0 -o zero.model < rep.text.ts 2>/dev/null
cmp -s none.model zero.model && pass regul_zero_is_none || fail regul_zero_is_none "models differ"
for o in "--weight-drop 0.3" "--locked-dropout 0.3" "--input-dropout 0.3" "--weight-decay 0.1" "--warmup 10"; do
    train $S $o -o one.model < rep.text.ts 2>/dev/null
    [ -s one.model ] && ! cmp -s <(tdump -a --json none.model | grep -v '"name": "model"') <(tdump -a --json one.model | grep -v '"name": "model"') \
        && pass "regul_${o%% *}_changes_training" || fail "regul_${o%% *}_changes_training" "same model"
done

# the optimizer's arithmetic, in numpy from the model files: one Adam step (one batch of all
# the training windows) from the same initial weights w0, with and without decay, differs by
# exactly AdamW's -lr wd w0; and the first step of a warm-up over 4 steps is the step at lr / 4
if have_py; then
    O="-H 8 -b 2048 --seed 5 -j 2"
    train $O -e 0 -o w0.model < rep.ts 2>/dev/null
    train $O -e 1 --lr 0.01 -o w1.model < rep.ts 2>/dev/null
    train $O -e 1 --lr 0.01 --weight-decay 0.5 -o wd.model < rep.ts 2>/dev/null
    train $O -e 1 --lr 0.01 --warmup 4 -o wu.model < rep.ts 2>/dev/null
    train $O -e 1 --lr 0.0025 -o wq.model < rep.ts 2>/dev/null
    cat > cmpw.py <<'PY'
import gzip, msgpack
import numpy as np
def weights(path):                     # every f4 tensor of the model but Adam's moments
    frames = msgpack.Unpacker(gzip.open(path, "rb"), raw=False)
    return {f["name"]: np.frombuffer(f["data"], "<f4").astype(np.float64) for f in frames
            if f.get("dtype") == "f4" and not f["name"].startswith(("adam/", "state/"))}
W = {n: weights(n + ".model") for n in ("w0", "w1", "wd", "wu", "wq")}
assert len(W["w0"]) == 5 and all(W[n].keys() == W["w0"].keys() for n in W)
moved = max(np.abs(W["w1"][k] - W["w0"][k]).max() for k in W["w0"])
decay = max(np.abs((W["wd"][k] - W["w1"][k]) - (-0.01 * 0.5 * W["w0"][k])).max() for k in W["w0"])
warm = max(np.abs(W["wu"][k] - W["wq"][k]).max() for k in W["w0"])
print(moved, decay, warm)
PY
    read -r moved decay warm < <("$PY" cmpw.py 2>&1)
    check_num regul_adamw_decay_is_lr_wd_w 'm > 1e-3 && d < 1e-6' "one step moved $moved, decay off by $decay" m="$moved" d="$decay"
    check_num regul_warmup_first_step 'w == 0' "warm-up's first step differs from lr/4's by $warm" w="$warm"
else
    skip regul_adamw_decay_is_lr_wd_w "python3 with numpy and msgpack is not installed"
    skip regul_warmup_first_step "python3 with numpy and msgpack is not installed"
fi

# files written before these options load as before (the attributes absent: all off)
if have_py; then
    cat > strip.py <<'PY'
import gzip, sys, msgpack
frames = list(msgpack.Unpacker(gzip.open(sys.argv[1], "rb"), raw=False))
for fr in frames:
    if fr.get("name") == "model":
        for k in ("weight_drop", "locked_dropout", "input_dropout", "weight_decay", "warmup"):
            fr["attrs"].pop(k, None)
        if len(sys.argv) > 3:
            fr["attrs"]["weight_drop"] = float(sys.argv[3])
with gzip.open(sys.argv[2], "wb") as f:
    for fr in frames:
        f.write(msgpack.packb(fr))
PY
    S="--streams -n 8 -b 4 -H 12 --val 0.1 --seed 6 -j 2"
    train $S -e 2 -o o2.model < rep.text.ts 2>/dev/null
    train $S -e 1 -o o1.model < rep.text.ts 2>/dev/null
    "$PY" strip.py o1.model old.model
    train --streams -e 2 -j 2 --resume old.model -o old.model < rep.text.ts 2>/dev/null
    cmp -s o2.model old.model && pass regul_old_model_resumes || fail regul_old_model_resumes "models differ"
    "$PY" strip.py o1.model bad.model 1.5
    expect_fail regul_bad_attribute_refused 'weight_drop.*out of range' sample -m bad.model -n 5
else
    skip regul_old_model_resumes "python3 with numpy and msgpack is not installed"
    skip regul_bad_attribute_refused "python3 with numpy and msgpack is not installed"
fi
