# test_data.sh - the data stages (vocab, window, onehot) and the stream inspector (tdump).
# Run by tests/run.sh with BIN, TMP and TESTS set. Inputs are made here; Python checks use
# tests/data_ref.py, an independent reader (gzip + msgpack + numpy, no charpipe code).
. "$TESTS/lib.sh"
cd "$TMP" || exit 1
REF="$TESTS/data_ref.py"

# expect_err NAME PROG PATTERN CMD...: CMD fails with exit 1 and stderr is exactly one line
# "PROG: ..." that matches PATTERN.
expect_err() {
    local name=$1 prog=$2 pat=$3 rc; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc -ne 1 ]; then fail "$name" "exit $rc (want 1) from: $*; stderr: $(head -c 300 "$TMP/err")"; return; fi
    if [ "$(wc -l <"$TMP/err")" -ne 1 ]; then fail "$name" "stderr is not one line: $(head -c 400 "$TMP/err")"; return; fi
    if ! grep -q "^$prog: " "$TMP/err"; then fail "$name" "stderr does not start with '$prog: ': $(cat "$TMP/err")"; return; fi
    if ! grep -Eq -- "$pat" "$TMP/err"; then fail "$name" "stderr does not match /$pat/: $(cat "$TMP/err")"; return; fi
    pass "$name"
}

# expect_usage NAME PROG CMD...: exit 2, a message and "Try 'PROG --help'." on stderr, no stdout.
expect_usage() {
    local name=$1 prog=$2 rc; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc -ne 2 ]; then fail "$name" "exit $rc (want 2) from: $*"; return; fi
    if ! grep -q "^Try '$prog --help'.\$" "$TMP/err" || [ "$(wc -l <"$TMP/err")" -ne 2 ]; then
        fail "$name" "stderr: $(cat "$TMP/err")"; return; fi
    if [ -s "$TMP/out" ]; then fail "$name" "wrote to stdout"; return; fi
    pass "$name"
}

# same NAME FILE1 FILE2: the files are identical.
same() {
    if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$2 and $3 differ: $(diff "$2" "$3" | head -5)"; fi
}

# field NAME JSONLINE-PATTERN: the tdump --json line of the first frame called NAME in $TMP/out
jline() { grep -m1 "^{\"name\": \"$1\"" "$TMP/out"; }

# ---------------------------------------------------------------------------------- help, usage
for t in vocab window onehot tdump; do
    if "$t" --help >"$TMP/out" 2>"$TMP/err" && [ -s "$TMP/out" ] && [ ! -s "$TMP/err" ] &&
       grep -q SYNOPSIS "$TMP/out" && grep -q 'EXIT STATUS' "$TMP/out"; then pass "$t --help"
    else fail "$t --help" "exit/stdout/stderr wrong"; fi
    expect_usage "$t bad option" "$t" "$t" --no-such-option
done
expect_usage "window without -n" window window
expect_usage "window -n 0" window window -n 0
expect_usage "window -n absurd" window window -n 99999999999
expect_usage "window -n not a number" window window -n 4x
expect_usage "window -b 0" window window -n 4 -b 0
expect_usage "window frame too large" window window -n 1000000 -b 1000000
expect_usage "vocab --chunk 0" vocab vocab --chunk 0
expect_usage "vocab --skip-unknown without -v" vocab vocab --skip-unknown
expect_usage "vocab argument" vocab vocab file.txt
expect_usage "onehot -V 0" onehot onehot -V 0
expect_usage "tdump --json --summary" tdump tdump --json --summary

# binary streams are not written to a terminal (script(1) gives the tool one)
if command -v script >/dev/null 2>&1; then
    for t in "vocab" "window -n 2" "onehot -V 3"; do
        script -qec "printf ab | $BIN/$t" /dev/null >"$TMP/out" 2>&1; rc=$?
        if [ $rc -eq 1 ] && grep -q "^${t%% *}: refusing to write a binary stream to a terminal" "$TMP/out"
        then pass "${t%% *} refuses a terminal"; else fail "${t%% *} refuses a terminal" "rc $rc: $(head -c 200 "$TMP/out")"; fi
    done
