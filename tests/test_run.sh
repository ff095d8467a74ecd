# test_run.sh - the training run as lib/run.h gives it to train: one policy for every option
# on --resume (applied, the model's, or refused, as train --help says), the vocabulary
# comparison's messages, checkpoints within an epoch (--checkpoint-every, exact after
# kill -9), the signals (SIGUSR1 goes on, SIGINT 130, SIGTERM 143), Slurm's single-rank
# copies refused, --continue run twice, --print-every lines and --log-format json.
. "$TESTS/lib.sh"

for i in $(seq 60); do printf 'hello world, charpipe! '; done > rep.txt
vocab < rep.txt > rep.text.ts                       # -b 4 -n 8 streams: 34 batches an epoch
vocab < rep.txt | window -n 8 > rep.ts
S="--streams -n 8 -b 4 -H 12 -L 2 --seed 7 --no-progress"
train $S -e 1 -j 1 --dropout 0.1 --schedule cosine -o R.model < rep.text.ts 2>/dev/null

# ---------------------------------------------------------------- options on --resume
# Every option train --help lists is in its RESUMING section, and does there what it says.
# (opts.txt: a line per option of the help, its names: "-e --epochs")
train --help > help.txt
sed -n '/^OPTIONS/,/^ENVIRONMENT/p' help.txt | awk '/^    -|^        -/ {
        sub(/^ +/, ""); i = index($0, "  "); if (i) $0 = substr($0, 1, i - 1)
        n = split($0, part, ", "); line = ""
        for (k = 1; k <= n; k++) { split(part[k], w, " "); line = line " " w[1] }
        print substr(line, 2) }' | sort -u > opts.txt
sed -n '/^RESUMING/,/^EXIT STATUS/p' help.txt > resuming.txt
missing=
while read -r names; do
    found=
    for opt in $names; do grep -q -- "$opt[,): ]\|$opt\$" resuming.txt && found=1; done
    [ -n "$found" ] || missing="$missing $names;"
done < opts.txt
[ "$(wc -l < opts.txt)" -gt 40 ] && [ -z "$missing" ] && pass resume_policy_lists_every_option \
    || fail resume_policy_lists_every_option "$(wc -l < opts.txt) options; not in RESUMING:$missing"

# resumed OPT...: train --resume R.model OPT... on the same data (exit status, stderr in err)
resumed() { cp R.model r.model; train --streams -j 1 --no-progress --resume r.model "$@" -o r.model < rep.text.ts > out 2> err; }
tested=
# applied: the run goes on with it
for a in "-e 2" "--max-seconds 100" "-j 2" "--threads 2" "--precision bf16" "--best b.model" "--log l.tsv" "--log-format json --log l.json" \
         "--eval-every 5" "--max-batches 3" "--checkpoint-every 5" "--checkpoint-every 1s" "--print-every 5" \
         "--sample-every 10" "--sample-temps 0.5 --sample-every 10" "--sample-chars 5 --sample-every 10" \
         "--sample-seed he --sample-every 10" "--progress" "--no-progress" "-q" "--quiet" "-f" "--force" "--streams"; do
    # shellcheck disable=SC2086
    if resumed $a; then pass "resume applies $a"; else fail "resume applies $a" "exit $?: $(tail -1 err)"; fi
    tested="$tested ${a%% *} $(echo "$a" | grep -oE -- ' --[a-z-]+' | tr -d ' ')"
done
cp R.model r.model
if train --streams -j 1 --no-progress --resume r.model --input rep.text.ts -o r.model < /dev/null 2> err; then
    pass "resume applies --input"; else fail "resume applies --input" "$(tail -1 err)"; fi
