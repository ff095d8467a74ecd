# test_starts.sh - train --stream-starts (issue 29): where each epoch's streams start. fixed is
# the default and the same bytes as no option; random is recorded in the model, trains
# otherwise than fixed, resumes to the uninterrupted run's bytes from anywhere in an epoch,
# and a resumed run keeps it. (Which characters a batch reads: tests/test_run.c.)
. "$TESTS/lib.sh"

for i in $(seq 60); do printf 'hello world, charpipe! '; done > rep.txt
vocab < rep.txt > rep.text.ts                    # -b 4 -n 8 streams: 34 batches an epoch
vocab < rep.txt | window -n 8 > rep.ts

# a stopped run resumes to the uninterrupted one's bytes (tests/lib.sh's stops_equal): at
# batches 3, 31 (epoch 1) and 40 (epoch 2, whose start is drawn again on resuming)
S="--streams -n 8 -b 4 -H 12 -L 2 --dropout 0.2 --clip 1 --seed 7 --stream-starts random"
stops_equal starts_random_resume_equals_uninterrupted "$S --schedule cosine" --streams rep.text.ts 3 31 40
stops_equal starts_random_lnlstm_resume_equals_uninterrupted "$S --cell lnlstm --ema 0.9" --streams rep.text.ts 50

# recorded in the model; fixed is the default, and the same bytes as no option
N="--streams -n 8 -b 4 -H 12 --seed 7 -e 2 -j 2"
train $N -o none.model < rep.text.ts 2>/dev/null
train $N --stream-starts fixed -o fixed.model < rep.text.ts 2>/dev/null
train $N --stream-starts random -o random.model < rep.text.ts 2>/dev/null
tdump --json random.model | grep -q '"stream_starts": "random"' && tdump --json none.model | grep -q '"stream_starts": "fixed"' \
    && pass starts_recorded_in_model || fail starts_recorded_in_model "$(tdump --json random.model | head -c 600)"
[ -s none.model ] && cmp -s none.model fixed.model && pass starts_fixed_is_default \
    || fail starts_fixed_is_default "none.model and fixed.model differ"
# (the weights, every frame after the model's attributes)
weights() { tdump --json -a "$1" | tail -n +2; }
[ -s random.model ] && [ "$(weights random.model)" != "$(weights fixed.model)" ] && pass starts_random_trains_otherwise \
    || fail starts_random_trains_otherwise "the same weights as fixed starts"

# a resumed run keeps the setting: another one is refused, the same one taken by --continue
expect_fail starts_resume_refuses_other 'takes .*--stream-starts from the model' \
    train --streams --stream-starts fixed --resume random.model -o r.model < rep.text.ts
cp random.model c.model
expect_ok starts_continue_same train $N --stream-starts random -e 3 --continue -o c.model < rep.text.ts
expect_fail starts_continue_refuses_other 'has --stream-starts random, not fixed' \
    train $N --stream-starts fixed -e 4 --continue -o c.model < rep.text.ts

# usage errors
expect_fail starts_bad_value "'sometimes' is not fixed or random" train --streams --stream-starts sometimes -o x.model < rep.text.ts
expect_fail starts_windows_refused "--stream-starts is for --streams" train --stream-starts random -o x.model < rep.ts
[ ! -e x.model ] && pass starts_refused_write_nothing || fail starts_refused_write_nothing "x.model exists"
