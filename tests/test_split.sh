# test_split.sh - split tensors (FORMAT.md: consecutive frames of one name are one tensor split
# along its first axis), read wherever a tensor is read: every frame kind (vocab, text, x, y
# as indices and one-hot, a model's weights, vocab, rng and carried state) split validly gives
# what the whole frames give, in every tool that reads it; split wrongly (another dtype, other
# dimensions, a scalar, an info frame of the same name, a vocabulary that stops ascending
# across the cut, a y shorter than its x, a model tensor cut short) it is refused with one
# line. The streams are rewritten by tests/split_stream.py (Python's gzip and msgpack, no
# charpipe code). Run by tests/run.sh with BIN, TMP and TESTS set.
. "$TESTS/lib.sh"
cd "$TMP" || exit 1
if ! have_py; then skip "split tensors" "$NO_PY"; exit 0; fi
split() { "$PY" "$TESTS/split_stream.py" "$@" || fail "split_stream.py $*" "could not rewrite"; }

for i in $(seq 30); do printf 'hello world %d, caf\303\251 \342\200\224 charpipe! ' "$i"; done >small.txt
vocab --chunk 300 <small.txt >V.ts && window -n 6 <V.ts >W.ts && window -n 6 --seq <V.ts >Q.ts && onehot <W.ts >O.ts
T="train -q -H 6 -e 1 -j 1 --no-progress --seed 3"
$T -o M.model <W.ts 2>/dev/null
$T --streams -n 6 -b 4 -L 2 --max-batches 5 -o S.model <V.ts 2>/dev/null   # (carried state: mid-epoch)
for f in V.ts W.ts Q.ts O.ts M.model S.model; do [ -s $f ] || { fail inputs "could not make $f"; exit 1; }; done

# same NAME A B: files A and B are byte-identical
same() { if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$2 and $3 differ: $(head -c 300 err 2>/dev/null)"; fi; }

# ---- valid splits: what the whole frames give
split V.ts Vs.ts vocab=3 text=4
split W.ts Ws.ts vocab=2 x=3 y=2
split Q.ts Qs.ts vocab=4 x=2 y=3
split O.ts Os.ts vocab=2 x=2 y=3
split M.model Ms.model vocab=3 lstm/kernel=2 dense/bias=2 adam/m/lstm/kernel=3 rng=2
split S.model Ss.model vocab=2 lstm_1/kernel=2 rng=2 state/h=2 state/c=2

$T -o a.model <W.ts 2>err; $T -o b.model <Ws.ts 2>>err
same "train on windows with vocab, x and y split: the same model" a.model b.model
$T -o a.model <Q.ts 2>err; $T -o b.model <Qs.ts 2>>err
same "train on --seq windows split: the same model" a.model b.model
$T -o a.model <O.ts 2>err; $T -o b.model <Os.ts 2>>err
same "train on one-hot x and y split: the same model" a.model b.model
$T --streams -n 6 -b 4 -o a.model <V.ts 2>err; $T --streams -n 6 -b 4 -o b.model <Vs.ts 2>>err
same "train --streams on vocab and text split: the same model" a.model b.model
window -n 6 <Vs.ts | $T -o b.model 2>err; $T -o a.model <W.ts 2>>err
same "window on vocab and text split: the same windows (the same model)" a.model b.model
onehot <Ws.ts | $T -o b.model 2>err; $T -o a.model <O.ts 2>>err
same "onehot on vocab, x and y split: the same one-hot windows (the same model)" a.model b.model
for s in W Q O; do
    evaluate -m M.model <$s.ts >a.txt 2>err; evaluate -m M.model <${s}s.ts >b.txt 2>>err
    [ -s a.txt ] && same "evaluate on $s.ts split: the same loss" a.txt b.txt || fail "evaluate on $s.ts split" "$(cat err)"
done
vocab -v V.ts <small.txt >a.ts 2>err; vocab -v Vs.ts <small.txt >b.ts 2>>err
same "vocab -v with the vocab frame split: the same stream" a.ts b.ts
vocab -v M.model <small.txt >a.ts 2>err; vocab -v Ms.model <small.txt >b.ts 2>>err
same "vocab -v MODEL with the model's vocab split: the same stream" a.ts b.ts
split V.ts V2.ts vocab=2
tdump --text -a V.ts | grep '^text' >a.txt; tdump --text -a V2.ts | grep '^text' >b.txt
[ -s a.txt ] && same "tdump --text with the vocab split: the same characters" a.txt b.txt
tdump --text V2.ts | grep '^vocab' | tr -d '\n' >b.txt
case $(cat b.txt) in *'"caf'*) fail "tdump --text shows a split vocab's pieces as characters" "$(cat b.txt)" ;;
    *'"'*'"'*'"'*) pass "tdump --text shows a split vocab's pieces as characters" ;;
    *) fail "tdump --text shows a split vocab's pieces as characters" "$(cat b.txt)" ;; esac
train --summary <W.ts >a.txt 2>err; train --summary <Ws.ts >b.txt 2>>err
same "train --summary with the vocab split: the same V" a.txt b.txt
train --summary -n 6 <Ws.ts >b.txt 2>>err
same "train --summary -n with the vocab split: the whole V" a.txt b.txt

