# test_outputs.sh - the outputs of every tool (tools/output.c): never an input, through
# symbolic links, modes kept, read-only files refused without -f, binary streams never to a
# terminal, checked before the input is read, fifos written in place; train's outputs (-o,
# --best, --log) in detail, and never a model that cannot be read back. At the end, every
# writing tool against one table of hostile targets. See ROBUSTNESS.md.
# Run by tests/run.sh with BIN, TMP and TESTS set.
. "$TESTS/lib.sh"
cd "$TMP" || exit 1

# err1 NAME PATTERN CMD...: CMD exits 1 (not killed) and stderr is one line "train: ..."
# matching PATTERN.
err1() {
    local name=$1 pat=$2 rc; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc -ne 1 ]; then fail "$name" "exit $rc from: $* ; stderr: $(head -c 300 "$TMP/err")"; return 1; fi
    if [ "$(wc -l <"$TMP/err")" -ne 1 ]; then fail "$name" "stderr is not one line: $(head -c 400 "$TMP/err")"; return 1; fi
    if ! grep -q "^train: " "$TMP/err"; then fail "$name" "stderr does not name train: $(cat "$TMP/err")"; return 1; fi
    if ! grep -Eq -- "$pat" "$TMP/err"; then fail "$name" "stderr does not match /$pat/: $(cat "$TMP/err")"; return 1; fi
    return 0
}
# same NAME FILE COPY: FILE is byte-identical to COPY and no temporary was left beside it
same() {
    if ! cmp -s "$2" "$3"; then fail "$1" "$2 changed"; return 1; fi
    if ls "$2".tmp.* >/dev/null 2>&1; then fail "$1" "a temporary was left beside $2"; return 1; fi
    return 0
}
loads() { tdump "$1" >/dev/null 2>&1 && evaluate -m "$1" <W.ts >/dev/null 2>&1; }

for i in $(seq 12); do printf 'hello world %d, caf\303\251 \342\200\224 charpipe! ' "$i"; done >small.txt
vocab <small.txt >V.ts
window -n 6 <V.ts >W.ts
T="train -H 4 -e 1 -j 1 --no-progress"
$T -o M.model <W.ts 2>/dev/null
cp M.model keep.model
[ -s M.model ] || { fail "inputs" "could not make M.model"; exit 1; }

# ---- the input is not an output
cp W.ts in.ts; cp W.ts in.keep
err1 "train -o FILE < FILE refused" "in.ts: is also an input" $T -o in.ts <in.ts \
    && same "train -o FILE < FILE refused" in.ts in.keep && pass "train -o FILE < FILE refused, FILE unchanged"
err1 "train --input FILE -o FILE" "in.ts: is also an input" $T --input in.ts -o in.ts \
    && same "train --input FILE -o FILE" in.ts in.keep && pass "train --input FILE -o FILE refused, FILE unchanged"
err1 "--best FILE < FILE" "in.ts: is also an input" $T -o x.model --best in.ts <in.ts \
    && same "--best FILE < FILE" in.ts in.keep && [ ! -e x.model ] && pass "train --best FILE < FILE refused, FILE unchanged"
err1 "--log FILE < FILE" "in.ts: is also an input" $T -o x.model --log in.ts <in.ts \
    && same "--log FILE < FILE" in.ts in.keep && pass "train --log FILE < FILE refused, FILE unchanged"
cp keep.model lm.model
$T -o lm.model --log lm.model <W.ts >out 2>err; rc=$?
if [ $rc = 2 ] && grep -q '^train: --log lm.model: is also the -o file' err && same "--log = -o" lm.model keep.model; then
    ln -sf lm.model lm-link
    $T -o x.model --best lm.model --log lm-link <W.ts >out 2>err; rc=$?
    if [ $rc = 2 ] && grep -q '^train: --log lm-link: is also the --best file' err && same "--log = --best" lm.model keep.model; then
        pass "train --log naming the -o or --best file (or a link to it) refused, model unchanged"
    else fail "--log = --best refused" "exit $rc: $(head -c 300 err)"; fi
