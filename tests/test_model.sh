# test_model.sh - train, sample and eval end to end on small texts made here.
. "$TESTS/lib.sh"

# A small repetitive text: every 8-character window determines the next character.
for i in $(seq 60); do printf 'hello world, charpipe! '; done > rep.txt
vocab < rep.txt | window -n 8 > rep.ts

# --- train ---
expect_ok train_help train --help
grep -q -- '--resume' "$TMP/out" && pass train_help_mentions_resume || fail train_help_mentions_resume "no --resume in help"
train --summary -V 36 -n 40 > summary.txt
if grep -q '84480' summary.txt && grep -q '4644' summary.txt && grep -q 'Total params: 89,124' summary.txt; then
    pass train_summary_counts; else fail train_summary_counts "$(cat summary.txt)"; fi

train -H 32 -e 40 -j 2 --seed 3 --log rep.log -o rep.model < rep.ts 2> train.err
if [ $? -eq 0 ] && [ -s rep.model ]; then pass train_runs; else fail train_runs "$(tail -3 train.err)"; fi
last=$(tail -1 rep.log | cut -f2)
first=$(sed -n 2p rep.log | cut -f2)
check_num train_learns_repetitive_text 'a < 0.05 && a < b / 20' "loss $first -> $last" a="$last" b="$first"
[ "$(wc -l < rep.log)" -eq 41 ] && pass train_log_lines || fail train_log_lines "$(wc -l < rep.log) lines"

# the same seed gives the same model, byte for byte; -j 1 agrees up to rounding
train -H 16 -e 2 -j 2 --seed 5 -o a.model < rep.ts 2>/dev/null
train -H 16 -e 2 -j 2 --seed 5 -o b.model < rep.ts 2>/dev/null
cmp -s a.model b.model && pass train_deterministic || fail train_deterministic "models differ"
train -H 16 -e 2 -j 1 --seed 5 --log j1.log -o c.model < rep.ts 2>/dev/null
train -H 16 -e 2 -j 2 --seed 5 --log j2.log -o j2.model < rep.ts 2>/dev/null
v1=$(tail -1 j1.log | cut -f3); v2=$(tail -1 j2.log | cut -f3)
check_num train_threads_agree '(a > b ? a - b : b - a) < 1e-4 * (a + 1e-9) + 1e-6' "val loss -j1 $v1, -j2 $v2" a="$v1" b="$v2"

# resume: 1 epoch, then resume to 2 == 2 epochs straight
train -H 16 -e 1 -j 2 --seed 5 -o r.model < rep.ts 2>/dev/null
train -e 2 -j 2 --resume r.model -o r.model < rep.ts 2>/dev/null
cmp -s a.model r.model && pass train_resume_equals_uninterrupted || fail train_resume_equals_uninterrupted "models differ"

# one-hot input gives the same model as index input
vocab < rep.txt | window -n 8 | onehot | train -H 16 -e 2 -j 2 --seed 5 -o oh.model 2>/dev/null
cmp -s a.model oh.model && pass train_onehot_input_same_model || fail train_onehot_input_same_model "models differ"

# without -o the model goes to stdout
train -H 16 -e 2 -j 2 --seed 5 < rep.ts > stdout.model 2>/dev/null
cmp -s a.model stdout.model && pass train_model_to_stdout || fail train_model_to_stdout "differs from -o"

# Ctrl-C mid-epoch saves a checkpoint from which the run continues to the same result
for i in $(seq 200); do cat rep.txt; done > big.txt
vocab < big.txt | window -n 8 > big.ts
train -H 16 -e 1 -j 2 --seed 9 -o full.model < big.ts 2>/dev/null
train -H 16 -e 1 -j 2 --seed 9 -o int.model < big.ts 2>int.err &
pid=$!
for i in $(seq 100); do grep -q 'fresh start' int.err 2>/dev/null && break; sleep 0.05; done
sleep 0.1; sent=0; signal_running INT $pid && sent=1; wait $pid; rc=$?
if [ $rc -eq 130 ] && grep -q 'interrupted' int.err && [ -s int.model ]; then
    train -e 1 -j 2 --resume int.model -o int.model < big.ts 2>/dev/null
    cmp -s full.model int.model && pass train_sigint_checkpoint_resumes || fail train_sigint_checkpoint_resumes "resumed model differs"