tested="$tested --input -o --output --resume"
# the model's: the same value is taken, another refused
for a in "-H 12:-H 16" "--hidden 12:--hidden 16" "-L 2:-L 1" "--layers 2:--layers 3" "--cell lstm:--cell gru" \
         "-b 4:-b 8" "--batch 4:--batch 8" "-n 8:-n 9"; do
    same=${a%%:*}; other=${a#*:}
    # shellcheck disable=SC2086
    if resumed $same; then pass "resume takes $same (the model's)"; else fail "resume takes $same" "$(tail -1 err)"; fi
    # shellcheck disable=SC2086
    resumed $other; rc=$?
    if [ $rc = 2 ] && grep -q 'takes the hidden size, layers, cell, batch and steps from the model (12, 2, lstm, 4, 8)' err; then
        pass "resume refuses $other"; else fail "resume refuses $other" "exit $rc: $(tail -1 err)"; fi
    tested="$tested ${same%% *}"
done
cp R.model r.model
train -j 1 --resume r.model -o r.model < rep.text.ts 2> err; rc=$?
[ $rc = 2 ] && grep -q 'was trained with --streams; resume it the same way' err && pass "resume refuses a missing --streams" \
    || fail "resume refuses a missing --streams" "exit $rc: $(tail -1 err)"
# refused, whatever the value (the model's own included), with the reason
for a in "--lr 0.001" "--val 0.2" "--clip 1" "--seed 7" "--dropout 0.1" "--schedule cosine" "--decay-rate 0.5" \
         "--decay-every 1" "--weight-drop 0.1" "--locked-dropout 0.1" "--input-dropout 0.1" "--weight-decay 0.1" \
         "--warmup 3" "--ema 0.9" "--stream-starts fixed"; do
    # shellcheck disable=SC2086
    resumed $a; rc=$?
    if [ $rc = 2 ] && grep -q -- "--resume takes .*${a%% *}.* from the model" err && cmp -s R.model r.model; then
        pass "resume refuses $a"; else fail "resume refuses $a" "exit $rc: $(tail -1 err)"; fi
    tested="$tested ${a%% *}"
done
resumed --init R.model; rc=$?
[ $rc = 2 ] && grep -q 'not both' err && pass "resume refuses --init" || fail "resume refuses --init" "exit $rc: $(tail -1 err)"
resumed --continue; rc=$?
[ $rc = 2 ] && grep -q -- '--continue .* not --resume' err && pass "resume refuses --continue" || fail "resume refuses --continue" "exit $rc: $(tail -1 err)"
for a in "--summary -V 20 -n 8" "--version" "-h" "--help"; do
    # shellcheck disable=SC2086
    if resumed $a && cmp -s R.model r.model; then pass "resume: $a trains nothing"; else fail "resume: $a trains nothing" "$(tail -1 err)"; fi
done
tested="$tested --init --continue --summary -V --version -h --help"
untested=
while read -r names; do
    found=
    for opt in $names; do case " $tested " in *" $opt "*) found=1 ;; esac; done
    [ -n "$found" ] || untested="$untested $names;"
done < opts.txt
[ -z "$untested" ] && pass resume_policy_tested_for_every_option || fail resume_policy_tested_for_every_option "not tested:$untested"

# --init of a byte-level model on a code-point stream: the unit is named as the cause
printf 'abc def, ghi! %.0s' $(seq 40) > ascii.txt
vocab --bytes < ascii.txt | train --streams -n 8 -b 4 -H 8 -e 1 -j 1 -o bytes.model 2>/dev/null
expect_fail init_unit_named "the model's symbols are bytes, the input's code points" \
    sh -c 'vocab < ascii.txt | train --streams -n 8 -b 4 --init bytes.model -o x.model'
expect_fail resume_unit_named "vocabulary differs from the input's: the model's symbols are bytes" \
    sh -c 'vocab < ascii.txt | train --streams --resume bytes.model -o x.model'
expect_fail init_symbol_named "symbol 11 is 'i' in the model, 'j' in the input" \
    sh -c 'printf "abc def, ghj! %.0s" $(seq 40) | vocab --bytes | train --streams -n 8 -b 4 --init bytes.model -o x.model'

