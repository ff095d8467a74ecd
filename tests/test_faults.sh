# test_faults.sh - damaged input, failing neighbours, kills, full disks, closed pipes and
# hostile headers: every tool fails loudly (non-zero, one line on stderr naming itself),
# leaves nothing that looks complete, and never corrupts a model. See ROBUSTNESS.md.
# Run by tests/run.sh with BIN, TMP and TESTS set; hostile streams need python3
# with msgpack (those cases SKIP visibly without it).
. "$TESTS/lib.sh"
cd "$TMP" || exit 1

# err1 NAME PROG PATTERN CMD...: CMD exits non-zero (not 0, not killed by a signal other than
# the ones the caller allows) and stderr is exactly one line "PROG: ..." matching PATTERN.
err1() {
    local name=$1 prog=$2 pat=$3 rc; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc -eq 0 ]; then fail "$name" "exit 0 from: $*"; return 1; fi
    if [ $rc -gt 128 ]; then fail "$name" "killed by signal $((rc - 128)): $(head -c 300 "$TMP/err")"; return 1; fi
    if [ "$(wc -l <"$TMP/err")" -ne 1 ]; then fail "$name" "stderr is not one line: $(head -c 400 "$TMP/err")"; return 1; fi
    if ! grep -q "^$prog: " "$TMP/err"; then fail "$name" "stderr does not start with '$prog: ': $(cat "$TMP/err")"; return 1; fi
    if ! grep -Eq -- "$pat" "$TMP/err"; then fail "$name" "stderr does not match /$pat/: $(cat "$TMP/err")"; return 1; fi
    return 0
}
# incomplete FILE: FILE is not a complete stream (a downstream stage would see truncation)
incomplete() { ! tdump "$1" >/dev/null 2>&1; }
# attr FILE KEY: an attribute of the model frame of FILE
attr() { tdump --json "$1" 2>/dev/null | grep -m1 '^{"name": "model"' | sed -n "s/.*\"$2\": \([^,}]*\).*/\1/p"; }
have_pymsgpack() { have_py; }

# ---------------------------------------------------------------------------------- inputs
for i in $(seq 12); do printf 'hello world %d, caf\303\251 \342\200\224 charpipe! ' "$i"; done >small.txt
vocab --chunk 40 <small.txt >V.ts                       # a vocab frame and several text frames
window -n 6 -b 128 <V.ts >W.ts                          # vocab + several x/y pairs
train -H 4 -e 1 -j 1 --seed 2 -o M.model <W.ts 2>/dev/null
cp M.model keep.model
for f in V.ts W.ts M.model; do [ -s $f ] || { fail "inputs" "could not make $f"; exit 1; }; done

# consumers: NAME PROG INPUT-STREAM COMMAND ("@" stands for the damaged stream's path)
consumers() {
    cat <<'C'
window window V.ts window -n 2 <@
onehot onehot W.ts onehot <@
tdump tdump W.ts tdump @
train train W.ts train -H 4 -e 1 -j 1 -o keep.model <@
evaluate evaluate W.ts evaluate -m M.model <@
vocab-v vocab M.model vocab -v @ <small.txt
C
}

# check_damaged CASE FILE: every consumer of FILE's kind fails cleanly on FILE
#   $kind: which input stream FILE was made from
check_damaged() {
    local case=$1 file=$2 name prog in cmd ok=1
    while read -r name prog in cmd; do
        [ "$in" = "$kind" ] || continue
        cmd=${cmd//@/$file}
        if ! err1 "$name: $case" "$prog" '.' sh -c "$cmd"; then ok=0; continue; fi
        case $name in
            window|onehot) if ! incomplete "$TMP/out"; then fail "$name: $case" "wrote a complete stream"; ok=0; fi ;;
            evaluate) if [ -s "$TMP/out" ]; then fail "$name: $case" "printed a result: $(head -c 100 "$TMP/out")"; ok=0; fi ;;
            train) if ! cmp -s M.model keep.model || ls keep.model.tmp.* >/dev/null 2>&1; then
                       fail "$name: $case" "the existing model changed or a temporary was left"; ok=0; cp M.model keep.model; fi ;;
        esac
    done < <(consumers)
    return $((1 - ok))
}