elif [ $sent = 0 ]; then                   # (a train that ignored the signal fails below)
    skip train_sigint_checkpoint_resumes "training finished before the signal"
else
    fail train_sigint_checkpoint_resumes "exit $rc: $(cat int.err | tail -2)"
fi

# bad input: clear errors, non-zero exit, an existing model left untouched
cp a.model keep.model
expect_fail train_empty_stream 'train: stdin: empty' sh -c 'train -o keep.model < /dev/null'
expect_fail train_no_windows 'no windows|no vocab' sh -c 'vocab < rep.txt | train -o keep.model'
expect_fail train_not_a_stream 'not a charpipe stream' sh -c 'train -o keep.model < rep.txt'
expect_fail train_truncated 'truncated' sh -c 'head -c $(($(wc -c < rep.ts) / 2)) rep.ts | train -o keep.model'
expect_fail train_unwritable 'cannot write' sh -c 'train -o /nonexistent/dir/m < rep.ts'
expect_fail train_streams_needs_text 'not windows' sh -c 'train --streams -o keep.model < rep.ts'
cmp -s a.model keep.model && pass train_keeps_existing_model || fail train_keeps_existing_model "keep.model changed"
[ -z "$(ls keep.model.tmp.* 2>/dev/null)" ] && pass train_no_temp_left || fail train_no_temp_left "$(ls keep.model.tmp.*)"

if have_py; then
    # y out of range / mismatched shapes, written by Python
    $PY - <<'PY'
import gzip, msgpack, numpy as np
def put(path, frames):
    with gzip.open(path, "wb") as f:
        for fr in [{"name": "header", "format": "charpipe", "version": 1}] + frames + [{"name": "end"}]:
            f.write(msgpack.packb(fr))
voc = {"name": "vocab", "dtype": "u4", "shape": [3], "data": np.array([97, 98, 99], "<u4").tobytes()}
x = {"name": "x", "dtype": "u1", "shape": [2, 4], "data": np.zeros(8, "u1").tobytes()}
put("yrange.ts", [voc, x, {"name": "y", "dtype": "u1", "shape": [2], "data": bytes([0, 7])}])
put("mismatch.ts", [voc, x, {"name": "y", "dtype": "u1", "shape": [3], "data": bytes([0, 1, 2])}])
put("notonehot.ts", [voc, {"name": "x", "dtype": "f4", "shape": [1, 2, 3], "data": np.full(6, 0.5, "<f4").tobytes()},
                     {"name": "y", "dtype": "u1", "shape": [1], "data": bytes([0])}])
PY
    expect_fail train_y_out_of_range 'y holds index 7' sh -c 'train -o keep.model < yrange.ts'
    expect_fail train_mismatched_shapes 'does not match' sh -c 'train -o keep.model < mismatch.ts'
    expect_fail train_float_not_onehot 'not one-hot' sh -c 'train -o keep.model < notonehot.ts'
    cmp -s a.model keep.model && pass train_keeps_model_after_bad_input || fail train_keeps_model_after_bad_input "changed"
    # evaluate takes every window stream train takes: indices of each integer dtype, one-hot
    # x and y, and window --seq's y (B, N); the loss is the same whatever the encoding
    vocab < rep.txt | window -n 8 --seq > seq.ts
    $PY - <<'PY'
import gzip, msgpack, numpy as np
def frames(path):
    u = msgpack.Unpacker(raw=False)
    u.feed(gzip.open(path).read())
    return list(u)
def put(path, fr):
    with gzip.open(path, "wb") as f:
        for x in fr:
            f.write(msgpack.packb(x))
for src in ("rep", "seq"):
    fr = frames(src + ".ts")
    V = next(f for f in fr if f["name"] == "vocab")["shape"][0]
    for dt in ("i1", "u2", "i2", "u4", "i4", "u8", "i8", "onehot"):
        out = []
        for f in fr:
            if f["name"] in ("x", "y") and "dtype" in f:
                f = dict(f)
                a = np.frombuffer(f["data"], "u1").reshape(f["shape"])
                if dt == "onehot":
                    a = np.eye(V, dtype="<f4")[a]
                    f["dtype"] = "f4"
                else:
                    a = a.astype("<" + dt)
                    f["dtype"] = dt
                f["shape"], f["data"] = list(a.shape), a.tobytes()
            out.append(f)
        put("%s-%s.ts" % (src, dt), out)