else
    skip "refuse a terminal" "no script(1)"
fi

# ---------------------------------------------------------------------------------- inputs
printf 'a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80a\n' >multi.txt            # a é € 😀 a \n
{ for i in $(seq 1 40); do
      printf 'Line %d: the quick brown fox \xe2\x80\x94 jumps over \xc3\xbcber-lazy dogs \xf0\x9f\x90\x95 %d\n' "$i" $((i * i))
  done; } >text.txt                                                    # about 2.3 KB
: >empty.txt

# ---------------------------------------------------------------------------------- vocab
vocab <multi.txt >multi.cp && tdump --json -a multi.cp >"$TMP/out" 2>"$TMP/err"
if jline vocab | grep -q '"head": \[10, 97, 233, 8364, 128512\]' &&
   jline vocab | grep -q '"attrs": {"unit": "codepoint"' &&
   jline text | grep -q '"dtype": "u1", "shape": \[6\], .*"head": \[1, 2, 3, 4, 1, 0\]'; then
    pass "vocab of 1-4 byte characters"
else fail "vocab of 1-4 byte characters" "$(cat "$TMP/out" "$TMP/err")"; fi

expect_err "vocab empty input" vocab 'stdin: empty input' vocab <empty.txt
expect_err "vocab empty pipe" vocab 'empty input' sh -c 'true | vocab'
# invalid UTF-8: the byte offset of the offending sequence
while IFS='|' read -r bytes off why; do
    printf "$bytes" >bad.txt
    expect_err "vocab invalid UTF-8 $bytes" vocab "at byte $off .*$why" vocab <bad.txt
done <<'EOF'
ab\xc3|2|cut off at end of input
abc\xf0\x9f\x98|3|cut off at end of input
abc\xc0\xaf|3|overlong
\xe0\x80\xafx|0|overlong
xy\xf0\x8f\xbf\xbf|2|overlong
x\xed\xa0\x80|1|surrogate
xy\xf4\x90\x80\x80|2|above U\+10FFFF
\xf5\x80\x80\x80|0|above U\+10FFFF
a\xc3\xa9\x80|3|unexpected continuation byte
a\xe2\x82z|1|missing continuation byte
ab\xff|2|invalid byte
EOF

# a character split across reads of a pipe
(printf 'ab\xc3'; sleep 0.2; printf '\xa9cd\xe2\x82'; sleep 0.2; printf '\xac') | vocab >split.cp &&
    tdump --json split.cp >"$TMP/out"
if jline vocab | grep -q '"head": \[97, 98, 99, 100, 233, 8364\]'; then pass "vocab: UTF-8 split across reads"
else fail "vocab: UTF-8 split across reads" "$(cat "$TMP/out")"; fi

# -v: vocabulary from a stream; streaming with split characters; unknown characters
printf 'abc\xc3\xa9' | vocab >abc.cp
(printf 'ab\xc3'; sleep 0.2; printf '\xa9cba') | vocab -v abc.cp --chunk 2 | tdump --json -a >"$TMP/out"
if [ "$(grep -c '"name": "text"' "$TMP/out")" -ge 3 ] &&
   [ "$(grep '"name": "text"' "$TMP/out" | sed 's/.*"head": \[//; s/\].*//' | paste -sd, | tr -d ' ')" = "0,1,3,2,1,0" ]; then
    pass "vocab -v streams split characters in chunks"
else fail "vocab -v streams split characters in chunks" "$(cat "$TMP/out")"; fi
expect_err "vocab -v unknown character" vocab \
    "stdin: character 'd' \(U\+0064\) at character 3 \(byte 4\) is not in the vocabulary" \
    sh -c 'printf "ab\303\251d" | vocab -v abc.cp'
