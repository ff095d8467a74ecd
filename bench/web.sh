#!/usr/bin/env bash
# web.sh BIN TEXT [CHARS] - the web page's generation speed (make wasm: the generator built to
# WebAssembly, in Chromium) beside native sample, stateful, one thread: characters/s of a model
# of H 128 on the first 200k characters of TEXT, untrained (the speed does not depend on the
# weights), CHARS characters at temperature 1 (default 300000), for the vector kernels
# (native: the best this CPU runs; the page: simd128) and the scalar ones on both sides.
# The page's figure is what it shows: characters over the generation's time in its worker;
# native's is the whole run of sample (reading the model is a few ms of it). Run by run.sh;
# quick by itself with a small CHARS (e.g. 20000). Needs build/web (make wasm), Chromium and
# playwright-core (installed into build/npm when missing); says why and stops when one is not
# there. Timings on a shared machine are noisy: compare the ratios of one run.
set -u -o pipefail
BIN=$(cd "${1:?BIN}" && pwd); TEXT=${2:?TEXT}; C=${3:-300000}
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$BIN:$PATH"
if [ ! -f "$root/build/web/charpipe-simd.wasm" ]; then
    echo "web: not run (build/web has no .wasm: make wasm-deps, make wasm)"; exit 0
fi
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "web: not run (no Chromium: apt-get install chromium)"; exit 0
fi
if ! why=$("$root/tests/web/playwright.sh" "$root/build/npm"); then
    echo "web: not run ($why)"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
head -c 200000 "$TEXT" | vocab | window -n 40 | train -e 0 -H 128 -o "$tmp/m128.model" 2>/dev/null \
    || { echo "web: train failed"; exit 1; }
seed="First Citizen:"
native() {   # KERNELS -> chars/s of sample
    local t0 t1
    t0=$(date +%s.%N)
    CHARPIPE_KERNEL=$1 sample -m "$tmp/m128.model" --stateful -n "$C" -t 1 --rng-seed 1 --seed "$seed" > /dev/null || return 1
    t1=$(date +%s.%N)
    awk -v n="$C" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }'
}
vec=$(train --version | sed 's/.*kernels: \([a-z0-9]*\).*/\1/')
n_vec=$(native "$vec"); n_sc=$(native scalar)
cat > "$tmp/cases.json" <<EOF
[
 {"name": "simd", "model": "$tmp/m128.model", "kernels": "simd128", "seed": "$seed", "n": $C, "t": 1, "rng": 1, "mode": 1},
 {"name": "scalar", "model": "$tmp/m128.model", "kernels": "scalar", "seed": "$seed", "n": $C, "t": 1, "rng": 1, "mode": 1}
]
EOF
mkdir -p "$tmp/out"
if ! node "$root/tests/web/drive.mjs" "$root/build/npm" "$root/build/web" "$tmp/cases.json" "$tmp/out" 2> "$tmp/err"; then
    echo "web: the page could not be driven: $(cat "$tmp/err")"; exit 0
fi
cps() { sed -n 's/.*"cps":"\([0-9.]*\)".*/\1/p' "$tmp/out/$1.json"; }
b_vec=$(cps simd); b_sc=$(cps scalar)
printf '%-8s %-9s %12s %s\n' where kernels chars/s ""
printf '%-8s %-9s %12s\n' native "$vec" "$n_vec"
printf '%-8s %-9s %12.0f %s\n' browser simd128 "$b_vec" "$(awk -v a="$b_vec" -v b="$n_vec" 'BEGIN { printf "(%.2fx native %s)", a / b, "'"$vec"'" }')"
printf '%-8s %-9s %12s\n' native scalar "$n_sc"
printf '%-8s %-9s %12.0f %s\n' browser scalar "$b_sc" "$(awk -v a="$b_sc" -v b="$n_sc" 'BEGIN { printf "(%.2fx native scalar)", a / b }')"
echo "(H 128, one layer, stateful, t 1, $C characters; Chromium $(chromium --version 2>/dev/null | awk '{ print $2 }'))"