for m in M S; do
    sample -m $m.model -n 40 --seed hello --rng-seed 1 -t 1 >a.txt 2>err; sample -m ${m}s.model -n 40 --seed hello --rng-seed 1 -t 1 >b.txt 2>>err
    [ -s a.txt ] && same "sample on $m.model split: the same text" a.txt b.txt || fail "sample on $m.model split" "$(cat err)"
    evaluate -m $m.model <small.txt >a.txt 2>err; evaluate -m ${m}s.model <small.txt >b.txt 2>>err
    same "evaluate -m $m.model split: the same loss" a.txt b.txt
    export-model -m $m.model -o a.st 2>err; export-model -m ${m}s.model -o b.st 2>>err
    same "export-model on $m.model split: the same export" a.st b.st
done
$T -e 2 --resume M.model -o a.model <W.ts 2>err; $T -e 2 --resume Ms.model -o b.model <W.ts 2>>err
same "train --resume a model with its vocab, weights, moments and rng split: the same model" a.model b.model
train -q -e 2 -j 1 --no-progress --streams --resume S.model -o a.model <V.ts 2>err
train -q -e 2 -j 1 --no-progress --streams --resume Ss.model -o b.model <V.ts 2>>err
same "train --streams --resume with the carried state and rng split: the same model" a.model b.model

# ---- invalid splits: one line naming the program, exit 1, nothing complete written
# SPEC|INPUT|PATTERN|COMMAND... (each command reads INPUT on stdin, or names it as @)
ok=1; n=0
while IFS='|' read -r spec input pat cmds; do
    [ -z "$spec" ] && continue
    split "$input" bad.ts $spec
    IFS=';' read -ra list <<<"$cmds"
    for c in "${list[@]}"; do
        c=${c# }; prog=${c%% *}
        if [[ $c == *@* ]]; then sh -c "${c//@/bad.ts}" >out 2>err </dev/null; else sh -c "$c" <bad.ts >out 2>err; fi
        rc=$?; n=$((n + 1))
        if [ $rc != 1 ] || [ "$(grep -vc '^train: epoch' err)" != 1 ] || ! grep -Eq -- "^$prog: .*$pat" err; then
            fail "split $spec: $c" "exit $rc: $(head -c 300 err)"; ok=0
        fi
    done
done <<'C'
vocab=dtype|W.ts|frame 'vocab' is u2 \(.*\) after a frame of the same name of u4|train -H 4 -e 1 -j 1; evaluate -m M.model; onehot; window -n 4; tdump; vocab -v @ <small.txt
vocab=dup|W.ts|vocabulary is not in ascending order|train -H 4 -e 1 -j 1; evaluate -m M.model; onehot; tdump --text; vocab -v @ <small.txt
vocab=info|W.ts|only one of them is a tensor|train -H 4 -e 1 -j 1; evaluate -m M.model; onehot; tdump
vocab=scalar|V.ts|frame 'vocab' is u4 \(\) after|train --streams -n 4 -b 2 -H 4 -e 1 -j 1; window -n 4; tdump
text=dtype|V.ts|frame 'text' is u2 .* after a frame of the same name of u1|train --streams -n 4 -b 2 -H 4 -e 1 -j 1; window -n 4; evaluate -m M.model; tdump
x=dims|W.ts|frame 'x' is u1 \(.*, 5\) after .* u1 \(.*, 6\)|train -H 4 -e 1 -j 1; evaluate -m M.model; onehot; tdump
x=rank|W.ts|frame 'x' is u1 \([0-9]+,\) after|train -H 4 -e 1 -j 1; evaluate -m M.model; onehot
y=short|W.ts|a y frame of [0-9]+ rows does not match the x frame before it|train -H 4 -e 1 -j 1; evaluate -m M.model
y=dims|O.ts|frame 'y' is f4 .* after|train -H 4 -e 1 -j 1; evaluate -m M.model; tdump
vocab=dup|M.model|vocabulary is not in ascending order|sample -m @ -n 3; evaluate -m @ <small.txt; vocab -v @ <small.txt; export-model -m @ >/dev/null
vocab=short|M.model|vocab frame does not match vocab_size|sample -m @ -n 3; evaluate -m @ <small.txt; export-model -m @ >/dev/null
lstm/kernel=short|M.model|weight 'lstm/kernel' is cut short|sample -m @ -n 3; evaluate -m @ <small.txt
lstm/kernel=dims|M.model|frame 'lstm/kernel' is f4 .* after|sample -m @ -n 3; evaluate -m @ <small.txt; tdump @
rng=short|M.model|rng frame has the wrong shape|train -H 6 -e 2 -j 1 --resume @ <W.ts
state/h=short|S.model|frame 'state/h' does not match the model|train --streams -e 2 -j 1 --resume @ <V.ts
state/c=dtype|S.model|frame 'state/c' is f8|train --streams -e 2 -j 1 --resume @ <V.ts; sample -m @ -n 3
C
[ $ok = 1 ] && pass "invalid splits: $n commands refuse them with one line"
