#!/usr/bin/env bash
# pipelines/autosize.sh TEXT BUDGET OUT.mk - the model size charrnn.mk trains (SIZE=auto): the
# largest candidate that, at the speed measured on this machine, sees EPOCHS_MIN epochs of
# TEXT's training part in BUDGET seconds, with its dropout and weight drop (the rule and the
# data behind it: doc/EXPERIMENTS.md, "A model sized to the budget").
#
# Each candidate (CANDIDATES, H x L, smallest first) trains MEASURE batches of charrnn.mk's
# shape (train --streams -n N -b B --cell CELL --val VAL --max-batches: its benchmark line
# gives the characters a second) REPEAT times, the median taking its speed (on a shared
# machine one measurement can be a third off, either way), until one falls short of
# EPOCHS_MIN; the speeds decide, not the CPU's name, so an AVX-512 machine gets a larger
# model than an AVX2 one. OUT.mk receives
# AUTO_H, AUTO_L, AUTO_DROPOUT, AUTO_WDROP and, as comments, every measurement.
#   dropout:     0.35 at H 256 (the ten-minute runs' best at N 25), 0.15 more per 256 units,
#                at most 0.5
#   weight drop: 0.2 when even the largest candidate sees twice EPOCHS_MIN (a long budget on a
#                fast machine: overfitting, not too few epochs, is then what limits it), else 0
set -eu -o pipefail
[ $# -eq 3 ] || { echo "usage: autosize.sh TEXT BUDGET OUT.mk" >&2; exit 2; }
TEXT=$1 BUDGET=$2 OUT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$HERE/../bin}
N=${N:-25} B=${B:-50} CELL=${CELL:-lnlstm} VAL=${VAL:-0.1}
CANDIDATES=${CANDIDATES:-"128x2 192x2 256x2 320x2 384x2 448x2 512x2 640x2 768x2"}
EPOCHS_MIN=${EPOCHS_MIN:-12}
MEASURE=${MEASURE:-12}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-}

[ -f "$TEXT" ] || { echo "charrnn.mk: TEXT=$TEXT not found: set TEXT=path/to/text (or SHARED=path/to/tinyshakespeare.txt)" >&2; exit 1; }
[ -x "$BIN/train" ] && [ -x "$BIN/vocab" ] || { echo "autosize.sh: $BIN/train not found: run make first, or set BIN" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN/vocab" < "$TEXT" > "$tmp/v.ts"

chosen= best_ep= last= last_ep= lines=
for c in $CANDIDATES; do
    h=${c%x*} l=${c#*x}
    rates=
    for _ in $(seq "$REPEAT"); do
        # shellcheck disable=SC2086
        "$BIN/train" --streams -n "$N" -b "$B" -H "$h" -L "$l" --cell "$CELL" --val "$VAL" --seed 1 \
            --max-batches "$MEASURE" --no-progress ${THREADS:+-j $THREADS} < "$tmp/v.ts" 2> "$tmp/err" \
            || { echo "autosize.sh: train -H $h -L $l failed: $(tail -1 "$tmp/err")" >&2; exit 1; }
        rate=$(sed -n 's/.* chars in [0-9.]*s: \([0-9.]*\) chars\/s.*/\1/p' "$tmp/err")
        chars=$(sed -n 's/^train: [0-9]* characters (\([0-9]*\) for training.*/\1/p' "$tmp/err")
        [ -n "$rate" ] && [ -n "$chars" ] || { echo "autosize.sh: no benchmark line from train: $(tail -2 "$tmp/err")" >&2; exit 1; }
        rates="$rates $rate"
    done
    rate=$(printf '%s\n' $rates | sort -g | sed -n "$(( (REPEAT + 1) / 2 ))p")   # the median
    ep=$(awk -v r="$rate" -v t="$BUDGET" -v n="$chars" 'BEGIN { printf "%.1f", r * t / n }')
    lines="$lines# $h	$l	$rate	$ep"$'\n'
    echo "autosize.sh: ${h} x ${l}: $rate chars/s (the median of$rates), $ep epochs in $BUDGET s" >&2
    last=$c last_ep=$ep
    if awk -v e="$ep" -v m="$EPOCHS_MIN" 'BEGIN { exit !(e >= m) }'; then
        chosen=$c best_ep=$ep
    else
        break
    fi
done
note=
if [ -z "$chosen" ]; then               # even the smallest sees too few epochs: take it
    chosen=$(echo "$CANDIDATES" | awk '{ print $1 }') best_ep=$last_ep
    note=" (the smallest candidate: none sees $EPOCHS_MIN epochs)"
fi
h=${chosen%x*} l=${chosen#*x}
dropout=$(awk -v h="$h" 'BEGIN { d = 0.35 + 0.15 * (h - 256) / 256; d = d > 0.5 ? 0.5 : d; printf "%.2f", d }')
wdrop=0
if [ "$chosen" = "$last" ] && [ "$chosen" = "$(echo "$CANDIDATES" | awk '{ print $NF }')" ] \
   && awk -v e="$best_ep" -v m="$EPOCHS_MIN" 'BEGIN { exit !(e >= 2 * m) }'; then
    wdrop=0.2
fi
{
    echo "# charrnn.mk SIZE=auto for $(basename "$TEXT"), BUDGET=$BUDGET: pipelines/autosize.sh, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# $(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $(nproc 2>/dev/null) CPUs; kernels $("$BIN/train" --version 2>/dev/null | sed -n "s/.*kernels: \([a-z0-9]*\).*/\1/p" | head -1)"
    echo "# the largest of $CANDIDATES that sees $EPOCHS_MIN epochs$note"
    echo "# H	L	chars_per_s	epochs"
    printf '%s' "$lines"
    echo "AUTO_H := $h"
    echo "AUTO_L := $l"
    echo "AUTO_DROPOUT := $dropout"
    echo "AUTO_WDROP := $wdrop"
    echo "AUTO_EPOCHS := $best_ep"
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "autosize.sh: $h x $l, dropout $dropout, weight drop $wdrop: $best_ep epochs in $BUDGET s$note" >&2
