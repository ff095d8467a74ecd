#!/usr/bin/env bash
# seeds_export.sh N [BIN] - the export part of the seed sweep (tests/seeds.sh): test_export.sh's
# models (every cell, 1 and 2 layers, windows, seq and streams) trained with --seed 3 + S for
# S = 0 .. N-1 (S 0 is test_export.sh's own), exported in the torch and keras layouts, and
# evaluate's loss against tests/st_ref.py's (numpy, float64, from either layout) and torch's
# (nn.LSTM / nn.GRU); and test_model.sh's models of random weights written by
# tests/ref_lstm.py (seeds 11, 12, 14 + S), evaluate's loss against the one numpy computes.
# Prints "# bound FILE:CHECK RATIO S WHAT" per model and check, the ratio of the difference to
# the test's bound for it; exit 1 if a step failed.
set -u
N=${1:?usage: seeds_export.sh N [BIN]}
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "${2:-$here/../bin}" && pwd)
export PATH="$BIN:$PATH"
PY=/usr/bin/python3
command -v "$PY" >/dev/null && "$PY" -c 'import numpy' 2>/dev/null || PY=python3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; trap 'exit 130' INT TERM
cd "$work" || exit 1

# test_export.sh's text and models
for i in $(seq 90); do printf 'the %s sat on the %s; ' "$(echo cat dog fox hen | cut -d' ' -f$((i % 4 + 1)))" \
    "$(echo mat log box rug den | cut -d' ' -f$((i % 5 + 1)))"; done > a.txt
head -c 700 a.txt > ev.txt
printf 'the quick brown fox jumps over the lazy dog\nand again: the lazy dog sleeps.\n' > fox.txt
export PY HERE="$here"
export MODELS="lstm1w:lstm:1:windows gru2w:gru:2:windows lnlstm1w:lnlstm:1:windows lstm2s:lstm:2:streams
               gru1s:gru:1:streams lnlstm2s:lnlstm:2:streams lstm1q:lstm:1:seq"

# one seed: train, export, evaluate ("S NAME CELL LOSS" lines in S.eval); two seeds at a time
seq 0 $((N - 1)) | xargs -P 2 -I{} bash -c '
    s={}; mkdir -p "$s"; cd "$s" || exit 1
    for spec in $MODELS; do
        IFS=: read -r name cell L kind <<< "$spec"
        o="-H 12 -L $L --cell $cell --lr 0.02 -j 1 --seed $((3 + s)) --no-progress -o $name.model"
        case $kind in
            windows) vocab < ../a.txt | window -n 8 | train $o -e 6 ;;
            seq) vocab < ../a.txt | window -n 8 --seq | train $o -e 6 ;;
            streams) vocab < ../a.txt | train --streams -n 16 -b 5 $o -e 15 ;;
        esac 2> "$name.err" || { echo "seed $s $name: train failed: $(tail -1 "$name.err")" >&2; exit 1; }
        export-model -m "$name.model" -o "$name.st" && export-model -m "$name.model" --layout keras -o "$name.k.st" \
            || { echo "seed $s $name: export failed" >&2; exit 1; }
        loss=$(evaluate -m "$name.model" --json < ../ev.txt | sed "s/.*\"loss_nats\": \([0-9.]*\).*/\1/")
        echo "$s $name $cell $loss"
    done > ../$s.eval
    for cs in lstm:11 gru:12 lnlstm:14; do
        cell=${cs%:*}
        want=$("$PY" "$HERE/ref_lstm.py" make "r$cell.model" ../fox.txt $((${cs#*:} + s)) $cell) || exit 1
        got=$(evaluate -m "r$cell.model" --tsv < ../fox.txt | tail -1 | cut -f4)
        echo "$s r$cell $cell $got $want"
    done > ../$s.numpy' || exit 1
cat $(seq -f '%g.eval' 0 $((N - 1))) > all.eval
awk '{ print $1 "/" $2 ".st" }' all.eval > torch.list
awk '{ print $1 "/" $2 ".k.st" }' all.eval > keras.list
awk '$3 != "lnlstm" { print $1 "/" $2 ".st" }' all.eval > pytorch.list
# numpy from each layout, and torch, each in one process over every seed's exports
"$PY" "$here/st_ref.py" loss $(cat torch.list) ev.txt > numpy.out 2> numpy.err &
"$PY" "$here/st_ref.py" keras-loss $(cat keras.list) ev.txt > keras.out 2> keras.err &
wait
if "$PY" -c 'import torch' 2>/dev/null; then
    "$PY" "$here/st_ref.py" torch-loss $(cat pytorch.list) ev.txt > pytorch.out 2> pytorch.err \
        || { echo "torch: $(tail -3 pytorch.err)" >&2; exit 1; }
else
    echo "seeds_export.sh: no torch in $PY: the torch losses are left out" >&2; : > pytorch.out
fi
for f in numpy keras; do
    [ "$(wc -l < $f.out)" = "$(wc -l < all.eval)" ] || { echo "$f: $(tail -3 $f.err)" >&2; exit 1; }
done

# test_export.sh's bounds: numpy |a - b| < 1e-5 + 1e-5 b (evaluate prints 6 decimals; its float
# sums over the text), torch |a - b| < 1e-4 (torch's own float32 arithmetic besides ours)
ratios() {   # CHECK BOUND-EXPR EVAL-LINES REF-LINES
    paste -d' ' "$3" "$4" | awk -v chk="$1" '{
        a = $5; b = $4; d = a > b ? a - b : b - a; bound = '"$2"'
        printf "# bound test_export.sh:%s %.4g %s %s: reference %s, evaluate %s\n", chk, d / bound, $1, $2, a, b }'
}
ratios numpy_loss '1e-5 + 1e-5 * b' all.eval numpy.out
cat $(seq -f '%g.numpy' 0 $((N - 1))) | awk '{                  # test_model.sh: |a - b| < 2e-5 a
    d = $5 > $4 ? $5 - $4 : $4 - $5
    printf "# bound test_model.sh:eval_vs_numpy %.4g %s %s: numpy %s, evaluate %s\n", d / (2e-5 * $5), $1, $2, $5, $4 }'
ratios keras_loss '1e-5 + 1e-5 * b' all.eval keras.out
awk '$3 != "lnlstm"' all.eval > torch.eval
[ -s pytorch.out ] && ratios torch_loss 1e-4 torch.eval pytorch.out
exit 0