PY
    train -H 8 -e 1 --seed 3 -o seqm.model < seq.ts 2>/dev/null
    for src in rep seq; do
        m=rep.model; [ $src = seq ] && m=seqm.model
        base=$(evaluate -m $m --tsv < $src.ts | tail -1 | cut -f4)
        bad=
        for dt in i1 u2 i2 u4 i4 u8 i8 onehot; do
            got=$(evaluate -m $m --tsv < $src-$dt.ts 2>&1 | tail -1 | cut -f4)
            [ -n "$base" ] && [ "$got" = "$base" ] || bad="$bad $dt:$got"
            train -H 8 --max-batches 1 < $src-$dt.ts 2>/dev/null || bad="$bad train-$dt"
        done
        [ -z "$bad" ] && pass "eval_takes_every_${src}_stream_train_takes" || fail "eval_takes_every_${src}_stream_train_takes" "$base vs$bad"
    done
    # a per-position model on text is evaluated at every position, as on its --seq windows
    et=$(evaluate -m seqm.model --tsv < rep.txt | tail -1 | cut -f4)
    es=$(evaluate -m seqm.model --tsv < seq.ts | tail -1 | cut -f4)
    [ -n "$et" ] && [ "$et" = "$es" ] && pass eval_seq_model_text_equals_seq_stream || fail eval_seq_model_text_equals_seq_stream "text $et, --seq stream $es"
else
    skip train_python_cases "$NO_PY"
fi

# --- char-rnn: per-position targets, stacked layers, streams with a carried state ---
vocab < rep.txt | window -n 8 --seq | train -H 16 -L 2 -e 3 --seed 2 --log seq.log -o seq.model 2>seq.err
if [ $? -eq 0 ] && tdump --json seq.model | grep -q '"targets": "every"' && tdump seq.model | grep -q '^lstm_1/kernel'; then
    pass train_per_position_two_layers; else fail train_per_position_two_layers "$(tail -2 seq.err)"; fi
vocab < rep.txt > rep.text.ts
train --streams -n 8 -b 4 -H 16 -e 30 -j 2 --seed 4 --log st.log -o st.model < rep.text.ts 2>st.err
last=$(tail -1 st.log | cut -f2); first=$(sed -n 2p st.log | cut -f2)
check_num train_streams_learns 'a < 0.3 && a < b / 5' "loss $first -> $last: $(tail -1 st.err)" a="$last" b="$first"
tdump --json st.model | grep -q '"layout": "streams"' && pass train_streams_model_layout || fail train_streams_model_layout "no layout attr"
sample -m st.model --seed 'hello' -n 40 > st.txt
[ "$(head -c 45 st.txt)" = "$(head -c 45 rep.txt)" ] && pass sample_streams_model_stateful || fail sample_streams_model_stateful "$(cat st.txt)"
evaluate -m st.model --json < rep.txt > st.json && grep -q loss_nats st.json && pass eval_streams_model || fail eval_streams_model "$(cat st.json)"
# evaluate on the held-out tail gives train's validation loss (the same streams, the same state)
for _ in $(seq 80); do printf 'hello world, charpipe! the quick brown fox. '; done > vt.txt
vocab < vt.txt | train --streams -n 8 -b 4 -H 12 -L 2 -e 2 --val 0.25 --seed 3 --log vt.log -o vt.model 2>/dev/null
vl=$(tail -1 vt.log | cut -f3)
el=$(tail -c $(( $(wc -c < vt.txt) / 4 )) vt.txt | evaluate -m vt.model --tsv | tail -1 | cut -f4)
check_num eval_streams_equals_train_validation '(a > b ? a - b : b - a) < 1e-5 * a' "train $vl, evaluate $el" a="$vl" b="$el"
# ... and in the windows layout, last-step and per-position targets (window --seq): the
# validation windows are the last quarter, which evaluate cuts from the text's tail
for seq in "" --seq; do
    vocab < vt.txt | window -n 8 $seq | train -H 12 -L 2 -e 2 --val 0.25 --seed 3 --log vw.log -o vw.model 2>/dev/null
    n=$(( $(wc -c < vt.txt) - 8 ))                      # windows of the text (stride 1)
    vl=$(tail -1 vw.log | cut -f3)
    el=$(tail -c +$(( n * 3 / 4 + 1 )) vt.txt | evaluate -m vw.model --tsv | tail -1 | cut -f4)
    check_num "eval_windows${seq:+_seq}_equals_train_validation" '(a > b ? a - b : b - a) < 1e-5 * a' \
        "train $vl, evaluate $el" a="$vl" b="$el"
