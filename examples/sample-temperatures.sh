#!/usr/bin/env bash
# sample-temperatures.sh [TEXT [MODEL]] - generate text from a model at several temperatures.
#
# Without MODEL, a tiny model is trained on TEXT first (a few seconds). The seed is the start
# of TEXT. Temperature 0 is greedy (always the most likely character, as the Keras course
# generates); higher temperatures sample from the prediction sharpened (< 1) or flattened (> 1).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.bash"   # the tools, $work, $text

model=${2:-}
if [ -z "$model" ]; then
    model=$work/model
    echo "== training a tiny model on $(basename "$text") (LSTM 32, windows of 16, 8 epochs)"
    vocab < "$text" | window -n 16 | train -H 32 -e 8 --lr 0.01 --seed 1 -o "$model" 2> "$work/train.err" \
        || { cat "$work/train.err" >&2; exit 1; }
    tail -n 1 "$work/train.err"
fi

# the seed: the first line of the text, at most 16 characters (sample drops characters the
# model does not know, with a warning, when --skip-unknown is given)
seed=$(head -n 1 "$text" | cut -c 1-16)
for t in 0 0.5 1.0 1.5; do
    echo "== temperature $t"
    sample -m "$model" --seed "$seed" --skip-unknown -n 120 -t "$t" --rng-seed 1
    echo
done
# top-k and top-p restrict the choice further; --stateful is the fast generator
echo "== temperature 1.0, top-k 3, stateful"
sample -m "$model" --seed "$seed" --skip-unknown -n 120 -t 1.0 -k 3 --stateful --rng-seed 1
echo
