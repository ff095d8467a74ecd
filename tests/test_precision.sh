# test_precision.sh - train --precision: bf16 products change the model and fp32 is the
# default; a bf16 run stopped anywhere and resumed in bf16 makes the uninterrupted run's model
# byte for byte (windows and streams, every cell); a resumed run may switch precision (it is
# not kept in the model); bad values are usage errors; without AVX512_BF16 a line says that
# the products run on the emulation.
. "$TESTS/lib.sh"

for i in $(seq 60); do printf 'hello world, charpipe! '; done > rep.txt
vocab < rep.txt | window -n 8 > rep.ts           # 1097 training windows: 18 batches of 64
vocab < rep.txt > rep.text.ts                    # -b 4 -n 8 streams: 34 batches an epoch
W="-H 12 -L 2 --dropout 0.2 --clip 1 --seed 7 --schedule cosine --no-progress"
S="--streams -n 8 -b 4 -H 12 -L 2 --dropout 0.2 --clip 1 --seed 7 --schedule cosine --no-progress"

train $S -e 1 -j 2 -o f.model < rep.text.ts 2>/dev/null
train $S -e 1 -j 2 --precision fp32 -o f2.model < rep.text.ts 2>/dev/null
train $S -e 1 -j 2 --precision bf16 -o b.model < rep.text.ts 2> b.err
cmp -s f.model f2.model && pass fp32_is_the_default || fail fp32_is_the_default "$(cmp f.model f2.model)"
if [ -s b.model ] && ! cmp -s f.model b.model; then pass bf16_changes_the_model
else fail bf16_changes_the_model "the same model as fp32, or none: $(tail -1 b.err)"; fi
grep -q 'kernels .* (bf16 products)' b.err && pass bf16_named_in_the_settings_line \
    || fail bf16_named_in_the_settings_line "$(grep kernels b.err)"
tdump --json b.model > b.json && tdump --json f.model > f.json
[ "$(grep -c '"dtype": "float32"' b.json)" = "$(grep -c '"dtype": "float32"' f.json)" ] && ! grep -q bf16 b.json \
    && pass bf16_model_file_is_float32 || fail bf16_model_file_is_float32 "$(grep -m3 dtype b.json)"

# without the instruction: one line says the products are emulated (and -q leaves it out)
if grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null && [ -z "${CHARPIPE_KERNEL:-}" ]; then
    ! grep -q 'emulation' b.err && pass bf16_native_no_notice || fail bf16_native_no_notice "$(grep emulation b.err)"
else
    [ "$(grep -c 'bf16: the kernels (.*) have no AVX512_BF16: the bf16 products run on an exact emulation of it, slower' b.err)" = 1 ] \
        && pass bf16_emulated_says_so || fail bf16_emulated_says_so "$(head -3 b.err)"
    train $S -e 1 -j 1 -q --precision bf16 -o q.model < rep.text.ts 2> q.err
    ! grep -q emulation q.err && pass bf16_quiet_no_notice || fail bf16_quiet_no_notice "$(cat q.err)"
fi
for k in scalar avx2; do                          # every set trains in bf16 (the scalar set too)
    CHARPIPE_KERNEL=$k train --version >/dev/null 2>&1 || { skip "bf16_trains_on_$k" "this CPU cannot run $k"; continue; }
    CHARPIPE_KERNEL=$k train $S -e 1 -j 2 --precision bf16 -o k.model < rep.text.ts 2> k.err \
        && tdump k.model >/dev/null && pass "bf16_trains_on_$k" || fail "bf16_trains_on_$k" "$(tail -1 k.err)"
done

# bad values: exit 2, the reason on stderr, nothing on stdout
train --streams --precision fp16 < rep.text.ts > bad.out 2> bad.err; rc=$?
[ $rc = 2 ] && [ ! -s bad.out ] && grep -q "^train: --precision: 'fp16' is not fp32 or bf16" bad.err \
    && pass precision_unknown_is_usage || fail precision_unknown_is_usage "exit $rc: $(head -2 bad.err)"
train --streams --precision < rep.text.ts > bad.out 2> bad.err; rc=$?
[ $rc = 2 ] && [ ! -s bad.out ] && grep -q "Try 'train --help'" bad.err \
    && pass precision_missing_value || fail precision_missing_value "exit $rc: $(head -2 bad.err)"

# resumed runs stop and go as the uninterrupted one (stops_equal: tests/lib.sh)
stops_equal bf16_resume_windows_equals_uninterrupted "$W --precision bf16" "--precision bf16 --no-progress" rep.ts 5 13 20
for cell in lstm gru lnlstm; do
    stops_equal "bf16_resume_streams_${cell}_equals_uninterrupted" "$S --cell $cell --precision bf16" \
        "--streams --precision bf16 --no-progress" rep.text.ts 17 40
done

# a resumed run may switch precision: the switch takes effect (precision is not in the model)
train $S -e 2 -j 2 --precision bf16 -o ub.model < rep.text.ts 2>/dev/null
train $S -e 2 -j 2 --precision bf16 --max-batches 20 -o s.model < rep.text.ts 2>/dev/null
cp s.model s2.model
train --resume s.model --streams -j 2 --no-progress -o s.model < rep.text.ts 2> s.err \
    && train --resume s2.model --streams -j 2 --no-progress --precision bf16 -o s2.model < rep.text.ts 2>> s.err
if cmp -s s2.model ub.model && [ -s s.model ] && ! cmp -s s.model ub.model; then pass resume_may_switch_precision
else fail resume_may_switch_precision "$(tail -2 s.err; cmp s2.model ub.model; cmp s.model ub.model)"; fi
