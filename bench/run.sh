#!/usr/bin/env bash
# run.sh O BIN - charpipe's benchmarks. Every figure is printed beside a baseline measured in
# the same run (the FMA peak of this CPU, PyTorch on the same data when it is installed), so
# compare ratios, not absolute numbers: timings on a shared machine are noisy.
#
# Needs the corpus ../shared/data/tinyshakespeare.txt (or TEXT=...); the PyTorch peer runs when
# /usr/bin/python3 can import torch (apt-get install python3-torch libopenblas0-openmp), the
# oneDNN peer (../shared/peers/onednn/run.sh) when libdnnl-dev is installed. bench/bf16.sh
# (train --precision bf16 against fp32 and oneDNN f32 and bf16) runs where the CPU has
# AVX512_BF16.
# SECONDS_PER=N sets the length of each timed training run (default 15); ROUNDS=N the number
# of alternating rounds of oneDNN and charpipe in their comparison (default 3).
set -u -o pipefail
O=${1:-build}; BIN=${2:-bin}
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$BIN" && pwd)
export PATH="$BIN:$PATH"
TEXT=${TEXT:-$root/../shared/data/tinyshakespeare.txt}
PEER=$root/../shared/peers/torch_lstm.py
PER=${SECONDS_PER:-15}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
     "kernel set $(train --version | sed 's/.*kernels: \(.*\))/\1/'), load $(cut -d' ' -f1 /proc/loadavg)"
if [ ! -f "$TEXT" ]; then
    echo "bench: $TEXT not found: only the kernel and sampler benchmarks run"
    "$O/bench/bench_kern"
    echo; echo "== the sampler's top-k and top-p (selection against a full sort)"
    "$O/bench/bench_sample"
    exit 0
fi

echo; echo "== data stages"
bash "$root/bench/data.sh" "$BIN" "$TEXT"

echo; echo "== kernels (single core, against the measured FMA peak)"
"$O/bench/bench_kern" | tee "$tmp/kern.txt"
kset=$(train --version | sed 's/.*kernels: \([a-z0-9]*\).*/\1/')
fset=${kset%bf16}     # the set whose fp32 kernels kset runs (avx512bf16's are avx512's)
peak1=$(sed -n "s/^$kset *peak \([0-9.]*\) GFLOP.*/\1/p" "$tmp/kern.txt")
peakall=$(sed -n "s/^$kset *peak .*cores at once: \([0-9.]*\) GFLOP.*/\1/p" "$tmp/kern.txt")

vocab < "$TEXT" | window -n 40 > "$tmp/w40.ts"
# train --max-batches K: K batches of 64 after reading all windows; windows/s of those
train_wps() {   # ARGS... -> windows/s
    train "$@" < "$tmp/w40.ts" 2>&1 >/dev/null | sed -n 's/.*: \([0-9.]*\) windows\/s.*/\1/p'
}
batches_for() { # windows/s guess, seconds -> batches
    awk -v w="$1" -v s="$2" 'BEGIN { b = int(w * s / 64); print (b < 3 ? 3 : b) }'
}

