# test_quickstart.sh - the first hour: hints in errors for pipelines put together wrongly,
# tdump --text, the progress bar on a terminal, make demo's output.
. "$TESTS/lib.sh"
REPO=$(cd "$TESTS/.." && pwd)
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

for i in $(seq 60); do printf 'hello world, charpipe! '; done > rep.txt
vocab < rep.txt > rep.text.ts

# --- hints: what to add when a stage is missing or the wrong one ---
expect_fail hint_vocab_into_train "^train: stdin: no windows in the input, only text .*window -n 40.*--streams" \
    sh -c 'train -o h.model < rep.text.ts'
expect_fail hint_window_streams_into_train "^train: stdin: window --streams frames .*not independent windows" \
    sh -c 'window --streams 4 -n 8 < rep.text.ts | train -o h.model'
expect_fail hint_window_streams_into_train_streams "^train: stdin: window --streams frames" \
    sh -c 'window --streams 4 -n 8 < rep.text.ts | train --streams -o h.model'
[ ! -e h.model ] && pass hint_no_model_written || fail hint_no_model_written "h.model was written"
mkc() { make --no-print-directory -C "$REPO/pipelines" -f charrnn.mk "$@"; }
expect_fail hint_charrnn_missing_text "^charrnn.mk: TEXT=$TMP/none.txt not found: set TEXT=" \
    mkc TEXT="$TMP/none.txt" RUNS="$TMP/runs" BIN="$BIN"
expect_fail hint_pipelines_missing_text "^pipelines: TEXT=$TMP/none.txt not found: set TEXT=" \
    make --no-print-directory -C "$REPO/pipelines" run TEXT="$TMP/none.txt" RUNS="$TMP/runs" BIN="$BIN"

# --- the progress bar on a terminal (script gives train a tty; the text is checked, not times) ---
for i in $(seq 20); do cat rep.txt; done > big.txt
vocab < big.txt | window -n 8 > big.ts           # 22k training windows: 344 batches an epoch
if command -v script > /dev/null; then
    # two epochs with a validation every 100 batches: the bar says when it validates, and shows
    # how far it is; the run's ETA is shown beside the epoch's while more epochs follow
    script -qec "train -H 16 -e 2 --eval-every 100 -o p.model < big.ts" /dev/null > tty.out 2>&1
    tr '\r' '\n' < tty.out > tty.txt
    nv=$(grep -c '^validating *[0-9]*% \[' tty.txt); n100=$(grep -c '^validating 100% \[=*\]' tty.txt)
    check_num progress_shows_validation 'a >= 8 && b >= 8' "$(grep -c validating tty.txt) validating lines: $(head -c 600 tty.txt)" a="$nv" b="$n100"
    e1=$(sed -n '/^Epoch 1\/2/,/^Epoch 2\/2/p' tty.txt); e2=$(sed -n '/^Epoch 2\/2/,$p' tty.txt)
    if echo "$e1" | grep -q 'ETA: [0-9:]* (run [0-9:]*) - loss' && [ -n "$e2" ] && ! echo "$e2" | grep -q '(run '; then
        pass progress_eta_of_run_while_epochs_follow
    else fail progress_eta_of_run_while_epochs_follow "$(head -c 800 tty.txt)"; fi
    # with a time budget of 1 s and -e 100000, neither ETA goes past the budget's end (the
    # epochs would take hours): under a minute, validations included
    script -qec "train -H 16 -e 100000 --max-seconds 1 -o p.model < big.ts" /dev/null > tty.out 2>&1
    tr '\r' '\n' < tty.out > tty.txt
    over=$(grep -o 'ETA: [0-9:]*\( (run [0-9:]*)\)\?' tty.txt | grep -v '^ETA: 0:[0-5][0-9]\( (run 0:[0-5][0-9])\)\?$' | head -3)
    [ -z "$over" ] && grep -q '(run ' tty.txt && grep -q 'time budget' tty.txt \
        && pass progress_eta_honours_budget || fail progress_eta_honours_budget "over: $over; $(tail -c 600 tty.txt)"
else
    skip progress_shows_validation "no script (util-linux)"
fi
# without a terminal, no bar and no validation display
train -H 16 -e 1 --eval-every 100 -o p.model < big.ts 2> notty.err
! grep -q 'validating\|ETA' notty.err && pass progress_not_on_a_file || fail progress_not_on_a_file "$(head -c 300 notty.err)"
