# test_examples.sh - every examples/*.sh runs from another directory on its built-in text,
# exits 0 and prints what it promises; each is listed in examples/README.md.
. "$TESTS/lib.sh"
EX=$(cd "$TESTS/../examples" && pwd)

# what each script must print (grep -E patterns, all of them); a script not listed here is
# only required to exit 0 and print something
declare -A want=(
    [encode-with-vocab.sh]='^text +u1 \(45,\)|vocab -v fails: .*not in the vocabulary|dropped 1 characters'
    [inspect-stream.sh]='^x +u1 \(16, 8\)|^\{"name": "vocab"|^x +100 frames +1592 x 8 u1|1592 x 8 x 31 f4'
    [numpy-onehot.sh]='^x +first frame \(32, 10, 31\) +float32|all one-hot: ok|first window .The quick . -> next character .b.'
    [sample-temperatures.sh]='^== temperature 0$|^== temperature 1.5$|^The quick brown'
    [resume-training.sh]='^2	|resumed model is identical'
    [evaluate-heldout.sh]='"loss_nats": [0-9]|^loss_nats: held out [0-9.]+, trained on [0-9.]+$'
    [python-library.sh]='^== 1\.[0-9]+ \(charpipe [0-9.]+\): V [0-9]+|^The quick|\[stopped\]$|^== score of the text: [0-9.]+ nats/char'
    [compare-cells.sh]='^lstm +35,503 +[0-9.]+ +[0-9]+$|^gru +27,295 |^lnlstm +35,887 |^== the [a-z]+ model, stateful|^The quick'
)

for s in "$EX"/*.sh; do
    n=$(basename "$s"); t=${n%.sh}
    [ -x "$s" ] || fail "example_${t}_executable" "$n is not executable"
    grep -q "$n" "$EX/README.md" || fail "example_${t}_in_readme" "$n is not in examples/README.md"
    if [ "$n" = numpy-onehot.sh ] && ! have_py; then
        skip "example_$t" "$NO_PY"; continue
    fi
    if [ "$n" = python-library.sh ] && ! command -v "$PY" > /dev/null; then
        skip "example_$t" "no python3"; continue
    fi
    mkdir -p "run-$t" "tmp-$t"          # its scratch directory (mktemp) goes under tmp-NAME
    (cd "run-$t" && PYTHON="$PY" TMPDIR="$TMP/tmp-$t" bash "$s") > "$t.out" 2> "$t.err"; rc=$?
    if [ $rc -ne 0 ]; then fail "example_$t" "exit status $rc: $(tail -3 "$t.err")"; continue; fi
    missing=
    IFS='|' read -ra pats <<< "${want[$n]:-.}"
    for p in "${pats[@]}"; do grep -Eq -- "$p" "$t.out" || missing="$missing /$p/"; done
    [ -z "$missing" ] && pass "example_$t" || fail "example_$t" "output lacks$missing: $(head -c 400 "$t.out")"
    # an example cleans up after itself: nothing left where it ran, nor in its scratch space
    [ -z "$(ls -A "run-$t" "tmp-$t" | grep -v ':$')" ] && pass "example_${t}_leaves_nothing" \
        || fail "example_${t}_leaves_nothing" "$(ls -A "run-$t" "tmp-$t")"
done

# the input as $1, a relative path
printf 'Colourless green ideas sleep furiously.\n%.0s' $(seq 30) > mine.txt
if bash "$EX/inspect-stream.sh" mine.txt > mine.out 2> mine.err && grep -q '^vocab .*(18,)' mine.out; then
    pass example_takes_text_argument; else fail example_takes_text_argument "$(head -3 mine.out mine.err)"; fi
# a model given as $2 is used instead of training one
vocab < mine.txt | window -n 8 | train -H 8 -e 1 -o mine.model 2> /dev/null
if bash "$EX/sample-temperatures.sh" mine.txt mine.model > given.out 2> given.err \
    && ! grep -q 'training a tiny model' given.out && grep -q '^Colourless' given.out; then
    pass example_takes_model_argument; else fail example_takes_model_argument "$(head -3 given.out given.err)"; fi

# without the tools on PATH, an example finds them in the repository's bin/ (or says so)
if [ -x "$EX/../bin/vocab" ]; then
    expect_ok example_finds_repo_bin env PATH=/usr/bin:/bin bash "$EX/encode-with-vocab.sh"
else
    expect_fail example_finds_repo_bin 'tools not found' env PATH=/usr/bin:/bin bash "$EX/encode-with-vocab.sh"
fi