peer_seed() {   # THREADS HIDDEN -> windows/s of PyTorch, or empty
    [ -f "$PEER" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null || return 0
    env -u OPENBLAS_CORETYPE /usr/bin/python3 "$PEER" throughput --task seed --input embed \
        --threads "$1" --hidden "$2" --seconds "$PER" --data "$TEXT" 2>/dev/null \
        | sed -n 's/.*"windows_per_s": \([0-9.]*\).*/\1/p'
}

echo; echo "== train: windows/s, seed model (V 65, maxlen 40, batch 64), all of tinyshakespeare in memory"
printf '%-8s %-8s %-3s %14s\n' hidden kernels -j windows/s
best_128=0
for H in 128 512; do
    for k in avx512 avx2 scalar; do
        for j in 1 2; do
            guess=$([ $H = 128 ] && echo 4000 || echo 250)
            [ $k = scalar ] && guess=$([ $H = 128 ] && echo 150 || echo 12)
            [ $k = scalar ] && [ $j = 2 ] && continue
            w=$(CHARPIPE_KERNEL=$k train_wps -H $H -j $j --max-batches "$(batches_for "$guess" "$PER")" 2>/dev/null)
            [ -z "$w" ] && continue
            printf '%-8s %-8s %-3s %14.0f\n' $H $k $j "$w"
            if [ $H = 128 ] && [ $k = "$fset" ]; then [ $j = 1 ] && seed_j1=$w || seed_j2=$w; fi
            [ $H = 128 ] && awk -v a="$w" -v b="$best_128" 'BEGIN { exit !(a > b) }' && best_128=$w
        done
    done
done
printf 'memory: '; train --max-batches 1 < "$tmp/w40.ts" 2>&1 >/dev/null | sed -n 's/.*peak RSS/peak RSS/p'
# the seed model against the FMA peak: 3 recurrent products of 2 T H 4H flops a window (T 40,
# H 128: 15.7 MFLOP; the gathers, cells, output layer and optimizer are the rest of the step)
seed_flops=$((3 * 2 * 40 * 128 * 4 * 128))
if [ -n "${seed_j1:-}" ] && [ -n "$peak1" ]; then
    awk -v w1="$seed_j1" -v w2="${seed_j2:-0}" -v p1="$peak1" -v pa="${peakall:-0}" -v k="$kset" -v fl="$seed_flops" 'BEGIN {
        f = fl * 1e-9
        printf "seed model (%s): 1 thread %.1f GFLOP/s = %.0f%% of one core'"'"'s peak", k, w1 * f, 100 * w1 * f / p1
        if (w2 > 0 && pa > 0)
            printf "; 2 threads %.1f GFLOP/s = %.0f%% of the cores'"'"' peak together (%.1f), %.2fx one thread", w2 * f, 100 * w2 * f / pa, pa, w2 / w1
        printf "\n" }'
fi

p1=$(peer_seed 1 128); p2=$(peer_seed 2 128)
if [ -n "$p1$p2" ]; then
    peer=$(printf '%s\n%s\n' "$p1" "$p2" | sort -g | tail -1)
    printf 'PyTorch (OpenBLAS), same data, H 128: %s windows/s with 1 thread, %s with 2\n' "${p1:-?}" "${p2:-?}"
    awk -v a="$best_128" -v b="$peer" 'BEGIN { printf "charpipe / PyTorch (best of each): %.2fx\n", a / b }'
else
    echo "PyTorch peer: not run (needs /usr/bin/python3 with torch and $PEER)"
fi

echo; echo "== train --streams (char-rnn): characters/s, 2 layers, 50 streams of 100 steps, 2 threads"
vocab < "$TEXT" > "$tmp/text.ts"
# train --streams --max-batches K on all of tinyshakespeare; chars/s of those
train_cps() {   # ARGS... -> chars/s
    train --streams -L 2 -n 100 -b 50 "$@" < "$tmp/text.ts" 2>&1 >/dev/null \
        | sed -n 's/.*: \([0-9.]*\) chars\/s.*/\1/p'
}
printf '%-8s %-6s %14s\n' hidden cell chars/s
declare -A cps
for H in 256 512; do
    for cell in lstm gru; do
        nb=$([ $H = 256 ] && echo $((PER * 2)) || echo $((PER / 2 + 1)))    # about PER/2 seconds
        c=$(train_cps --cell $cell -H $H -j 2 --max-batches $nb)
        cps[$H$cell]=$c
        printf '%-8s %-6s %14.0f\n' $H $cell "$c"
    done