done
# resume and thread count in streams mode, with two layers and dropout
train --streams -n 8 -b 4 -H 12 -L 2 --dropout 0.2 -e 2 -j 2 --seed 6 -o sa.model < rep.text.ts 2>/dev/null
train --streams -n 8 -b 4 -H 12 -L 2 --dropout 0.2 -e 1 -j 2 --seed 6 -o sb.model < rep.text.ts 2>/dev/null
train --streams -e 2 -j 2 --resume sb.model -o sb.model < rep.text.ts 2>/dev/null
cmp -s sa.model sb.model && pass train_streams_resume_equals_uninterrupted || fail train_streams_resume_equals_uninterrupted "differ"
train --streams -n 8 -b 4 -H 12 -L 2 -e 2 -j 1 --seed 6 --log sj1.log -o sj1.model < rep.text.ts 2>/dev/null
train --streams -n 8 -b 4 -H 12 -L 2 -e 2 -j 2 --seed 6 --log sj2.log -o sj2.model < rep.text.ts 2>/dev/null
v1=$(tail -1 sj1.log | cut -f3); v2=$(tail -1 sj2.log | cut -f3)
check_num train_streams_threads_agree '(a > b ? a - b : b - a) < 1e-4 * a' "-j1 $v1, -j2 $v2" a="$v1" b="$v2"
# --eval-every, --best and --max-seconds
train --streams -n 8 -b 4 -H 12 -e 3 --eval-every 5 --best best.model --log ev.log -o ev.model < rep.text.ts 2>/dev/null
[ "$(wc -l < ev.log)" -gt 4 ] && [ -s best.model ] && pass train_eval_every_and_best || fail train_eval_every_and_best "$(cat ev.log)"
bv=$(tdump --json best.model | sed -n 's/.*"best_val_loss": \([0-9.e+-]*\).*/\1/p')
mv=$(cut -f3 ev.log | sed 1d | sort -g | head -1)
check_num train_best_is_lowest '(a > b ? a - b : b - a) < 1e-5' "best $bv, lowest logged $mv" a="$bv" b="$mv"
train --streams -n 8 -b 4 -H 12 --max-seconds 1 -o ms.model < rep.text.ts 2> ms.err
[ $? -eq 0 ] && grep -q 'time budget' ms.err && [ -s ms.model ] && pass train_max_seconds || fail train_max_seconds "$(tail -2 ms.err)"
# --- the GRU cell ---
# parameter counts by Keras's formulas (V inputs, H units): LSTM 4H(V+H+1); GRU (reset_after)
# 3H(V+H) + 2*3H; the lnlstm the LSTM's plus gamma, 4H; a dense layer HV+V
commas() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
gru=$((3 * 128 * (65 + 128) + 2 * 3 * 128)) dense=$((128 * 65 + 65))
train --summary -V 65 -n 40 -H 128 --cell gru > sg.txt
grep -q "gru (GRU) .* $gru " sg.txt && grep -q "Total params: $(commas $((gru + dense)))$" sg.txt \
    && pass train_summary_gru || fail train_summary_gru "$(cat sg.txt)"