expect_err "vocab -v unknown multibyte character" vocab \
    "character '€' \(U\+20AC\) at character 2 \(byte 2\)" sh -c 'printf "ab\342\202\254" | vocab -v abc.cp'
printf 'a\xe2\x82\xacbdz\xc3\xa9' | vocab -v abc.cp --skip-unknown 2>"$TMP/err" | tdump --json -a >"$TMP/out"
if grep -q '"name": "text".*"head": \[0, 1, 3\]' "$TMP/out" &&
   grep -Eq "^vocab: warning: .*dropped 3 characters.*U\+20AC" "$TMP/err" && [ "$(wc -l <"$TMP/err")" -eq 1 ]; then
    pass "vocab -v --skip-unknown"
else fail "vocab -v --skip-unknown" "$(cat "$TMP/out" "$TMP/err")"; fi
expect_err "vocab -v all unknown" vocab "no characters left after dropping 2" sh -c 'printf "zz" | vocab -v abc.cp --skip-unknown'
expect_err "vocab -v missing file" vocab "nosuch.cp: No such file" sh -c 'echo a | vocab -v nosuch.cp'
expect_err "vocab -v not a stream" vocab "text.txt: not a charpipe stream" sh -c 'echo a | vocab -v text.txt'

# --bytes, --lower
printf '\xc3\xa9a' | vocab --bytes | tdump --json >"$TMP/out"
if jline vocab | grep -q '"attrs": {"unit": "byte", "lower": false}, "head": \[97, 169, 195\]' &&
   jline text | grep -q '"head": \[2, 1, 0\]'; then pass "vocab --bytes"
else fail "vocab --bytes" "$(cat "$TMP/out")"; fi
printf 'AbC\xc3\x89\xc3\xa9\xce\xa3' | vocab --lower | tdump --json >"$TMP/out"     # A b C É é Σ
if jline vocab | grep -q '"head": \[97, 98, 99, 233, 963\]' &&
   jline text | grep -q '"head": \[0, 1, 2, 3, 3, 4\]'; then pass "vocab --lower"
else fail "vocab --lower" "$(cat "$TMP/out")"; fi
printf 'A\xc3\x89' | vocab --bytes --lower | tdump --json >"$TMP/out"                 # ASCII only
if jline vocab | grep -q '"head": \[97, 137, 195\]'; then pass "vocab --bytes --lower"
else fail "vocab --bytes --lower" "$(cat "$TMP/out")"; fi

# ---------------------------------------------------------------------------------- window
# the same windows however the text is chunked, batched, stepped
xvalues() {   # the x (or y with $2 = y) values of stream $1, one per line
    tdump --json -a "$1" | grep "^{\"name\": \"${2:-x}\"" | sed 's/.*"head": \[//; s/\]}$//' | tr -d ' ' | tr ',' '\n'
}
for opts in "-n 5" "-n 5 -s 3" "-n 1" "-n 8 -s 11" "-n 5 --seq" "-n 4 -s 2 --seq"; do
    vocab <text.txt | window $opts -b 1000000 >ref.cp
    xvalues ref.cp >ref.x; xvalues ref.cp y >ref.y
    ok=1
    for chunk in 1 3 7 1000; do
        for b in 1 7 256; do
            vocab --chunk $chunk <text.txt | window $opts -b $b >w.cp || ok=0
            xvalues w.cp >w.x; xvalues w.cp y >w.y
            if ! cmp -s ref.x w.x || ! cmp -s ref.y w.y; then
                ok=0; fail "window $opts --chunk $chunk -b $b" "windows differ from the unchunked result"
            fi
        done
    done
    [ $ok = 1 ] && [ -s ref.x ] && pass "window $opts: chunks 1 3 7 1000 x batches 1 7 256 agree"