# ---------------------------------------------------------------------------------- truncation
# compressed bytes cut anywhere (every 1/10 of the file, and inside the gzip trailer)
for kind in V.ts W.ts M.model; do
    size=$(wc -c <$kind); ok=1; n=0
    for len in 0 1 9 10 $(seq $((size / 10)) $((size / 10 + 1)) $((size - 1))) $((size - 8)) $((size - 4)) $((size - 1)); do
        [ "$len" -lt "$size" ] || continue
        head -c "$len" $kind >cut.ts
        check_damaged "$kind cut at byte $len of $size" cut.ts || ok=0
        n=$((n + 1))
    done
    [ $ok = 1 ] && pass "consumers of $kind refuse it cut at $n byte offsets"
done

# cut at every frame boundary and in the middle of every frame, then properly gzipped again
# (what a stage that stops between two flushes leaves: valid gzip, no end frame)
if have_pymsgpack; then
    for kind in V.ts W.ts M.model; do
        "$PY" - "$kind" <<'PY'
import gzip, msgpack, sys
src = sys.argv[1]
raw = gzip.decompress(open(src, "rb").read())
u = msgpack.Unpacker(raw=False, max_bin_len=1 << 30)
u.feed(raw)
offs = [0]
for _ in u:
    offs.append(u.tell())