train --cell gru -H 32 -e 40 -j 2 --seed 3 --log grep.log -o grep.model < rep.ts 2> gw.err
last=$(tail -1 grep.log | cut -f2); first=$(sed -n 2p grep.log | cut -f2)
check_num train_gru_learns_windows 'a < 0.05 && a < b / 20' "loss $first -> $last: $(tail -1 gw.err)" a="$last" b="$first"
sample -m grep.model --seed "hello world, cha" -n 100 > gg.txt
head -c 116 rep.txt | cmp -s gg.txt - && pass sample_gru_greedy_reproduces_text || fail sample_gru_greedy_reproduces_text "$(cat gg.txt)"
train --streams --cell gru -n 8 -b 4 -H 16 -L 2 -e 30 -j 2 --seed 4 --log gst.log -o gst.model < rep.text.ts 2>gst.err
last=$(tail -1 gst.log | cut -f2); first=$(sed -n 2p gst.log | cut -f2)
check_num train_gru_streams_learns 'a < 0.3 && a < b / 5' "loss $first -> $last: $(tail -1 gst.err)" a="$last" b="$first"
tdump --json gst.model | grep -q '"cell": "gru"' && tdump gst.model | grep -q '^gru_1/bias  f4 (2, 48)' \
    && pass gru_model_names_and_shapes || fail gru_model_names_and_shapes "$(tdump gst.model | head -12)"
sample -m gst.model --seed 'hello' -n 40 > gst.txt
[ "$(head -c 45 gst.txt)" = "$(head -c 45 rep.txt)" ] && pass sample_gru_stateful || fail sample_gru_stateful "$(cat gst.txt)"
ge=$(evaluate -m gst.model --tsv < rep.txt | tail -1 | cut -f4)
check_num eval_gru_streams_model 'a < 0.3' "loss '$ge'" a="$ge"
train --streams --cell gru -n 8 -b 4 -H 12 -L 2 --dropout 0.2 -e 2 -j 2 --seed 6 -o ga.model < rep.text.ts 2>/dev/null
train --streams --cell gru -n 8 -b 4 -H 12 -L 2 --dropout 0.2 -e 1 -j 2 --seed 6 -o gb.model < rep.text.ts 2>/dev/null
train --streams -e 2 -j 2 --resume gb.model -o gb.model < rep.text.ts 2>/dev/null
cmp -s ga.model gb.model && pass train_gru_resume_equals_uninterrupted || fail train_gru_resume_equals_uninterrupted "differ"
# --- the layer-normalised LSTM ---
train --streams --cell lnlstm -n 8 -b 4 -H 16 -L 2 -e 30 -j 2 --seed 4 --log lst.log -o lst.model < rep.text.ts 2>lst.err
last=$(tail -1 lst.log | cut -f2); first=$(sed -n 2p lst.log | cut -f2)
check_num train_lnlstm_streams_learns 'a < 0.3 && a < b / 5' "loss $first -> $last: $(tail -1 lst.err)" a="$last" b="$first"
tdump lst.model | grep -q '^lnlstm_1/gamma  f4 (64,)' && pass lnlstm_model_has_gamma || fail lnlstm_model_has_gamma "$(tdump lst.model | head -12)"
sample -m lst.model --seed 'hello' -n 40 > lst.txt
[ "$(head -c 45 lst.txt)" = "$(head -c 45 rep.txt)" ] && pass sample_lnlstm_stateful || fail sample_lnlstm_stateful "$(cat lst.txt)"
train --cell lnlstm --summary -V 65 -n 40 -H 128 | grep -q "lnlstm (LayerNormLSTM) .* $((4 * 128 * (65 + 128 + 1) + 4 * 128)) " \
    && pass train_summary_lnlstm || fail train_summary_lnlstm "$(train --cell lnlstm --summary -V 65 -n 40 -H 128)"
expect_fail train_resume_other_steps 'steps' train --streams -n 9 -e 3 --resume gb.model -o gc.model < rep.text.ts
expect_fail train_resume_other_cell 'cell' train --streams --cell lstm -e 3 --resume gb.model -o gc.model < rep.text.ts
expect_fail train_bad_cell "'rnn' is not lstm, gru or lnlstm" train --cell rnn -o x.model < rep.ts
train --summary -V 65 -n 100 -H 512 -L 2 --streams > s2.txt
two=$((4 * 512 * (65 + 512 + 1) + 4 * 512 * (512 + 512 + 1) + 512 * 65 + 65))
grep -q 'lstm_1 (LSTM)' s2.txt && grep -q "Total params: $(commas $two)$" s2.txt && pass train_summary_two_layers || fail train_summary_two_layers "$(cat s2.txt)"

