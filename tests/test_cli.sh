# test_cli.sh - the command lines of every tool: --version and --help everywhere, an output
# that cannot be written is an error (the help, the version and the summaries included), a
# closed standard descriptor never becomes a file, and option errors say what is wrong (a
# missing argument, an unknown or ambiguous option, an empty file name, a number out of range).
# Run by tests/run.sh with BIN, TMP and TESTS set.
. "$TESTS/lib.sh"
cd "$TMP" || exit 1

TOOLS="vocab window onehot tdump train sample evaluate export-model"

for i in $(seq 12); do printf 'hello world %d, caf\303\251 charpipe! ' "$i"; done >small.txt
vocab <small.txt >V.ts && window -n 6 <V.ts >W.ts && train -H 4 -e 1 -j 1 --no-progress -o M.model <W.ts 2>/dev/null
[ -s M.model ] || { fail inputs "could not make M.model"; exit 1; }

# one_line NAME WANT_RC PATTERN: the last command's exit status was WANT_RC and its stderr
# (in err) is one line matching PATTERN
one_line() {
    local name=$1 want=$2 pat=$3 got=$4
    if [ "$got" != "$want" ]; then fail "$name" "exit $got (want $want): $(head -c 300 err)"
    elif [ "$(wc -l <err)" != 1 ]; then fail "$name" "stderr is not one line: $(head -c 300 err)"
    elif ! grep -Eq -- "$pat" err; then fail "$name" "stderr does not match /$pat/: $(cat err)"
    else pass "$name"; fi
}

# ---- --version and --help on every tool; into a full disk they fail
for t in $TOOLS; do
    v=$($t --version 2>err); rc=$?
    if [ $rc = 0 ] && [[ $v =~ ^charpipe\ $t\ [0-9]+\.[0-9]+ ]] && [ ! -s err ]; then pass "$t --version"
    else fail "$t --version" "exit $rc: $v $(cat err)"; fi
    $t --help >help.txt 2>err && grep -q '^SYNOPSIS' help.txt && grep -q -- '--version' help.txt \
        && pass "$t --help lists --version" || fail "$t --help lists --version" "$(head -3 help.txt err)"
    for opt in --help --version; do
        $t $opt >/dev/full 2>err; rc=$?
        one_line "$t $opt > /dev/full: exit 1" 1 "^$t: stdout: write failed: No space left on device$" $rc
    done
done
for c in "train --summary -V 5 -n 4" "tdump --summary W.ts" "tdump W.ts" "evaluate -m M.model --tsv"; do
    t=${c%% *}
    $c <small.txt >/dev/full 2>err; rc=$?
    one_line "$c > /dev/full: exit 1" 1 "^$t: stdout: write failed: No space left on device$" $rc
done
train --summary <W.ts >/dev/full 2>err; rc=$?
one_line "train --summary < W.ts > /dev/full: exit 1" 1 "^train: stdout: write failed" $rc

# ---- a closed stdin, stdout or stderr: reading or writing it fails, and no file opened later
# takes its number (train's progress went into the model's temporary file)
train --summary -V 5 -n 4 >&- 2>err; rc=$?
one_line "train --summary with stdout closed: exit 1" 1 "^train: stdout: write failed: Bad file descriptor$" $rc
vocab <small.txt >&- 2>err; rc=$?
one_line "vocab with stdout closed: exit 1" 1 "^vocab: stdout: write failed: Bad file descriptor$" $rc
vocab <&- >out 2>err; rc=$?
one_line "vocab with stdin closed: exit 1" 1 "^vocab: stdin: read failed: Bad file descriptor$" $rc
rm -f closed.model
if train -H 4 -e 2 -j 1 --progress -o closed.model <W.ts 2>&- && tdump closed.model >/dev/null 2>err \
   && evaluate -m closed.model <small.txt >/dev/null 2>>err; then
    pass "train -o MODEL with stderr closed: the progress does not land in the model"
else fail "train -o MODEL with stderr closed" "$(head -c 300 err)"; fi

# ---- option errors: exit 2, the message names the option and what is wrong, then the hint
# TOOL ARGS|PATTERN (ARGS split on spaces; '' stands for an empty argument)
ok=1; n=0
while IFS='|' read -r cmd pat; do
    [ -z "$cmd" ] && continue
    read -ra words <<<"$cmd"
    for i in "${!words[@]}"; do [ "${words[$i]}" = "''" ] && words[$i]=; done
    t=${words[0]}
    "${words[@]}" <W.ts >out 2>err; rc=$?
    n=$((n + 1))
    if [ $rc != 2 ] || [ "$(wc -l <err)" != 2 ] || ! head -1 err | grep -Eq -- "^$t: $pat" \
       || [ "$(tail -1 err)" != "Try '$t --help'." ] || [ -s out ]; then
        fail "usage error: $cmd" "exit $rc: $(head -c 300 err)"; ok=0
    fi
