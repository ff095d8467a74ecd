#!/usr/bin/env bash
# mpi.sh O BIN - training across processes (Open MPI): the seed model and char-rnn 2x256 at
# 1 rank x 2 threads, 2 ranks x 1 thread and 1 rank x 1 thread; the time of one allreduce of
# the seed model's and the 2x512 model's gradient between two local ranks; and from those, on
# paper, the efficiency of a ring allreduce at 8 and 64 nodes (doc/PERFORMANCE.md, "Training
# on a cluster, on paper"). Needs mpicc and mpirun; builds build/mpi/bin/train.
set -u -o pipefail
O=${1:-build}; BIN=${2:-bin}
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$BIN" && pwd)
export PATH="$BIN:$PATH"
TEXT=${TEXT:-$root/../shared/data/tinyshakespeare.txt}
echo; echo "== training across processes (Open MPI)"
if ! command -v mpicc >/dev/null 2>&1 || ! command -v mpirun >/dev/null 2>&1; then
    echo "bench/mpi.sh: mpicc or mpirun not found: skipped"; exit 0
fi
[ -f "$TEXT" ] || { echo "bench/mpi.sh: $TEXT not found: skipped"; exit 0; }
make -s -C "$root" mpi >/dev/null || exit 1
MT=$root/build/mpi/bin/train
RUN="mpirun --oversubscribe --bind-to core"
[ "$(id -u)" = 0 ] && RUN="$RUN --allow-run-as-root"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
vocab < "$TEXT" > "$tmp/s.ts"
window -n 40 < "$tmp/s.ts" > "$tmp/w40.ts"

rate() { sed -n 's/.*benchmark: .*: \([0-9.]*\) [a-z]*\/s.*/\1/p'; }   # the benchmark line's rate
# speed R J INPUT ARGS... -> items/s of R ranks x J threads (R 1: the plain train)
speed() {
    local r=$1 j=$2 in=$3; shift 3
    if [ "$r" = 1 ]; then train -j "$j" "$@" < "$in" 2>&1 >/dev/null | rate
    else $RUN -np "$r" "$MT" -j "$j" "$@" < "$in" 2>&1 >/dev/null | rate; fi
}
SEED="-H 128 --max-batches 300 --no-progress"
CRNN="--streams -n 100 -b 50 -H 256 -L 2 --max-batches 15 --no-progress"
printf '%-32s %14s %14s %14s\n' "" "1 rank x 2 thr" "2 ranks x 1" "1 rank x 1"
s12=$(speed 1 2 "$tmp/w40.ts" $SEED); s21=$(speed 2 1 "$tmp/w40.ts" $SEED); s11=$(speed 1 1 "$tmp/w40.ts" $SEED)
printf '%-32s %14s %14s %14s\n' "seed model (H 128), windows/s" "$s12" "$s21" "$s11"
awk -v a="$s12" -v b="$s21" -v c="$s11" 'BEGIN { printf "%-32s %14.0f %14.0f %14.0f\n", "  chars/s (40 per window)", a * 40, b * 40, c * 40 }'
c12=$(speed 1 2 "$tmp/s.ts" $CRNN); c21=$(speed 2 1 "$tmp/s.ts" $CRNN); c11=$(speed 1 1 "$tmp/s.ts" $CRNN)
printf '%-32s %14s %14s %14s\n' "char-rnn 2x256, chars/s" "$c12" "$c21" "$c11"

# one MPI_Allreduce (sum, in place) of n floats between two local ranks
cat > "$tmp/ar.c" <<'C'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (int a = 1; a < argc; a++) {
        long n = atol(argv[a]);
        float *g = calloc((size_t)n, sizeof *g);
        int reps = n > 1000000 ? 20 : 200;
        for (int i = 0; i < 3; i++)
            MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < reps; i++)
            MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t = (MPI_Wtime() - t0) / reps;
        if (rank == 0)
            printf("%ld %.6f\n", n, t);
        free(g);
    }
    MPI_Finalize();
    return 0;
}
C
mpicc -O2 -o "$tmp/ar" "$tmp/ar.c" || exit 1
np_seed=$(train --summary -V 65 -n 40 -H 128 | sed -n 's/^Total params: //p' | tr -d ,)
np_big=$(train --summary -V 65 -n 100 -H 512 -L 2 | sed -n 's/^Total params: //p' | tr -d ,)
$RUN -np 2 "$tmp/ar" "$np_seed" "$np_big" > "$tmp/ar.out"
echo
echo "one allreduce of the gradient between 2 local ranks:"
awk '{ printf "  %9d floats (%6.2f MB): %8.3f ms, %6.2f GB/s of gradient\n", $1, $1 * 4 / 1e6, $2 * 1e3, $1 * 4 / $2 / 1e9 }' "$tmp/ar.out"

# On paper: per step, compute (one node's share of the batch at the 1 rank x 2 threads rate)
# against a ring allreduce moving 2 (R - 1) / R of the gradient over each node's link.
echo
echo "on paper: efficiency = compute / (compute + ring allreduce), per node 2 threads at the rates above"
printf '  %-16s %6s %8s %5s %10s %10s %8s %8s %12s\n' model grad_MB link nodes batch comp_ms comm_ms eff "batch>=80%"
for m in seed big; do
    if [ $m = seed ]; then np=$np_seed; per=$(awk -v r="$s12" 'BEGIN { print 1 / r }'); b=64; name="seed (H 128)"
    else np=$np_big; per=$(awk -v r="$c12" 'BEGIN { print 100 / r }'); b=50; name="2x512 (streams)"
        # 2x512: about 4x 2x256's work per character (the weights, H^2)
        per=$(awk -v p="$per" 'BEGIN { print p * 4 }'); fi
    for gbit in 10 100; do for R in 8 64; do
        awk -v np="$np" -v per="$per" -v b="$b" -v g="$gbit" -v R="$R" -v name="$name" 'BEGIN {
            bytes = 2 * (R - 1) / R * np * 4; comm = bytes * 8 / (g * 1e9)
            comp = per * b / R                       # the global batch b split over R nodes
            eff = comp / (comp + comm)
            need = 4 * comm / per * R                # compute >= 4 x comm: 80%
            printf "  %-16s %6.1f %5d Gb %5d %10d %10.2f %8.2f %7.0f%% %12.0f\n", name, np * 4 / 1e6, g, R, b, comp * 1e3, comm * 1e3, eff * 100, need }'
    done; done
done
echo "(figures from a shared machine: compare ratios; batch rows are windows (seed) or streams of 100 steps (2x512))"