else fail "--log = -o refused" "exit $rc: $(head -c 300 err)"; fi
ln -sf in.ts in-link.ts
err1 "-o LINK-TO-INPUT" "in-link.ts: is also an input" $T -o in-link.ts <in.ts \
    && same "-o LINK-TO-INPUT" in.ts in.keep && [ -L in-link.ts ] && pass "train -o a link to its input refused, input unchanged"
ln -f in.ts in-hard.ts
err1 "-o HARD-LINK-TO-INPUT" "in-hard.ts: is also an input" $T -o in-hard.ts <in.ts \
    && same "-o HARD-LINK-TO-INPUT" in.ts in.keep && pass "train -o a hard link to its input refused, input unchanged"
# --input naming a fifo still works with -o (the check of -o against the input stats a fifo
# and does not open it: opening and closing it could leave its writer without a reader for a
# moment, a race this test cannot force)
rm -f in.fifo; mkfifo in.fifo
(cat W.ts >in.fifo) 2>/dev/null & wpid=$!
if timeout 60 $T --input in.fifo -o fifo-in.model 2>err && loads fifo-in.model; then
    pass "train --input FIFO -o MODEL works"
else fail "train --input FIFO -o MODEL works" "$(tail -c 300 err)"; fi
kill $wpid 2>/dev/null; wait $wpid 2>/dev/null
cp M.model r.model
if $T -e 2 --resume r.model -o r.model <W.ts 2>err && loads r.model && ! cmp -s r.model M.model; then
    pass "train --resume FILE -o FILE still allowed"
else fail "train --resume FILE -o FILE still allowed" "$(head -c 300 err)"; fi

# ---- stdout appended to a file the command reads (`tool < F >> F` read its own output, or
# appended to its input): refused before anything is written, the file unchanged
# FILE|COMMAND (run by sh; FILE must be unchanged)
ok=1; n=0
while IFS='|' read -r file cmd; do
    cp "$file" io.keep
    sh -c "$cmd" >out 2>err; rc=$?
    prog=${cmd%% *}
    if [ $rc != 1 ] || [ "$(wc -l <err)" != 1 ] || ! grep -q "^$prog: stdout is " err || ! cmp -s "$file" io.keep; then
        fail "stdout appended to an input: $cmd" "exit $rc, $(head -c 300 err)"; ok=0; cp io.keep "$file"
    fi
    n=$((n + 1))
done <<'C'
small.txt|vocab <small.txt >>small.txt
M.model|vocab -v M.model <small.txt >>M.model
V.ts|window -n 6 <V.ts >>V.ts
W.ts|onehot <W.ts >>W.ts
W.ts|tdump W.ts >>W.ts
W.ts|tdump <W.ts >>W.ts
M.model|evaluate -m M.model <W.ts >>M.model
W.ts|evaluate -m M.model <W.ts >>W.ts
M.model|sample -m M.model -n 5 >>M.model
W.ts|train -H 4 -e 1 -j 1 <W.ts >>W.ts
W.ts|train -H 4 -e 1 -j 1 --input W.ts >>W.ts
M.model|train -H 4 -e 2 -j 1 --resume M.model <W.ts >>M.model
C
[ $ok = 1 ] && pass "stdout appended to a file the command reads: $n commands refused, the file unchanged"

