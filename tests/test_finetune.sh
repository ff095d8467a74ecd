# test_finetune.sh - train --init (a new run from a model's weights) and the training data's
# fingerprint that --resume checks.
. "$TESTS/lib.sh"

# Two texts over one alphabet: A, and B with the same words in other sentences.
for i in $(seq 120); do printf 'the %s sat on the %s; ' "$(echo cat dog fox hen | cut -d' ' -f$((i % 4 + 1)))" \
    "$(echo mat log box rug den | cut -d' ' -f$((i % 5 + 1)))"; done > a.txt
for i in $(seq 80); do printf 'a %s ran to the %s; ' "$(echo fox hen cat dog | cut -d' ' -f$((i % 4 + 1)))" \
    "$(echo den rug box | cut -d' ' -f$((i % 3 + 1)))"; done > b.txt
vocab < a.txt > a.ts
vocab -v a.ts < b.txt > b.ts 2> b.err || fail finetune_b_encodes "$(cat b.err)"

# --- fine-tuning: A's model on B learns faster than a fresh model on B ---
window -n 10 < a.ts | train -H 24 --lr 0.01 -e 5 -j 2 --seed 7 -o a.model 2> a.err \
    || fail finetune_train_a "$(tail -2 a.err)"
cp a.model a.orig
window -n 10 < b.ts | train -H 24 --lr 0.01 -e 4 -j 2 --seed 11 --log fresh.log -o fresh.model 2> fresh.err
window -n 10 < b.ts | train --init a.model --lr 0.01 -e 4 -j 2 --seed 11 --log init.log -o init.model 2> init.err
if [ $? -eq 0 ] && grep -q 'from --init weights' init.err; then pass train_init_runs
else fail train_init_runs "$(tail -2 init.err)"; fi
f3=$(sed -n 4p fresh.log | cut -f3); f4=$(sed -n 5p fresh.log | cut -f3)
i1=$(sed -n 2p init.log | cut -f3); i2=$(sed -n 3p init.log | cut -f3)
# from A's weights, B's validation loss after 1 (2) epochs is below a fresh model's after 3 (4)
check_num train_init_learns_faster 'i1 < f3 && i2 < f4' \
    "val loss on B: --init epochs 1, 2: $i1 $i2; fresh epochs 3, 4: $f3 $f4" i1="$i1" i2="$i2" f3="$f3" f4="$f4"
# and it starts from A's weights: with -e 0 the model written is A's, with B's fingerprint
window -n 10 < b.ts | train --init a.model -e 0 -j 2 -o zero.model 2> zero.err
la=$(evaluate -m a.model --json < b.txt | sed 's/.*"loss_nats": \([0-9.]*\).*/\1/')
lz=$(evaluate -m zero.model --json < b.txt | sed 's/.*"loss_nats": \([0-9.]*\).*/\1/')
check_num train_init_takes_weights 'a == b' "A's model $la, --init -e 0 $lz: $(tail -1 zero.err)" a="$la" b="$lz"
cmp -s a.model a.orig && pass train_init_leaves_model || fail train_init_leaves_model "a.model changed"
# a fresh run: epochs and steps of its own (A's model has 5 epochs), the new data's fingerprint
$PY - init.model fresh.model a.model <<'PY' > attrs.out 2>&1
import gzip, sys, msgpack
def attrs(p):
    with gzip.open(p, "rb") as f:
        for fr in msgpack.Unpacker(f, raw=False):
            if fr["name"] == "model":
                return fr["attrs"]
i, f, a = (attrs(p) for p in sys.argv[1:])
assert a["epochs"] == 5 and i["epochs"] == 4 and i["steps"] == f["steps"] and i["seed"] == 11, (i, f, a)
assert (i["data_size"], i["data_hash"]) == (f["data_size"], f["data_hash"]) != (a["data_size"], a["data_hash"]), (i, f, a)
print("ok")
PY
if have_py; then grep -q '^ok' attrs.out && pass train_init_fresh_state || fail train_init_fresh_state "$(tail -2 attrs.out)"; fi

# --init: errors
cp init.model keep.model
expect_fail train_init_vocab_mismatch "the input's vocabulary .* is not the model's.*vocab -v a.model" \
    sh -c 'printf "Zebras quickly jump!\n%.0s" $(seq 30) | vocab | window -n 10 | train --init a.model -o keep.model'
expect_fail train_init_arch_mismatch 'takes the hidden size, layers and cell from the model \(24, 1, lstm\)' \
    sh -c 'window -n 10 < b.ts | train --init a.model -H 32 -o keep.model'
