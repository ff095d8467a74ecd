# test_mpi.sh - training across processes under Open MPI (train built with make MPI=1):
# R ranks of J threads make the model train -j R*J makes from the same seed (float rounding
# aside), in both layouts, with stacked layers and dropout; checkpoints resume at another
# number of ranks; a killed rank ends the job quickly with the checkpoint intact; shards
# (--input PATTERN) with one vocabulary train, mismatched ones are refused; a stream of
# several MB on stdin (rank 0's) gives the model the file form gives; SIGUSR1 checkpoints and
# goes on; Slurm's task count is checked against the MPI world.
# Run by tests/run.sh with BIN, TMP and TESTS set, and MPI_TRAIN (the MPI build of train)
# from make check; SKIPs visibly without mpicc/mpirun.
# plain build only: the MPI train is built by the plain build (build/mpi)
. "$TESTS/lib.sh"
cd "$TMP" || exit 1

if ! command -v mpirun >/dev/null 2>&1 || ! command -v mpicc >/dev/null 2>&1; then
    skip mpi "mpicc or mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"; exit 0
fi
MT=${MPI_TRAIN:-}
if [ "$MT" = other-build ]; then
    skip mpi "the MPI train (build/mpi) is tested by the plain make check, not this build's"; exit 0
fi
if [ -z "$MT" ]; then            # run by hand: build it
    MT=$TESTS/../build/mpi/bin/train
    make -s -C "$TESTS/.." mpi >/dev/null 2>&1 || { fail mpi-build "make mpi failed"; exit 0; }
fi
[ -x "$MT" ] || { fail mpi-build "no MPI train at $MT"; exit 0; }
RUN="mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && RUN="$RUN --allow-run-as-root"
RUN="$RUN --bind-to none --mca btl self,vader"
mt() { local np=$1; shift; $RUN -np "$np" "$MT" "$@"; }

# same A B TOL: every float of models A and B (weights, Adam's moments, carried state) and
# their losses within TOL (relative to the largest magnitude, 1e-6 at least); steps equal.
same() {
    "$PY" - "$1" "$2" "$3" <<'PY'
import json, subprocess, sys
def load(p):
    out = subprocess.run(["tdump", "--json", "-a", p], capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines()]
a, b, tol = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
if [f["name"] for f in a] != [f["name"] for f in b]:
    sys.exit("frames differ: %s / %s" % ([f["name"] for f in a], [f["name"] for f in b]))
worst = (0, "")
for fa, fb in zip(a, b):
    if fa["name"] == "model":
        for k in ("steps", "epochs", "epoch_batches"):
            if fa["attrs"][k] != fb["attrs"][k]:
                sys.exit("%s: %s / %s" % (k, fa["attrs"][k], fb["attrs"][k]))
        for k in ("train_loss", "val_loss", "epoch_loss_sum"):
            x, y = fa["attrs"][k], fb["attrs"][k]
            if (x is None) != (y is None) or (x is not None and abs(x - y) > tol * max(1, abs(x))):
                sys.exit("%s: %s / %s" % (k, x, y))
    elif fa.get("dtype") == "f4":
        va, vb = fa["head"], fb["head"]
        scale = max([abs(v) for v in va] + [1e-6])
        d = max([abs(x - y) for x, y in zip(va, vb)] + [0]) / scale
        if len(va) != len(vb) or d > tol:
            sys.exit("%s differs by %.3g (relative)" % (fa["name"], d))
        worst = max(worst, (d, fa["name"]))
print("largest difference %.2g (%s)" % worst)
PY
}
# expect_same NAME A B [TOL]
expect_same() {
    local out
    if out=$(same "$2" "$3" "${4:-2e-3}" 2>&1); then pass "$1"; else fail "$1" "$out"; fi
}

# ---------------------------------------------------------------------------------- inputs
# a text of its own, 40,000 bytes of ASCII: words in lines, drawn by a fixed generator
awk 'BEGIN { nw = split("the of and to in that is was he for it with as his on be at by had not are " \
        "but from or have an they which one you were her all she there would their we him been", w, " ")
    x = 12345
    while (n < 40000) {
        x = x * 16807 % 2147483647; l = 3 + x % 9; s = ""
        for (i = 0; i < l; i++) { x = x * 16807 % 2147483647; s = s (i ? " " : "") w[1 + x % nw] }
        s = toupper(substr(s, 1, 1)) substr(s, 2) (x % 3 ? "," : ".")
        print s; n += length(s) + 1
    } }' | head -c 40000 > t.txt