done
vocab --chunk 3 <text.txt | window -n 5 -b 64 >w.cp
tdump --summary w.cp >"$TMP/out"
n=$(($(wc -m <text.txt) - 5))
if grep -Eq "^x +$(( (n + 63) / 64 )) frames  $n x 5 u1\$" "$TMP/out" && grep -Eq "^y .* $n u1\$" "$TMP/out" &&
   grep -Eq '^vocab +1 frame  +[0-9]+ u4$' "$TMP/out"; then pass "tdump --summary of windows"
else fail "tdump --summary of windows" "$(cat "$TMP/out"; echo "want $n windows")"; fi
tdump --json -n 0 w.cp >"$TMP/out"
if jline x | grep -q '"attrs": {"maxlen": 5, "step": 1, "seq": false}' && [ "$(head -1 "$TMP/out" | cut -c1-17)" = '{"name": "vocab",' ]
then pass "window: vocab first, x attrs"; else fail "window: vocab first, x attrs" "$(head -3 "$TMP/out")"; fi

printf 'abc' | vocab >short.cp
expect_err "window text too short" window "text of 3 characters is too short for windows of 3" window -n 3 <short.cp
expect_ok "window text just long enough" window -n 2 <short.cp
expect_err "window empty input" window "stdin: .*empty" sh -c 'false | window -n 3'
expect_err "window not a stream" window "stdin: not a charpipe stream" window -n 3 <text.txt

# ---------------------------------------------------------------------------------- damaged streams
vocab <text.txt | window -n 5 -b 16 >good.cp
size=$(wc -c <good.cp)
for len in 0 5 10 20 100 $((size / 2)) $((size - 30)) $((size - 9)) $((size - 1)); do
    head -c "$len" good.cp >cut.cp
    expect_err "tdump truncated at $len of $size bytes" tdump "stdin: (truncated|empty)" tdump <cut.cp
done
head -c $((size - 9)) good.cp >cut.cp
expect_err "window truncated input" window "stdin: truncated" window -n 3 <cut.cp
expect_err "onehot truncated input" onehot "stdin: truncated" onehot <cut.cp
for at in 40 $((size / 2)) $((size - 6)); do
    cp good.cp flip.cp
    printf '\x5a' | dd of=flip.cp bs=1 seek="$at" conv=notrunc 2>/dev/null
    cmp -s good.cp flip.cp || printf '\xa5' | dd of=flip.cp bs=1 seek="$at" conv=notrunc 2>/dev/null
    expect_err "tdump flipped byte at $at" tdump "stdin: (corrupt|truncated)" tdump <flip.cp
done
expect_err "tdump non-gzip input" tdump "stdin: not a charpipe stream" tdump <text.txt
printf '\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage' >gz.bad
expect_err "tdump gzip header then garbage" tdump "stdin: (corrupt|not a charpipe)" tdump <gz.bad
printf 'x' | gzip >notframes.gz
expect_err "tdump gzip of something else" tdump "stdin: (corrupt|not a charpipe)" tdump <notframes.gz
cat good.cp text.txt >trailing.cp
expect_err "tdump trailing garbage" tdump "stdin: corrupt" tdump <trailing.cp
expect_err "tdump missing file" tdump "nosuch.cp: No such file" tdump nosuch.cp
printf 'abc\xff' | vocab -v abc.cp >died.cp 2>/dev/null
expect_err "a stage that dies leaves a truncated stream" tdump "stdin: (truncated|empty)" tdump <died.cp

# concatenated streams
cat short.cp good.cp >cat.cp   # read through a pipe below
cat short.cp good.cp | tdump >"$TMP/out" 2>"$TMP/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^vocab ' "$TMP/out")" -eq 2 ] && [ "$(grep -c '^text ' "$TMP/out")" -eq 1 ] &&
   [ "$(grep -c '^x ' "$TMP/out")" -eq "$(tdump good.cp | grep -c '^x ')" ]; then pass "tdump reads concatenated streams"
else fail "tdump reads concatenated streams" "rc $rc: $(head -5 "$TMP/out" "$TMP/err")"; fi
if tdump short.cp good.cp | cmp -s - "$TMP/out"; then pass "tdump FILE FILE = tdump of cat"
else fail "tdump FILE FILE = tdump of cat" "output differs"; fi

