# test_pipelines.sh - pipelines/Makefile end to end on a small text with tiny settings: the
# files of a run, nothing redone on a second make, resuming an interrupted training, the
# results table, the shakespeare and demo targets (dry runs), the plot with and without gnuplot.
. "$TESTS/lib.sh"
REPO=$(cd "$TESTS/.." && pwd)
P=$REPO/pipelines
# a clean make: nothing inherited from a make check that started us (O=, SAN=, -j)
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
mk() { make --no-print-directory -C "$P" "$@"; }

for _ in $(seq 30); do printf 'The cat sat on the mat. A dog ran in the fog. '; done > t.txt
A=(TEXT="$TMP/t.txt" H=8 EPOCHS=2 N=8 CHARS=50 TEMPS="0.5 1.0" RUNS="$TMP/runs" BIN="$BIN")

d=$(mk -s dir "${A[@]}")
[ "$d" = "$TMP/runs/t-n8-s1-h8-e2-b64" ] && pass pipelines_dir_named_by_parameters || fail pipelines_dir_named_by_parameters "$d"
d2=$(mk -s dir "${A[@]}" SEED=3 VAL=0.1)
[ "$d2" = "$TMP/runs/t-n8-s1-h8-e2-b64-v0.1-r3" ] && pass pipelines_dir_names_nondefaults || fail pipelines_dir_names_nondefaults "$d2"

