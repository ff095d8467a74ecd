# test_sample.sh - sample --count (batched samples) and --beam (beam search) on small models
# trained here.
. "$TESTS/lib.sh"

# A text with some uncertainty in it: words drawn from a short list (what matters is that the
# models are not sure of every next character), by the Park-Miller generator in exact integer
# arithmetic: awk's own rand() draws other numbers in mawk and gawk.
awk 'BEGIN { x = 3; split("the cat sat on a mat and a dog ran to the old red barn", w, " ");
             for (i = 0; i < 900; i++) { x = x * 16807 % 2147483647
                 printf "%s%s", w[1 + int(x / 2147483647 * 14)], (i % 11 == 10 ? ".\n" : " ") } }' > words.txt
vocab < words.txt | train --streams -n 16 -b 8 -H 24 -L 2 -e 2 -j 1 --seed 1 -o st2.model 2>/dev/null
vocab < words.txt | train --streams -n 16 -b 8 -H 24 -e 2 -j 1 --seed 1 -o st1.model 2>/dev/null
vocab < words.txt | train --streams -n 16 -b 8 -H 20 --cell gru -e 1 -j 1 --seed 1 -o gru.model 2>/dev/null
vocab < words.txt | window -n 8 | train -H 16 -e 1 -j 1 --seed 1 -o win.model 2>/dev/null
for m in st2 st1 gru win; do
    [ -s $m.model ] || fail sample_models "train did not write $m.model"
done

# texts_of NAME JSON: sample i's text (from --json) into NAME.i, and the count on stdout.
texts_of() {
    "$PY" -c '
import json, sys
n = 0
for line in open(sys.argv[2], encoding="utf-8"):
    d = json.loads(line)
    assert d["sample"] == n, d
    open("%s.%d" % (sys.argv[1], n), "w", encoding="utf-8", newline="").write(d["text"])
    n += 1
print(n)' "$1" "$2"
}

# --- --count: sample i is the single run with --rng-seed S+i ---
# NAME N OPTIONS...: sample --count N --json --rng-seed 40 OPTIONS, each sample compared with
# sample --rng-seed 40+i OPTIONS byte for byte.
count_is_single() {
    local name=$1 n=$2 i bad=""; shift 2
    sample --count "$n" --json --rng-seed 40 "$@" > $name.json 2> $name.err || { fail $name "$(cat $name.err)"; return; }
    [ "$(texts_of $name $name.json)" = "$n" ] || { fail $name "not $n JSON lines: $(head -c 300 $name.json)"; return; }
    for i in $(seq 0 $((n - 1))); do
        sample --rng-seed $((40 + i)) "$@" > $name.one.$i 2>/dev/null
        cmp -s $name.one.$i $name.$i || bad="$bad $i"
    done
    [ -z "$bad" ] && pass $name || fail $name "samples$bad differ from their single runs: $(head -c 200 $name.json)"
}
count_is_single count_stateful_lstm2 6 -m st2.model --stateful --seed "the cat" -n 120 -t 0.9
count_is_single count_stateful_gru_f16 5 -m gru.model --stateful --f16 --seed "a dog" -n 80 -t 1.1 -k 5
count_is_single count_stateful_no_seed 5 -m st1.model --stateful -n 60 -t 0.7 -p 0.9
CHARPIPE_KERNEL=scalar count_is_single count_window_scalar 5 -m win.model --window --seed "the cat" -n 60 -t 0.9
CHARPIPE_KERNEL=scalar count_is_single count_stateful_scalar 4 -m st2.model --stateful --seed "on a" -n 60 -t 1

