# test_ema.sh - weight averaging (train --ema, issue 29): the model's weights are the
# exponential moving average of the weights trained, which the model keeps beside it (raw/);
# checked in numpy against runs without the average, validation and --best use the average,
# a stopped run resumes to the same bytes, and a resumed run keeps the setting.
. "$TESTS/lib.sh"

for i in $(seq 60); do printf 'hello world, charpipe! '; done > rep.txt
vocab < rep.txt > rep.text.ts
vocab < rep.txt | window -n 8 > rep.ts           # 1097 training windows

# a stopped run resumes to the uninterrupted one's bytes (tests/lib.sh's stops_equal)
S="--streams -n 8 -b 4 -H 12 -L 2 --dropout 0.2 --clip 1 --seed 7 --ema 0.95"
stops_equal ema_resume_streams_equals_uninterrupted "$S --schedule cosine --cell lnlstm" --streams rep.text.ts 3 31 40
stops_equal ema_resume_windows_equals_uninterrupted "-H 12 -L 2 --seed 7 --ema 0.9 --schedule cosine" "" rep.ts 5 13 20 1

# the model keeps the decay and the weights trained; --ema 0 is no option (the same bytes)
train $S -e 1 -j 2 -o e.model < rep.text.ts 2>/dev/null
tdump --json e.model > e.json
grep -q '"ema": 0.95' e.json && grep -q '"name": "raw/lstm/kernel"' e.json && pass ema_recorded_in_model \
    || fail ema_recorded_in_model "$(head -c 400 e.json)"
N="--streams -n 8 -b 4 -H 12 -L 2 --seed 7 -e 1 -j 2"
train $N -o none.model < rep.text.ts 2>/dev/null
train $N --ema 0 -o zero.model < rep.text.ts 2>/dev/null
[ -s none.model ] && cmp -s none.model zero.model && ! tdump none.model | grep -q '^raw/' \
    && pass ema_zero_is_none || fail ema_zero_is_none "models differ, or raw/ weights without --ema"

# a resumed run keeps the setting: another decay is refused, the same one taken by --continue
expect_fail ema_resume_refuses_other 'takes .*--ema.* from the model' train --streams --ema 0.5 --resume e.model -o r.model < rep.text.ts
cp e.model c.model
expect_ok ema_continue_same train $S -e 2 -j 2 --continue -o c.model < rep.text.ts
expect_fail ema_continue_refuses_other 'has --ema 0.95, not 0.9' train $S -e 3 --ema 0.9 --continue -o c.model < rep.text.ts
expect_fail ema_bad_decay "ema" train --ema 1 -o x.model < rep.ts

# validation and --best use the average: evaluate reads the model's weights (the average) on
# the held-out tail, and gets train's last validation loss and the --best file's
for _ in $(seq 80); do printf 'hello world, charpipe! the quick brown fox. '; done > vt.txt
vocab < vt.txt | train --streams -n 8 -b 4 -H 12 -L 2 -e 3 --val 0.25 --seed 3 --dropout 0.1 --ema 0.99 \
    --eval-every 5 --log vt.log --best vtb.model -o vt.model 2>/dev/null
tail -c $(( $(wc -c < vt.txt) / 4 )) vt.txt > vt.tail
vl=$(tail -1 vt.log | cut -f3)
el=$(evaluate -m vt.model --tsv < vt.tail | tail -1 | cut -f4)
check_num ema_validation_uses_average '(a > b ? a - b : b - a) < 1e-5 * a' "train $vl, evaluate $el" a="$vl" b="$el"
bl=$(tdump --json vtb.model | sed -n 's/.*"best_val_loss": \([0-9.e+-]*\),.*/\1/p')
eb=$(evaluate -m vtb.model --tsv < vt.tail | tail -1 | cut -f4)
check_num ema_best_is_average '(a > b ? a - b : b - a) < 1e-5 * a' "best_val_loss $bl, evaluate of --best $eb" a="$bl" b="$eb"

# numpy: one batch an epoch (-b 2048 holds all 1097 windows), so -e t is t Adam steps. The
# averaged run's raw/ weights are the plain run's weights after 3 steps, bit for bit (the
# average does not touch training), and its weights are the average of the plain runs'
# weights after 0 .. 3 steps: a_0 = w_0, a_t = d_t a_(t-1) + (1 - d_t) w_t with
# d_t = min(0.2, (1 + t) / (10 + t)) (0.18, 0.2, 0.2: both branches)
if have_py; then
    O="-H 8 -b 2048 --seed 5 --lr 0.01 -j 2"
    for t in 0 1 2 3; do train $O -e $t -o w$t.model < rep.ts 2>/dev/null; done
    train $O -e 3 --ema 0.2 -o avg.model < rep.ts 2>/dev/null
    cat > ema.py <<'PY'
import gzip, msgpack
import numpy as np
def tensors(path, prefix=""):
    frames = msgpack.Unpacker(gzip.open(path, "rb"), raw=False)
    return {f["name"][len(prefix):]: np.frombuffer(f["data"], "<f4") for f in frames
            if f.get("dtype") == "f4" and f["name"].startswith(prefix) and not f["name"].startswith(("adam/", "state/"))
            and (prefix or not f["name"].startswith("raw/"))}
W = [tensors("w%d.model" % t) for t in range(4)]
avg, raw = tensors("avg.model"), tensors("avg.model", "raw/")
assert len(W[0]) == 5 and avg.keys() == W[0].keys() == raw.keys()
raw_off = max(np.abs(raw[k] - W[3][k]).max() for k in raw)
a = {k: W[0][k].astype(np.float64) for k in W[0]}
for t in (1, 2, 3):
    d = min(0.2, (1 + t) / (10 + t))
    a = {k: d * a[k] + (1 - d) * W[t][k].astype(np.float64) for k in a}
off = max(np.abs(avg[k] - a[k]).max() for k in a)
moved = max(np.abs(avg[k] - W[3][k]).max() for k in a)    # the average is not the last weights
print(raw_off, off, moved)
PY
    read -r raw_off off moved < <("$PY" ema.py 2>&1)
    check_num ema_raw_is_trained_weights 'r == 0' "raw/ weights differ from the plain run's by $raw_off" r="$raw_off"
    check_num ema_average_numpy 'o < 1e-6 && m > 1e-3' "average off numpy's by $off (it differs from the last weights by $moved)" o="$off" m="$moved"
else
    skip ema_raw_is_trained_weights "$NO_PY"
    skip ema_average_numpy "$NO_PY"
fi
