#!/usr/bin/env bash
# encode-with-vocab.sh [TEXT] - encode new text with an existing vocabulary (vocab -v).
#
# A model only understands the character numbering it was trained with. 'vocab' numbers the
# characters of its input in sorted order, so a different text would get a different
# numbering; 'vocab -v FILE' reuses the vocabulary of FILE (a vocab stream or a model) instead.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.bash"   # the tools, $work, $text

# 1. the vocabulary of the whole text (and the text itself as indices)
vocab < "$text" > "$work/all.ts"
echo "== the vocabulary of $(basename "$text"):"
tdump -n 100 "$work/all.ts" | grep '^vocab'

# 2. new text (here: the first line of the input) encoded with that vocabulary: the indices
#    mean the same characters as in all.ts, whatever characters the new text has
head -n 1 "$text" > "$work/new.txt"
echo "== '$(cat "$work/new.txt")' encoded with it (vocab -v):"
vocab -v "$work/all.ts" < "$work/new.txt" | tdump -n 20

#    the same line encoded on its own gets its own, smaller vocabulary and other indices
echo "== the same line with its own vocabulary (plain vocab), for comparison:"
vocab < "$work/new.txt" | tdump -n 20

# 3. a character the vocabulary lacks is an error, or dropped with --skip-unknown
printf 'new text with a snowman \342\230\203\n' > "$work/odd.txt"
echo "== a character outside the vocabulary:"
if vocab -v "$work/all.ts" < "$work/odd.txt" > /dev/null 2> "$work/err"; then
    echo "(every character was known)"
else
    echo "vocab -v fails: $(cat "$work/err")"
fi
echo "== with --skip-unknown:"
vocab -v "$work/all.ts" --skip-unknown < "$work/odd.txt" 2> "$work/err" | tdump --summary
echo "stderr: $(cat "$work/err")"