if mk run "${A[@]}" > run.out 2> run.err; then pass pipelines_run; else fail pipelines_run "$(tail -5 run.err)"; fi
missing=
for f in vocab.ts model loss.tsv samples.txt eval.json result.tsv seed.txt; do
    [ -s "$d/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && pass pipelines_makes_files || fail pipelines_makes_files "missing in $d:$missing"
[ "$(wc -l < "$d/loss.tsv")" -eq 3 ] && head -1 "$d/loss.tsv" | grep -q '^epoch' \
    && pass pipelines_loss_tsv || fail pipelines_loss_tsv "$(cat "$d/loss.tsv")"
[ "$(grep -c '^--- ' "$d/samples.txt")" -eq 3 ] && grep -q '^--- temperature 1.0' "$d/samples.txt" \
    && pass pipelines_samples || fail pipelines_samples "$(head -c 300 "$d/samples.txt")"
grep -q '"loss_nats": [0-9]' "$d/eval.json" && pass pipelines_eval_json || fail pipelines_eval_json "$(cat "$d/eval.json")"
[ "$(awk -F'\t' '{ print NF, $1, $2, $4, $6 }' "$d/result.tsv")" = "11 t 8 8 2" ] \
    && pass pipelines_result_tsv || fail pipelines_result_tsv "$(cat "$d/result.tsv")"
grep -q '^== ' run.out && pass pipelines_run_reports || fail pipelines_run_reports "$(head -3 run.out)"
if command -v gnuplot > /dev/null; then
    [ "$(head -c 4 "$d/loss.png" | od -An -c | tr -d ' ')" = '211PNG' ] \
        && pass pipelines_loss_png || fail pipelines_loss_png "not a PNG"
else
    skip pipelines_loss_png "gnuplot is not installed"
fi
# without gnuplot: a clear message, no plot, and still a complete run
rm -f "$d/loss.png"
mk run "${A[@]}" GNUPLOT=/nonexistent/gnuplot > /dev/null 2> nog.err
grep -q 'not installed.*no loss.png' nog.err && [ ! -e "$d/loss.png" ] \
    && pass pipelines_no_gnuplot_message || fail pipelines_no_gnuplot_message "$(cat nog.err)"
mk -q "${A[@]}" GNUPLOT=/nonexistent/gnuplot "$d/samples.txt" "$d/eval.json" "$d/result.tsv" \
    && pass pipelines_no_gnuplot_up_to_date || fail pipelines_no_gnuplot_up_to_date "make -q says out of date"
mk run "${A[@]}" > /dev/null 2>&1

# a second make does nothing: make -q agrees and no file is touched
want=("$d/samples.txt" "$d/eval.json" "$d/result.tsv")
command -v gnuplot > /dev/null && want+=("$d/loss.png")
mk -q "${A[@]}" "${want[@]}" && pass pipelines_up_to_date || fail pipelines_up_to_date "make -q says out of date"
# (the files are made older than a stamp, in their order, so that any rewrite shows)
touch -d '-20 seconds' t.txt; touch -d '-5 seconds' stamp
age=19
for f in vocab.ts model loss.tsv sample.cfg seed.txt samples.txt eval.json loss.png result.tsv train.err; do
    age=$((age - 1)); [ -e "$d/$f" ] && touch -d "-$age seconds" "$d/$f"; done
if ! mk run "${A[@]}" > rerun.out 2> rerun.err; then
    fail pipelines_rerun_does_nothing "the second make failed: $(tail -3 rerun.err)"
elif [ -z "$(find "$d" -type f -newer stamp)" ]; then pass pipelines_rerun_does_nothing
else fail pipelines_rerun_does_nothing "remade: $(find "$d" -newer stamp | tr '\n' ' ')"; fi

# new sampling settings redo the samples and nothing else
touch -d '-5 seconds' stamp
mk run "${A[@]}" CHARS=20 > /dev/null 2>&1
changed=$(cd "$d" && find . -type f -newer "$TMP/stamp" | sort | tr '\n' ' ')
[ "$changed" = "./sample.cfg ./samples.txt ./seed.txt " ] && pass pipelines_chars_redoes_samples \
    || fail pipelines_chars_redoes_samples "remade: $changed"

# an interrupted training (a model after 1 of 2 epochs, no loss.tsv) is resumed, and ends
# with the model an uninterrupted run made
cp "$d/model" full.model
rm "$d/loss.tsv"
window -n 8 < "$d/vocab.ts" | train -e 1 -H 8 -b 64 --val 0.2 --seed 1 --lr 0.001 \
    --log "$d/loss.tsv.tmp" -o "$d/model" 2> /dev/null
mk run "${A[@]}" > resume.out 2> resume.err
grep -q 'resuming' resume.err && cmp -s full.model "$d/model" && [ "$(wc -l < "$d/loss.tsv")" -eq 3 ] \
    && pass pipelines_resume_interrupted || fail pipelines_resume_interrupted "$(tail -3 resume.err)"

# the results table: a header and one line per run
mk -s results RUNS="$TMP/runs" > results.out
[ "$(wc -l < results.out)" -eq 2 ] && head -1 results.out | grep -q '^text	maxlen' \
    && pass pipelines_results_table || fail pipelines_results_table "$(cat results.out)"

# bad settings: clear messages
expect_fail pipelines_missing_text 'pipelines: TEXT=.*not found' mk run TEXT="$TMP/none.txt" RUNS="$TMP/runs" BIN="$BIN"
expect_fail pipelines_missing_tools 'pipelines: .*vocab not found' mk run "${A[@]}" BIN="$TMP/nobin"
expect_fail pipelines_shakespeare_missing 'pipelines: .*not found' mk shakespeare SHARED="$TMP/none.txt" RUNS="$TMP/runs"

# shakespeare and demo, dry runs: the course's settings and seed sentence, the demo's own seed
cp t.txt tinyshakespeare.txt
mk -n shakespeare SHARED="$TMP/tinyshakespeare.txt" RUNS="$TMP/runs" BIN="$BIN" > shk.out 2>&1
grep -q "runs/tinyshakespeare-n40-s1-h128-e5-b64/vocab.ts" shk.out && grep -q "train -e 5" shk.out \
    && grep -q "that, poor contempt, or claim'\\\\''d thou sle" shk.out \
    && pass pipelines_shakespeare_dry_run || fail pipelines_shakespeare_dry_run "$(head -c 600 shk.out)"
mk -n demo SHARED="$TMP/tinyshakespeare.txt" RUNS="$TMP/runs" BIN="$BIN" > demo.out 2>&1
grep -q "runs/GPL-3-n40-s1-h128-t30-b64/" demo.out && grep -q "the terms and conditions" demo.out && ! grep -q "poor contempt" demo.out \
    && pass pipelines_demo_dry_run || fail pipelines_demo_dry_run "$(head -c 600 demo.out)"

# the char-rnn experiment (charrnn.mk) for two seconds on the small text, with the GRU
mkc() { make --no-print-directory -C "$P" -f charrnn.mk "$@"; }
C=(TEXT="$TMP/t.txt" H=8 L=1 N=8 B=4 EVAL=5 BUDGET=2 CELL=gru DROPOUT=0 EMA=0 PROMPT="The cat" RUNS="$TMP/cruns" BIN="$BIN")
if mkc "${C[@]}" > crun.out 2> crun.err; then pass charrnn_mk_runs; else fail charrnn_mk_runs "$(tail -5 crun.err)"; fi
cd_=$TMP/cruns/charrnn-h8-l1-n8-b4-t2-rs-gru
[ "$(cut -f1-7 "$cd_/result.tsv" 2>/dev/null | cut -f1,2,3,4,5,6)" = "$(printf 'gru\t8\t1\t8\t4\t2')" ] \
    && awk -F'\t' '{ exit !($7 ~ /^[0-9]+[.][0-9][0-9][0-9][0-9]$/ && $7 < 5) }' "$cd_/result.tsv" && [ -s "$cd_/best.model" ] && [ -s "$cd_/sample.txt" ] \
    && tdump --json "$cd_/model" | grep -q '"cell": "gru"' \
    && pass charrnn_mk_gru_result || fail charrnn_mk_gru_result "$(cat "$cd_/result.tsv" 2>&1; ls "$TMP/cruns")"
mkc results "${C[@]}" | head -1 | grep -q '^cell' && pass charrnn_mk_results_header || fail charrnn_mk_results_header "$(mkc results "${C[@]}")"
# a run without a validation result (a loss.tsv of its header alone) says so: '-', not a loss of 0
cd0=$TMP/cruns/charrnn-h8-l1-n8-b4-t3-rs-gru
mkdir -p "$cd0" && cp "$cd_/model" "$cd0/model" && head -1 "$cd_/loss.tsv" > "$cd0/loss.tsv"
mkc "${C[@]}" BUDGET=3 "$cd0/result.tsv" > /dev/null 2> c0.err
[ "$(cut -f7,8 "$cd0/result.tsv")" = "$(printf -- '-\t-')" ] && grep -q 'no validation result' c0.err \
    && pass charrnn_mk_no_validation_is_missing || fail charrnn_mk_no_validation_is_missing "$(cat "$cd0/result.tsv" c0.err)"

# DROPKIND picks the dropout charrnn.mk trains with: per step by default, locked on request,
# named in the run's directory; anything else is refused with the choices
mkc -n "${C[@]}" DROPOUT=0.1 > dk1.out 2>&1; mkc -n "${C[@]}" DROPOUT=0.1 DROPKIND=locked > dk2.out 2>&1
grep -q -- '--dropout 0.1 ' dk1.out && ! grep -q -- '--locked-dropout' dk1.out \
    && grep -q 'charrnn-h8-l1-n8-b4-t2-d0.1-rs-gru' dk1.out \
    && grep -q -- '--locked-dropout 0.1 ' dk2.out && grep -q 'charrnn-h8-l1-n8-b4-t2-ld0.1-rs-gru' dk2.out \
    && pass charrnn_mk_dropkind || fail charrnn_mk_dropkind "$(cat dk1.out dk2.out)"
expect_fail charrnn_mk_bad_dropkind 'DROPKIND=often is not locked or step' mkc "${C[@]}" DROPKIND=often
# STARTS: random by default (train --stream-starts random, -rs in the run's name), fixed on
# request (neither); anything else is refused with the choices
mkc -n "${C[@]}" STARTS=fixed > st.out 2>&1
grep -q -- '--stream-starts random' dk1.out && grep -q 'charrnn-h8-l1-n8-b4-t2-gru' st.out && ! grep -q -- '--stream-starts' st.out \
    && pass charrnn_mk_starts || fail charrnn_mk_starts "$(cat dk1.out st.out)"
expect_fail charrnn_mk_bad_starts 'STARTS=often is not fixed or random' mkc "${C[@]}" STARTS=often
# the defaults (doc/EXPERIMENTS.md, 2026-12-08): 25 steps a batch, dropout 0.35 at 2 x 256, the
# weights averaged, random starts
mkc -n TEXT="$TMP/t.txt" RUNS="$TMP/cruns" BIN="$BIN" SIZE=fixed > def.out 2>&1
grep -q -- '--streams -n 25 -b 50 -H 256 -L 2 --cell lnlstm ' def.out && grep -q -- ' --dropout 0.35 --ema 0.999 --stream-starts random ' def.out \
    && grep -q 'charrnn-h256-l2-n25-b50-t600-d0.35-ema0.999-rs-lnlstm' def.out \
    && pass charrnn_mk_defaults || fail charrnn_mk_defaults "$(head -c 800 def.out)"
# EMA and WDROP reach train and name the run; result.tsv adds dropout, weight drop, EMA, the
# characters a second and the epochs
mkc -n "${C[@]}" EMA=0.99 WDROP=0.2 > ema.out 2>&1
grep -q -- '--dropout 0 --weight-drop 0.2 --ema 0.99 ' ema.out && grep -q 'charrnn-h8-l1-n8-b4-t2-wd0.2-ema0.99-rs-gru' ema.out \
    && pass charrnn_mk_ema_wdrop || fail charrnn_mk_ema_wdrop "$(head -c 600 ema.out)"
awk -F'\t' '{ exit !(NF == 13 && $9 == 0 && $10 == 0 && $11 == 0 && $12 > 0 && $13 > 0) }' "$cd_/result.tsv" \
    && pass charrnn_mk_result_speed_epochs || fail charrnn_mk_result_speed_epochs "$(cat "$cd_/result.tsv")"
# make ... dynamic: evaluate --dynamic of the best model on the last 10% of the text (a loss
# printed as a number: a quiet machine's two seconds learn this repetitive text to 0.000000)
if mkc "${C[@]}" dynamic > dyn.out 2> dyn.err && awk -F'\t' -v n="$(wc -c < t.txt)" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i }
       NR == 2 { exit !($k["dynamic_loss_nats"] ~ /^[0-9]+\.[0-9]+$/ && $k["dynamic_characters"] == int(n / 10) - 1) }' "$cd_/dynamic.tsv"; then
    pass charrnn_mk_dynamic; else fail charrnn_mk_dynamic "$(cat "$cd_/dynamic.tsv" dyn.err 2>&1 | tail -3)"; fi

