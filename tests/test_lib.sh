# test_lib.sh - libcharpipe.a never ends the process and reads no environment variable (its
# errors are return values with a message); the tools do both for it: CHARPIPE_KERNEL,
# CHARPIPE_KERNELS and CHARPIPE_GZIP_LEVEL keep their messages, exit statuses and effects. (test_install.sh builds
# a program against the installed library and checks the error returns themselves.)
. "$TESTS/lib.sh"
REPO=$(cd "$TESTS/.." && pwd)
cd "$TMP" || exit 1

# --- no exit/abort/getenv in lib/*.c outside comments (the preprocessor drops the comments;
# -w: ts_writer_abort, the API that drops a writer, is a name, not a call)
found=
for f in "$REPO"/lib/*.c; do
    if ! cc -fpreprocessed -dD -E -P "$f" > nocomments.c 2> cpp.err; then
        found="$found $(basename "$f")(cc: $(head -c 100 cpp.err))"; continue; fi
    hits=$(grep -wE 'exit|_exit|_Exit|quick_exit|atexit|abort|getenv|secure_getenv' nocomments.c)
    [ -n "$hits" ] && found="$found $(basename "$f"): $hits;"
done
[ -z "$found" ] && pass lib_never_exits_or_reads_env || fail lib_never_exits_or_reads_env "$found"

# --- CHARPIPE_KERNEL, read by the tools: a bad name is refused as before (exit 1, one line
# naming the choices), a good one is used
printf 'hello world, hello charpipe\n' > t.txt
vocab < t.txt | window -n 4 > W.ts
train -H 4 -e 1 -j 1 --seed 1 -o M.model < W.ts 2> /dev/null || fail train_runs "$(train -H 4 -e 1 -j 1 -o M.model < W.ts 2>&1)"
pat='^charpipe: CHARPIPE_KERNEL=nosuch: unknown or not supported by this CPU \(this CPU runs:( [a-z0-9]+)* scalar\)$'
for c in "train -H 4 -e 1 -j 1 -o M2.model" "sample -m M.model -n 5" "evaluate -m M.model"; do
    t=${c%% *}
    CHARPIPE_KERNEL=nosuch $c < $([ $t = train ] && echo W.ts || echo t.txt) > out 2> err; rc=$?
    if [ $rc = 1 ] && [ "$(wc -l < err)" = 1 ] && grep -Eq "$pat" err && [ ! -s out ] && [ ! -e M2.model ]
    then pass "kernel_env_unknown_$t"; else fail "kernel_env_unknown_$t" "exit $rc: $(cat err)"; fi
done
v=$(CHARPIPE_KERNEL=scalar train --version 2>&1)
case $v in *"kernels: scalar"*) pass kernel_env_scalar_used ;; *) fail kernel_env_scalar_used "$v" ;; esac
v=$(CHARPIPE_KERNEL= train --version 2>&1)
case $v in *"kernels: "*) pass kernel_env_empty_is_best ;; *) fail kernel_env_empty_is_best "$v" ;; esac

# --- CHARPIPE_KERNELS, read by the tools: the sets they may choose from, as on a CPU that
# offered only those (scalar always); an unknown name is refused like CHARPIPE_KERNEL's
best=$(CHARPIPE_KERNELS= train --version | sed -n 's/.*kernels: \([a-z0-9]*\).*/\1/p')
v=$(CHARPIPE_KERNELS=scalar train --version 2>&1)
case $v in *"kernels: scalar)") pass kernels_limit_scalar ;; *) fail kernels_limit_scalar "$v" ;; esac
v=$(CHARPIPE_KERNELS=avx2 train --version 2>&1)     # (avx2 where the CPU runs it, else scalar)
case $best in avx512|avx2) want=avx2 ;; *) want=scalar ;; esac
case $v in *"kernels: $want)") pass kernels_limit_best_allowed ;; *) fail kernels_limit_best_allowed "want $want: $v" ;; esac
v=$(CHARPIPE_KERNELS=scalar,avx2,avx512 train --version 2>&1)
case $v in *"kernels: $best)") pass kernels_limit_all_is_best ;; *) fail kernels_limit_all_is_best "want $best: $v" ;; esac
pat='^charpipe: CHARPIPE_KERNELS=scalar,nosuch: nosuch: unknown kernel set \(built:( [a-z0-9]+)* scalar\)$'
for c in "train -H 4 -e 1 -j 1 -o M3.model" "sample -m M.model -n 5" "evaluate -m M.model"; do
    t=${c%% *}
    CHARPIPE_KERNELS=scalar,nosuch $c < $([ $t = train ] && echo W.ts || echo t.txt) > out 2> err; rc=$?
    if [ $rc = 1 ] && [ "$(wc -l < err)" = 1 ] && grep -Eq "$pat" err && [ ! -s out ] && [ ! -e M3.model ]
    then pass "kernels_limit_unknown_$t"; else fail "kernels_limit_unknown_$t" "exit $rc: $(cat err)"; fi
done
if [ "$best" = scalar ]; then
    skip kernels_limit_refuses_forced "this CPU runs only the scalar set"
else
    CHARPIPE_KERNELS=scalar CHARPIPE_KERNEL=$best train --version > out 2> err; rc=$?
    [ $rc = 1 ] && [ ! -s out ] && grep -qx "charpipe: CHARPIPE_KERNEL=$best: not among the allowed kernel sets (allowed: scalar) under CHARPIPE_KERNELS=scalar" err \
        && pass kernels_limit_refuses_forced || fail kernels_limit_refuses_forced "exit $rc: $(cat out err)"
fi

# --- CHARPIPE_GZIP_LEVEL, read by the tools: 0 stores (bigger), a bad value is the default
seq 1 5000 > nums.txt
s1=$(vocab < nums.txt | wc -c)
s0=$(CHARPIPE_GZIP_LEVEL=0 vocab < nums.txt | wc -c)
sx=$(CHARPIPE_GZIP_LEVEL=12 vocab < nums.txt | wc -c)
check_num gzip_level_env "a > 2 * b && c == b" "level 0: $s0 bytes, default: $s1, '12': $sx" a="$s0" b="$s1" c="$sx"
CHARPIPE_GZIP_LEVEL=0 vocab < nums.txt | tdump --summary > sum.txt 2>&1 && grep -q '^text' sum.txt \
    && pass gzip_level_0_readable || fail gzip_level_0_readable "$(cat sum.txt)"
