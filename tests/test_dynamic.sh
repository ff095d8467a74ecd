# test_dynamic.sh - evaluate --dynamic (dynamic evaluation, issue 29): its loss is PyTorch's
# (tests/ref_dynamic.py, written from lib/dynamic.h alone) for every cell; one segment is the
# static loss of one stream; a text repeated scores far lower the second time, and a text with
# nothing to learn gains nothing; it is labelled dynamic in every output format, beside the
# static loss; and its options are checked. (tests/test_dynamic.c: a segment is scored before
# anything learns from it.)
. "$TESTS/lib.sh"

for i in $(seq 40); do printf 'the quick brown fox jumps over the lazy dog %d. ' $((i % 7)); done > t.txt
head -c 300 t.txt > s.txt

# PyTorch's dynamic evaluation of the same model and text: 18 segments of 16 and one of 11
if [ -n "$PY_TORCH" ]; then
    for cell in lstm lnlstm gru; do
        vocab < t.txt | train --streams -n 8 -b 4 -H 8 --cell $cell -e 2 --seed 3 -o $cell.model 2>/dev/null
        read -r ref n < <("$PY_TORCH" "$TESTS/ref_dynamic.py" $cell.model s.txt 16 0.01 0.02 2>&1)
        got=$(evaluate -m $cell.model --dynamic --dynamic-segment 16 --dynamic-lr 0.01 --dynamic-decay 0.02 --tsv < s.txt | tail -1)
        dl=$(echo "$got" | cut -f8); dn=$(echo "$got" | cut -f11)
        st=$(evaluate -m $cell.model --streams 1 --tsv < s.txt | tail -1 | cut -f4)
        # (and the adaptation matters: the loss moved well beyond the tolerance)
        check_num dynamic_${cell}_equals_torch '(a > b ? a - b : b - a) < 2e-5 * a && n == 299 && m == 299 && s - a > 0.01' \
            "charpipe $dl ($dn characters), PyTorch $ref ($n), static $st" a="$dl" b="$ref" n="$n" m="$dn" s="$st"
    done
else
    skip dynamic_equals_torch "no python3 that imports torch and numpy (Debian's python3-torch)"
    vocab < t.txt | train --streams -n 8 -b 4 -H 8 --cell lstm -e 2 --seed 3 -o lstm.model 2>/dev/null
fi

# one segment covering the text, or a rate and decay of 0: the static loss of one stream
st=$(evaluate -m lstm.model --streams 1 --tsv < s.txt | tail -1 | cut -f4)
one=$(evaluate -m lstm.model --dynamic --dynamic-segment 400 --dynamic-lr 0.5 --tsv < s.txt | tail -1 | cut -f8)
still=$(evaluate -m lstm.model --dynamic --dynamic-segment 7 --dynamic-lr 0 --dynamic-decay 0 --tsv < s.txt | tail -1 | cut -f8)
check_num dynamic_one_segment_is_static '(a > b ? a - b : b - a) < 1e-6 * b && (c > b ? c - b : b - c) < 1e-5 * b' \
    "one segment $one, lr 0 $still, static one stream $st" a="$one" b="$st" c="$still"

# A model of a text with nothing to learn (16 letters drawn uniformly: entropy log 16). A
# random string of 60 repeated scores far lower the second time (the model learnt it as it
# read it the first time; the second half's mean loss is the whole's less the first half's),
# while fresh random text gains nothing: no character's score comes from its own target.
awk 'BEGIN { srand(1); for (i = 0; i < 20000; i++) printf "%c", 97 + int(16 * rand()) }' > r0.txt
awk 'BEGIN { srand(2); for (i = 0; i < 60; i++) printf "%c", 97 + int(16 * rand()) }' > r.txt
awk 'BEGIN { srand(3); for (i = 0; i < 3000; i++) printf "%c", 97 + int(16 * rand()) }' > iid.txt
cat r.txt r.txt > rr.txt
vocab < r0.txt | train --streams -n 20 -b 8 -H 32 -e 2 --seed 3 -o r.model 2>/dev/null
D="--dynamic --dynamic-lr 0.03 --dynamic-segment 5 --dynamic-decay 0 --tsv"
first=$(evaluate -m r.model $D < r.txt | tail -1 | cut -f8)
both=$(evaluate -m r.model $D < rr.txt | tail -1 | cut -f8)
second=$(awk -v a="$first" -v b="$both" 'BEGIN { printf "%.6f", (b * 119 - a * 59) / 60 }')
check_num dynamic_repeated_text_scores_lower 'b < a - 0.1' "first time $first, second $second nats/char" a="$first" b="$second"
for lr in 0.03 0.0002; do
    got=$(evaluate -m r.model --dynamic --dynamic-lr $lr --dynamic-segment 5 --tsv < iid.txt | tail -1)
    check_num dynamic_lr${lr}_random_text_gains_nothing 'd > s - 0.005 && d > 2.7726 - 0.01' \
        "dynamic $(echo "$got" | cut -f8), static $(echo "$got" | cut -f4), log 16 = 2.7726" \
        d="$(echo "$got" | cut -f8)" s="$(echo "$got" | cut -f4)"