done <<'C'
train -o|option '-o' needs an argument$
train -H 4 --output|option '--output' needs an argument$
train --lr|option '--lr' needs an argument$
train -x|unknown option '-x'$
train --frobnicate|unknown option '--frobnicate'$
train --frobnicate=3|unknown option '--frobnicate'$
train --s|option '--s' is ambiguous: --seed, .*--streams
train --quiet=yes|option '--quiet' takes no argument$
train -o ''|-o: an empty file name$
train --resume ''|--resume: an empty file name$
train --init ''|--init: an empty file name$
train --log ''|--log: an empty file name$
train --best ''|--best: an empty file name$
train --input ''|--input: an empty file name$
train -e 99999999999999999999|-e: 99999999999999999999 is out of range \[0, 1000000\]$
train -e 1.5|-e: '1.5' is not an integer$
train --lr 1e999|--lr: 1e999 is out of range \[0, 10\]$
train --lr inf|--lr: inf is out of range \[0, 10\]$
train --lr nan|--lr: 'nan' is not a number$
train --lr ''|--lr: '' is not a number$
vocab -v|option '-v' needs an argument$
vocab -v ''|-v: an empty file name$
vocab --chunk|option '--chunk' needs an argument$
vocab --bz|unknown option '--bz'$
window -n|option '-n' needs an argument$
window -q|unknown option '-q'$
window --seq=1|option '--seq' takes no argument$
onehot -V|option '-V' needs an argument$
onehot -V 0|-V: 0 is out of range
tdump -n|option '-n' needs an argument$
tdump ''|FILE: an empty file name$
sample -m|option '-m' needs an argument$
sample -m ''|-m: an empty file name$
sample -m M.model --seed-file ''|--seed-file: an empty file name$
sample -m M.model -t -1|-t: -1 is out of range
sample -m M.model -t 1e999|-t: 1e999 is out of range
sample -m M.model --s x|option '--s' is ambiguous
evaluate -m|option '-m' needs an argument$
evaluate -m ''|-m: an empty file name$
evaluate -m M.model -s 0|-s: 0 is out of range
export-model -o|option '-o' needs an argument$
export-model -m M.model -o ''|-o: an empty file name$
export-model -m ''|-m: an empty file name$
export-model --layout|option '--layout' needs an argument$
window -n 4 --streams 2 -b 8|--streams B cuts B streams .*: -s and -b do not apply$
window -n 4 --streams 2 -s 3|--streams B cuts .*: -s and -b do not apply$
tdump --summary -n 3|--summary prints no values: -n and -a do not apply$
tdump --summary -a|--summary prints no values
train -V 5 -H 4|-V 5: the vocabulary size is for --summary
C
[ $ok = 1 ] && pass "option errors: $n command lines say what is wrong (exit 2)"

# ---- a tool that reads a charpipe stream on stdin refuses a terminal there (it waited for
# keystrokes that can never make one), as train and evaluate do
if command -v script >/dev/null; then
    for t in "window -n 4" onehot tdump "train -H 4 -o pty.model" "evaluate -m M.model"; do
        script -qec "$t" /dev/null </dev/null >pty.out 2>&1; rc=$?
        tr -d '\r' <pty.out >err
        if [ $rc = 2 ] && head -1 err | grep -q "^${t%% *}: stdin is a terminal" && [ "$(wc -l <err)" = 2 ]; then
            pass "$t with stdin a terminal: a usage error"
        else fail "$t with stdin a terminal: a usage error" "exit $rc: $(cat err)"; fi
    done
else
    skip "stdin a terminal" "no script(1)"
fi

# ---- numbers that underflow are numbers: the smallest double, and one that rounds to 0
if sample -m M.model -t 4.9e-324 -n 10 --seed hel --rng-seed 1 >tiny.txt 2>err \
   && sample -m M.model -t 0 -n 10 --seed hel >greedy.txt 2>>err && cmp -s tiny.txt greedy.txt; then
    pass "sample -t 4.9e-324 is a temperature (the greedy text)"
else fail "sample -t 4.9e-324" "$(cat err) [$(cat tiny.txt)] [$(cat greedy.txt 2>/dev/null)]"; fi
if train -H 4 -e 1 -j 1 --no-progress --lr 1e-400 -o lr0.model <W.ts 2>err; then
    pass "train --lr 1e-400 is a learning rate (0)"
else fail "train --lr 1e-400" "$(tail -1 err)"; fi