cuts = sorted(set(offs[:-1] + [(a + b) // 2 for a, b in zip(offs, offs[1:])] + [len(raw) - 1]))
for i, c in enumerate(cuts):
    open("fcut%03d.ts" % i, "wb").write(gzip.compress(raw[:c], mtime=0))
print(len(offs) - 1, file=open("nframes", "w"))
PY
        ok=1; n=0
        for f in fcut*.ts; do check_damaged "$kind frame cut $f" "$f" || ok=0; n=$((n + 1)); done
        rm -f fcut*.ts
        [ $ok = 1 ] && pass "consumers of $kind refuse it cut at $n frame boundaries and mid-frame points ($(cat nframes) frames)"
    done
else
    skip "frame-boundary cuts" "$NO_PY"
fi

# ---------------------------------------------------------------------------------- flipped bytes
flip() {   # FILE OFFSET -> flip.ts with the byte at OFFSET inverted
    local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    cp "$1" flip.ts
    printf "\\$(printf '%03o' $((b ^ 255)))" | dd of=flip.ts bs=1 seek="$2" conv=notrunc 2>/dev/null
}
for kind in V.ts W.ts M.model; do
    size=$(wc -c <$kind); ok=1; n=0
    # bytes 4-9 of a gzip header (mtime, flags, OS) are not checked by anything; from 10 on,
    # the deflate data and the CRC-32/length trailer cover every byte
    for at in 3 10 11 $(seq 17 $(( (size - 30) / 8 + 1 )) $((size - 1))) $((size - 8)) $((size - 5)) $((size - 1)); do
        flip $kind "$at"
        check_damaged "$kind byte $at flipped" flip.ts || ok=0
        n=$((n + 1))
    done
    [ $ok = 1 ] && pass "consumers of $kind refuse it with one of $n bytes flipped"
done

# ---------------------------------------------------------------------------------- failing upstream
err1 "false | window" window 'stdin: empty' sh -c 'false | window -n 3 >w.out' &&
    { incomplete w.out && pass "false | window fails" || fail "false | window fails" "wrote a complete stream"; }
err1 "false | onehot" onehot 'stdin: empty' sh -c 'false | onehot >w.out' && pass "false | onehot fails"
err1 "false | train" train 'stdin: empty' sh -c 'false | train -o keep.model' &&
    { cmp -s M.model keep.model && pass "false | train fails, model untouched" ||
      fail "false | train fails, model untouched" "keep.model changed"; }
err1 "false | vocab" vocab 'stdin: empty' sh -c 'false | vocab >w.out' &&
    { incomplete w.out && pass "false | vocab fails" || fail "false | vocab fails" "wrote a complete stream"; }

# kill_mid NAME INPUT UPSTREAM DOWNSTREAM PROG: UPSTREAM reads INPUT through a fifo that we
# keep open (so it waits for more, after sending on what it has) and feeds DOWNSTREAM; once
# some of its output has gone through, UPSTREAM is killed with SIGKILL. DOWNSTREAM must fail
# with one line (truncated; empty if the kill came first), not finish on the partial data.
kill_mid() {
    local name=$1 input=$2 up=$3 down=$4 prog=$5 upid dpid rc i
    rm -f f0 f1 d.copy d.err; mkfifo f0 f1
    sh -c "tee d.copy | $down" <f1 >/dev/null 2>d.err & dpid=$!
    $up <f0 >f1 2>/dev/null & upid=$!
    exec 3>f0
    cat "$input" >&3
    for i in $(seq 300); do [ -s d.copy ] && break; sleep 0.01; done
    sleep 0.05
    kill -9 $upid; wait $upid 2>/dev/null
    exec 3>&-
    wait $dpid; rc=$?
    if [ $rc -eq 0 ]; then fail "$name" "downstream exit 0 after upstream was killed"; return; fi
    if [ "$(wc -l <d.err)" -ne 1 ] || ! grep -Eq "^$prog: stdin: (truncated|empty)" d.err; then
        fail "$name" "exit $rc, stderr: $(head -c 300 d.err)"; return; fi
    if [ ! -s d.copy ]; then fail "$name" "upstream was killed before it wrote anything"; return; fi
    pass "$name"
}
kill_mid "vocab -v killed mid-stream: window fails" small.txt "vocab -v V.ts --chunk 8" "window -n 2 >/dev/null" window
kill_mid "vocab -v killed mid-stream: tdump fails" small.txt "vocab -v V.ts --chunk 8" "tdump" tdump
kill_mid "window killed mid-stream: onehot fails" V.ts "window -n 2 -b 4" "onehot >/dev/null" onehot
kill_mid "window killed mid-stream: train fails" V.ts "window -n 2 -b 4" "train -H 4 -e 1 -j 1 -o keep.model" train
kill_mid "window killed mid-stream: evaluate fails" V.ts "window -n 6 -b 4" "evaluate -m M.model" evaluate
if cmp -s M.model keep.model && [ -z "$(ls keep.model.tmp.* 2>/dev/null)" ]; then
    pass "the killed pipeline left the model untouched"
else fail "killed pipeline model" "keep.model changed"; cp M.model keep.model; fi

# ---------------------------------------------------------------------------------- train killed
# An epoch of about half a second at -j 2; the kill comes right after epoch 1's model is on
# disk, so mid-epoch 2, whatever the speed of the machine (sanitizers included).
for i in $(seq 1200); do printf 'hello world, charpipe! the quick brown fox. '; done >big.txt
vocab <big.txt | window -n 8 >big.ts
train -H 16 -e 1 -j 2 --seed 9 -o e1.model <big.ts 2>/dev/null
train -H 16 -e 2 -j 2 --seed 9 -o e2.model <big.ts 2>/dev/null
# interrupt SIGNAL OUT: start a 2-epoch run writing OUT, send SIGNAL once epoch 1 is saved;
# sets $irc to its exit status (empty if it finished before the signal)
interrupt() {
    local sig=$1 out=$2 pid i
    rm -f "$out"
    train -H 16 -e 2 -j 2 --seed 9 -o "$out" <big.ts 2>int.err & pid=$!
    for i in $(seq 3000); do [ -s "$out" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.01; done
    sent=0; signal_running "$sig" $pid && sent=1          # 0: it had already finished
    { wait $pid; irc=$?; } 2>/dev/null
}
interrupt KILL k.model
if [ $sent = 0 ]; then
    skip "train SIGKILL mid-epoch" "training finished before the signal"
elif [ $irc -ne 137 ]; then
    fail "train SIGKILL mid-epoch" "exit $irc: $(tail -2 int.err)"
else
    tdump k.model >/dev/null 2>&1 && cmp -s k.model e1.model &&
        pass "train SIGKILLed mid-epoch 2: the model file is epoch 1's, valid" ||
        fail "train SIGKILL mid-epoch" "k.model is not the epoch-1 model ($(attr k.model epochs))"
    train -e 2 -j 2 --resume k.model -o k.model <big.ts 2>/dev/null &&
        cmp -s k.model e2.model && pass "train --resume after SIGKILL = an uninterrupted run (byte-identical)" ||
        fail "train resume after SIGKILL" "the resumed model differs from the uninterrupted one"
fi
interrupt INT i.model
if [ $sent = 0 ]; then
    skip "train SIGINT mid-epoch" "training finished before the signal"
elif [ $irc -ne 130 ] || [ "$(grep -vc '^train: epoch\|^train: kernels\|^train: [0-9]* windows\|^[^t]\|^$' int.err)" -gt 1 ]; then
    fail "train SIGINT" "exit $irc (want 130): $(tail -2 int.err)"
else
    tdump i.model >/dev/null 2>&1 && [ "$(attr i.model epochs)" = 1 ] &&
        pass "train SIGINT mid-epoch 2: exit 130, a valid checkpoint" ||
        fail "train SIGINT checkpoint" "epochs $(attr i.model epochs), batches $(attr i.model epoch_batches)"
    train -e 2 -j 2 --resume i.model -o i.model <big.ts 2>/dev/null &&
        cmp -s i.model e2.model && pass "train --resume after SIGINT = an uninterrupted run (byte-identical)" ||
        fail "train resume after SIGINT" "the resumed model differs from the uninterrupted one"
fi

# ---------------------------------------------------------------------------------- full disk, closed pipe
# writers: NAME PROG COMMAND (stdout is the output under test)
writers() {
    cat <<'C'
vocab vocab vocab <small.txt
vocab-v vocab vocab -v V.ts <small.txt
window window window -n 2 <V.ts
onehot onehot onehot <W.ts
tdump tdump tdump -a W.ts
tdump-summary tdump tdump --summary W.ts
train train train -H 4 -e 1 -j 1 <W.ts
sample sample sample -m M.model -n 2000 --rng-seed 1 -t 1
evaluate evaluate evaluate -m M.model <small.txt
evaluate-json evaluate evaluate -m M.model --json <small.txt
C
}
while read -r name prog cmd; do
    sh -c "exec $cmd" >/dev/full 2>full.err; rc=$?
    # train prints its progress on stderr too: its last line must be the error
    if [ "$prog" = train ]; then tail -1 full.err >full.last; else cp full.err full.last; fi
    if [ $rc -eq 1 ] && [ "$(wc -l <full.last)" -eq 1 ] && grep -Eq "^$prog: .*write failed.*(No space|$)" full.last &&
       [ "$(grep -c "^$prog: .*write failed" full.err)" -eq 1 ]; then pass "$name to /dev/full: exit 1, one error line"
    else fail "$name to /dev/full" "exit $rc: $(head -c 300 full.err)"; fi
    # a closed pipe: SIGPIPE as usual (status 141, quiet), or with SIGPIPE ignored EPIPE:
    # a quiet exit or one line, but never status 0 (output was lost)
    for mode in default ignored; do
        trapcmd=; [ $mode = ignored ] && trapcmd="trap '' PIPE;"
        ( eval "$trapcmd"; sleep 0.2; exec sh -c "exec $cmd" ) 2>pipe.err | true
        rc=${PIPESTATUS[0]}
        [ "$prog" = train ] && { grep -v "^train: epoch\|^train: kernels\|^train: [0-9]* windows\|^[^t]\|^$" pipe.err >pipe.e2; mv pipe.e2 pipe.err; }
        if [ $rc -ne 0 ] && { [ ! -s pipe.err ] || { [ "$(wc -l <pipe.err)" -eq 1 ] && grep -Eq "^$prog: .*(Broken pipe|write failed)" pipe.err; }; }; then
            pass "$name to a closed pipe (SIGPIPE $mode): exit $rc"
        else
            fail "$name to a closed pipe (SIGPIPE $mode)" "exit $rc: $(head -c 300 pipe.err)"
        fi
    done
done < <(writers)
train -H 4 -e 1 -j 1 -o /dev/full <W.ts >/dev/null 2>full.err; rc=$?
if [ $rc -eq 1 ] && tail -1 full.err | grep -q '^train: /dev/full: write failed: No space left on device$'; then
    pass "train -o /dev/full: exit 1, a write error"
else fail "train -o /dev/full" "exit $rc: $(tail -1 full.err)"; fi

# ---------------------------------------------------------------------------------- hostile headers
if ! have_pymsgpack; then
    skip "hostile headers" "$NO_PY"
    exit 0
fi
"$PY" - <<'PY'
import gzip, msgpack
H = msgpack.packb({"name": "header", "format": "charpipe", "version": 1})
def put(name, frames, raw=b"", end=True):
    body = H + b"".join(msgpack.packb(f) if isinstance(f, dict) else f for f in frames) + raw
    if end:
        body += msgpack.packb({"name": "end"})
    open(name + ".ts", "wb").write(gzip.compress(body, mtime=0))
def t(shape, data, dtype="u1", name="x"):
    return {"name": name, "dtype": dtype, "shape": shape, "data": data}
vocab3 = t([3], bytes([97, 0, 0, 0, 98, 0, 0, 0, 99, 0, 0, 0]), "u4", "vocab")
put("huge_shape", [t([1 << 32, 1 << 32], b"")])
put("overflow_shape", [t([1 << 63, 1 << 63, 4], b"")])
put("u64max_shape", [t([(1 << 64) - 1], b"")])
put("negative_dim", [t([-1, 4], b"")])
put("nine_dims", [t([1] * 9, b"\0")])
put("size_mismatch", [t([2, 4], b"\0" * 7)])
put("dtype_mismatch", [t([2, 2], b"\0" * 4, "f4")])
put("bad_dtype", [t([2], b"\0\0", "q2")])
put("shape_not_ints", [t([1.5], b"\0")])
put("control_chars", [t([2], b"\0\0", "u\n\x1b", "x\n\x1b[2J")])
deep = 0
for _ in range(40):
    deep = [deep]
put("deep_nesting", [{"name": "x", "attrs": {"a": deep}}])
pre = msgpack.packb("name") + msgpack.packb("x") + msgpack.packb("attrs")
put("huge_array", [], b"\x82" + pre + b"\xdd\xff\xff\xff\xff" + b"\xc0" * 64, end=False)
put("huge_map", [], b"\x82" + pre + b"\xdf\xff\xff\xff\xff" + b"\xc0" * 64, end=False)
put("many_small_maps", [], b"\x82" + pre + b"\xdc\xff\xff" + b"\xdc\xff\xff" * 4, end=False)
put("huge_bin", [], b"\x82" + pre + b"\xc6\xff\xff\xff\xff" + b"\0" * 64, end=False)
put("huge_str", [], b"\x82" + pre + b"\xdb\x7f\xff\xff\xff" + b"\0" * 64, end=False)
put("end_count", [], msgpack.packb({"name": "end", "frames": 7}), end=False)
put("header_inside", [{"name": "header", "format": "charpipe", "version": 1}])
put("version_2", [])
open("version_2.ts", "wb").write(gzip.compress(msgpack.packb({"name": "header", "format": "charpipe", "version": 2}), mtime=0))
# a vocabulary of a million code points (train must refuse it, whatever the windows)
import array
big = array.array("I", range(1_000_000)).tobytes()
put("vocab_1m", [t([1_000_000], big, "u4", "vocab"), t([1, 2], b"\0" * 8, "u4"), t([1], b"\0" * 4, "u4", "y")])
put("vocab_70k", [t([70000], array.array("I", range(70000)).tobytes(), "u4", "vocab"),
                  t([1, 2], b"\0" * 8, "u4"), t([1], b"\0" * 4, "u4", "y")])
# every Unicode scalar value once: 1,112,064 distinct characters
with open("allchars.txt", "w", encoding="utf-8") as f:
    f.write("".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF))
PY
while IFS='|' read -r k pat; do
    for t in tdump "window -n 2" onehot "train -H 4 -e 1 -j 1 -o keep.model" "evaluate -m M.model"; do
        err1 "${t%% *} hostile $k" "${t%% *}" "stdin: .*$pat" sh -c "$t <$k.ts >out.ts" &&
            pass "${t%% *}: hostile $k refused"
    done
done <<'EOF'
huge_shape|shape too large
overflow_shape|shape too large
u64max_shape|shape too large
negative_dim|non-negative
nine_dims|dimensions
size_mismatch|data has 7 bytes, shape and dtype need 8
dtype_mismatch|data has 4 bytes, shape and dtype need 16
bad_dtype|unsupported dtype 'q2'
shape_not_ints|non-negative integer
control_chars|frame 'x\?\?\[2J': unsupported dtype 'u\?\?'
deep_nesting|malformed msgpack
huge_array|malformed msgpack: a frame declares more than 65536
huge_map|malformed msgpack: a frame declares more than 65536
many_small_maps|malformed msgpack: a frame declares more than 65536
huge_bin|larger than 256 MiB
huge_str|larger than 256 MiB
end_count|end frame counts 7 frames, 0 were read
header_inside|header frame inside a stream
version_2|version 2 is not supported
EOF
if cmp -s M.model keep.model; then pass "hostile streams left the model untouched"
else fail "hostile model" "keep.model changed"; cp M.model keep.model; fi
err1 "vocab -v hostile" vocab 'huge_array.ts: corrupt' sh -c 'vocab -v huge_array.ts <small.txt >out.ts' &&
    pass "vocab -v: hostile FILE refused"
err1 "train vocab 1M" train 'a vocabulary of 1000000 symbols is more than the 65536 supported' \
    sh -c 'train -H 4 -o keep.model <vocab_1m.ts' && pass "train refuses a vocabulary of a million"
err1 "train vocab 70k" train 'a vocabulary of 70000 symbols' sh -c 'train -H 4 -o keep.model <vocab_70k.ts' &&
    pass "train refuses a vocabulary of 70000"
# vocab handles every code point there is (u4 indices), and train refuses the result cleanly
vocab <allchars.txt >all.ts 2>vocab.err && tdump --summary all.ts >sum.txt 2>&1 &&
    grep -Eq '^vocab +1 frame +1112064 u4$' sum.txt && grep -Eq '^text .* 1112064 u4$' sum.txt &&
    pass "vocab of 1,112,064 distinct characters" || fail "vocab of all characters" "$(cat vocab.err sum.txt | head -5)"
err1 "train on all characters" train 'a vocabulary of 1112064 symbols is more than the 65536 supported' \
    sh -c 'window -n 2 -b 4096 <all.ts | train -H 4 -o keep.model' && pass "train refuses 1,112,064 symbols from vocab"
err1 "evaluate vocab 1M" evaluate '.' sh -c 'evaluate -m M.model <vocab_1m.ts' && pass "evaluate refuses a foreign 1M vocabulary"
cmp -s M.model keep.model && pass "big vocabularies left the model untouched" || fail "big vocab model" "keep.model changed"
# a window longer than the text
err1 "window longer than text" window 'text of 5 characters is too short for windows of 5' \
    sh -c 'printf hello | vocab | window -n 5 >out.ts' &&
    { incomplete out.ts && pass "window longer than the text" || fail "window longer than the text" "wrote a complete stream"; }
err1 "window far longer than text" window 'too short for windows of 1048576' \
    sh -c 'vocab <small.txt | window -n 1048576 -b 1 >out.ts' &&
    { incomplete out.ts && pass "window -n 1048576 on a short text" || fail "window -n 1048576 on a short text" "wrote a complete stream"; }
# regression inputs from the fuzzer: tdump gives one clean line each
for f in "$TESTS"/fuzz/regress/ts-*; do
    [ -f "$f" ] || continue
    tdump "$f" >/dev/null 2>"$TMP/err"; rc=$?
    if [ $rc -le 1 ] && { [ $rc -eq 0 ] || [ "$(grep -c '^tdump: ' "$TMP/err")" -eq 1 ]; }; then
        pass "tdump on fuzz regression ${f##*/}: exit $rc"
    else fail "tdump on fuzz regression ${f##*/}" "exit $rc: $(head -c 300 "$TMP/err")"; fi
done
exit 0