# SIZE=auto (the default): autosize.sh measures each candidate and the largest that sees
# EPOCHS_MIN epochs is trained, with its dropout (0.35 + 0.15 (H - 256) / 256, at most 0.5),
# named in the run's directory. EPOCHS_MIN 0 (every candidate sees enough: the largest, which
# with twice EPOCHS_MIN epochs gets weight drop 0.2 too) and 1e9 (none does: the smallest,
# after one measurement) make the choice independent of speed.
AU=(TEXT="$TMP/t.txt" N=8 B=4 EVAL=5 PROMPT="The cat" RUNS="$TMP/aruns" BIN="$BIN")
CANDIDATES="8x1 12x2" EPOCHS_MIN=0 mkc "${AU[@]}" BUDGET=1 > au1.out 2> au1.err
f1=$(ls "$TMP"/aruns/autosize/t-t1-*.mk 2>/dev/null)
[ -n "$f1" ] && grep -q '^AUTO_H := 12$' "$f1" && grep -q '^AUTO_L := 2$' "$f1" && grep -q '^AUTO_DROPOUT := 0.21$' "$f1" \
    && [ "$(grep -c '^# [0-9]' "$f1")" = 2 ] && grep -q "^AUTO_WDROP := 0.2$" "$f1" && [ -s "$TMP/aruns/charrnn-h12-l2-n8-b4-t1-d0.21-wd0.2-ema0.999-rs-lnlstm/result.tsv" ] \
    && pass charrnn_mk_auto_largest || fail charrnn_mk_auto_largest "$(cat "$f1" 2>&1; tail -3 au1.err; ls "$TMP/aruns")"