# ---- symbolic links: the target is written, the link kept
mkdir -p sub; cp keep.model sub/target.model
ln -sf sub/target.model link.model
if $T --seed 5 -o link.model <W.ts 2>err && [ -L link.model ] && [ "$(readlink link.model)" = sub/target.model ] \
   && ! cmp -s sub/target.model keep.model && loads sub/target.model && ! ls sub/*.tmp.* ./*.tmp.* >/dev/null 2>&1; then
    pass "train -o LINK writes the link's target, the link stays"
else fail "train -o LINK writes the link's target, the link stays" "$(ls -l link.model sub) $(head -c 300 err)"; fi
ln -sf sub/new.model dangling.model
if $T -o dangling.model <W.ts 2>err && [ -L dangling.model ] && loads sub/new.model; then
    pass "train -o DANGLING-LINK creates the link's target"
else fail "train -o DANGLING-LINK creates the link's target" "$(ls -l dangling.model sub) $(head -c 300 err)"; fi
ln -sf nowhere/x.model broken.model
err1 "-o a link into a missing directory" "broken.model: cannot write" $T -o broken.model <W.ts \
    && pass "train -o a link into a missing directory refused before training"

# ---- modes kept, read-only refused without -f
cp keep.model p600.model; chmod 600 p600.model
if $T --seed 6 -o p600.model <W.ts 2>err && [ "$(stat -c %a p600.model)" = 600 ] && ! cmp -s p600.model keep.model; then
    pass "train -o keeps an existing file's mode (600)"
else fail "train -o keeps an existing file's mode (600)" "mode $(stat -c %a p600.model) $(head -c 300 err)"; fi
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    cp keep.model owned.model; chown nobody owned.model
    if $T --seed 8 -o owned.model <W.ts 2>err && [ "$(stat -c %U owned.model)" = nobody ] && ! cmp -s owned.model keep.model; then
        pass "train -o (as root) keeps an existing file's owner"
    else fail "train -o (as root) keeps an existing file's owner" "owner $(stat -c %U owned.model) $(head -c 300 err)"; fi
else skip "train -o keeps an existing file's owner" "not root, or no user nobody"; fi
rm -f new.model
if (umask 027; $T -o new.model <W.ts 2>/dev/null) && [ "$(stat -c %a new.model)" = 640 ]; then
    pass "train -o: a new file gets 0666 less the umask"
else fail "train -o: a new file gets 0666 less the umask" "mode $(stat -c %a new.model 2>&1)"; fi
for opt in -o --best --log; do
    cp keep.model ro.file; chmod 444 ro.file; cp ro.file ro.keep
    case $opt in -o) args=(-o ro.file) ;; *) args=(-o x.model "$opt" ro.file) ;; esac
    rm -f x.model
    err1 "train $opt READ-ONLY" "ro.file: is read-only \(use -f" $T "${args[@]}" <W.ts \
        && same "train $opt READ-ONLY" ro.file ro.keep && [ ! -e x.model ] \
        && pass "train $opt READ-ONLY refused before training, file unchanged"
done
cp keep.model ro.model; chmod 444 ro.model
if $T --seed 7 -f -o ro.model <W.ts 2>err && ! cmp -s ro.model keep.model && [ "$(stat -c %a ro.model)" = 444 ] && loads ro.model; then
    pass "train -f -o READ-ONLY replaces it, mode kept"
else fail "train -f -o READ-ONLY replaces it, mode kept" "$(head -c 300 err)"; fi

# ---- every output checked before the input is read: a cut stream would fail later, so the
# output's error shows it was checked first
head -c 200 W.ts >cut.ts
err1 "--log in a missing directory" "nodir/l.tsv: cannot write" $T -o x.model --log nodir/l.tsv <cut.ts \
    && pass "train --log in a missing directory refused before the input is read"
err1 "--best in a missing directory" "nodir/b.model: cannot write" $T -o x.model --best nodir/b.model <cut.ts \
    && pass "train --best in a missing directory refused before the input is read"
mkdir -p adir
for opt in -o --best --log; do
    case $opt in -o) args=(-o adir) ;; *) args=(-o x.model "$opt" adir) ;; esac
    rm -f x.model
    err1 "train $opt DIRECTORY" "adir: cannot write: Is a directory" $T "${args[@]}" <cut.ts \
        && [ -d adir ] && [ ! -e x.model ] && pass "train $opt DIRECTORY refused before the input is read"
done
mkdir -p rodir; cp keep.model rodir/m.model; cp keep.model rodir.keep; chmod 666 rodir/m.model; chmod 555 rodir
# (root ignores directory permissions: as root, train runs as nobody, for whom they apply)
as_user=
if [ "$(id -u)" = 0 ]; then as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"; chmod 755 "$TMP"; fi
err1 "-o in a read-only directory" "rodir/m.model: cannot write" $as_user $T -o rodir/m.model <W.ts \
    && same "-o in a read-only directory" rodir/m.model rodir.keep \
    && pass "train -o in a read-only directory refused before training, model unchanged"
chmod 755 rodir

# ---- non-regular outputs written in place, never probed or renamed
rm -f fifo; mkfifo fifo
$T -o fifo <W.ts 2>fifo.err & pid=$!
if timeout 60 cat fifo >from-fifo.model && wait $pid && [ -p fifo ] && loads from-fifo.model; then
    pass "train -o FIFO: written in place, the fifo stays"
else fail "train -o FIFO: written in place, the fifo stays" "$(head -c 300 fifo.err)"; kill $pid 2>/dev/null; fi
# /dev/stdout is a link to /proc/self/fd/1; a link of our own stands for it, so that a
# regression replaces this link and not the machine's /dev/stdout
ln -sf /proc/self/fd/1 stdout-link
if $T -o stdout-link <W.ts 2>err | cat >piped.model && [ -L stdout-link ] && loads piped.model; then
    pass "train -o /dev/stdout (a link to fd 1) into a pipe: written in place"
else fail "train -o /dev/stdout (a link to fd 1) into a pipe: written in place" "$(head -c 300 err)"; fi
if $T -o stdout-link <W.ts 2>err >stdout.model && [ -L stdout-link ] && loads stdout.model; then
    pass "train -o /dev/stdout (a link to fd 1) to a file: the file gets the model, the link stays"
else fail "train -o /dev/stdout (a link to fd 1) to a file: the file gets the model, the link stays" "$(head -c 300 err)"; fi

# ---- never a model that cannot be read: a resumed model whose settings (lr 10, AdamW decay
# 10: each step multiplies a weight by 1 - lr * decay = -99) drive its dense bias, at 5% of
# the largest weight a model may hold (model_max_weight), past that bound in its first step.
# The data is one batch, so the step is the epoch's last and the loss computed before it
# finite: only the check before writing can catch it. train's banner goes to stderr first,
# so the error is its last line.
# diverges NAME PATTERN CMD...: CMD exits 1 and the last line of stderr is "train: ..." matching PATTERN
diverges() {
    local name=$1 pat=$2 rc; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc -ne 1 ]; then fail "$name" "exit $rc from: $* ; stderr: $(tail -c 300 "$TMP/err")"; return 1; fi
    if ! tail -n 1 "$TMP/err" | grep -Eq -- "^train: .*$pat"; then fail "$name" "last line of stderr does not match /$pat/: $(tail -n 1 "$TMP/err")"; return 1; fi
    return 0
}
if have_py; then
    for i in 1 2; do printf 'hello world %d, caf\303\251 charpipe! ' "$i"; done | vocab | window -n 6 >one.ts
    $T -o one.model <one.ts 2>/dev/null
    # FRAC of the bound in every dense weight (H 4: sqrt(FLT_MAX) / 10), lr and decay 10
    hostile() {   # IN OUT FRAC
        "$PY" - "$@" <<'PY'
import gzip, msgpack, sys, struct, math
raw = gzip.decompress(open(sys.argv[1], "rb").read())
u = msgpack.Unpacker(raw=False, max_bin_len=1 << 30)
u.feed(raw)
bound = math.sqrt(3.4028234663852886e38) / (2 * 4 + 2)
def fill(o, v):
    o["data"] = struct.pack("<%df" % (len(o["data"]) // 4), *[v] * (len(o["data"]) // 4))
out = []
for o in u:
    n = o.get("name", "")
    if n == "model":
        o["attrs"]["lr"] = 10.0
        o["attrs"]["weight_decay"] = 10.0
    if n in ("dense/bias", "dense/kernel"): fill(o, float(sys.argv[3]) * bound)
    if n.startswith("adam/"): fill(o, 0.0)
    out.append(msgpack.packb(o, use_bin_type=True))
open(sys.argv[2], "wb").write(gzip.compress(b"".join(out), mtime=0))
PY
    }
    hostile one.model huge.model 0.05
    cp huge.model huge.keep; cp one.model one.keep
    # logits near 1e18 (the dense weights at 0.9 of the bound; the rest is lost beside them in
    # float): a uniform softmax, so the loss is ln V, not the 0 that (log-sum-exp + max) - logit
    # made of it
    hostile one.model big.model 0.9
    V=$(tdump --summary one.ts | awk '$1 == "vocab" { print $4 }')
    nats=$(evaluate -m big.model <one.ts 2>&1 | awk '{ print $1 }')
    check_num "evaluate on logits near 1e18: ln V nats/char, not 0" "a > 0 && (a - log(v))^2 < 1e-6" \
        "evaluate says $nats nats/char, ln $V = $(awk -v v="$V" 'BEGIN { print log(v) }')" a="$nats" v="$V"
    # weights whose logits could overflow to infinity (evaluate printed "-nan nats/char", exit 0)
    # are refused when the model is read
    hostile one.model inf.model 1.5
    evaluate -m inf.model <one.ts >out 2>err; rc=$?
    if [ $rc = 1 ] && [ ! -s out ] && [ "$(wc -l <err)" = 1 ] && grep -q "^evaluate: inf.model: weight 'dense/.*' holds .*, beyond the" err; then
        pass "evaluate on a model whose logits could overflow: one line, exit 1, no result"
    else fail "evaluate on a model whose logits could overflow" "exit $rc: $(head -c 200 out) $(head -c 200 err)"; fi
    diverges "diverging run, other -o" "infinite, NaN or too large at epoch 2.*one.model keeps the last good model" \
        $T -e 2 --resume huge.model -o one.model <one.ts \
        && same "diverging run, other -o" one.model one.keep && tdump one.model >/dev/null \
        && evaluate -m one.model <one.ts >/dev/null \
        && pass "a run whose parameters become infinite: exit 1, the good model byte-identical and loadable"
    diverges "diverging run, --resume F -o F" "infinite, NaN or too large.*huge.model keeps the last good model" \
        $T -e 2 --resume huge.model -o huge.model <one.ts \
        && same "diverging run, --resume F -o F" huge.model huge.keep \
        && pass "a diverging resume leaves its own file byte-identical"
    rm -f none.model
    diverges "diverging run, --best" "infinite, NaN or too large" $T -e 2 --resume huge.model -o one.model --best none.model <one.ts \
        && [ ! -e none.model ] && same "diverging run, --best" one.model one.keep \
        && pass "a diverging run writes no --best file"
    diverges "diverging run to stdout" "infinite, NaN or too large.*no model written" $T -e 2 --resume huge.model <one.ts \
        && [ ! -s out ] && pass "a diverging run writes nothing to stdout"
else
    skip "diverging runs keep the last good model" "$NO_PY"
fi

# ---------------------------------------------------------------------------------------------
# Every tool that writes, against one table of hostile targets (tools/output.c holds the rules).
# A writer: NAME|TYPE|INPUT|COMMAND, run by sh in a directory of its own with IN replaced by a
# copy of INPUT and OUT by the target; without OUT the output is stdout, redirected to the
# target. TYPE: bin (a binary stream), text, or log (text appended). The refusals run on a
# damaged copy of the input (cut streams and models, invalid UTF-8), so their error being the
# output's shows that the output was checked before any input was read.
WRITERS='vocab|bin|small.txt|vocab <IN
vocab -v|bin|M.model|vocab -v IN <small.txt
window|bin|V.ts|window -n 6 <IN
onehot|bin|W.ts|onehot <IN
tdump FILE|text|W.ts|tdump IN
tdump|text|W.ts|tdump <IN
train|bin|W.ts|train -q -H 4 -e 1 -j 1 --no-progress <IN
train -o|bin|W.ts|train -q -H 4 -e 1 -j 1 --no-progress <IN -o OUT
train --input -o|bin|W.ts|train -q -H 4 -e 1 -j 1 --no-progress --input IN -o OUT
train --best|bin|W.ts|train -q -H 4 -e 1 -j 1 --no-progress <IN -o best-o.model --best OUT
train --log|log|W.ts|train -q -H 4 -e 1 -j 1 --no-progress <IN -o log-o.model --log OUT
train --init -o|bin|M.model|train -q -e 1 -j 1 --no-progress --init IN <W.ts -o OUT
sample|text|M.model|sample -m IN -n 5
sample --seed-file|text|small.txt|sample -m M.model --seed-file IN -n 5
evaluate -m|text|M.model|evaluate -m IN <small.txt
evaluate|text|small.txt|evaluate -m M.model <IN
export-model|bin|M.model|export-model -m IN
export-model -o|bin|M.model|export-model -m IN -o OUT'

printf 'hello \377 world\n' >bad.txt
head -c 150 V.ts >bad-V.ts; head -c 300 W.ts >bad-W.ts; head -c 400 M.model >bad-M.model
damaged() { case $1 in small.txt) echo bad.txt ;; *) echo "bad-$1" ;; esac; }
have_script=; command -v script >/dev/null && have_script=1
tfail=0; tcases=0
tbad() { fail "hostile target: $1" "$2"; tfail=$((tfail + 1)); }
# attempt NAME CMD: run CMD (sh) in the current case directory: rc, out, err
attempt() { tcases=$((tcases + 1)); sh -c "$2" >out 2>err </dev/null; rc=$?; }
# refused NAME PROG PATTERN: exit 1, the last line of stderr "PROG: ..." matching PATTERN
refused() {
    if [ "$rc" != 1 ] || ! tail -1 err | grep -Eq -- "^$2: .*$3"; then
        tbad "$1" "exit $rc, stderr: $(tail -c 300 err)"; return 1; fi
}
unchanged() { cmp -s "$2" "$3" || { tbad "$1" "$2 changed"; return 1; }; }

while IFS='|' read -r wname wtype winput wcmd; do
    prog=${wcmd%% *}
    ext=${winput##*.}
    has_o=; [[ $wcmd == *OUT* ]] && has_o=1
    good=$TMP/$winput bad=$TMP/$(damaged "$winput")
    # case NAME: a fresh directory with in.EXT (a damaged copy) and its pristine copy keep.EXT
    newcase() {
        cd "$TMP" && rm -rf hc && mkdir hc && cd hc && cp "$TMP/small.txt" "$TMP/M.model" "$TMP/W.ts" "$TMP/V.ts" . \
            && cp "${2:-$bad}" "in.$ext" && cp "in.$ext" "keep.$ext"
    }
    # run CMD with IN and OUT (TARGET) replaced; without OUT, stdout goes to TARGET with REDIR
    cmdline() { local c=${wcmd//IN/in.$ext}; if [ -n "$has_o" ]; then echo "${c//OUT/$1}"; else echo "$c $2 $1"; fi; }
    redir='>>'
    # -- the input itself, a symbolic link to it, a hard link to it: refused, the input unchanged
    for t in self symlink hardlink; do
        newcase
        case $t in self) tgt=in.$ext ;; symlink) ln -s in.$ext tgt; tgt=tgt ;; hardlink) ln in.$ext tgt; tgt=tgt ;; esac
        attempt "$wname" "$(cmdline "$tgt" '>>')"
        refused "$wname: output = input ($t)" "$prog" "(is also an input|stdout is .*(an input|same file as stdin))" \
            && unchanged "$wname: output = input ($t)" in.$ext keep.$ext
        [ $t = symlink ] && [ ! -L tgt ] && tbad "$wname: output = input (symlink)" "the link was replaced"
    done
    if [ -z "$has_o" ]; then          # stdout truncated onto the input by the shell: still refused
        newcase; attempt "$wname" "$(cmdline in.$ext '>')"
        refused "$wname: > input" "$prog" "stdout is .*(an input|same file as stdin)"
    fi
    # -- a terminal: a binary stream refused on stdout, -o /dev/stdout and -o /dev/tty; text is fine
    if [ -n "$have_script" ]; then
        for tgt in pty /dev/stdout /dev/tty; do
            [ "$tgt" != pty ] && [ -z "$has_o" ] && continue
            [ "$tgt" = pty ] && [ -n "$has_o" ] && continue
            if [ "$wtype" = bin ]; then
                newcase
                c=${wcmd//IN/in.$ext}; c=${c//OUT/$tgt}
                tcases=$((tcases + 1))
                script -qec "$c" /dev/null >out 2>&1 </dev/null; rc=$?
                tr -d '\r' <out >err
                refused "$wname to a terminal ($tgt)" "$prog" "terminal" && unchanged "$wname to a terminal ($tgt)" in.$ext keep.$ext
            elif [ "$wtype" = text ] && [ "$tgt" = pty ]; then
                newcase "" "$good"
                tcases=$((tcases + 1))
                script -qec "${wcmd//IN/in.$ext}" /dev/null >out 2>&1 </dev/null; rc=$?
                [ $rc = 0 ] || tbad "$wname: text to a terminal" "exit $rc: $(head -c 300 out)"
            fi
        done
    fi
    # -- a full disk: the write error is an error
    newcase "" "$good"
    attempt "$wname" "$(cmdline /dev/full '>')"
    refused "$wname to /dev/full" "$prog" "write failed: No space left on device"
    [ -z "$has_o" ] && continue
    # -- -o targets only
    newcase; cp M.model ro; chmod 444 ro; cp ro ro.keep
    attempt "$wname" "$(cmdline ro)"; refused "$wname: -o READ-ONLY" "$prog" "ro: is read-only \(use -f" && unchanged "$wname: -o READ-ONLY" ro ro.keep
    newcase; mkdir adir
    attempt "$wname" "$(cmdline adir)"; refused "$wname: -o DIRECTORY" "$prog" "adir: cannot write: Is a directory"
    newcase
    attempt "$wname" "$(cmdline nodir/x)"; refused "$wname: -o in a missing directory" "$prog" "nodir/x: cannot write: No such file"
    newcase; ln -s loop2 loop1; ln -s loop1 loop2
    attempt "$wname" "$(cmdline loop1)"; refused "$wname: -o a symbolic link loop" "$prog" "loop1: cannot write: Too many levels"
    newcase; ln -s nodir/x broken
    attempt "$wname" "$(cmdline broken)"; refused "$wname: -o a link into a missing directory" "$prog" "broken: cannot write"
    # what may be written: a read-only file with -f (its mode kept), a dangling link (its
    # target created, the link kept), an existing file of mode 600 (kept), a fifo (in place)
    newcase "" "$good"; cp small.txt ro; chmod 444 ro; cp ro ro.keep
    c=$(cmdline ro); attempt "$wname" "${c/ -o / -f -o }"
    if [ $rc != 0 ] || cmp -s ro ro.keep || [ "$(stat -c %a ro)" != 444 ]; then
        tbad "$wname -f: -o READ-ONLY replaced, mode kept" "exit $rc, mode $(stat -c %a ro): $(tail -c 300 err)"; fi
    newcase "" "$good"; mkdir sub; ln -s sub/new dangling
    attempt "$wname" "$(cmdline dangling)"
    { [ $rc = 0 ] && [ -L dangling ] && [ -s sub/new ]; } || tbad "$wname: -o a dangling link" "exit $rc: $(tail -c 300 err)"
    newcase "" "$good"; cp small.txt p600; chmod 600 p600
    attempt "$wname" "$(cmdline p600)"
    { [ $rc = 0 ] && [ "$(stat -c %a p600)" = 600 ] && ! cmp -s p600 small.txt; } || tbad "$wname: -o keeps mode 600" "exit $rc, mode $(stat -c %a p600): $(tail -c 300 err)"
    if [ "$wtype" != log ]; then          # (a log appended to a fifo waits for a reader: not tried)
        newcase "" "$good"; mkfifo ff
        (timeout 60 cat ff >from-fifo) & cpid=$!
        attempt "$wname" "$(cmdline ff)"; wait $cpid
        { [ $rc = 0 ] && [ -p ff ] && [ -s from-fifo ]; } || tbad "$wname: -o a fifo: written in place" "exit $rc: $(tail -c 300 err)"
    fi
done <<<"$WRITERS"
cd "$TMP" || exit 1
[ $tfail = 0 ] && pass "every writing tool against the hostile targets: $tcases cases"