vocab < t.txt > s.ts                                      # text frames (streams)
head -c 12000 t.txt | vocab -v s.ts | window -n 12 > w.ts # ~12000 windows: ~37 steps of 256
WIN="-H 24 -L 2 --dropout 0.2 --clip 1 --seed 5 -b 256 -e 1 --no-progress"
STR="--streams -n 20 -b 6 -H 24 -L 2 --clip 1 --seed 5 -e 1 --no-progress"

# ----------------------------------------------------------- R ranks equal -j R*J threads
train $WIN -j 2 -o w-j2.model < w.ts 2>/dev/null
mt 2 -j 1 $WIN -o w-np2.model < w.ts 2>/dev/null
expect_same "windows, 2 layers, dropout: -np 2 -j 1 = -j 2" w-j2.model w-np2.model
train $WIN -j 3 -o w-j3.model < w.ts 2>/dev/null
mt 3 -j 1 $WIN -o w-np3.model < w.ts 2>/dev/null
expect_same "windows, dropout: -np 3 -j 1 = -j 3" w-j3.model w-np3.model
# (dropout masks are drawn per row of the global batch, so any split draws the same ones)
mt 3 -j 1 $WIN -o w-np3b.model < w.ts 2>/dev/null
expect_same "windows, dropout: -np 3 -j 1 = -j 2" w-j2.model w-np3b.model

train $STR -j 2 --dropout 0.2 -o s-j2.model < s.ts 2>/dev/null
mt 2 -j 1 $STR --dropout 0.2 -o s-np2.model < s.ts 2>/dev/null
expect_same "streams, 2 layers, dropout: -np 2 -j 1 = -j 2" s-j2.model s-np2.model
mt 3 -j 1 $STR --dropout 0.2 -o s-np3.model < s.ts 2>/dev/null
expect_same "streams, dropout: -np 3 -j 1 = -j 2" s-j2.model s-np3.model
# weight drop and locked dropout: the masks of a split batch are the whole batch's
REG="--dropout 0.1 --weight-drop 0.3 --locked-dropout 0.2 --input-dropout 0.1 --weight-decay 0.1 --warmup 5 --ema 0.9"
train $STR -j 2 $REG -o s-rj2.model < s.ts 2>/dev/null
mt 3 -j 1 $STR $REG -o s-rnp3.model < s.ts 2>/dev/null
expect_same "streams, weight drop, locked dropout, AdamW, warm-up, average: -np 3 -j 1 = -j 2" s-rj2.model s-rnp3.model
# random starts: every rank draws the epoch's start from the same RNG
train $STR -e 2 -j 2 --stream-starts random -o s-sj2.model < s.ts 2>/dev/null
mt 3 -j 1 $STR -e 2 --stream-starts random -o s-snp3.model < s.ts 2>/dev/null
expect_same "streams, random starts, 2 epochs: -np 3 -j 1 = -j 2" s-sj2.model s-snp3.model
mt 2 -j 1 $STR -o s-log.model --log s.log --eval-every 20 < s.ts >out 2>err
if [ -s s-log.model ] && [ "$(grep -c . s.log)" -ge 3 ] && [ ! -s out ] && ! grep -q "rank 1" err \
   && [ "$(grep -c 'epoch 1/1' err)" = 1 ]; then pass "rank 0 alone writes the model, the log, the report"
else fail "rank 0 alone writes" "$(head -c 300 err)"; fi

# ------------------------------------------ a checkpoint at 2 ranks resumes at 1 and at 3
# --best: a checkpoint at a known step (mid-epoch, with the carried state, when the best
# validation is not an epoch's end)
STR2="--streams -n 20 -b 6 -H 24 -L 2 --clip 1 --seed 7 -e 2 --no-progress"
train $STR2 -j 2 -o full.model < s.ts 2>/dev/null
mt 2 -j 1 $STR2 --eval-every 40 --best ck.model -o x.model < s.ts 2>/dev/null
cp ck.model ck1.model; cp ck.model ck3.model
train --streams -e 2 --no-progress -j 1 --resume ck1.model -o r1.model < s.ts 2>/dev/null
expect_same "checkpoint at 2 ranks, resumed at 1 = uninterrupted" full.model r1.model
mt 3 -j 1 --streams -e 2 --no-progress --resume ck3.model -o r3.model < s.ts 2>/dev/null
expect_same "checkpoint at 2 ranks, resumed at 3 = uninterrupted" full.model r3.model
WINR="-H 24 -L 2 --clip 1 --seed 5 -b 256 --no-progress"
train $WINR -e 2 -j 2 -o wfull.model < w.ts 2>/dev/null
mt 2 -j 1 $WINR -e 1 -o wck.model < w.ts 2>/dev/null
mt 3 -j 1 --no-progress -e 2 --resume wck.model -o wr3.model < w.ts 2>/dev/null
expect_same "windows: epoch checkpoint at 2 ranks, resumed at 3 = uninterrupted" wfull.model wr3.model