# ---------------------------------------------------------------------------------- onehot
vocab <multi.txt | window -n 2 | onehot | tdump --json -a >"$TMP/out"
# multi.txt: indices 1 2 3 4 1 0, V 5; windows [1,2]->3 [2,3]->4 [3,4]->1 [4,1]->0
if jline x | grep -q '"dtype": "f4", "shape": \[4, 2, 5\], "attrs": {"maxlen": 2, "step": 1, "seq": false}, "head": \[0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1,' &&
   jline y | grep -q '"shape": \[4, 5\], "attrs": {}, "head": \[0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0\]}'; then
    pass "onehot of a small text"
else fail "onehot of a small text" "$(cat "$TMP/out")"; fi
vocab <multi.txt | window -n 2 >w2.cp
expect_err "onehot -V disagrees with the vocab frame" onehot "has 5 entries but -V is 4" onehot -V 4 <w2.cp
expect_err "onehot not a stream" onehot "stdin: not a charpipe stream" onehot <text.txt

# ---------------------------------------------------------------------------------- Python
if ! have_py; then
    skip "python reference" "$NO_PY"
    exit 0
fi
# the whole pipeline against the reference computed from the raw text
for args in "5 1 7 0" "5 3 64 0" "3 2 16 1" "1 1 256 0"; do
    set -- $args
    seqopt=; [ "$4" = 1 ] && seqopt=--seq
    vocab --chunk 13 <text.txt | window -n "$1" -s "$2" -b "$3" $seqopt >p.cp
    "$PY" "$REF" check text.txt p.cp "$1" "$2" "$3" "$4" 0
    onehot <p.cp >p1.cp
    "$PY" "$REF" check text.txt p1.cp "$1" "$2" "$3" "$4" 1
done
# V > 256: u2 indices (and one-hot with V = 303)
"$PY" -c 'import sys; sys.stdout.write(("".join(chr(0x100 + i) for i in range(300)) + "ab\n") * 2)' >wide.txt
vocab <wide.txt >wide.cp
"$PY" "$REF" text wide.txt wide.cp
vocab <wide.txt | window -n 4 -s 5 -b 9 | onehot >wide1.cp
"$PY" "$REF" check wide.txt wide1.cp 4 5 9 0 1
vocab --chunk 5 <multi.txt >multi5.cp
"$PY" "$REF" text multi.txt multi5.cp

# streams written by Python are read by tdump (and by the tools)
for k in good noend badsize baddtype vocabonly xnovocab midvocab bytevocab; do
    "$PY" "$REF" write $k $k.cp || fail "python write $k" "data_ref.py failed"
done
tdump --json -a good.cp >good.json 2>"$TMP/err" || fail "tdump --json of a python stream" "$(cat "$TMP/err")"
"$PY" "$REF" tdump-json good.cp good.json
if tdump good.cp >"$TMP/out" && [ "$(wc -l <"$TMP/out")" -eq 4 ] &&
   grep -q '^weights  f4 (2, 3)  \[-0.5, -0.25, 0, 0.25, 0.5, 0.75\]  {"lr": 0.001, "note": "a \\"quoted\\"\\nline \\\\ é"}$' "$TMP/out" &&
   grep -q '^model  {"hidden": 128, "ok": true, "name": "tab\\there"}$' "$TMP/out" &&
   grep -q '^scalar  f8 ()  \[2.5\]$' "$TMP/out"; then pass "tdump of a python stream"