expect_fail train_init_not_with_resume 'not both' sh -c 'window -n 10 < b.ts | train --init a.model --resume a.model -o keep.model'
head -c 300 a.model > cut.model
expect_fail train_init_damaged_model 'cut.model: ' sh -c 'window -n 10 < b.ts | train --init cut.model -o keep.model'
cmp -s init.model keep.model && pass train_init_errors_keep_output || fail train_init_errors_keep_output "keep.model changed"

# --- --resume checks its input ---
window -n 10 < a.ts | train -H 16 -e 1 -j 2 --seed 5 -o r1.model 2>/dev/null
cp r1.model r1.orig
expect_fail train_resume_other_data_refused 'not the data the model was trained on.*train --init r1.model' \
    sh -c 'window -n 10 < b.ts | train -e 2 -j 2 --resume r1.model -o r1.model'
cmp -s r1.model r1.orig && pass train_resume_refused_keeps_model || fail train_resume_refused_keeps_model "r1.model changed"
expect_fail train_resume_other_window_step_refused 'not the data the model was trained on' \
    sh -c 'window -n 10 -s 2 < a.ts | train -e 2 -j 2 --resume r1.model -o r1b.model'
# the same data resumes, given as indices or as one-hot (the fingerprint is of the indices)
window -n 10 < a.ts | onehot | train -e 2 -j 2 --resume r1.model -o r2.model 2> r2.err \
    && pass train_resume_same_data_onehot || fail train_resume_same_data_onehot "$(tail -1 r2.err)"
# streams: the text is fingerprinted
train --streams -n 16 -b 4 -H 16 -e 1 -j 2 --seed 5 -o s1.model < a.ts 2>/dev/null
expect_fail train_resume_streams_other_text_refused 'not the data.*characters' \
    sh -c 'train --streams -e 2 -j 2 --resume s1.model -o s2.model < b.ts'
expect_ok train_resume_streams_same_text sh -c 'train --streams -e 2 -j 2 --resume s1.model -o s2.model < a.ts'
# a model from before fingerprints (no data_size, data_hash) still resumes, and records one
if have_py; then
    $PY - r1.model old.model <<'PY'
import gzip, sys, msgpack
with gzip.open(sys.argv[1], "rb") as f:
    frames = list(msgpack.Unpacker(f, raw=False))
for fr in frames:
    if fr["name"] == "model":
        assert "data_hash" in fr["attrs"]
        del fr["attrs"]["data_size"], fr["attrs"]["data_hash"]
with gzip.open(sys.argv[2], "wb") as f:
    for fr in frames:
        f.write(msgpack.packb(fr))
PY
    expect_ok train_resume_old_model_without_fingerprint sh -c 'window -n 10 < b.ts | train -e 2 -j 2 --resume old.model -o old2.model'
    tdump old2.model 2>/dev/null | grep -q '"data_hash": "fnv1a64:[0-9a-f]\{16\}"' && pass train_resume_records_fingerprint \
        || fail train_resume_records_fingerprint "$(tdump old2.model | head -1)"
else
    skip train_resume_old_model_without_fingerprint "$NO_PY"
fi

# the fingerprint is what FORMAT.md says: FNV-1a 64 computed here, independently, over the
# windows (N, targets per window, then each window's x and y) and over the text
if have_py; then
    $PY - a.txt r1.model s1.model <<'PY' > fnv.out 2>&1
import gzip, sys, msgpack
def attrs(p):
    with gzip.open(p, "rb") as f:
        for fr in msgpack.Unpacker(f, raw=False):
            if fr["name"] == "model":
                return fr["attrs"]
def fnv(values):
    h = 0xcbf29ce484222325
    for v in values:
        for b in int(v).to_bytes(4, "little"):
            h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "fnv1a64:%016x" % h
text = open(sys.argv[1], encoding="utf-8").read()
vocab = sorted(set(text)); t = [vocab.index(c) for c in text]
N = 10
wins = [v for s in range(len(t) - N) for v in t[s:s + N + 1]]
w, s = attrs(sys.argv[2]), attrs(sys.argv[3])
assert (w["data_size"], w["data_hash"]) == (len(t) - N, fnv([N, 1] + wins)), (w, len(t) - N, fnv([N, 1] + wins))
assert (s["data_size"], s["data_hash"]) == (len(t), fnv(t)), (s, len(t), fnv(t))
print("ok")
PY
    grep -q '^ok' fnv.out && pass train_fingerprint_is_fnv1a_of_indices || fail train_fingerprint_is_fnv1a_of_indices "$(tail -2 fnv.out)"
fi
