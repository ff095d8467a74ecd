# test_quickstart.sh - the first hour: hints in errors for pipelines put together wrongly,
# tdump --text, the progress bar on a terminal, make demo's output.
. "$TESTS/lib.sh"
REPO=$(cd "$TESTS/.." && pwd)
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

for i in $(seq 60); do printf 'hello world, charpipe! '; done > rep.txt
vocab < rep.txt > rep.text.ts

# --- hints: what to add when a stage is missing or the wrong one ---
expect_fail hint_vocab_into_train "^train: stdin: no windows in the input, only text .*window -n 40.*--streams" \
    sh -c 'train -o h.model < rep.text.ts'
expect_fail hint_window_streams_into_train "^train: stdin: window --streams frames .*not independent windows" \
    sh -c 'window --streams 4 -n 8 < rep.text.ts | train -o h.model'
expect_fail hint_window_streams_into_train_streams "^train: stdin: window --streams frames" \
    sh -c 'window --streams 4 -n 8 < rep.text.ts | train --streams -o h.model'
[ ! -e h.model ] && pass hint_no_model_written || fail hint_no_model_written "h.model was written"
mkc() { make --no-print-directory -C "$REPO/pipelines" -f charrnn.mk "$@"; }
expect_fail hint_charrnn_missing_text "^charrnn.mk: TEXT=$TMP/none.txt not found: set TEXT=" \
    mkc TEXT="$TMP/none.txt" RUNS="$TMP/runs" BIN="$BIN"
expect_fail hint_pipelines_missing_text "^pipelines: TEXT=$TMP/none.txt not found: set TEXT=" \
    make --no-print-directory -C "$REPO/pipelines" run TEXT="$TMP/none.txt" RUNS="$TMP/runs" BIN="$BIN"
