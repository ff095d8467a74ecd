#!/usr/bin/env bash
# numpy-onehot.sh [TEXT] - feed the one-hot tensors to another program: Python with numpy.
#
# A charpipe stream is gzip around a sequence of msgpack maps, so any language with gzip and
# msgpack reads it (lib/FORMAT.md). Here a few lines of Python read the output of onehot from
# stdin as it arrives, print the shapes and check that every vector is one-hot.
# Needs python3 with numpy and msgpack (Debian: apt-get install python3-numpy python3-msgpack).
set -euo pipefail

# the first Python with both modules ($PYTHON when set)
for PY in ${PYTHON:-/usr/bin/python3 python3}; do "$PY" -c 'import numpy, msgpack' 2> /dev/null && break; PY=; done
[ -n "$PY" ] || { echo "$0: needs python3 with numpy and msgpack" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"   # the tools, $work, $text

vocab < "$text" | window -n 10 -b 32 | onehot | "$PY" -c '
import gzip, sys
import msgpack, numpy as np

stream = gzip.GzipFile(fileobj=sys.stdin.buffer)          # several gzip members are fine too
vocab, nx, ny, shapes = None, 0, 0, {}
for fr in msgpack.Unpacker(stream, raw=False):            # one frame (a dict) at a time
    if "data" not in fr:                                  # header, end and info frames
        continue
    a = np.frombuffer(fr["data"], dtype="<" + fr["dtype"]).reshape(fr["shape"])
    name = fr["name"]
    shapes.setdefault(name, (a.shape, a.dtype))
    if name == "vocab":
        vocab = "".join(map(chr, a))
    elif name in ("x", "y"):
        # one-hot: every value 0 or 1, exactly one 1 along the last (vocabulary) axis
        assert a.shape[-1] == len(vocab), (name, a.shape)
        assert np.all((a == 0) | (a == 1)) and np.all(a.sum(axis=-1) == 1), name + " is not one-hot"
        if name == "x":
            if nx == 0:
                first = "".join(vocab[i] for i in a[0].argmax(axis=-1))
            nx += a.shape[0]
        else:
            if ny == 0:
                nxt = vocab[a[0].argmax()]
            ny += a.shape[0]
for name, (shape, dtype) in shapes.items():
    print(f"{name:6s} first frame {str(shape):14s} {dtype}")
print(f"vocabulary: {len(vocab)} characters: {vocab!r}")
print(f"windows: {nx} x, {ny} y, all one-hot: ok")
print(f"first window {first!r} -> next character {nxt!r}")
'
