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
    # with a time budget and -e 100000, neither ETA goes past the budget's end (the epochs
    # would take hours), and the run's ETA (the budget's) shows beside the epoch's. The run
    # stops at --max-batches, in its second epoch, long before the budget on any machine: what
    # is shown does not depend on how fast this one is.
    script -qec "train -H 16 -e 100000 --max-seconds 50 --max-batches 400 -o p.model < big.ts" /dev/null > tty.out 2>&1
    tr '\r' '\n' < tty.out > tty.txt
    over=$(grep -o 'ETA: [0-9:]*\( (run [0-9:]*)\)\?' tty.txt | grep -o '[0-9][0-9:]*' \
           | grep -Ev '^0:([0-4][0-9]|50)$' | head -3)
    [ -z "$over" ] && grep -q '(run ' tty.txt && grep -q '^Epoch 2/' tty.txt \
        && pass progress_eta_honours_budget || fail progress_eta_honours_budget "over: $over; $(tail -c 600 tty.txt)"
else
    skip progress_shows_validation "no script (util-linux)"
fi
# without a terminal, no bar and no validation display
train -H 16 -e 1 --eval-every 100 -o p.model < big.ts 2> notty.err
! grep -q 'validating\|ETA' notty.err && pass progress_not_on_a_file || fail progress_not_on_a_file "$(head -c 300 notty.err)"

# --- tdump --text: index tensors back to characters with the stream's vocabulary ---
printf 'Ünïcode "quotes"\ttabs\nand lines, \\ backslashes; ' > u1.txt
for i in $(seq 40); do cat u1.txt; done > u.txt
vocab --chunk 100 < u.txt > u.ts
if have_py; then
    # the text frames' strings, joined, are the text; every window's string is the text at its
    # offset, and its y the characters after it (window --seq), JSON read by Python
    tdump --text --json -a u.ts > u.json
    $PY -c 'import json, sys; t = open("u.txt", encoding="utf-8").read()
fr = [json.loads(l) for l in open("u.json", encoding="utf-8")]
assert "".join(f["text"] for f in fr if f["name"] == "text") == t
assert fr[0]["name"] == "vocab" and fr[0]["text"] == "".join(sorted(set(t)))' \
        && pass tdump_text_is_the_text || fail tdump_text_is_the_text "$(head -c 300 u.json)"
    window -n 7 -s 3 --seq < u.ts | tdump --text --json -a > w.json
    $PY -c 'import json; t = open("u.txt", encoding="utf-8").read()
fr = [json.loads(l) for l in open("w.json", encoding="utf-8")]
xs = [s for f in fr if f["name"] == "x" for s in f["text"]]
ys = [s for f in fr if f["name"] == "y" for s in f["text"]]
assert len(xs) == (len(t) - 8) // 3 + 1 and len(ys) == len(xs), (len(xs), len(t))
assert all(x == t[3 * i:3 * i + 7] and y == t[3 * i + 1:3 * i + 8] for i, (x, y) in enumerate(zip(xs, ys)))' \
        && pass tdump_text_windows || fail tdump_text_windows "$(head -c 300 w.json)"
else
    skip tdump_text_is_the_text "$NO_PY"
fi
# the human format: -n counts characters of text and strings of windows
[ "$(tdump --text -n 5 u.ts | sed -n 2p)" = 'text  u1 (100,)  "Ünïco" ...' ] && pass tdump_text_head \
    || fail tdump_text_head "$(tdump --text -n 5 u.ts | head -2)"
window -n 3 < u.ts | tdump --text -n 2 | sed -n 2p | grep -qF 'x  u1 (256, 3)  ["Ünï", "nïc", ...]  {' \
    && pass tdump_text_windows_head || fail tdump_text_windows_head "$(window -n 3 < u.ts | tdump --text -n 2 | head -3)"
# without --text, numbers as before; a model's tensors are never taken for text
tdump -n 3 u.ts | sed -n 2p | grep -q '^text  u1 (100,)  \[' && pass tdump_numbers_without_text || fail tdump_numbers_without_text "$(tdump -n 3 u.ts | head -2)"
vocab < rep.txt | window -n 4 | train -H 4 -e 1 -o t.model 2>/dev/null
tdump --text t.model | grep -q '^rng  u8 (2, 4)  \[' && pass tdump_text_leaves_models || fail tdump_text_leaves_models "$(tdump --text t.model | grep rng)"

# --- make demo's own lines: what it does, the result with a header, a sample, where the files
# are, what next; no recipes or compiler lines (the pipelines' demo on a small text, 1 s) ---
for _ in $(seq 30); do printf 'The cat sat on the mat. A dog ran in the fog. '; done > cat.txt
make --no-print-directory -C "$REPO/pipelines" demo DEMO_TEXT="$TMP/cat.txt" DEMO_BUDGET=1 DEMO_H=8 \
    DEMO_SEED="The cat" RUNS="$TMP/druns" BIN="$BIN" > demo.out 2>&1; rc=$?
grep -Ev '^train: (epoch [0-9]+: loss|time budget of 1s spent)' demo.out > demo.own   # train's progress aside
dir=$TMP/druns/cat-n40-s1-h8-t1-b64
if [ $rc -ne 0 ]; then fail demo_runs "exit $rc: $(tail -5 demo.out)"
else
    pass demo_runs
    n=$(wc -l < demo.own)
    check_num demo_prints_a_few_lines 'a >= 12 && a <= 24' "$n lines: $(head -c 800 demo.own)" a="$n"
    head -1 demo.own | grep -q "^charpipe demo: an LSTM of 8 units learns $TMP/cat.txt" \
        && grep -q '^Result (loss in nats per character' demo.own \
        && grep -Eq '^  epochs [0-9.]+   train loss [0-9.]+   validation loss [0-9.]+   eval [0-9.]+' demo.own \
        && grep -q '^Sample at temperature 0.5, after the seed "The cat":$' demo.own \
        && grep -q "^Files in $dir/:" demo.own && grep -q 'loss.png' demo.own && grep -q '^Next: ' demo.own \
        && pass demo_says_what_it_did || fail demo_says_what_it_did "$(cat demo.own)"
    # (not in the sample: generated text is free to contain "cc " or "make")
    ! sed '/^Sample at/,/^$/d' demo.own | grep -Eq "^make|$BIN/|window -n|-o $dir|cc |gcc" \
        && pass demo_no_recipes || fail demo_no_recipes "$(cat demo.own)"
    [ -s "$dir/samples.txt" ] && [ -s "$dir/result.tsv" ] && pass demo_makes_its_files || fail demo_makes_its_files "$(ls "$dir")"
fi
# on a terminal the demo shows train's bar (its stderr goes through tee, so the bar is asked for)
if command -v script > /dev/null; then
    script -qec "make --no-print-directory -C '$REPO/pipelines' demo DEMO_TEXT='$TMP/cat.txt' DEMO_BUDGET=1 DEMO_H=8 \
        DEMO_SEED='The cat' RUNS='$TMP/druns2' BIN='$BIN'" /dev/null > demotty.out 2>&1
    tr '\r' '\n' < demotty.out > demotty.txt
    grep -Eq '^ *[0-9]+/[0-9]+ \[=+' demotty.txt && grep -q '^Result' demotty.txt \
        && pass demo_progress_bar_on_a_terminal || fail demo_progress_bar_on_a_terminal "$(head -c 600 demotty.txt)"
fi
