#!/usr/bin/env bash
# bf16.sh O BIN - train --precision bf16 beside train in fp32 and beside oneDNN's LSTM in f32
# and in bf16 (../shared/peers/onednn/run.sh, DTYPE=bf16), all in the same run: the seed model
# (H 128) and the char-rnn 2 x 256 and 2 x 512, 1 and 2 threads, ROUNDS alternating rounds
# (default 3), each figure the best of its rounds, as run.sh's oneDNN table; then issue 30's
# targets, met or not. Run by run.sh; quick by itself with SECONDS_PER=3 ROUNDS=1.
#
# Only where the CPU has AVX512_BF16 and train uses the avx512bf16 kernels: elsewhere bf16 runs
# on the exact emulation of the instruction, whose speed says nothing about the instruction's,
# and the section is skipped with a line saying why. BF16_FORCE=1 runs it anyway (to check this
# script on such a CPU: its figures are then the emulation's). SHAPES and THREADS narrow it.
set -u -o pipefail
O=${1:-build}; BIN=${2:-bin}
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$BIN" && pwd)
export PATH="$BIN:$PATH"
TEXT=${TEXT:-$root/../shared/data/tinyshakespeare.txt}
ONEDNN=${ONEDNN:-$root/../shared/peers/onednn/run.sh}
PER=${SECONDS_PER:-15}; ROUNDS=${ROUNDS:-3}
SHAPES=${SHAPES:-"seed charrnn_h256 charrnn_h512"}; THREADS=${THREADS:-"1 2"}
: "$O"

echo; echo "== bf16 products (train --precision bf16) beside fp32, and beside oneDNN in f32 and bf16"
kset=$(train --version | sed 's/.*kernels: \([a-z0-9]*\).*/\1/')
has=; grep -qw avx512_bf16 /proc/cpuinfo && has=1
if [ "${BF16_FORCE:-}" != 1 ] && { [ -z "$has" ] || [ "$kset" != avx512bf16 ]; }; then
    if [ -z "$has" ]; then why="this CPU has no AVX512_BF16 (kernels $kset)"
    else why="train uses the $kset kernels, not avx512bf16 (CHARPIPE_KERNEL set?)"; fi
    echo "skipped: $why: bf16 would run on the exact emulation of vdpbf16ps, whose speed says nothing about the instruction's"
    exit 0
fi
[ "${BF16_FORCE:-}" = 1 ] && [ "$kset" != avx512bf16 ] \
    && echo "(BF16_FORCE: kernels $kset, bf16 on the emulation: these figures are not the instruction's)"