CANDIDATES="8x1 12x2" EPOCHS_MIN=1e9 mkc "${AU[@]}" BUDGET=2 > au2.out 2> au2.err
f2=$(ls "$TMP"/aruns/autosize/t-t2-*.mk 2>/dev/null)
[ -n "$f2" ] && grep -q '^AUTO_H := 8$' "$f2" && grep -q 'the smallest candidate' "$f2" && [ "$(grep -c '^# [0-9]' "$f2")" = 1 ] \
    && [ -s "$TMP/aruns/charrnn-h8-l1-n8-b4-t2-d0.20-ema0.999-rs-lnlstm/result.tsv" ] \
    && pass charrnn_mk_auto_smallest || fail charrnn_mk_auto_smallest "$(cat "$f2" 2>&1; tail -3 au2.err)"
# the measurement is kept: a second make measures nothing; DROPOUT given wins, H or L given
# means no measurement at all
d=$(CANDIDATES="8x1 12x2" mkc -s dir "${AU[@]}" BUDGET=1 DROPOUT=0.3 2> au3.err)
[ "$d" = "$TMP/aruns/charrnn-h12-l2-n8-b4-t1-d0.3-wd0.2-ema0.999-rs-lnlstm" ] && ! grep -q autosize au3.err \
    && pass charrnn_mk_auto_kept_dropout_wins || fail charrnn_mk_auto_kept_dropout_wins "$d $(cat au3.err)"