done

# every format labels it dynamic, beside the static loss, with the same numbers
O="--dynamic --dynamic-segment 9 --dynamic-lr 0.003"
evaluate -m lstm.model $O < s.txt > text.out
evaluate -m lstm.model $O --json < s.txt > json.out
evaluate -m lstm.model $O --tsv < s.txt > tsv.out
evaluate -m lstm.model < s.txt > plain.out
tl=$(sed -n 's/^\([0-9.]*\) nats.* dynamic (one stream of 299 characters, segments of 9, lr 0.003, decay 0.001)$/\1/p' text.out)
jl=$(sed -n 's/.*"dynamic": {"loss_nats": \([0-9.]*\),.*"characters": 299, "segment": 9, "lr": 0.003, "decay": 0.001}}$/\1/p' json.out)
vl=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == 2 { print $c["dynamic_loss_nats"] }' tsv.out)
check_num dynamic_labelled_in_every_format '(a > b ? a - b : b - a) < 5e-5 && b == c && n == 2' "text '$tl', json '$jl', tsv '$vl'" \
    a="$tl" b="$jl" c="$vl" n="$(wc -l < text.out)"
[ "$(head -1 text.out)" = "$(cat plain.out)" ] && head -1 tsv.out | grep -q '^model	windows	maxlen	loss_nats' \
    && grep -q '^{"model": .*"loss_nats": ' json.out && pass dynamic_static_loss_unchanged \
    || fail dynamic_static_loss_unchanged "$(cat text.out plain.out)"
"$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' json.out 2>/dev/null && pass dynamic_json_valid \
    || { have_py && fail dynamic_json_valid "$(cat json.out)" || skip dynamic_json_valid "$NO_PY"; }
# the result does not depend on the threads
a=$(evaluate -m lstm.model $O -j 1 --tsv < s.txt | tail -1 | cut -f8-)
b=$(evaluate -m lstm.model $O -j 2 --tsv < s.txt | tail -1 | cut -f8-)
[ -n "$a" ] && [ "$a" = "$b" ] && pass dynamic_same_for_any_threads || fail dynamic_same_for_any_threads "-j1 $a, -j2 $b"

# options: each needs --dynamic, and a value in range; a window stream is refused
vocab < t.txt | window -n 8 > w.ts
expect_fail dynamic_options_need_dynamic 'apply to --dynamic' evaluate -m lstm.model --dynamic-lr 0.1 < s.txt
expect_fail dynamic_segment_zero 'dynamic-segment' evaluate -m lstm.model --dynamic --dynamic-segment 0 < s.txt
expect_fail dynamic_decay_above_one 'dynamic-decay' evaluate -m lstm.model --dynamic --dynamic-decay 2 < s.txt
expect_fail dynamic_refuses_window_stream '^evaluate: --dynamic reads a text' evaluate -m lstm.model --dynamic < w.ts
printf 'x' > one.txt
expect_fail dynamic_one_character '^evaluate: stdin: .*nothing to predict' evaluate -m lstm.model --dynamic < one.txt

# sample --adapt FILE: the weights dynamic evaluation reaches on FILE's text generate (lib's
# dyn_adapt_file, checked against dynamic evaluation in test_dynamic.c): the text changes; a
# file of one character (nothing to learn from) changes nothing; a file that cannot be read is
# refused naming it
vocab < t.txt | train --streams -n 16 -b 4 -H 32 -e 20 --seed 3 -o q.model 2>/dev/null
for i in $(seq 80); do printf 'a lazy dog jumps over the brown fox 3. '; done > a3.txt
printf 'a' > a1.txt
sample -m q.model --seed "a " -n 80 > g0.out
sample -m q.model --adapt a3.txt --seed "a " -n 80 > g3.out
sample -m q.model --adapt a1.txt --seed "a " -n 80 > g1.out
[ -s g0.out ] && ! cmp -s g0.out g3.out && cmp -s g0.out g1.out && pass sample_adapt_changes_the_model \
    || fail sample_adapt_changes_the_model "$(cat g0.out; echo; cat g3.out; echo; cat g1.out)"
expect_fail sample_adapt_missing_file '^sample: --adapt: none.txt: No such file' sample -m q.model --adapt none.txt -n 5
