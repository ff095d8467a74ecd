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
for a in "-e 2" "--max-seconds 100" "-j 2" "--threads 2" "--best b.model" "--log l.tsv" "--log-format json --log l.json" \
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
         "--warmup 3"; do
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
