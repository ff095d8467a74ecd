#!/usr/bin/env bash
# pipelines/dyntune.sh - tune evaluate --dynamic's learning rate, decay and segment length on
# held-out TRAINING text, never on the validation text they are reported on.
#
#   pipelines/dyntune.sh                      tinyshakespeare (SHARED), a 600 s tuning model
#   BUDGET=120 CHARS=20000 pipelines/dyntune.sh   a quicker, noisier tuning
#   MODEL=m TEXT=t.txt pipelines/dyntune.sh   tune for a model already trained on TEXT's
#                                             first 90% with train --val 0.1 (below)
#
# charrnn.mk holds out the last 10% of TEXT for validation. This script reads only the first
# 90% (the training text) and splits it again the same way: a model is trained on its first
# 90% (train --streams --val 0.1, charrnn.mk's settings, BUDGET seconds), and its last 10%
# (characters 81% to 90% of TEXT, which the tuning model did not train on) tunes: evaluate
# --dynamic on the first CHARS of it for every LRS x DECAYS x SEGMENTS. Results, best first, in
# RUNS/dyntune-NAME-tBUDGET/table.tsv (lr, decay, segment, dynamic loss, static one-stream
# loss, the gain, seconds); the best line is printed.
set -eu -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$HERE/../bin}
SHARED=${SHARED:-$HERE/../../shared/data/tinyshakespeare.txt}
TEXT=${TEXT:-$SHARED}
RUNS=${RUNS:-$HERE/runs}
BUDGET=${BUDGET:-600}
CHARS=${CHARS:-50000}
LRS=${LRS:-"5e-5 1e-4 2e-4 4e-4 8e-4"}
DECAYS=${DECAYS:-"0 1e-3 1e-2"}
SEGMENTS=${SEGMENTS:-"10 20 50"}
MODEL=${MODEL:-}
TRAIN_OPTS=${TRAIN_OPTS:-"--cell lnlstm -H 256 -L 2 -n 50 -b 50 --lr 3e-3 --schedule cosine --dropout 0.25 --clip 5 --seed 1"}

[ -f "$TEXT" ] || { echo "dyntune.sh: TEXT=$TEXT not found (set TEXT= or SHARED=)" >&2; exit 1; }
for t in vocab train evaluate; do
    [ -x "$BIN/$t" ] || { echo "dyntune.sh: $BIN/$t not found: run make first, or set BIN" >&2; exit 1; }
done
name=$(basename "${TEXT%.*}")
D=$RUNS/dyntune-$name-t$BUDGET
mkdir -p "$D"
n=$(wc -c < "$TEXT")
head -c $((n * 9 / 10)) "$TEXT" > "$D/train90.txt"            # the training text of charrnn.mk's split
m=$(wc -c < "$D/train90.txt")
# its held-out tail: train --val 0.1 holds out the last floor(m / 10) characters (an ASCII
# text's bytes; the first CHARS of them are enough to tune on)
head -c $((m - m / 10 + CHARS)) "$D/train90.txt" | tail -c +$((m - m / 10 + 1)) > "$D/tune.txt"
if [ -z "$MODEL" ]; then
    MODEL=$D/model
    if [ ! -s "$MODEL" ]; then
        echo "dyntune.sh: training the tuning model ($BUDGET s) on the first 90% of $D/train90.txt" >&2
        # shellcheck disable=SC2086
        "$BIN/vocab" < "$D/train90.txt" | "$BIN/train" --streams $TRAIN_OPTS --val 0.1 --max-seconds "$BUDGET" \
            --no-progress -q --log "$D/loss.tsv" -o "$MODEL.tmp" 2> "$D/train.err"
        mv "$MODEL.tmp" "$MODEL"
    fi
fi
static=$("$BIN/evaluate" -m "$MODEL" --streams 1 --tsv < "$D/tune.txt" | tail -1 | cut -f4)
echo "dyntune.sh: static loss of one stream on $(wc -c < "$D/tune.txt") held-out training characters: $static" >&2
printf 'lr\tdecay\tsegment\tdynamic_loss\tstatic_loss\tgain\tseconds\n' > "$D/grid.tsv"
for seg in $SEGMENTS; do
    for lr in $LRS; do
        for decay in $DECAYS; do
            t0=$(date +%s.%N)
            dl=$("$BIN/evaluate" -m "$MODEL" --dynamic --dynamic-lr "$lr" --dynamic-decay "$decay" \
                 --dynamic-segment "$seg" --tsv < "$D/tune.txt" | tail -1 | cut -f8)
            secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
            printf '%s\t%s\t%s\t%s\t%s\t%.4f\t%s\n' "$lr" "$decay" "$seg" "$dl" "$static" \
                "$(awk -v a="$static" -v b="$dl" 'BEGIN { print a - b }')" "$secs" | tee -a "$D/grid.tsv" >&2
        done
    done
done
{ head -1 "$D/grid.tsv"; tail -n +2 "$D/grid.tsv" | sort -t $'\t' -k4,4g; } > "$D/table.tsv"
echo "best (lr, decay, segment, dynamic loss, static loss, gain, seconds); all in $D/table.tsv:"
sed -n 2p "$D/table.tsv"