# the same seed, the same bytes; the default separator between the samples
sample -m st2.model --seed "the" -n 50 -t 1 --count 4 --rng-seed 9 > r1.txt
sample -m st2.model --seed "the" -n 50 -t 1 --count 4 --rng-seed 9 > r2.txt
sample -m st2.model --seed "the" -n 50 -t 1 --count 4 --rng-seed 10 > r3.txt
if cmp -s r1.txt r2.txt && ! cmp -s r1.txt r3.txt; then pass count_reproducible
else fail count_reproducible "same seed differs, or another seed is the same"; fi
{ for i in 0 1 2 3; do [ $i -gt 0 ] && printf '\n---\n'; sample -m st2.model --seed "the" -n 50 -t 1 --rng-seed $((9 + i)); done; } > r4.txt
cmp -s r1.txt r4.txt && pass count_default_separator || fail count_default_separator "$(head -c 300 r1.txt)"
sample -m st2.model --seed "the" -n 20 -t 1 --count 3 --rng-seed 9 --separator '\t<>\\\n' > sep.txt
{ for i in 0 1 2; do [ $i -gt 0 ] && printf '\t<>\\\n'; sample -m st2.model --seed "the" -n 20 -t 1 --rng-seed $((9 + i)); done; } > sep.want
cmp -s sep.txt sep.want && pass count_separator_escapes || fail count_separator_escapes "$(od -c sep.txt | head -5)"

# greedy: N identical copies, in both modes, and the greedy single run's text
for mode in stateful window; do
    m=st2; [ $mode = window ] && m=win
    sample -m $m.model --$mode --seed "the" -n 60 --count 5 --json > g.json
    sample -m $m.model --$mode --seed "the" -n 60 > g.one
    ok=1; [ "$(texts_of g g.json)" = 5 ] || ok=0
    for i in 0 1 2 3 4; do cmp -s g.$i g.one || ok=0; done
    [ $ok = 1 ] && pass count_greedy_copies_$mode || fail count_greedy_copies_$mode "$(head -c 300 g.json)"
done

# JSON escaping: quotes, backslashes, newlines and other control characters survive
printf 'a "quoted" back\\slash\ttab\nline\n' > esc.txt
for i in $(seq 40); do cat esc.txt; done > esc2.txt
vocab < esc2.txt | train --streams -n 8 -b 4 -H 8 -e 1 -j 1 --seed 1 -o esc.model 2>/dev/null
sample -m esc.model --stateful --seed "$(cat esc.txt)" -n 40 -t 1 --count 2 --json --rng-seed 3 > esc.json
sample -m esc.model --stateful --seed "$(cat esc.txt)" -n 40 -t 1 --rng-seed 3 > esc.one
[ "$(texts_of esc esc.json)" = 2 ] && cmp -s esc.0 esc.one && pass count_json_escaping \
    || fail count_json_escaping "$(head -c 300 esc.json)"

expect_fail count_zero 'sample: --count' sample -m st2.model --count 0
expect_fail count_f16_window 'sample: --f16' sample -m win.model --window --f16 --count 2

# --- --beam ---
for mode in stateful window; do
    m=st2; [ $mode = window ] && m=win
    sample -m $m.model --$mode --seed "the" -n 60 --beam 1 > b1.txt
    sample -m $m.model --$mode --seed "the" -n 60 > gr.txt
    cmp -s b1.txt gr.txt && pass beam_1_is_greedy_$mode || fail beam_1_is_greedy_$mode "$(cat b1.txt; echo; cat gr.txt)"
    sample -m $m.model --$mode --seed "the" -n 60 --beam 6 --beam-all > ba1.txt
    sample -m $m.model --$mode --seed "the" -n 60 --beam 6 --beam-all > ba2.txt
    [ "$(grep -c '^log-probability' ba1.txt)" = 6 ] && cmp -s ba1.txt ba2.txt \
        && pass beam_deterministic_$mode || fail beam_deterministic_$mode "$(head -c 300 ba1.txt)"
done

# The printed log-probabilities against numpy's (tests/ref_lstm.py, float64, its own LSTM), the
# beams in decreasing order, the best's text what --beam alone prints, and at least the
# greedy text's log-probability. (The last is not a theorem: the greedy prefix can fall out of
# the beam and the beam end lower; on these models and lengths it does not.)
if have_py; then
    for mm in "st1 stateful" "win window"; do
        set -- $mm
        sample -m $1.model --$2 --seed "the " -n 50 --beam 8 --beam-all --json > bj.json
        sample -m $1.model --$2 --seed "the " -n 50 --beam 8 > best.txt
        sample -m $1.model --$2 --seed "the " -n 50 > greedy.txt
        "$PY" -c '
import json, sys
ls = [json.loads(l) for l in open("bj.json", encoding="utf-8")]
for d in ls:
    open("bt%d" % d["beam"], "w", encoding="utf-8", newline="").write(d["text"])
