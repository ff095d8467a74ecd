# test_seeds.sh - every C test draws its random data from its own identity (check.h): the
# same data whichever kernel sets the CPU offers or CHARPIPE_KERNELS allows, and whichever
# tests ran before it. Each C test prints a fingerprint of the numbers it drew ("# data FILE:
# TEST CONTEXT SUM", CHARPIPE_TEST_SUMS=1); the runs below must give every test the sum it has
# in the full run. A generator shared across tests (or seeded from what ran before) fails here:
# limited to scalar, the scalar set's tests run without the vector sets' tests before them.
# plain build only: the data a test draws does not depend on the build
. "$TESTS/lib.sh"
: "${CTESTS:?}"
PROGS="test_kern test_lstm test_charrnn test_dataset"

# the full run's sums: run.sh's (SUMS) for the programs it ran without a limit, else our own
for p in $PROGS; do
    [ -x "$CTESTS/$p" ] || { fail "seeds_$p" "no $CTESTS/$p"; continue; }
    if [ -z "${CHARPIPE_KERNELS:-}" ] && [ -s "${SUMS:-}" ] && grep -q "^# data $p\.c:" "$SUMS"; then
        grep "^# data $p\.c:" "$SUMS" > "full.$p"
    else
        CHARPIPE_KERNELS= CHARPIPE_TEST_SUMS=1 "$CTESTS/$p" 2>/dev/null | grep '^# data ' > "full.$p"
    fi
done

# VARIANT ENV...: run every program under ENV; every sum it prints must be the full run's,
# and it must print some (the tests did run)
same_sums() {
    local variant=$1 p bad= n=0; shift
    for p in $PROGS; do
        env "$@" CHARPIPE_TEST_SUMS=1 "$CTESTS/$p" > "$variant.$p.out" 2>/dev/null
        grep '^# data ' "$variant.$p.out" > "$variant.$p"
        n=$((n + $(wc -l < "$variant.$p")))
        bad="$bad$(grep -vxF -f "full.$p" "$variant.$p" | head -3 | sed 's/^# data //; s/$/; /')"
    done
    if [ -z "$bad" ] && [ "$n" -gt 0 ]; then pass "seeds_same_data_$variant"
    else fail "seeds_same_data_$variant" "$n tests; drew other data than in the full run: $bad"; fi
}

# limited to the scalar set (what a CPU without vector sets runs): the scalar tests see
# the data of the full run, and the sets left out say so
same_sums scalar_only CHARPIPE_KERNELS=scalar
n=$(grep -c '^SKIP .*: left out by CHARPIPE_KERNELS=scalar$' scalar_only.test_kern.out)
best=$(CHARPIPE_KERNELS= "$BIN/train" --version | sed -n 's/.*kernels: \([a-z0-9]*\).*/\1/p')
if [ "$best" = scalar ]; then skip seeds_limit_says_skipped "this CPU runs only the scalar set"
elif [ "$n" -ge 1 ]; then pass seeds_limit_says_skipped
else fail seeds_limit_says_skipped "$(grep '^SKIP' scalar_only.test_kern.out)"; fi

# limited to scalar,avx2: an AVX-512 CPU runs as an AVX2 one, with the same data
if [ "$best" = avx512 ]; then same_sums scalar_avx2 CHARPIPE_KERNELS=scalar,avx2
else skip seeds_same_data_scalar_avx2 "this CPU runs no set beyond avx2 (the limit changes nothing)"; fi

# one test alone (the last of a program, with everything before it left out) draws its data
same_sums one_test_alone CHARPIPE_TEST_ONLY=test_regul_gradient,test_regul_parts,test_softmax,test_step,test_irregular

# the sums are fingerprints of the data: another seed offset gives every test other sums, and
# different tests have different ones
CHARPIPE_TEST_SEED=1 CHARPIPE_TEST_SUMS=1 CHARPIPE_KERNELS=scalar "$CTESTS/test_charrnn" 2>/dev/null \
    | grep '^# data ' > seed1
who() { sed 's/ [0-9a-f]*$//' "$1"; }          # the lines without their sums
sum() { awk '{ print $NF }' "$1"; }             # the sums
both=$(who seed1 | grep -cxF -f <(who scalar_only.test_charrnn))
other=$(sum seed1 | grep -cxF -f <(sum scalar_only.test_charrnn))
distinct=$(sum full.test_charrnn | sort -u | wc -l)
check_num seeds_offset_changes_data 'a > 20 && a == n && o == 0 && d == f' \
    "$both tests in both runs, $other sums alike; $distinct distinct sums of $(wc -l < full.test_charrnn)" \
    a="$both" n="$(wc -l < seed1)" o="$other" d="$distinct" f="$(wc -l < full.test_charrnn)"
