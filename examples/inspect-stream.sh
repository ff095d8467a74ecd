#!/usr/bin/env bash
# inspect-stream.sh [TEXT] - look inside a charpipe stream with tdump: frames, JSON, summary.
#
# Every stage writes a gzip-compressed msgpack stream of named tensor frames (lib/FORMAT.md);
# tdump prints it: one line per frame, one JSON object per frame, or a summary per name.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.bash"   # the tools, $work, $text

# windows of 8 characters, 16 to a frame, saved to a file so we can look at it several ways
vocab < "$text" | window -n 8 -b 16 > "$work/windows.ts"

echo "== tdump: one line per frame (name, dtype, shape, first values, attrs); the first 4 frames"
tdump -n 8 "$work/windows.ts" > "$work/frames.txt"
sed -n 1,4p "$work/frames.txt"
echo "   ... $(wc -l < "$work/frames.txt") frames in all"

echo "== tdump --json: the same as JSON objects, here the vocab frame and the first x frame"
tdump --json -n 4 "$work/windows.ts" > "$work/frames.json"
grep -m1 '"name": *"vocab"' "$work/frames.json"
grep -m1 '"name": *"x"' "$work/frames.json"

echo "== tdump --summary: per frame name, the frames and the total shape"
tdump --summary "$work/windows.ts"

echo "== the same after onehot: the indices become float32 one-hot vectors"
onehot < "$work/windows.ts" | tdump --summary

# tdump reads stdin too, so it can sit at the end of any pipeline
echo "== straight from a pipeline: the text frames of vocab"
vocab < "$text" | tdump -n 12