# --- sample ---
expect_ok sample_help sample --help
seed='hello world, cha'
sample -m rep.model --seed "$seed" -n 100 > greedy.txt
head -c 116 rep.txt > want.txt
if cmp -s greedy.txt want.txt; then pass sample_greedy_reproduces_text
else fail sample_greedy_reproduces_text "got: $(head -c 116 greedy.txt)"; fi
# from a seed of exactly maxlen characters, the first stateful step is the window mode's step
sample -m a.model --seed 'hello wo' -n 1 --stateful > st1.txt
sample -m a.model --seed 'hello wo' -n 1 > wi1.txt
cmp -s st1.txt wi1.txt && pass sample_stateful_first_step || fail sample_stateful_first_step "$(cat st1.txt) vs $(cat wi1.txt)"
sample -m rep.model --seed "$seed" -n 200 -t 1e-6 --rng-seed 1 > cold.txt
sample -m rep.model --seed "$seed" -n 200 > g200.txt
cmp -s cold.txt g200.txt && pass sample_cold_temperature_is_greedy || fail sample_cold_temperature_is_greedy "differs"
sample -m rep.model --seed "$seed" -n 200 -t 1 -k 1 --rng-seed 4 > k1.txt
cmp -s k1.txt g200.txt && pass sample_top_k_1_is_greedy || fail sample_top_k_1_is_greedy "differs"
sample -m a.model --seed "$seed" -n 300 -t 1.5 --rng-seed 7 > s1.txt
sample -m a.model --seed "$seed" -n 300 -t 1.5 --rng-seed 7 > s2.txt
sample -m a.model --seed "$seed" -n 300 -t 1.5 --rng-seed 8 > s3.txt
cmp -s s1.txt s2.txt && pass sample_rng_seed_reproducible || fail sample_rng_seed_reproducible "differs"
cmp -s s1.txt s3.txt && fail sample_rng_seed_matters "seeds 7 and 8 gave the same text" || pass sample_rng_seed_matters
expect_fail sample_unknown_seed_char "'Z' \(U\+005A\)" sample -m rep.model --seed "hello Zorld" -n 5
sample -m rep.model --seed "hello Zorld" -n 5 --skip-unknown > skip.txt 2> skip.err
[ "$(head -c 10 skip.txt)" = "hello orld" ] && grep -q warning skip.err && pass sample_skip_unknown || fail sample_skip_unknown "$(cat skip.txt skip.err)"
expect_fail sample_no_model 'required' sample -n 5
expect_fail sample_bad_model 'not a charpipe stream' sample -m rep.txt -n 5
expect_fail sample_data_stream_as_model 'not a model' sample -m rep.ts -n 5
# a closed pipe ends sample quietly and promptly
( sample -m rep.model --seed "$seed" -n 100000000 --stateful | head -c 100 > /dev/null ) 2> pipe.err
[ ! -s pipe.err ] && pass sample_quiet_on_closed_pipe || fail sample_quiet_on_closed_pipe "$(cat pipe.err)"

# --- eval ---
expect_ok eval_help evaluate --help
e1=$(evaluate -m rep.model --json < rep.txt | sed 's/.*"loss_nats": \([0-9.e-]*\).*/\1/')
e2=$(evaluate -m rep.model --tsv < rep.ts | tail -1 | cut -f4)
[ -n "$e1" ] && [ "$e1" = "$e2" ] && pass eval_text_equals_stream || fail eval_text_equals_stream "text $e1 stream $e2"
check_num eval_low_on_learned_text 'a < 0.05' "loss '$e1'" a="$e1"
expect_fail eval_unknown_char "'Z' \(U\+005A\) at character 6 \(byte 6\) is not in the vocabulary \(--skip-unknown" sh -c 'echo "hello Zorld hello world" | evaluate -m rep.model'
expect_fail eval_invalid_utf8 'invalid UTF-8 at byte 6' sh -c 'printf "hello \377world, charpipe" | evaluate -m rep.model'
expect_fail eval_too_short 'no window' sh -c 'printf "hello" | evaluate -m rep.model'
expect_fail eval_empty 'empty' sh -c 'evaluate -m rep.model < /dev/null'

