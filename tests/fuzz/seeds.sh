#!/bin/sh
# seeds.sh BIN DIR - write a seed corpus of valid charpipe streams made by the tools in BIN
# (and some UTF-8 text for the UTF-8 harness) into DIR/ts and DIR/utf8, and the decompressed
# frames of small models of each cell and layout into DIR/model. Run by `make fuzz`.
set -eu
BIN=$1; DIR=$2
mkdir -p "$DIR/ts" "$DIR/utf8" "$DIR/model"
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
printf 'a\303\251\342\202\254\360\237\230\200a\n' >"$t/multi.txt"
for i in 1 2 3 4 5 6; do printf 'hello world %d, caf\303\251 \342\200\224 \360\237\220\225\n' $i; done >"$t/text.txt"
printf 'ab' >"$t/ab.txt"
cp "$t/multi.txt" "$t/text.txt" "$t/ab.txt" "$DIR/utf8/"
printf 'x\300\257 \355\240\200 \364\220\200\200 \377 \342\202' >"$DIR/utf8/bad.txt"
B=$BIN
"$B/vocab" <"$t/multi.txt" >"$DIR/ts/vocab_multi"
"$B/vocab" --bytes --lower <"$t/multi.txt" >"$DIR/ts/vocab_bytes"
"$B/vocab" --chunk 7 <"$t/text.txt" >"$t/v.cp"; cp "$t/v.cp" "$DIR/ts/vocab_chunks"
"$B/vocab" -v "$t/v.cp" --chunk 5 <"$t/ab.txt" >"$DIR/ts/vocab_v" 2>/dev/null || true
"$B/window" -n 4 -b 16 <"$t/v.cp" >"$t/w.cp"; cp "$t/w.cp" "$DIR/ts/window"
"$B/window" -n 3 -s 2 -b 8 --seq <"$t/v.cp" >"$DIR/ts/window_seq"
"$B/vocab" <"$t/multi.txt" | "$B/window" -n 2 | "$B/onehot" >"$DIR/ts/onehot"
cat "$DIR/ts/vocab_multi" "$DIR/ts/window" >"$DIR/ts/concatenated"
"$B/train" -H 4 -e 1 -j 1 <"$t/w.cp" >"$DIR/ts/model" 2>/dev/null || true
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import msgpack' 2>/dev/null; then
    /usr/bin/python3 - "$DIR/ts" <<'PY'
import gzip, msgpack, sys
d = sys.argv[1]
def put(name, frames):
    body = b"".join(msgpack.packb(f) for f in
                    [{"name": "header", "format": "charpipe", "version": 1}] + frames + [{"name": "end", "frames": len(frames)}])
    open(f"{d}/{name}", "wb").write(gzip.compress(body))
put("py_types", [{"name": "t%s" % dt, "dtype": dt, "shape": [2, 1], "data": bytes(2 * int(dt[1])),
                  "attrs": {"i": -3, "f": 1.5, "s": "str", "b": True, "n": None, "a": [1, 2]}}
                 for dt in ["u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f4", "f8"]]
    + [{"name": "info", "attrs": {"unit": "byte", "maxlen": 4}}, {"name": "scalar", "dtype": "f8", "shape": [], "data": bytes(8)}])
PY
fi
# models (fuzz_model.c gzips its input itself: the seeds are the frames, decompressed)
"$B/train" -H 4 -e 1 -j 1 -o "$t/m_lstm" <"$t/w.cp" 2>/dev/null || true
"$B/train" --cell gru -L 2 -H 3 -e 1 -j 1 -o "$t/m_gru2" <"$t/w.cp" 2>/dev/null || true
"$B/train" --streams --cell lnlstm -n 3 -b 2 -H 4 -e 1 -j 1 --val 0.3 -o "$t/m_lnlstm_streams" <"$t/v.cp" 2>/dev/null || true
"$B/train" --streams -n 3 -b 2 -H 4 -e 1 -j 1 --val 0.3 --schedule cosine -o "$t/m_lstm_streams" <"$t/v.cp" 2>/dev/null || true
here=$(cd "$(dirname "$0")" && pwd)
if [ -s "$t/m_lstm_streams" ] && [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import msgpack, numpy' 2>/dev/null; then
    /usr/bin/python3 "$here/../hostile_model.py" "$t/m_lstm_streams" "$t/m_midepoch" midepoch
    /usr/bin/python3 "$here/../hostile_model.py" "$t/m_lstm" "$t/m_split" split_pieces
fi
for f in "$t"/m_*; do [ -s "$f" ] && gzip -dc <"$f" >"$DIR/model/$(basename "$f")"; done
ls "$DIR/ts" | wc -l | sed 's/^/seed streams: /'
ls "$DIR/model" | wc -l | sed 's/^/seed models: /'