done
if [ -f "$PEER" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    for j in 1 2; do
        p=$(env -u OPENBLAS_CORETYPE /usr/bin/python3 "$PEER" throughput --task charrnn --hidden 512 --layers 2 \
              --threads $j --seconds "$PER" --data "$TEXT" 2>/dev/null | grep -o '"chars_per_s": [0-9.]*' | head -1 | grep -o '[0-9.]*$')
        printf 'PyTorch (OpenBLAS) LSTM 2 x 512, %d thread%s: %s chars/s' $j "$([ $j = 2 ] && echo s)" "${p:-?}"
        [ -n "$p" ] && awk -v a="${cps[512lstm]}" -v b="$p" 'BEGIN { printf "  (charpipe LSTM / PyTorch: %.2fx)", a / b }'
        echo
    done
else
    echo "PyTorch peer: not run (needs /usr/bin/python3 with torch and $PEER)"
fi

echo; echo "== oneDNN LSTM (forward_training + backward, recurrent layers only) beside charpipe, same shapes"
# ../shared/peers/onednn/run.sh prints 'onednn SHAPE threads=J impl=... windows_or_chars_per_s=X ...';
# charpipe's figures are train --max-batches runs of the same shapes (it also trains the dense layer).
# ROUNDS (default 3) alternating rounds of both, each figure the best of its rounds: on a shared
# machine a run can lose a third to its neighbours, and the two sides should have the same
# chances of a quiet moment. The spread of each side's rounds is printed beside it.
ONEDNN=$root/../shared/peers/onednn/run.sh
ROUNDS=${ROUNDS:-3}
charpipe_shape() {  # SHAPE THREADS -> windows/s or chars/s
    if [ "$1" = seed ]; then
        train_wps -H 128 -j "$2" --max-batches "$(batches_for 4000 $((PER / 3)))" 2>/dev/null
    else
        local H=${1#charrnn_h}
        train_cps -H "$H" -j "$2" --max-batches "$([ "$H" = 256 ] && echo $((PER * 2 / 3 + 1)) || echo $((PER / 4 + 1)))"
    fi
}
if [ -f "$ONEDNN" ] && { [ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || [ -f /usr/include/dnnl.hpp ]; }; then
    : > "$tmp/rounds"
    for r in $(seq "$ROUNDS"); do
        BENCH_SECONDS=$(( PER / 3 > 2 ? PER / 3 : 2 )) THREADS="1 2" SHAPES="seed charrnn_h256 charrnn_h512" \
            BUILD="$tmp/onednn" bash "$ONEDNN" 2>/dev/null \
            | sed -n 's/^onednn \([a-z0-9_]*\) threads=\([0-9]*\) .*windows_or_chars_per_s=\([0-9.]*\).*/onednn \1 \2 \3/p' \
            >> "$tmp/rounds"
        for shape in seed charrnn_h256 charrnn_h512; do
            for j in 1 2; do
                c=$(charpipe_shape $shape $j)
                [ -n "$c" ] && echo "charpipe $shape $j $c" >> "$tmp/rounds"
            done
        done
    done
    printf '%-22s %-3s %22s %22s %8s   %s\n' shape -j "oneDNN best (range)" "charpipe best (range)" ratio \
        "% of the FMA peak: oneDNN, charpipe; the ratio at 100%"
    for shape in seed charrnn_h256 charrnn_h512; do
        for j in 1 2; do
            unit=$([ $shape = seed ] && echo windows/s || echo chars/s)
            # the products' flops of a window or character, counted alike for both sides: 3
            # products (forward, input gradient, weight gradient) of 2 H 4H flops for each
            # recurrence and each input projection but layer 0's (a row gather in charpipe)
            case $shape in
            seed) flops=$seed_flops ;;
            *) h=${shape#charrnn_h}; flops=$((3 * 2 * h * 4 * h * 3)) ;;   # 2 layers: 2 + 1
            esac
            pk=$([ $j = 1 ] && echo "$peak1" || echo "$peakall")
            awk -v s=$shape -v j=$j -v u="$unit" -v fl="$flops" -v pk="${pk:-0}" '
                $2 == s && $3 == j { v = $4 + 0; n[$1]++
                                     if (!($1 in hi) || v > hi[$1]) hi[$1] = v
                                     if (!($1 in lo) || v < lo[$1]) lo[$1] = v }
                END {
                    for (i = 1; i <= 2; i++) {
                        w = i == 1 ? "onednn" : "charpipe"
                        f[i] = n[w] ? sprintf("%.0f (%.0f-%.0f)", hi[w], lo[w], hi[w]) : "-"
                    }
                    printf "%-22s %-3s %22s %22s", s " (" u ")", j, f[1], f[2]
                    if (n["onednn"] && n["charpipe"]) {
                        printf " %7.2fx", hi["charpipe"] / hi["onednn"]
                        g = fl * 1e-9                       # GFLOP a window or character
                        if (pk > 0)
                            printf "   %3.0f%%, %3.0f%%; %.2fx", 100 * hi["onednn"] * g / pk,
                                   100 * hi["charpipe"] * g / pk, pk / (hi["onednn"] * g)
                    }
                    printf "\n"
                }' "$tmp/rounds"
        done
    done
    echo "(ratio = charpipe / oneDNN, best against best of $ROUNDS alternating rounds; oneDNN leaves out the output layer, charpipe includes it."
    echo " % of the peak: the products' flops (3 x 2 H 4H per recurrence and upper layer's input, a window's"
    echo " 40 steps or a character) per second against the FMA peak measured above, one core's for -j 1, both"
    echo " cores' for -j 2; the ratio at 100% is the most any program could reach against this oneDNN run.)"
else
    echo "oneDNN peer: not run (needs libdnnl-dev: apt-get install -y libdnnl-dev, and $ONEDNN)"
fi

# bf16 products beside fp32 and oneDNN f32 and bf16 (skipped, saying why, without AVX512_BF16)
bash "$root/bench/bf16.sh" "$O" "$BIN"

echo; echo "== sample: characters/s, one thread"
printf '%-8s %-12s %14s\n' hidden mode chars/s
head -c 200000 "$TEXT" | vocab | window -n 40 > "$tmp/small.ts"
for H in 128 512; do
    train -e 0 -H $H -o "$tmp/m$H" < "$tmp/small.ts" 2>/dev/null
    for mode in stateful stateful-f16 window; do
        n=$([ $mode = window ] && echo 3000 || echo 300000)
        [ $H = 512 ] && n=$((n / 8))
        t0=$(date +%s.%N)
        sample -m "$tmp/m$H" $([ $mode = stateful-f16 ] && echo --stateful --f16 || echo --$mode) \
            -n $n -t 1 --rng-seed 1 --seed "First Citizen:" > /dev/null
        t1=$(date +%s.%N)
        awk -v n=$n -v a="$t0" -v b="$t1" -v h=$H -v m=$mode 'BEGIN { printf "%-8s %-12s %14.0f\n", h, m, n / (b - a) }'
    done
done
train -e 0 -H 128 --cell gru -o "$tmp/g128" < "$tmp/small.ts" 2>/dev/null
t0=$(date +%s.%N)
sample -m "$tmp/g128" --stateful -n 300000 -t 1 --rng-seed 1 --seed "First Citizen:" > /dev/null
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%-8s %-12s %14.0f\n", "128 gru", "stateful", 300000 / (b - a) }'
if [ -f "$PEER" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    env -u OPENBLAS_CORETYPE /usr/bin/python3 "$PEER" sample --threads 1 --nchars 2000 --reps 1 --data "$TEXT" 2>/dev/null \
        | sed -n 's/.*"method": "\([a-z]*\)".*"chars_per_s": \([0-9.]*\).*/PyTorch 128  \1: \2 chars\/s/p'
fi
echo; echo "== sample in the browser: the web page (make wasm) in Chromium beside native sample, H 128, stateful, one thread"
bash "$root/bench/web.sh" "$BIN" "$TEXT"
echo; echo "== the sampler's top-k and top-p (selection against a full sort)"
"$O/bench/bench_sample"
echo; echo "== sample --count N: N samples in one batch beside N separate runs"
bash "$root/bench/sample_count.sh" "$BIN" "$TEXT"
bash "$root/bench/mpi.sh" "$O" "$BIN"
