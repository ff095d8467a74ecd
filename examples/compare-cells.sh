#!/usr/bin/env bash
# compare-cells.sh [TEXT] - char-rnn training with each recurrent cell: lstm, gru, lnlstm.
#
# train --streams cuts TEXT (its last 10% held out) into 8 contiguous streams and learns to
# predict every next character, carrying the state from one 32-step chunk to the next. The
# same settings train each cell for 20 epochs; the table shows the validation loss (nats
# per character) and the speed, and the best model writes a line, statefully.
set -euo pipefail

repeat=40
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"   # the tools, $work, $text

vocab < "$text" > "$work/text.ts"
printf '%-8s %10s %10s %12s\n' cell params val_loss chars/s
best= best_loss=
for cell in lstm gru lnlstm; do
    # --log: epoch, train_loss, val_loss, seconds, chars/s per line (after a header)
    train --streams --cell "$cell" -b 8 -n 32 -H 48 -L 2 -e 20 --lr 0.01 --val 0.1 --seed 1 \
        --log "$work/$cell.tsv" -o "$work/$cell.model" < "$work/text.ts" 2> /dev/null
    params=$(train --summary --streams --cell "$cell" -H 48 -L 2 < "$work/text.ts" -n 32 \
             | sed -n 's/^Total params: //p')
    read -r loss rate < <(tail -1 "$work/$cell.tsv" | cut -f3,5)
    printf '%-8s %10s %10.4f %12.0f\n' "$cell" "$params" "$loss" "$rate"
    if [ -z "$best" ] || awk -v a="$loss" -v b="$best_loss" 'BEGIN { exit !(a < b) }'; then
        best=$cell; best_loss=$loss
    fi
done

echo "== the $best model, stateful, from \"The \":"
sample -m "$work/$best.model" --seed "The " -n 60 -t 0.5 --rng-seed 1
echo
