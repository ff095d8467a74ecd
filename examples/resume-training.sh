#!/usr/bin/env bash
# resume-training.sh [TEXT] - stop a training run and continue it later (train --resume).
#
# train -o writes the model after every epoch (and on Ctrl-C, mid-epoch). The file holds the
# weights, the optimizer's state, the settings and where the run stopped, so
# 'train -e TOTAL --resume MODEL -o MODEL' with the same windows continues it: the result is
# the model an uninterrupted run would have made, byte for byte.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.bash"   # the tools, $work, $text

# the windows, kept in a file here because both runs must see the same ones
vocab < "$text" | window -n 16 > "$work/windows.ts"

echo "== epoch 1, then the run stops"
train -H 16 -e 1 --seed 7 -o "$work/m" --log "$work/loss.tsv" < "$work/windows.ts" 2> /dev/null
echo "== later: resume to 2 epochs in total (settings come from the model)"
train -e 2 --resume "$work/m" -o "$work/m" --log "$work/loss.tsv" < "$work/windows.ts" 2> /dev/null
cat "$work/loss.tsv"

echo "== the same 2 epochs without a stop"
train -H 16 -e 2 --seed 7 -o "$work/straight" < "$work/windows.ts" 2> /dev/null
if cmp -s "$work/m" "$work/straight"; then
    echo "resumed model is identical to the uninterrupted one"
else
    echo "resumed model differs from the uninterrupted one" >&2; exit 1
fi