# NAME MODEL TEXT [make SEED CELL]: evaluate's loss of MODEL on TEXT equals numpy's (tests/ref_lstm.py,
# which first writes MODEL with random weights when given make)
matches_numpy() {
    local name=$1 model=$2 text=$3 want got; shift 3
    if [ $# -gt 0 ]; then want=$($PY "$TESTS/ref_lstm.py" make "$model" "$text" "$2" "$3")
    else want=$($PY "$TESTS/ref_lstm.py" loss "$model" "$text"); fi
    got=$(evaluate -m "$model" --tsv < "$text" | tail -1 | cut -f4)
    check_num "$name" '(a > b ? a - b : b - a) < 2e-5 * a' "numpy '$want', eval '$got'" a="$want" b="$got"
}
if have_py; then
    printf 'the quick brown fox jumps over the lazy dog\nand again: the lazy dog sleeps.\n' > fox.txt
    # eval on models built by Python (each cell) equals the loss Python computes with numpy
    # (their seeds plus the offset CHARPIPE_TEST_SEED, as tests/seeds_export.sh sweeps them)
    o=${CHARPIPE_TEST_SEED:-0}
    matches_numpy eval_matches_numpy_reference py.model fox.txt make $((11 + o)) lstm
    matches_numpy eval_gru_matches_numpy_reference pyg.model fox.txt make $((12 + o)) gru
    matches_numpy eval_lnlstm_matches_numpy_reference pyl.model fox.txt make $((14 + o)) lnlstm
    # and models trained here are read by Python, whose loss agrees with eval's
    matches_numpy trained_model_readable_by_python a.model rep.txt
    vocab < rep.txt | window -n 5 | train --cell gru -H 9 -e 2 --seed 8 -o g5.model 2>/dev/null
    matches_numpy trained_gru_readable_by_python g5.model rep.txt
    # a model of a cell charpipe does not know is refused by name
    $PY "$TESTS/ref_lstm.py" make rnn.model fox.txt 13 rnn > /dev/null
    expect_fail model_unknown_cell "^evaluate: rnn.model: model cell 'rnn' is not supported" evaluate -m rnn.model < fox.txt
else
    skip eval_matches_numpy_reference "$NO_PY"
fi

# a model trained on lowercased text (vocab --lower) lowercases the seed and the eval text too
printf 'Hello World. HELLO world. hello WORLD. %.0s' $(seq 30) > up.txt
vocab --lower < up.txt | window -n 8 | train -H 8 -e 1 -o low.model 2>/dev/null
tdump --json low.model | grep '"name": "vocab"' | grep -q '"lower": true' && pass model_keeps_lower || fail model_keeps_lower "no lower attr"
sample -m low.model --seed "HELLO" -n 3 > low.txt 2> low.err && [ "$(head -c 5 low.txt)" = hello ] \
    && pass sample_lowercases_seed || fail sample_lowercases_seed "$(cat low.txt low.err)"
evaluate -m low.model < up.txt > /dev/null 2> low.err && pass eval_lowercases_text || fail eval_lowercases_text "$(cat low.err)"

# stateful generation with half-precision weights (sample --f16) writes the same greedy text as
# float32 on trained models of each cell, and on one whose predictions are far from certain
# (words drawn at random, so greedy choices are often between close probabilities)
awk 'BEGIN { split("the of and to in that it with as his for was he be not by but have you", w);
             s = 7; for (i = 0; i < 3000; i++) { s = (s * 1103515245 + 12345) % 2147483648;
             printf "%s%s", w[1 + int(s / 65536) % 20], (i % 11 == 10 ? ".\n" : " ") } }' > words.txt
vocab < words.txt | window -n 16 | train -H 48 -e 3 -j 2 --seed 4 -o words.model 2>/dev/null
for m in rep.model grep.model lst.model ga.model words.model; do
    seed="hello "; [ $m = words.model ] && seed="the of "
    [ -s $m ] || { fail sample_f16_same_greedy_${m%.model} "no model $m"; continue; }
    sample -m $m --stateful --seed "$seed" -n 600 > f32.txt 2>/dev/null
    sample -m $m --stateful --f16 --seed "$seed" -n 600 > f16.txt 2> f16.err
    if [ -s f32.txt ] && cmp -s f32.txt f16.txt; then pass sample_f16_same_greedy_${m%.model}
    else fail sample_f16_same_greedy_${m%.model} "$(cmp f32.txt f16.txt; cat f16.err)"; fi
done
expect_fail sample_f16_needs_stateful "^sample: --f16 is for --stateful" sample -m rep.model --window --f16 -n 3