d=$(mkc -s dir "${AU[@]}" BUDGET=5 H=16 2> au4.err)
[ "$d" = "$TMP/aruns/charrnn-h16-l2-n8-b4-t5-d0.35-ema0.999-rs-lnlstm" ] && [ -z "$(ls "$TMP"/aruns/autosize/t-t5-* 2>/dev/null)" ] \
    && pass charrnn_mk_given_size_measures_nothing || fail charrnn_mk_given_size_measures_nothing "$d $(cat au4.err)"
expect_fail charrnn_mk_bad_size 'SIZE=big is not auto or fixed' mkc "${AU[@]}" SIZE=big
# each candidate's speed is the median of REPEAT measurements: a train that reports 100, 900
# and 300 characters a second (in turn) is taken at 300
mkdir -p fakebin && ln -sf "$BIN/vocab" fakebin/vocab
cat > fakebin/train <<'SH'
#!/bin/sh
[ "$1" = --version ] && exit 0
n=$(cat "$0.calls" 2>/dev/null || echo 0); echo $((n + 1)) > "$0.calls"
set -- 100 900 300; shift $((n % 3)); cat > /dev/null
echo "train: 1000 characters (900 for training in 4 streams of 224, 100 held out), read in 0.0s" >&2
echo "train: benchmark: 12 batches of 4, 384 chars in 0.1s: $1.0 chars/s, loss 3.0, peak RSS 3.0 MB" >&2
SH
chmod +x fakebin/train
if BIN="$TMP/fakebin" CANDIDATES="8x1" REPEAT=3 "$P/autosize.sh" t.txt 9 med.mk 2> med.err \
   && grep -q "^# 8	1	300.0	3.0$" med.mk && [ "$(cat fakebin/train.calls)" = 3 ]; then pass autosize_median_of_repeats
else fail autosize_median_of_repeats "$(cat med.mk med.err 2>&1)"; fi

