# test_resume.sh - a run stopped anywhere (a checkpoint by --max-batches with -o, kill -9) and
# resumed makes the uninterrupted run's model byte for byte, with every schedule; time budgets.
. "$TESTS/lib.sh"

for i in $(seq 60); do printf 'hello world, charpipe! '; done > rep.txt
vocab < rep.txt | window -n 8 > rep.ts           # 1097 training windows: 18 batches of 64
vocab < rep.txt > rep.text.ts                    # -b 4 -n 8 streams: 34 batches an epoch

W="-H 12 -L 2 --dropout 0.2 --clip 1 --seed 7"
S="--streams -n 8 -b 4 -H 12 -L 2 --dropout 0.2 --clip 1 --seed 7"
for sched in cosine step none; do
    stops_equal resume_windows_${sched}_equals_uninterrupted "$W --schedule $sched" "" rep.ts 5 13 20 1
    stops_equal resume_streams_${sched}_equals_uninterrupted "$S --schedule $sched" --streams rep.text.ts 3 31 40
done
stops_equal resume_gru_cosine_equals_uninterrupted "$S --cell gru --schedule cosine" --streams rep.text.ts 50
stops_equal resume_lnlstm_cosine_equals_uninterrupted "$S --cell lnlstm --schedule cosine" --streams rep.text.ts 17
vocab < rep.txt | window -n 8 --seq > seq.ts    # a target at every position
stops_equal resume_seq_windows_cosine_equals_uninterrupted "$W --schedule cosine --lr 0.01" "" seq.ts 9 18

# the checkpoint --max-batches -o writes holds the batches trained; without -o nothing is written
train $W -e 3 --max-batches 5 -o mb.model < rep.ts 2> mb.err
tdump --json mb.model | grep -q '"epoch_batches": 5,' && grep -q 'benchmark: 5 batches' mb.err \
    && pass max_batches_writes_checkpoint || fail max_batches_writes_checkpoint "$(tail -1 mb.err)"
train $W -e 3 --max-batches 5 < rep.ts > mb.out 2> mb.err
[ ! -s mb.out ] && grep -q 'no model written' mb.err && pass max_batches_without_o_says_no_model \
    || fail max_batches_without_o_says_no_model "$(tail -1 mb.err)"

# the horizon is kept in the model: a resume without -e ends where the run would have
tdump --json mb.model | grep -q '"horizon_epochs": 3,' && pass model_keeps_horizon || fail model_keeps_horizon \
    "$(tdump --json mb.model | head -3)"

# kill -9 at whatever point the run has reached once its first checkpoint is on disk, then
# --resume from that file: the same model as the uninterrupted run (the point varies with the
# machine's speed; the result must not)
K="--streams -n 8 -b 4 -H 24 -L 2 --dropout 0.1 --schedule cosine --seed 9"
train $K -e 40 -j 2 -o k.model < rep.text.ts 2>/dev/null
rm -f kk.model
train $K -e 40 -j 2 -o kk.model < rep.text.ts 2>/dev/null & pid=$!
for _ in $(seq 600); do [ -s kk.model ] && break; sleep 0.05; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
at=$(tdump --json kk.model | sed -n 's/.*"epochs": \([0-9]*\),.*/\1/p')
train --resume kk.model --streams -j 2 -o kk.model < rep.text.ts 2>/dev/null
if cmp -s k.model kk.model; then pass "kill9_resume_equals_uninterrupted"
else fail kill9_resume_equals_uninterrupted "killed at epoch $at of 40: $(cmp k.model kk.model)"; fi

# --- time budgets ---
# --max-seconds without -e trains past one epoch (an epoch is one batch here: 1097 windows in
# a batch of 2048), and keeps the time trained and no epoch limit in the model
train -H 8 -b 2048 --max-seconds 1 -o ms.model < rep.ts 2> ms.err
ep=$(tdump --json ms.model | sed -n 's/.*"epochs": \([0-9]*\),.*/\1/p')
ts=$(tdump --json ms.model | sed -n 's/.*"train_seconds": \([0-9.e+-]*\).*/\1/p')
check_num max_seconds_without_e_trains_on 'a > 1 && b >= 1 && b < 30' "epochs '$ep', train_seconds '$ts': $(tail -1 ms.err)" a="$ep" b="$ts"
tdump --json ms.model | grep -q '"horizon_epochs": 0,' && pass max_seconds_no_epoch_limit || fail max_seconds_no_epoch_limit "$(tdump --json ms.model | head -2)"
# resumed, the budget spent is counted: nothing more to train, then a larger budget goes on
train --resume ms.model -o ms.model < rep.ts 2> ms2.err
grep -q 'nothing to train' ms2.err && pass max_seconds_resume_budget_spent || fail max_seconds_resume_budget_spent "$(tail -1 ms2.err)"
train --resume ms.model --max-seconds 1.5 -o ms.model < rep.ts 2> ms3.err
ep2=$(tdump --json ms.model | sed -n 's/.*"epochs": \([0-9]*\),.*/\1/p')
ts2=$(tdump --json ms.model | sed -n 's/.*"train_seconds": \([0-9.e+-]*\).*/\1/p')
check_num max_seconds_resume_continues 'a > c && b >= 1.5' "epochs $ep -> '$ep2', seconds $ts -> '$ts2'" a="$ep2" b="$ts2" c="$ep"
# an epoch-bound run keeps no time, so its bytes do not depend on the machine
tdump --json mb.model | grep -q '"train_seconds": 0' && pass epoch_run_keeps_no_time || fail epoch_run_keeps_no_time "$(tdump --json mb.model | head -2)"
# -e and --max-seconds: the epochs end this run first
train -H 8 -e 2 --max-seconds 100 -o me.model < rep.ts 2>/dev/null
tdump --json me.model | grep -q '"epochs": 2,' && pass epochs_end_before_budget || fail epochs_end_before_budget "$(tdump --json me.model | head -2)"
