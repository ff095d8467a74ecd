# lib.sh - helpers for charpipe's shell tests. Sourced by tests/test_*.sh, which run.sh starts
# with BIN (the tools' directory) and TMP (a fresh scratch directory) set and PATH led by BIN.
#
#   expect_ok   NAME CMD...      CMD exits 0
#   expect_fail NAME PATTERN CMD...   CMD exits non-zero and stderr matches PATTERN (grep -E)
#                                (for one line naming the program, test_data.sh's expect_err
#                                and test_faults.sh's err1 check the form too)
#   check_num NAME COND WHY a=V...   numbers V satisfy an awk condition (see below)
#   pass NAME / fail NAME WHY    record a result by hand
#   stops_equal NAME ...         a stopped and resumed run makes the uninterrupted one (below)
set -u
: "${BIN:?}" "${TMP:?}"
export PATH="$BIN:$PATH"
# PY: the Python that sees the independent reference's modules (msgpack, numpy): the first
# python3 on PATH that imports them, else Debian's /usr/bin/python3 (where apt-get installs
# python3-msgpack and python3-numpy), else plain python3 (the checks that need it then SKIP).
PY=python3
for _py in "$(command -v python3 2>/dev/null)" /usr/bin/python3; do
    if [ -n "$_py" ] && "$_py" -c 'import msgpack, numpy' 2>/dev/null; then PY=$_py; break; fi
done
unset _py
NO_PY="no python3 that imports msgpack and numpy (make test-deps installs python3-msgpack python3-numpy)"
# PY_TORCH: the same for PyTorch (with numpy), which Debian's python3-torch gives /usr/bin/python3
PY_TORCH=
for _py in "$PY" "$(command -v python3 2>/dev/null)" /usr/bin/python3; do
    if [ -n "$_py" ] && "$_py" -c 'import torch, numpy' 2>/dev/null; then PY_TORCH=$_py; break; fi
done
unset _py

pass() { echo "ok $1"; }
fail() { echo "FAIL $1"; shift; echo "  $*" >&2; }
skip() { echo "SKIP $1: $2"; }

expect_ok() {
    local name=$1; shift
    if "$@" >"$TMP/out" 2>"$TMP/err"; then pass "$name"
    else fail "$name" "exit $? from: $* ; stderr: $(head -c 300 "$TMP/err")"; fi
}

expect_fail() {
    local name=$1 pat=$2 rc; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc -eq 0 ]; then fail "$name" "exit 0 from: $* ; stdout: $(head -c 200 "$TMP/out")"; return; fi
    if ! grep -Eq -- "$pat" "$TMP/err"; then
        fail "$name" "stderr does not match /$pat/: $(head -c 300 "$TMP/err")"; return; fi
    pass "$name"
}

# signal_running SIG PID: send SIG to PID if it is still running (not exited and waiting to be
# reaped, which kill alone cannot tell); status 0 if it was sent.
signal_running() {
    local state
    state=$(sed 's/.*) //' "/proc/$2/stat" 2>/dev/null | cut -c1)
    [ -n "$state" ] && [ "$state" != Z ] && kill -"$1" "$2" 2>/dev/null
}

# check_num NAME CONDITION WHY a=VALUE [b=VALUE ...]: pass NAME if every VALUE is a number and
# CONDITION (an awk expression over a, b, ...) holds, else fail with WHY. An empty value (a tool
# that died before printing it) fails: awk alone would compare it as a string and pass.
check_num() {
    local name=$1 cond=$2 why=$3 kv ok=1 args=(); shift 3
    for kv in "$@"; do
        [[ ${kv#*=} =~ ^-?[0-9]+([.][0-9]*)?([eE][-+]?[0-9]+)?$ ]] || ok=0
        args+=(-v "$kv")
    done
    if [ $ok = 1 ] && awk "${args[@]}" "BEGIN { exit !($cond) }"; then pass "$name"; else fail "$name" "$why"; fi
}

# py CODE...: run the independent Python reader (Debian python3 with python3-msgpack/numpy).
have_py() { "$PY" -c 'import msgpack, numpy' 2>/dev/null; }

# stops_equal NAME "OPTIONS" "RESUME OPTIONS" INPUT FIRST STOPS...: train OPTIONS -e 3
# straight, and again stopped after FIRST and each of STOPS batches (counted per invocation;
# --max-batches with -o writes a checkpoint, mid-epoch or at an epoch's end) and resumed with
# RESUME OPTIONS to the end: the models and the --best files are the same bytes.
stops_equal() {
    local name=$1 opts=$2 ropts=$3 in=$4 first=$5 k; shift 5
    rm -f u.model ub.model i.model ib.model
    train $opts -e 3 -j 2 --eval-every 7 --best ub.model -o u.model < "$in" 2>u.err \
        || { fail "$name" "uninterrupted run: $(tail -1 u.err)"; return; }
    train $opts -e 3 -j 2 --eval-every 7 --best ib.model --max-batches "$first" -o i.model < "$in" 2>i.err
    for k in "$@"; do
        train --resume i.model $ropts -j 2 --eval-every 7 --best ib.model --max-batches "$k" -o i.model < "$in" 2>>i.err
    done
    train --resume i.model $ropts -j 2 --eval-every 7 --best ib.model -o i.model < "$in" 2>>i.err
    if cmp -s u.model i.model && cmp -s ub.model ib.model; then pass "$name"
    else fail "$name" "differ: $(cmp u.model i.model; cmp ub.model ib.model; grep '^train:' i.err | tail -2)"; fi
}

# small_inputs: in the current directory, a small text (small.txt) and what each stage makes of
# it: V.ts (vocab), W.ts (windows of 8), O.ts (one-hot), M.model (windows), S.model (streams);
# status 1 (with a FAIL) if one could not be made
small_inputs() {
    local i f
    for i in $(seq 40); do printf 'hello world %d, caf\303\251 \342\200\224 charpipe! ' "$i"; done >small.txt
    vocab <small.txt >V.ts
    window -n 8 <V.ts >W.ts
    onehot <W.ts >O.ts
    train -H 8 -e 1 -j 1 --no-progress -o M.model <W.ts 2>/dev/null
    train --streams -n 8 -b 4 -H 8 -e 1 -j 1 --no-progress -o S.model <V.ts 2>/dev/null
    for f in V.ts W.ts O.ts M.model S.model; do [ -s $f ] || { fail "inputs" "could not make $f"; return 1; }; done
}