# experiments.mk: the settings one after another, each run evaluated dynamically, one table;
# here a second each on the small text (SHARED), the hour as two seconds
mke() { make --no-print-directory -C "$P" -f experiments.mk "$@"; }
E=(SHARED="$TMP/t.txt" BUDGET=1 HOUR=2 SEEDS=1 SETTINGS="fixed auto" N=8 B=4 EVAL=5 PROMPT="The cat" EXP="$TMP/exp" BIN="$BIN")
if CANDIDATES="8x1 12x1" EPOCHS_MIN=0 mke "${E[@]}" ten hour table > ex.out 2> ex.err; then pass experiments_mk_runs
else fail experiments_mk_runs "$(tail -5 ex.err)"; fi
# (losses as numbers: a fast machine's run on this repetitive text may print 0.0000)
awk -F'\t' 'NR > 1 { n++; if ($15 ~ /^[0-9]+\.[0-9]+$/ && $13 ~ /^[0-9]+\.[0-9]+$/ && $13 + 0 < 5 && $10 == "random" && $6 == 8) ok++; r[$1] = $4 }
     END { exit !(n == 3 && ok == 3 && r["ten-fixed-s1"] == 256 && r["ten-auto-s1"] == 12 && r["hour-auto-s1"] == 12) }' "$TMP/exp/table.tsv" \
    && grep -q 'kernels' "$TMP/exp/machine.txt" && pass experiments_mk_table || fail experiments_mk_table "$(cat "$TMP/exp/table.tsv" 2>&1)"
if command -v gnuplot > /dev/null; then
    [ "$(head -c 4 "$TMP/exp/ten.png" 2>/dev/null | od -An -c | tr -d ' ')" = '211PNG' ] && [ -s "$TMP/exp/hour.png" ] \
        && pass experiments_mk_curves || fail experiments_mk_curves "$(ls "$TMP/exp")"
    # a group whose every point is above the plots' 2.0 cut (a loaded machine's second of
    # training) is plotted uncut, not refused by gnuplot
    mkdir -p "$TMP/exphi/ten-fixed-s1/charrnn-x" && cp "$TMP/exp/machine.txt" "$TMP/exphi/"
    printf 'seconds\tval_loss\n0.5\t3.1\n1.0\t2.7\n' > "$TMP/exphi/ten-fixed-s1/charrnn-x/curve.tsv"
    mke EXP="$TMP/exphi" plots > hi.out 2> hi.err && [ -s "$TMP/exphi/ten.png" ] \
        && pass experiments_mk_curves_above_cut || fail experiments_mk_curves_above_cut "$(tail -2 hi.err)"
else
    skip experiments_mk_curves "gnuplot is not installed"
fi

# the regularisation sweep (sweep.mk) end to end: two settings for a second each on the small
# text, one after another; the table, the curves, nothing redone, a changed setting redone alone
mks() { make --no-print-directory -C "$P" -f sweep.mk "$@"; }
SW=(TEXT="$TMP/t.txt" BUDGET=1 EVAL=5 BASE="-H 8 -L 1 -n 8 -b 4 --lr 3e-3" SETTINGS="base awd" RUNS="$TMP/sruns" BIN="$BIN")
sd=$TMP/sruns/sweep-t-t1
if mks "${SW[@]}" > sw.out 2> sw.err; then pass sweep_runs; else fail sweep_runs "$(tail -5 sw.err)"; fi
[ "$(head -1 "$sd/table.tsv" 2>/dev/null)" = "$(printf 'setting\tbest_val_loss\tat_s\tchars_per_s\tepochs\toptions')" ] \
    && [ "$(sed 1d "$sd/table.tsv" | cut -f1 | sort | tr '\n' ' ')" = "awd base " ] \
    && awk -F'\t' 'NR > 1 && !($2 ~ /^[0-9]+[.][0-9][0-9][0-9][0-9]$/ && $2 < 5 && $3 >= 0 && $4 > 0 && $5 > 0) { bad = 1 } END { exit bad }' "$sd/table.tsv" \
    && sort -c -t "$(printf '\t')" -k2,2g <(sed 1d "$sd/table.tsv") \
    && grep -q "^awd.*--weight-drop 0.3" "$sd/table.tsv" && grep -q '^setting' sw.out \
    && pass sweep_table || fail sweep_table "$(cat "$sd/table.tsv" 2>&1)"