# SIGINT to mpirun: every rank stops at one step, rank 0 saves once; it resumes to the same
# model wherever it stopped
STR3="--streams -n 20 -b 6 -H 24 --seed 9 --no-progress"
# (The run is given far more epochs than it gets, so the signal always lands mid-run; the
# uninterrupted reference is then trained to two epochs past the checkpoint. Open MPI SIGKILLs
# the ranks a second after the SIGTERM it forwards: on a busy machine the step and the save
# may take longer, so the test gives them the time a user with long steps would give, as the
# README says. Open MPI 4 sleeps that timeout twice whatever the ranks do (after a SIGCONT,
# then after the SIGTERM), so 60 s cost the suite two minutes: 10 s is still five times the
# 2 s the ranks take here to stop and save. mpirun may drop what the ranks print while it shuts down, so the checkpoint is
# told by the file: written mid-epoch, which only the interrupt does.)
$RUN --mca odls_base_sigkill_timeout 10 -np 2 "$MT" -j 1 $STR3 -e 100000 --eval-every 10 --log i.log \
    -o int.model < s.ts >/dev/null 2>int.err & p=$!
for i in $(seq 300); do [ -s i.log ] && break; sleep 0.1; done
signal_running INT $p; wait $p; rc=$?
cp int.model int1.model 2>/dev/null
n=$(grep -c 'interrupted: checkpoint' int.err)
attr() { tdump --json "$1" 2>/dev/null | grep -m1 '"model"' | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"; }
eb=$(attr int.model epoch_batches); ep=$(attr int.model epochs)
if [ $rc -ne 0 ] && [ "${eb:-0}" -gt 0 ] && [ "$n" -le 1 ]; then pass "SIGINT to mpirun: one checkpoint, non-zero exit ($rc)"
else fail "SIGINT to mpirun" "exit $rc, epoch_batches '$eb', $n messages: $(head -c 400 int.err)"; fi
if [ "${eb:-0}" = 0 ] || tdump int.model | grep -q '^state/h'; then pass "a mid-epoch checkpoint at 2 ranks holds the carried state"
else fail "mid-epoch checkpoint" "epoch_batches '$eb' but no state/h"; fi
E=$(( ${ep:-0} + 2 ))
train $STR3 -e $E -j 2 -o ifull.model < s.ts 2>/dev/null
mt 3 -j 1 --streams -e $E --no-progress --resume int.model -o int.model < s.ts 2>/dev/null
expect_same "interrupted at 2 ranks, resumed at 3 = uninterrupted" ifull.model int.model
train --streams -e $E --no-progress -j 1 --resume int1.model -o int1.model < s.ts 2>/dev/null
expect_same "interrupted at 2 ranks, resumed at 1 = uninterrupted" ifull.model int1.model

# ------------------------------------------------ a rank killed: the job ends, quickly
$RUN -np 2 "$MT" -j 1 $STR3 -e 1000 -o k.model < s.ts >/dev/null 2>k.err & p=$!
for i in $(seq 300); do [ -s k.model ] && break; sleep 0.1; done
r1=$(pgrep -P $p -f "$MT" | tail -1)
t0=$(date +%s)
[ -n "$r1" ] && kill -KILL "$r1"
for i in $(seq 600); do signal_running 0 $p || break; sleep 0.1; done
wait $p; rc=$?; dt=$(( $(date +%s) - t0 ))
if [ -n "$r1" ] && [ $rc -ne 0 ] && [ $dt -le 30 ] && grep -qi "signal 9\|killed" k.err; then
    pass "a rank SIGKILLed: the job ends in ${dt}s, exit $rc, the message says so"
else fail "a rank SIGKILLed" "rank '$r1', exit $rc after ${dt}s: $(head -c 400 k.err)"; signal_running KILL $p; fi
e=$(tdump --json k.model 2>/dev/null | grep -m1 '"model"' | sed 's/.*"epochs": \([0-9]*\).*/\1/')
expect_ok "the last checkpoint is intact and resumes" \
    train --streams -e $(( ${e:-0} + 1 )) --no-progress -j 2 --resume k.model -o k2.model < s.ts

# ------------------------------------------------------------------------- shards
head -c 20000 t.txt | vocab -v s.ts > shard-0.ts
tail -c 20000 t.txt | vocab -v s.ts > shard-1.ts
expect_ok "--input shard-%d.ts: each rank its shard" \
    mt 2 -j 1 --streams -n 20 -b 4 -H 16 -e 1 --no-progress --input shard-%d.ts -o sh.model
printf 'zzzz yyyy xxxx wwww, vvvv!\n%.0s' $(seq 800) | vocab > shard-bad-1.ts
cp shard-0.ts shard-bad-0.ts
expect_fail "shards with different vocabularies refused, naming the rank and file" \
    "rank 1: shard-bad-1.ts: the vocabulary differs from rank 0's \(shard-bad-0.ts\)" \
    mt 2 -j 1 --streams -n 20 -b 4 -H 16 --no-progress --input shard-bad-%d.ts -o bad.model
head -c 30 t.txt | vocab -v s.ts > shard-short-1.ts
cp shard-0.ts shard-short-0.ts
expect_fail "a shard too short for its streams refused, naming the rank and file" \
    "rank 1: shard-short-1.ts: .*too few for 2 streams" \
    mt 2 -j 1 --streams -n 20 -b 4 -H 16 --no-progress --input shard-short-%d.ts -o bad.model
[ -e bad.model ] && fail "refused shards write no model" "bad.model exists" || pass "refused shards write no model"

# ------------------------------------------ stdin to rank 0 = every rank reading the file
head -c 1500 t.txt | vocab -v s.ts | window -n 20 | CHARPIPE_GZIP_LEVEL=0 onehot > big.ts   # several MB
mb=$(( $(stat -c %s big.ts) / 1000000 ))
cat big.ts | mt 2 -j 1 -H 16 -b 32 -e 1 --no-progress -o pipe.model 2>/dev/null
mt 2 -j 1 -H 16 -b 32 -e 1 --no-progress --input big.ts -o file.model 2>/dev/null
if [ $mb -ge 3 ] && [ -s pipe.model ] && cmp -s pipe.model file.model; then pass "a ${mb} MB stream on stdin (rank 0's) = --input FILE"
else fail "stdin = --input" "$mb MB, models differ or missing"; fi

# ------------------------------------------ SIGUSR1 at 2 ranks: a checkpoint, and on it goes
# (mpirun passes SIGUSR1 on to every rank; they agree on the step, rank 0 writes; a rank that
# sees the signal a step later may add a second checkpoint)
$RUN -np 2 "$MT" -j 1 $STR3 -e 100000 --print-every 1 -o u.model < s.ts >/dev/null 2>u.err & p=$!
for i in $(seq 300); do grep -q 'batch 3/' u.err && break; sleep 0.1; done
signal_running USR1 $p
for i in $(seq 300); do grep -q 'SIGUSR1: checkpoint' u.err && break; sleep 0.1; done
n=$(grep -c 'SIGUSR1: checkpoint at epoch' u.err); sleep 1
if [ "$n" -ge 1 ] && [ "$n" -le 2 ] && signal_running 0 $p && [ -s u.model ]; then pass "SIGUSR1 at 2 ranks: a checkpoint, training goes on"
else fail "SIGUSR1 at 2 ranks" "$n messages: $(grep -v batch u.err | head -c 400)"; fi
signal_running TERM $p; wait $p 2>/dev/null
expect_ok "the checkpoint of 2 ranks after SIGUSR1 and SIGTERM resumes" \
    train --streams -e $(( $(attr u.model epochs) + 1 )) --no-progress -j 2 --resume u.model -o u2.model < s.ts

# ------------------------------------------ Slurm: ranks of one MPI world are not copies
expect_ok "SLURM_NTASKS=2 with 2 MPI ranks trains" env SLURM_NTASKS=2 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_ID=0 \
    $RUN -np 2 "$MT" -j 1 --streams -n 20 -b 4 -H 16 -e 1 --no-progress -o sl.model < s.ts
expect_fail "SLURM_NTASKS=2 with 1 MPI rank refused" 'Slurm started 2 tasks, but this one is alone' \
    env SLURM_NTASKS=2 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_ID=0 $RUN -np 1 "$MT" -j 1 --streams -n 20 -b 4 -H 16 -e 1 --no-progress -o sl1.model < s.ts