# ---------------------------------------------------------------- checkpoints in an epoch
attr() { tdump --json "$1" 2>/dev/null | grep -m1 '"model"' | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"; }
K="--streams -n 8 -b 4 -H 24 -L 2 --dropout 0.1 --schedule cosine --seed 9 -j 2 --no-progress"
train $K -e 40 -o k.model < rep.text.ts 2>/dev/null
# checkpoints do not change the run
train $K -e 40 --checkpoint-every 5 -o kc.model < rep.text.ts 2>/dev/null
cmp -s k.model kc.model && pass checkpoint_every_same_model || fail checkpoint_every_same_model "$(cmp k.model kc.model)"
# kill -9 wherever the run is once a checkpoint is on disk (every 5 batches, 34 an epoch: most
# are mid-epoch), resume: the uninterrupted run's model, byte for byte
rm -f kk.model
train $K -e 40 --checkpoint-every 5 -o kk.model < rep.text.ts 2>/dev/null & pid=$!
for _ in $(seq 600); do [ -s kk.model ] && break; sleep 0.02; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
at="epoch $(attr kk.model epochs) batch $(attr kk.model epoch_batches)"
train --resume kk.model --streams -j 2 -o kk.model < rep.text.ts 2>/dev/null
cmp -s k.model kk.model && pass "checkpoint_every_kill9_resume_equals_uninterrupted ($at)" \
    || fail checkpoint_every_kill9_resume_equals_uninterrupted "killed at $at: $(cmp k.model kk.model)"
# every N seconds too; without -o refused
train $K -e 3 -o k3.model < rep.text.ts 2>/dev/null
train $K -e 3 --checkpoint-every 0.001s -o ks.model < rep.text.ts 2>/dev/null && cmp -s ks.model k3.model \
    && pass checkpoint_every_seconds_same_model || fail checkpoint_every_seconds_same_model "differs"
expect_fail checkpoint_every_needs_o 'checkpoint-every writes the -o file' sh -c "train $K --checkpoint-every 5 < rep.text.ts > x.model"

# ---------------------------------------------------------------- signals
# LONG: a run far longer than the test; its stderr has a line per batch (--print-every 1), so
# the handlers are in place once one is there
LONG="--streams -n 8 -b 4 -H 24 -L 2 --seed 9 -j 1 --no-progress --print-every 1 -e 100000"
wait_line() { for _ in $(seq 600); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.02; done; return 1; }
signalled() {   # SIG NAME: start LONG, send SIG, wait; sets rc, leaves sig.model and sig.err
    rm -f sig.model
    train $LONG -o sig.model < rep.text.ts 2> sig.err & pid=$!
    wait_line 'batch 3/34' sig.err
    kill -"$1" $pid; wait $pid; rc=$?
}
# SIGUSR1: a checkpoint now, and training goes on
rm -f u1.model
train $LONG -o u1.model < rep.text.ts 2> u1.err & pid=$!
wait_line 'batch 3/34' u1.err; kill -USR1 $pid
wait_line 'SIGUSR1: checkpoint at epoch' u1.err && [ -s u1.model ] && u1b=$(grep -m1 -o 'SIGUSR1: checkpoint at epoch [0-9]*, batch [0-9]*/34' u1.err)
sleep 0.3
if signal_running 0 $pid && [ -n "${u1b:-}" ]; then pass "SIGUSR1: checkpoint (${u1b#SIGUSR1: checkpoint at }), training goes on"
else fail "SIGUSR1: checkpoint, training goes on" "$(grep -v batch u1.err | tail -3)"; fi
kill -TERM $pid; wait $pid; rc=$?
[ $rc = 143 ] && grep -q 'terminated: checkpoint at epoch .* saved to u1.model' u1.err && pass "SIGTERM: checkpoint, exit 143" \
    || fail "SIGTERM: checkpoint, exit 143" "exit $rc: $(tail -2 u1.err)"
signalled INT
[ $rc = 130 ] && grep -q 'interrupted: checkpoint at epoch' sig.err && [ -s sig.model ] && pass "SIGINT: checkpoint, exit 130" \
    || fail "SIGINT: checkpoint, exit 130" "exit $rc: $(tail -2 sig.err)"
# the SIGTERM checkpoint resumes to the uninterrupted run's model
E=$(( $(attr u1.model epochs) + 2 ))
train ${LONG%-e *} -e $E -o ut.model < rep.text.ts 2>/dev/null
train --resume u1.model --streams -j 1 --no-progress -e $E -o u1.model < rep.text.ts 2>/dev/null
cmp -s ut.model u1.model && pass "SIGTERM checkpoint resumes to the uninterrupted model" \
    || fail "SIGTERM checkpoint resumes to the uninterrupted model" "$(cmp ut.model u1.model)"
# without -o: SIGUSR1 says no checkpoint is written, SIGTERM still exits 143
train $LONG --max-batches 100000000 < rep.text.ts 2> n.err & pid=$!
wait_line 'batch 3/34' n.err; kill -USR1 $pid; wait_line 'SIGUSR1: no checkpoint' n.err; kill -TERM $pid; wait $pid; rc=$?
[ $rc = 143 ] && grep -q 'SIGUSR1: no checkpoint written' n.err && grep -q 'terminated: no model written' n.err \
    && pass "without -o: SIGUSR1 and SIGTERM say no model is written" || fail "without -o: signals" "exit $rc: $(grep -v batch n.err | tail -3)"

# ---------------------------------------------------------------- Slurm
# N single-rank copies (srun -n N of a train that MPI does not join) are refused, saying how
# to launch; a batch script's own process (SLURM_NTASKS, no step) and one task run
expect_fail slurm_copies_refused 'Slurm started 4 tasks, but this one is alone.*srun --mpi=pmix.*srun -n 1' \
    env SLURM_NTASKS=4 SLURM_STEP_NUM_TASKS=4 SLURM_STEP_ID=0 SLURM_PROCID=1 train $S -e 1 -j 1 -o sl.model
[ ! -e sl.model ] && pass slurm_copies_write_nothing || fail slurm_copies_write_nothing "sl.model written"
expect_fail slurm_copies_refused_by_ntasks 'Slurm started 3 tasks' \
    env SLURM_NTASKS=3 SLURM_STEP_ID=0 train $S -e 1 -j 1 -o sl.model
expect_ok slurm_batch_script_runs env SLURM_NTASKS=4 SLURM_JOB_ID=1 train $S -e 1 -j 1 -o sl.model < rep.text.ts
expect_ok slurm_one_task_runs env SLURM_NTASKS=1 SLURM_STEP_NUM_TASKS=1 SLURM_STEP_ID=0 train $S -e 1 -j 1 -o sl.model < rep.text.ts

# ---------------------------------------------------------------- --continue (a requeued job)
# The same command line: the first start trains (killed once a checkpoint is on disk), the
# next resumes to the uninterrupted model, a third has nothing left to do
C="$K --lr 0.01 -e 6 --checkpoint-every 5 --continue"
train $K --lr 0.01 -e 6 -o cu.model < rep.text.ts 2>/dev/null
rm -f cc.model
train $C -o cc.model < rep.text.ts 2> c1.err & pid=$!
for _ in $(seq 600); do [ -s cc.model ] && break; sleep 0.02; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
grep -q 'fresh start' c1.err && pass "--continue: the first start trains" || fail "--continue: the first start" "$(tail -1 c1.err)"
train $C -o cc.model < rep.text.ts 2> c2.err
grep -q 'resuming' c2.err && cmp -s cu.model cc.model && pass "--continue: the second start resumes to the uninterrupted model" \
    || fail "--continue: the second start" "$(cmp cu.model cc.model; tail -1 c2.err)"
train $C -o cc.model < rep.text.ts 2> c3.err; rc=$?
[ $rc = 0 ] && grep -q 'nothing to train' c3.err && cmp -s cu.model cc.model && pass "--continue: a third start has nothing to do" \
    || fail "--continue: a third start" "exit $rc: $(tail -1 c3.err)"
expect_fail continue_other_settings_refused "the run in cc.model has --lr 0.01, not 0.02" \
    sh -c "train $K --lr 0.02 -e 6 --continue -o cc.model < rep.text.ts"
expect_fail continue_needs_o 'needs -o' sh -c "train $K --continue < rep.text.ts > x.model"

# ---------------------------------------------------------------- logs for batch jobs
train $S -e 2 -j 1 --print-every 10 -o p.model < rep.text.ts 2> p.err
n=$(grep -cE '^train: epoch [12]/2, batch [0-9]+/34: loss [0-9.]+, [0-9]+ chars/s, ETA [0-9:]+( \(run [0-9:]+\))?$' p.err)
[ "$n" = 6 ] && pass "--print-every 10: a line every 10 batches (6 in 68)" || fail "--print-every 10" "$n lines: $(head -c 400 p.err)"
train $S -e 1 -j 1 --print-every 0.001s -o p.model < rep.text.ts 2> p.err
grep -q 'batch [0-9]*/34: loss' p.err && pass "--print-every Ns prints lines" || fail "--print-every Ns" "$(head -c 300 p.err)"
train $S -e 1 -j 1 -o p.model < rep.text.ts 2> p.err
! grep -q 'batch [0-9]*/' p.err && pass "no --print-every: no batch lines (as before)" || fail "no --print-every" "$(grep batch p.err | head -2)"
train $S -e 2 -j 1 --eval-every 10 --log l.tsv -o lt.model < rep.text.ts 2>/dev/null
train $S -e 2 -j 1 --eval-every 10 --log l.json --log-format json -o lj.model < rep.text.ts 2>/dev/null
if have_py; then
    "$PY" - l.tsv l.json <<'PY' > json.out 2>&1
import json, sys
tsv = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
js = [json.loads(l) for l in open(sys.argv[2])]
assert tsv[0] == ["epoch", "train_loss", "val_loss", "seconds", "chars_per_s"], tsv[0]
assert len(js) == len(tsv) - 1 >= 4, (len(js), len(tsv))
for t, j in zip(tsv[1:], js):
    assert list(j) == tsv[0], j
    assert [float(t[0]), float(t[1]), float(t[2])] == [j["epoch"], j["train_loss"], j["val_loss"]], (t, j)
print("ok")
PY
    grep -q '^ok' json.out && pass "--log-format json: the TSV log's fields and values, a JSON object a line" || fail "--log-format json" "$(tail -2 json.out)"
    train $S -e 1 -j 1 --val 0 --log n.json --log-format json -o ln.model < rep.text.ts 2>/dev/null
    "$PY" -c 'import json,sys; j = json.loads(open("n.json").read()); assert j["val_loss"] is None, j' 2>/dev/null \
        && pass "--log-format json: no validation is null" || fail "--log-format json null" "$(cat n.json)"
else
    skip "--log-format json" "$NO_PY"
fi
expect_fail log_format_bad "is not tsv or json" train $S --log-format xml -o x.model