tdump --json "$sd/awd/model" | grep -q '"weight_drop": 0.3' && tdump --json "$sd/base/model" | grep -q '"weight_drop": 0,' \
    && pass sweep_settings_reach_train || fail sweep_settings_reach_train "$(tdump --json "$sd/awd/model" | head -1)"
# the best validation loss and when, from loss.tsv by hand (awk's reading is checked, not copied)
exp=$(tail -n +2 "$sd/awd/loss.tsv" | sort -t "$(printf '\t')" -k3,3g | head -1 | cut -f3)
got=$(awk -F'\t' '$1 == "awd" { print $2 }' "$sd/table.tsv")
check_num sweep_best_is_lowest_logged '(a > b ? a - b : b - a) < 1e-4' "table $got, loss.tsv $exp" a="$got" b="$exp"
if command -v gnuplot > /dev/null; then
    [ "$(head -c 4 "$sd/curves.png" | od -An -c | tr -d ' ')" = '211PNG' ] \
        && pass sweep_curves_png || fail sweep_curves_png "not a PNG"
else
    skip sweep_curves_png "gnuplot is not installed"
fi
rm -f "$sd/curves.png"
mks "${SW[@]}" GNUPLOT=/nonexistent/gnuplot > /dev/null 2> swg.err
grep -q 'not installed; no curves.png' swg.err && [ ! -e "$sd/curves.png" ] \
    && pass sweep_no_gnuplot_message || fail sweep_no_gnuplot_message "$(cat swg.err)"
touch -d '-5 seconds' stamp; find "$sd" -type f -exec touch -d '-10 seconds' {} +
mks "${SW[@]}" GNUPLOT=/nonexistent/gnuplot > /dev/null 2>&1
[ -z "$(find "$sd" -type f -newer stamp)" ] && pass sweep_rerun_does_nothing \
    || fail sweep_rerun_does_nothing "remade: $(find "$sd" -type f -newer stamp | tr '\n' ' ')"
mks "${SW[@]}" GNUPLOT=/nonexistent/gnuplot S_awd="--locked-dropout 0.1" > /dev/null 2>&1
changed=$(cd "$sd" && find . -type f -newer "$TMP/stamp" -name model | sort | tr '\n' ' ')
[ "$changed" = "./awd/model " ] && grep -q '^awd.*--locked-dropout 0.1' "$sd/table.tsv" \
    && pass sweep_changed_setting_redone_alone || fail sweep_changed_setting_redone_alone "remade: $changed"
# the second corpus (dry run: the text is Python's NEWS from Debian's python3.X package)
if ls /usr/share/doc/python3.*/NEWS.gz > /dev/null 2>&1; then
    mks -n CORPUS=pynews RUNS="$TMP/sruns" BIN="$BIN" > pyn.out 2>&1
    grep -q "zcat /usr/share/doc/python3\.[0-9]*/NEWS.gz > $TMP/sruns/python-news.txt" pyn.out \
        && grep -q "sweep-python-news-t600/base/opts" pyn.out \
        && pass sweep_second_corpus_dry_run || fail sweep_second_corpus_dry_run "$(head -c 400 pyn.out)"
else
    skip sweep_second_corpus_dry_run "no /usr/share/doc/python3.X/NEWS.gz on this machine"
fi
expect_fail sweep_bad_corpus 'CORPUS=x is not shakespeare or pynews' mks CORPUS=x RUNS="$TMP/sruns"
expect_fail sweep_missing_text 'TEXT=.*not found' mks TEXT="$TMP/none.txt" RUNS="$TMP/sruns"