print(len(ls), " ".join("%.9f" % d["logprob"] for d in ls))' > bj.txt
        read -r nb lps < bj.txt
        i=0; ok=1; why=""; prev=1e9
        for lp in $lps; do
            ref=$("$PY" "$TESTS/ref_lstm.py" logprob $1.model bt$i 4 $2)
            awk -v a="$lp" -v b="$ref" -v p="$prev" 'BEGIN { d = a - b; exit !(d < 1e-3 && d > -1e-3 && a <= p) }' \
                || { ok=0; why="$why beam $i: printed $lp, numpy $ref, previous $prev;"; }
            prev=$lp; i=$((i + 1))
        done
        [ "$nb" = 8 ] && [ $ok = 1 ] && pass beam_logprob_numpy_$2 || fail beam_logprob_numpy_$2 "$nb beams;$why"
        cmp -s best.txt bt0 && pass beam_best_printed_$2 || fail beam_best_printed_$2 "$(cat best.txt)"
        g=$("$PY" "$TESTS/ref_lstm.py" logprob $1.model greedy.txt 4 $2)
        b=$("$PY" "$TESTS/ref_lstm.py" logprob $1.model bt0 4 $2)
        check_num beam_beats_greedy_$2 'b >= g - 1e-9' "beam $b < greedy $g" b="$b" g="$g"
    done
else
    skip beam_python_cases "$NO_PY"
fi

expect_fail beam_with_temperature 'sample: --beam' sample -m st2.model --beam 3 -t 0.5
expect_fail beam_with_count 'sample: --beam' sample -m st2.model --beam 3 --count 2
expect_fail beam_all_alone 'sample: --beam-all' sample -m st2.model --beam-all
expect_fail beam_zero 'sample: --beam' sample -m st2.model --beam 0

# --- train --sample-every: samples on stderr, the model on stdout unchanged ---
for kind in streams windows; do
    if [ $kind = streams ]; then
        run() { vocab < words.txt | train --streams -n 16 -b 8 -H 16 -e 2 -j 1 --seed 4 "$@"; }
        seedtext=$(head -c 40 words.txt)
    else
        run() { vocab < words.txt | window -n 8 | train -H 16 -e 2 -j 1 --seed 4 "$@"; }
        seedtext=$(head -c 8 words.txt)
    fi
    run > plain.model 2> plain.err
    run --sample-every 5 --sample-temps 0,0.5,1 --sample-chars 30 > se.model 2> se.err
    run --sample-every epoch --sample-temps 0.8 --sample-chars 50 -o ep.model > ep.out 2> ep.err
    if [ -s plain.model ] && cmp -s plain.model se.model && [ ! -s ep.out ]; then pass train_sample_every_stdout_same_$kind
    else fail train_sample_every_stdout_same_$kind "the model stream changed, or samples reached stdout"; fi
    # every 5th batch of the run (counted by a run sampling after every batch), 3 temperatures
    run --sample-every 1 --sample-temps 0 --sample-chars 1 > /dev/null 2> s1.err
    all=$(grep -c 'sample at epoch' s1.err); nb=$(grep -c 'sample at epoch' se.err)
    [ "$all" -gt 5 ] && [ "$nb" = $((all / 5 * 3)) ] && grep -q 'temperature 0.5:' se.err \
        && pass train_sample_every_stderr_$kind || fail train_sample_every_stderr_$kind "$(head -c 300 se.err)"
    # at the end of the last epoch: what sample writes from the final model with --rng-seed 4
    want="train: sample at epoch 2.00, temperature 0.8:
$(sample -m ep.model --seed "$seedtext" -n 50 -t 0.8 --rng-seed 4)"
    [ "$(grep -c 'sample at epoch' ep.err)" = 2 ] && [[ "$(cat ep.err)" == *"$want"* ]] \
        && pass train_sample_is_sample_$kind || fail train_sample_is_sample_$kind "want: $want; got: $(grep -A2 'epoch 2.00' ep.err)"
done
expect_fail train_sample_temps_bad 'train: --sample-temps' sh -c 'vocab < words.txt | train --streams -e 1 --sample-every 1 --sample-temps 0.5,x'
expect_fail train_sample_seed_unknown 'train: --sample-seed' sh -c 'vocab < words.txt | train --streams -e 1 --sample-every 1 --sample-seed "XYZ"'
