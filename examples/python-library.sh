#!/usr/bin/env bash
# python-library.sh [TEXT [MODEL]] - use a model from Python: python/charpipe.py, a ctypes
# layer over the shared library libcharpipe.so.1 (built by make into build/; no compiled
# extension). Generate with a temperature and a stop string, and score texts the way
# evaluate does.
#
# Without MODEL, a tiny model is trained on TEXT first (a few seconds). Needs python3.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.bash"   # the tools, $work, $text

# the module, and the library beside it in the build tree (or installed: make install)
export PYTHONPATH="$here/../python${PYTHONPATH:+:$PYTHONPATH}"
[ -f "$here/../build/libcharpipe.so.1" ] && export CHARPIPE_LIB=${CHARPIPE_LIB:-$here/../build/libcharpipe.so.1}
python=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1            # (nothing written into python/)

model=${2:-}
if [ -z "$model" ]; then
    model=$work/model
    echo "== training a tiny model on $(basename "$text") (char-rnn: LSTM 64, streams, 60 epochs)"
    vocab < "$text" | train --streams -n 32 -b 8 -H 64 -e 60 --lr 0.01 --seed 1 -o "$model" 2> "$work/train.err" \
        || { cat "$work/train.err" >&2; exit 1; }
    tail -n 1 "$work/train.err"
fi

"$python" - "$model" "$text" <<'PY'
import sys
import charpipe

model, textfile = sys.argv[1], sys.argv[2]
m = charpipe.Model(model)
print("== %s: V %d, %d x %d, %s" % (charpipe.library_version(), m.vocab_size, m.layers, m.hidden,
                                    "stateful" if m.stateful else "window"))
seed = open(textfile, encoding="utf-8").readline()[:10]

# generate() returns what follows the prompt; seed= makes it reproducible (sample --rng-seed)
print("== greedy:")
print(seed + m.generate(seed, n=80))
print("== temperature 0.8, up to the first full stop:")
print(seed + m.generate(seed, n=200, temperature=0.8, seed=1, stop=["."]) + "  [stopped]")

# score(): nats per character, as evaluate reports it; lower is more like the training text
text = open(textfile, encoding="utf-8").read()[:600]
shuffled = "".join(sorted(text))
print("== score of the text: %.3f nats/char; of its characters sorted: %.3f" % (m.score(text), m.score(shuffled)))
m.close()
PY
