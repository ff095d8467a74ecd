#!/usr/bin/env bash
# evaluate-heldout.sh [TEXT [MODEL]] - a model's loss on text it was not trained on (--json).
#
# The first 80% of TEXT's lines train a tiny model (unless MODEL is given); the last 20% are
# held out. evaluate reports the mean cross-entropy of predicting each next character, in
# nats (train's unit), bits per character and perplexity; --json makes it one JSON object.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.bash"   # the tools, $work, $text

lines=$(wc -l < "$text")
head -n $((lines * 8 / 10)) "$text" > "$work/train.txt"
tail -n +$((lines * 8 / 10 + 1)) "$text" > "$work/heldout.txt"
echo "== $(wc -c < "$work/train.txt") characters to train on, $(wc -c < "$work/heldout.txt") held out"

model=${2:-}
if [ -z "$model" ]; then
    model=$work/model
    vocab < "$work/train.txt" | window -n 16 | train -H 32 -e 8 --lr 0.01 --seed 1 -o "$model" 2> /dev/null
fi

# characters the model never saw cannot be scored: --skip-unknown drops them (with a warning)
echo "== held-out text"
evaluate -m "$model" --json --skip-unknown < "$work/heldout.txt" | tee "$work/heldout.json"
echo "== the training text, for comparison"
evaluate -m "$model" --json --skip-unknown < "$work/train.txt" | tee "$work/train.json"

# the JSON is flat; a field is easy to pick out (or use python3 -c 'import json, sys; ...')
loss() { sed -n 's/.*"loss_nats": *\([0-9.eE+-]*\).*/\1/p' "$1"; }
echo "loss_nats: held out $(loss "$work/heldout.json"), trained on $(loss "$work/train.json")"