else fail "tdump of a python stream" "$(cat "$TMP/out")"; fi
cat good.cp good.cp >good2.cp
tdump --json -a good2.cp >good2.json && "$PY" "$REF" tdump-json good2.cp good2.json
expect_err "tdump stream without end frame" tdump "stdin: truncated stream \(no end frame\)" tdump <noend.cp
expect_err "tdump data size disagrees with shape" tdump "stdin: frame 'x': data has 5 bytes, shape and dtype need 6" tdump <badsize.cp
expect_err "tdump unknown dtype" tdump "stdin: frame 'x': unsupported dtype 'c8'" tdump <baddtype.cp
expect_err "window bad frame" window "stdin: frame 'x': data has 5 bytes" window -n 2 <badsize.cp
expect_err "window without text frames" window "stdin: no text frames" window -n 2 <vocabonly.cp
expect_err "onehot without vocab" onehot "before any vocab frame \(give -V\)" onehot <xnovocab.cp
expect_err "onehot index >= V" onehot "index 5 at \[0, 2\] is not below V = 3" onehot -V 3 <xnovocab.cp
onehot -V 6 <xnovocab.cp | tdump --json -a >"$TMP/out"
if grep -q '"shape": \[1, 3, 6\], "attrs": {}, "head": \[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1\]' "$TMP/out"
then pass "onehot -V"; else fail "onehot -V" "$(cat "$TMP/out")"; fi
# -v from a stream whose vocab frame is not the first frame
printf 'ab\xc3\xa9a' | vocab -v midvocab.cp | tdump --json -a >"$TMP/out"
if jline text | grep -q '"head": \[0, 1, 2, 0\]'; then pass "vocab -v finds the vocab frame after others"
else fail "vocab -v finds the vocab frame after others" "$(cat "$TMP/out")"; fi
printf '\xa9\xc3' | vocab -v bytevocab.cp | tdump --json -a >"$TMP/out"
if jline vocab | grep -q '"unit": "byte"' && jline text | grep -q '"head": \[0, 1\]'; then pass "vocab -v with a byte vocabulary"
else fail "vocab -v with a byte vocabulary" "$(cat "$TMP/out")"; fi
expect_err "vocab -v without vocab frame" vocab "good.cp: no vocab frame" sh -c 'echo a | vocab -v good.cp'

# --- window --streams: the stateful layout against a reference cut in Python ---
if have_py; then
    printf 'the quick brown fox jumps over the lazy dog; %.0s' $(seq 7) > streams.txt
    vocab --chunk 5 < streams.txt | window -n 6 --streams 4 > streams.ts
    if $PY - streams.txt streams.ts <<'PY'
import gzip, sys, msgpack, numpy as np
text = open(sys.argv[1], encoding="utf-8").read()
voc = sorted(set(text)); idx = np.array([voc.index(c) for c in text])
B, N = 4, 6
L = (len(idx) - 1) // B
with gzip.open(sys.argv[2], "rb") as f:
    frames = [fr for fr in msgpack.Unpacker(f, raw=False) if fr["name"] in ("x", "y")]
xs = [np.frombuffer(fr["data"], "u1").reshape(fr["shape"]) for fr in frames if fr["name"] == "x"]
ys = [np.frombuffer(fr["data"], "u1").reshape(fr["shape"]) for fr in frames if fr["name"] == "y"]
assert len(xs) == L // N == len(ys), (len(xs), L // N)
for k, (x, y) in enumerate(zip(xs, ys)):
    for r in range(B):
        s = r * L + k * N
        assert (x[r] == idx[s:s + N]).all() and (y[r] == idx[s + 1:s + N + 1]).all(), (k, r)
PY
    then pass "window --streams matches a reference cut"; else fail "window --streams matches a reference cut" "mismatch"; fi
else
    skip "window --streams matches a reference cut" "$NO_PY"
fi
expect_err "window --streams on a too short text" window 'too short for 4 streams' sh -c 'printf abcdefgh | vocab | window -n 6 --streams 4'
# -b does not apply to --streams: long steps are measured against the streams, not 256 windows
expect_err "window --streams with long steps is about the streams, not -b" window 'too short for 2 streams of 200000 steps' \
    sh -c 'printf abcdefgh | vocab | window -n 200000 --streams 2'