[ -f "$TEXT" ] || { echo "skipped: $TEXT not found"; exit 0; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
vocab < "$TEXT" > "$tmp/text.ts"
window -n 40 < "$tmp/text.ts" > "$tmp/w40.ts"

rate() { sed -n 's/.*benchmark: .*: \([0-9.]*\) [a-z]*\/s.*/\1/p'; }   # train --max-batches's rate
# charpipe SHAPE THREADS PRECISION -> windows/s (seed) or chars/s (char-rnn), as run.sh runs them
charpipe() {
    if [ "$1" = seed ]; then
        local b; b=$(awk -v s="$PER" 'BEGIN { b = int(4000 * s / 3 / 64); print (b < 3 ? 3 : b) }')
        train -H 128 -j "$2" --precision "$3" --max-batches "$b" --no-progress < "$tmp/w40.ts" 2>&1 >/dev/null | rate
    else
        local H=${1#charrnn_h}
        train --streams -L 2 -n 100 -b 50 -H "$H" -j "$2" --precision "$3" --no-progress \
            --max-batches "$([ "$H" = 256 ] && echo $((PER * 2 / 3 + 1)) || echo $((PER / 4 + 1)))" \
            < "$tmp/text.ts" 2>&1 >/dev/null | rate
    fi
}
onednn=
if [ -f "$ONEDNN" ] && { [ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || [ -f /usr/include/dnnl.hpp ]; }; then onednn=1
else echo "oneDNN peer: not run (needs libdnnl-dev: apt-get install -y libdnnl-dev, and $ONEDNN)"; fi

: > "$tmp/rounds"
for r in $(seq "$ROUNDS"); do
    for dt in f32 bf16; do
        [ -n "$onednn" ] || continue
        DTYPE=$dt BENCH_SECONDS=$(( PER / 3 > 2 ? PER / 3 : 2 )) THREADS="$THREADS" SHAPES="$SHAPES" \
            BUILD="$tmp/onednn" bash "$ONEDNN" 2>/dev/null > "$tmp/onednn.out"
        sed -n "s/^onednn \([a-z0-9_]*\) threads=\([0-9]*\) .*windows_or_chars_per_s=\([0-9.]*\).*/onednn_$dt \1 \2 \3/p" \
            "$tmp/onednn.out" >> "$tmp/rounds"
        [ "$r" = 1 ] && grep '^# bf16 not available' "$tmp/onednn.out" | sed 's/^# /oneDNN: /'
    done
    for shape in $SHAPES; do
        for j in $THREADS; do
            for p in fp32 bf16; do
                c=$(charpipe "$shape" "$j" "$p")
                [ -n "$c" ] && echo "charpipe_$p $shape $j $c" >> "$tmp/rounds"
            done
        done
    done
done

printf '%-22s %-3s %12s %12s %14s %14s %8s %9s %9s\n' shape -j "oneDNN f32" "oneDNN bf16" "charpipe fp32" \
    "charpipe bf16" "bf16/fp32" "/oDNN f32" "/oDNN bf16"
for shape in $SHAPES; do
    for j in $THREADS; do
        unit=$([ "$shape" = seed ] && echo windows/s || echo chars/s)
        awk -v s="$shape" -v j="$j" -v u="$unit" '
            $2 == s && $3 == j { v = $4 + 0; if (!($1 in best) || v > best[$1]) best[$1] = v }
            function fig(w) { return (w in best) ? sprintf("%.0f", best[w]) : "-" }
            function ratio(a, b) { return (a in best) && (b in best) && best[b] > 0 ? sprintf("%.2fx", best[a] / best[b]) : "-" }
            END {
                printf "%-22s %-3s %12s %12s %14s %14s %8s %9s %9s\n", s " (" u ")", j, fig("onednn_f32"),
                    fig("onednn_bf16"), fig("charpipe_fp32"), fig("charpipe_bf16"),
                    ratio("charpipe_bf16", "charpipe_fp32"), ratio("charpipe_bf16", "onednn_f32"),
                    ratio("charpipe_bf16", "onednn_bf16")
            }' "$tmp/rounds"
    done
done
# issue 30's targets, 2 threads: seed bf16 >= 1.5x charpipe fp32 and >= 3x oneDNN f32;
# char-rnn 2 x 512 bf16 >= 1.7x charpipe fp32 and >= 1.3x oneDNN bf16
awk '
    $3 == 2 { v = $4 + 0; k = $1 " " $2; if (!(k in best) || v > best[k]) best[k] = v }
    function target(what, a, b, want) {
        if (!(a in best) || !(b in best) || best[b] <= 0) { printf "target %s: not measured\n", what; return }
        r = best[a] / best[b]
        printf "target %s: %.2fx, %s (>= %.1fx)\n", what, r, (r >= want ? "met" : "NOT met"), want
    }
    END {
        target("seed, 2 threads, bf16 / charpipe fp32", "charpipe_bf16 seed", "charpipe_fp32 seed", 1.5)
        target("seed, 2 threads, bf16 / oneDNN f32", "charpipe_bf16 seed", "onednn_f32 seed", 3.0)
        target("2 x 512, 2 threads, bf16 / charpipe fp32", "charpipe_bf16 charrnn_h512", "charpipe_fp32 charrnn_h512", 1.7)
        target("2 x 512, 2 threads, bf16 / oneDNN bf16", "charpipe_bf16 charrnn_h512", "onednn_bf16 charrnn_h512", 1.3)
    }' "$tmp/rounds"
echo "(best of $ROUNDS alternating rounds each; oneDNN leaves out the output layer, charpipe includes it; charpipe's"
echo " bf16 runs the recurrent and input products in bf16 and the rest in float, oneDNN's keeps bias, c and gradients in f32)"
