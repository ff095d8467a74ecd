#!/usr/bin/env bash
# data.sh [BIN [TEXT]] - throughput of the data stages on a real text.
#
#   BIN   the tools' directory (default: bin in the repository)
#   TEXT  a text file (default: ../shared/data/tinyshakespeare.txt next to the repository);
#         skipped with a message when absent
#
# Times vocab | window -n 40 and vocab | window -n 40 | onehot > /dev/null (best of REPEAT runs,
# default 3 and 1), the latter at the gzip level in effect (CHARPIPE_GZIP_LEVEL, default 1) and
# at level 0 for comparison, since compressing 10 KB of floats per window dominates onehot.
set -eu -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$root/bin}" && pwd)
TEXT=${2:-$root/../shared/data/tinyshakespeare.txt}
if [ ! -f "$TEXT" ]; then
    echo "bench/data.sh: skipped: no text at $TEXT"
    exit 0
fi
export PATH="$BIN:$PATH"
N=40
level=${CHARPIPE_GZIP_LEVEL:-1}

now() { date +%s.%N; }
best() {   # best REPEAT CMD: the shortest wall time of REPEAT runs of CMD (a shell string)
    local n=$1 b= t0 t1 t; shift
    for _ in $(seq "$n"); do
        t0=$(now); bash -o pipefail -c "$1"; t1=$(now)
        t=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}

windows=$(vocab <"$TEXT" | window -n $N | tdump --summary | awk '$1 == "x" { print $4 }')
chars=$(wc -m <"$TEXT")
bytes=$(wc -c <"$TEXT")
t_vocab=$(best 3 "vocab <'$TEXT' >/dev/null")
t_window=$(best 3 "vocab <'$TEXT' | window -n $N >/dev/null")
t_onehot=$(best 1 "vocab <'$TEXT' | window -n $N | onehot >/dev/null")
t_onehot0=$(best 1 "vocab <'$TEXT' | window -n $N | CHARPIPE_GZIP_LEVEL=0 onehot >/dev/null")

row() { printf '%-48s %8.2f s %12.0f windows/s\n' "$1" "$2" "$(echo "$windows / $2" | bc -l)"; }
echo "data stages: $(basename "$TEXT"), $bytes bytes, $chars characters, $windows windows of $N"
printf '%-48s %8.2f s %12s\n' "vocab" "$t_vocab" "$(printf '%.1f MB/s' "$(echo "$bytes / $t_vocab / 1000000" | bc -l)")"
row "vocab | window -n $N" "$t_window"
row "vocab | window -n $N | onehot (gzip level $level)" "$t_onehot"
row "vocab | window -n $N | onehot (gzip level 0)" "$t_onehot0"

# Memory of the training data: the windows of the text repeated 20 times held by train (the
# text once, each window a position in it, plus the 4-byte shuffle order), peak RSS as train
# --max-batches 1 reports it; the target is at most 8 bytes per window, everything included.
rep=$(mktemp); trap 'rm -f "$rep"' EXIT
for _ in $(seq 20); do cat "$TEXT"; done > "$rep"
out=$(vocab <"$rep" | window -n $N | train --max-batches 1 --no-progress 2>&1 >/dev/null)
rss=$(echo "$out" | sed -n 's/.*peak RSS \([0-9.]*\) MB.*/\1/p')
nw=$(echo "$out" | sed -n 's/^train: \([0-9]*\) windows of.*/\1/p')
printf '%-48s %8.1f MB %11.2f bytes/window (target <= 8)\n' "train: $nw windows (text x20), peak RSS" "$rss" \
    "$(echo "$rss * 1048576 / $nw" | bc -l)"
