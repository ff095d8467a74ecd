# test_generate.sh - sample --stop (with one sample, --count, --beam, --json, in both modes) and
# sample --prompts (the JSON-lines sampler: many requests, malformed and empty lines, a cut-off
# last line, a closed pipe, a request with every field, each answer the text of the same
# options on the command line); the seed's messages.
. "$TESTS/lib.sh"
cd "$TMP" || exit 1

awk 'BEGIN { srand(5); split("the cat sat on a mat and a dog ran to the old red barn", w, " ");
             for (i = 0; i < 900; i++) printf "%s%s", w[1 + int(rand() * 14)], (i % 11 == 10 ? ".\n" : " ") }' > words.txt
vocab < words.txt | train --streams -n 16 -b 8 -H 24 -L 2 -e 2 -j 1 --seed 1 -o st.model 2>/dev/null
vocab < words.txt | train --streams -n 16 -b 8 -H 24 -e 2 -j 1 --seed 1 -o st1.model 2>/dev/null
vocab < words.txt | window -n 8 | train -H 16 -e 1 -j 1 --seed 1 -o win.model 2>/dev/null
vocab --bytes < words.txt | train --streams -n 16 -b 8 -H 16 -e 1 -j 1 --seed 2 -o bytes.model 2>/dev/null
for m in st st1 win bytes; do [ -s $m.model ] || fail models "train did not write $m.model"; done

# cut_at FILE PREFIXLEN STR...: FILE's text cut before the first place, after its first
# PREFIXLEN bytes, where one of the STRs has just ended (what --stop must write)
cut_at() {
    "$PY" -c '
import sys
t = open(sys.argv[1], "rb").read(); k = int(sys.argv[2]); stops = [s.encode() for s in sys.argv[3:]]
g = t[k:]
for end in range(1, len(g) + 1):
    hits = [s for s in stops if g[:end].endswith(s)]
    if hits:
        g = g[:end - max(len(s) for s in hits)]; break
sys.stdout.buffer.write(t[:k] + g)' "$@"
}

# --- --stop with one sample: the text without --stop, cut before the first stop string ---
for mode in stateful window; do
    m=st; [ $mode = window ] && m=win
    for stops in "at" "th|og" "t" "rn|n to|.
"; do
        IFS='|' read -ra S <<< "$stops"
        args=(); for s in "${S[@]}"; do args+=(--stop "$s"); done
        sample -m $m.model --$mode --seed "the cat" -n 300 -t 1 --rng-seed 5 > full.txt
        sample -m $m.model --$mode --seed "the cat" -n 300 -t 1 --rng-seed 5 "${args[@]}" > stop.txt
        cut_at full.txt 7 "${S[@]}" > want.txt
        name="stop_single_${mode}_$(echo "$stops" | tr -c 'a-z' '_')"
        cmp -s stop.txt want.txt && [ "$(wc -c < stop.txt)" -lt "$(wc -c < full.txt)" ] && pass "$name" \
            || fail "$name" "got: $(head -c 100 stop.txt) want: $(head -c 100 want.txt)"
    done
done
# a stop string in the seed is not searched; \n and \t are understood; one that never comes
sample -m st.model --stateful --seed "the cat" -n 40 -t 1 --rng-seed 2 --stop cat --stop zzz > s1.txt 2> s1.err
sample -m st.model --stateful --seed "the cat" -n 40 -t 1 --rng-seed 2 > s2.txt
cut_at s2.txt 7 cat zzz > want.txt
cmp -s s1.txt want.txt && [[ "$(cat s1.txt)" == "the cat"* ]] && pass stop_seed_not_searched || fail stop_seed_not_searched "$(cat s1.txt)"
sample -m st.model --stateful --seed "the" -n 400 -t 1 --rng-seed 3 --stop '\n' > nl.txt
sample -m st.model --stateful --seed "the" -n 400 -t 1 --rng-seed 3 > nlfull.txt
cut_at nlfull.txt 3 $'\n' > want.txt
cmp -s nl.txt want.txt && ! grep -q . <(tail -c +4 nl.txt | tr -d -c '\n') && pass stop_escape_newline || fail stop_escape_newline "$(od -c nl.txt | head -3)"
sample -m st.model --seed "the" -n 20 --stop 'Q' > q.txt 2> q.err
[ "$(wc -c < q.txt)" = 23 ] && grep -q 'outside the vocabulary: never met' q.err && pass stop_unknown_char_warned || fail stop_unknown_char_warned "$(cat q.err)"
expect_fail stop_empty 'sample: --stop: an empty string' sample -m st.model --stop ''

# --- --stop with --count: sample i is the single run with --rng-seed S+i and the same stops
for mode in stateful window; do
    m=st; [ $mode = window ] && m=win
    sample -m $m.model --$mode --seed "a dog" -n 200 -t 1.1 --count 5 --json --rng-seed 40 --stop the --stop . > c.json
    ok=1; why=
    for i in 0 1 2 3 4; do
        CHARPIPE_KERNEL=scalar sample -m $m.model --$mode --seed "a dog" -n 200 -t 1.1 --rng-seed $((40 + i)) --stop the --stop . > one.$i
    done
    CHARPIPE_KERNEL=scalar sample -m $m.model --$mode --seed "a dog" -n 200 -t 1.1 --count 5 --json --rng-seed 40 --stop the --stop . > cs.json
    "$PY" -c '
import json, sys
for i, l in enumerate(open(sys.argv[1], encoding="utf-8")):
    d = json.loads(l)
    assert d["sample"] == i
    one = open("one.%d" % i, encoding="utf-8", newline="").read()
    assert d["text"] == one, (i, d["text"], one)
    stop = d["stop"]
    assert stop in ("the", ".", None), stop
    assert (stop is None) == (len(one) == 5 + 200), (stop, len(one))
assert i == 4' $([ $mode = window ] && echo cs.json || echo c.json) 2> c.err \
        && pass stop_count_json_$mode || fail stop_count_json_$mode "$(tail -2 c.err)"
done
sample -m st.model --seed "the" -n 100 -t 1 --count 3 --rng-seed 1 --stop ' a' > cplain.txt
{ for i in 0 1 2; do [ $i -gt 0 ] && printf '\n---\n'; sample -m st.model --seed "the" -n 100 -t 1 --rng-seed $((1 + i)) --stop ' a'; done; } > cwant.txt
cmp -s cplain.txt cwant.txt && pass stop_count_plain || fail stop_count_plain "$(head -c 200 cplain.txt)"

# --- --stop with --beam: every beam ends before the stop string or runs the full length; a
# finished beam's log-probability is numpy's for its text and the stop string (tests/ref_lstm.py:
# one layer)
for mode in stateful window; do
    m=st1; [ $mode = window ] && m=win
    sample -m $m.model --$mode --seed "the " -n 40 --beam 6 --beam-all --json --stop ' ' > bj.json
    sample -m $m.model --$mode --seed "the " -n 40 --beam 6 --stop ' ' > best.txt
    "$PY" -c '
import json
ls = [json.loads(l) for l in open("bj.json", encoding="utf-8")]
assert len(ls) == 6, len(ls)
prev = 0
for i, d in enumerate(ls):
    assert d["beam"] == i and d["logprob"] <= prev + 1e-12, (i, d["logprob"], prev)
    prev = d["logprob"]
    gen = d["text"][4:]
    assert " " not in gen, d
    assert d["stop"] == " " or len(gen) == 40, d
    open("beam%d" % i, "w", encoding="utf-8", newline="").write(d["text"] + (d["stop"] or ""))
    open("beamlp%d" % i, "w").write("%.9f" % d["logprob"])
assert open("best.txt", encoding="utf-8").read() == ls[0]["text"]
assert any(d["stop"] for d in ls)' 2> b.err && pass stop_beam_$mode || fail stop_beam_$mode "$(tail -2 b.err)"
    if [ -f beam0 ]; then
        ref=$("$PY" "$TESTS/ref_lstm.py" logprob $m.model beam0 4 $mode)
        check_num stop_beam_logprob_numpy_$mode 'a - b < 1e-3 && b - a < 1e-3' "printed $(cat beamlp0), numpy $ref" \
            a="$(cat beamlp0)" b="$ref"
    fi
done
sample -m st.model --stateful --seed "the " -n 40 --beam 1 --stop ' ' > b1.txt
sample -m st.model --stateful --seed "the " -n 40 --stop ' ' > g1.txt
cmp -s b1.txt g1.txt && pass stop_beam_1_is_greedy || fail stop_beam_1_is_greedy "$(cat b1.txt) / $(cat g1.txt)"

# --- --prompts ---
# many requests, each answered on its line, in order, with its id
for i in $(seq 0 59); do printf '{"prompt": "the", "n": 30, "temperature": 1, "seed": %d, "id": %d}\n' $i $i; done > many.jsonl
sample -m st.model --stateful --prompts < many.jsonl > many.out 2> many.err; rc=$?
"$PY" -c '
import json, sys
ls = [json.loads(l) for l in open("many.out", encoding="utf-8")]
assert len(ls) == 60, len(ls)
for i, d in enumerate(ls):
    assert d["id"] == i and d["seed"] == i and len(d["samples"]) == 1, d
    s = d["samples"][0]
    assert s["text"] == "the" + s["completion"] and len(s["completion"]) == 30 and s["stop"] is None, s
    open("p%d" % i, "w", encoding="utf-8", newline="").write(s["text"])' 2> m.err \
    && [ $rc = 0 ] && [ ! -s many.err ] && pass prompts_many || fail prompts_many "exit $rc: $(tail -2 m.err) $(cat many.err)"
ok=1
for i in 0 17 59; do
    sample -m st.model --stateful --seed the -n 30 -t 1 --rng-seed $i > cli.$i
    cmp -s cli.$i p$i || ok=0
done
[ $ok = 1 ] && pass prompts_equal_sample || fail prompts_equal_sample "$(cat p17) / $(cat cli.17)"

# every field, against the command line with the same options (window mode here)
printf '%s\n' '{"prompt": "a dog", "n": 80, "temperature": 0.9, "top_k": 6, "top_p": 0.95, "seed": 12, "stop": ["ran", "\n"], "count": 3, "id": "all"}' > all.jsonl
sample -m win.model --window --prompts < all.jsonl > all.out
sample -m win.model --window --seed "a dog" -n 80 -t 0.9 -k 6 -p 0.95 --rng-seed 12 --stop ran --stop '\n' --count 3 --json > all.cli
"$PY" -c '
import json
d = json.loads(open("all.out", encoding="utf-8").read())
c = [json.loads(l) for l in open("all.cli", encoding="utf-8")]
assert d["id"] == "all" and d["seed"] == 12 and len(d["samples"]) == 3, d
for s, e in zip(d["samples"], c):
    assert s["text"] == e["text"] and s["stop"] == e["stop"], (s, e)
    assert s["completion"] == s["text"][5:]' 2> a.err && pass prompts_every_field || fail prompts_every_field "$(tail -2 a.err)"

# malformed requests and an empty line get an error line each, and the sampler goes on; a last
# line without its newline is read (complete) or refused (cut off), then exit 0
printf '%s\n' '{"prompt": "the", "n": 5, "seed": 1}' '{"prompt": "the", "n": 5' '' '[1, 2]' \
    '{"prompt": "the", "nn": 5}' '{"prompt": 5}' '{"prompt": "the", "n": -1}' '{"prompt": "", "id": "e"}' \
    '{"prompt": "QQ", "id": 7}' '{"beam": 2, "temperature": 0.5}' '{"prompt": "the", "n": 5, "seed": 1}' > bad.jsonl
printf '{"prompt": "the", "n": 5, "seed": 1' >> bad.jsonl
sample -m st.model --prompts < bad.jsonl > bad.out 2> bad.err; rc=$?
"$PY" -c '
import json
ls = [json.loads(l) for l in open("bad.out", encoding="utf-8")]
assert len(ls) == 12, len(ls)
ok = [0, 10]
for i, d in enumerate(ls):
    assert ("error" in d) == (i not in ok), (i, d)
    if "error" in d:
        assert d["line"] == i + 1, (i, d)
want = {1: "not JSON", 2: "empty line", 3: "JSON object", 4: "unknown field \"nn\"", 5: "\"prompt\" must be a string",
        6: "\"n\" must be", 7: "empty", 8: "is not in the vocabulary", 9: "no temperature", 11: "not JSON"}
for i, w in want.items():
    assert w in ls[i]["error"], (i, ls[i], w)
assert ls[7]["id"] == "e" and ls[8]["id"] == 7
assert ls[0] == ls[10]' 2> b.err && [ $rc = 0 ] && [ ! -s bad.err ] && pass prompts_malformed_go_on \
    || fail prompts_malformed_go_on "exit $rc: $(tail -2 b.err) $(cat bad.err)"
printf '{"prompt": "the", "n": 7, "seed": 3}' | sample -m st.model --prompts > last.out
"$PY" -c 'import json; d = json.loads(open("last.out").read()); assert len(d["samples"][0]["completion"]) == 7' 2>/dev/null \
    && pass prompts_last_line_without_newline || fail prompts_last_line_without_newline "$(cat last.out)"
# a line over 16 MiB is refused without being held, and the next is answered
{ printf '{"prompt": "'; head -c 17000000 /dev/zero | tr '\0' 'a'; printf '"}\n{"prompt": "the", "n": 3, "seed": 1}\n'; } \
    | sample -m st.model --prompts > long.out 2> long.err; rc=$?
[ $rc = 0 ] && [ "$(wc -l < long.out)" = 2 ] && grep -q '^{"line": 1, "error": "a request longer than 16 MiB"}$' long.out \
    && grep -q '^{"seed": 1, "samples"' long.out && pass prompts_long_line || fail prompts_long_line "exit $rc: $(head -c 300 long.out) $(cat long.err)"
sample -m st.model --prompts < /dev/null > empty.out; rc=$?
[ $rc = 0 ] && [ ! -s empty.out ] && pass prompts_no_requests || fail prompts_no_requests "exit $rc"

# a closed pipe: the sampler ends quietly (as a filter killed by SIGPIPE)
for i in $(seq 2000); do echo '{"n": 50}'; done > lots.jsonl
( set -o pipefail; sample -m st.model --stateful --prompts < lots.jsonl 2> pipe.err | head -2 > /dev/null ); rc=$?
[ ! -s pipe.err ] && { [ $rc = 141 ] || [ $rc = 0 ]; } && pass prompts_closed_pipe || fail prompts_closed_pipe "exit $rc: $(cat pipe.err)"

# one answer per request, flushed before the next is read: a coprocess gets each at once
coproc SMP { sample -m st.model --stateful --prompts 2>&1; }
ok=1
for i in 1 2 3; do
    echo "{\"prompt\": \"the\", \"n\": 10, \"seed\": $i, \"id\": $i}" >&"${SMP[1]}"
    IFS= read -r -t 20 answer <&"${SMP[0]}" || { ok=0; break; }
    [[ $answer == "{\"id\": $i, "* ]] || ok=0
done
exec {SMP[1]}>&-
wait "$SMP_PID"; rc=$?
[ $ok = 1 ] && [ $rc = 0 ] && pass prompts_coprocess || fail prompts_coprocess "exit $rc, last answer: $answer"

# a byte-level model: its bytes >= 0x80 as \u0080..\u00ff, one JSON line still
printf '{"prompt": "the \\u00e9", "n": 20, "temperature": 1.5, "seed": 4}\n' > b.jsonl
sample -m bytes.model --prompts --skip-unknown < b.jsonl > by.out
"$PY" -c '
import json
d = json.loads(open("by.out", "rb").read().decode("utf-8"))
assert d["warnings"] and "dropped 2 prompt characters" in d["warnings"][0], d
assert d["samples"][0]["text"].startswith("the ")' 2> y.err && pass prompts_byte_model || fail prompts_byte_model "$(tail -1 y.err): $(cat by.out)"

# --- the seed: messages that name the cause (issue 31) ---
expect_fail seed_empty "sample: --seed: empty" sample -m st.model --seed ''
mkdir adir
expect_fail seed_file_directory "sample: --seed-file: adir: is a directory" sample -m st.model --seed-file adir
expect_fail seed_file_missing "sample: --seed-file: nofile: No such file" sample -m st.model --seed-file nofile
# a NUL byte in a seed file: a character like any other, read by a byte-level model whose
# vocabulary holds byte 0, refused by name by one whose vocabulary does not
printf 'ab\0cd\0' > nul.txt
for i in $(seq 50); do cat nul.txt; done > nul_corpus.txt
vocab --bytes < nul_corpus.txt | train --streams -n 8 -b 4 -H 8 -e 1 -j 1 --seed 1 -o nulb.model 2>/dev/null
sample -m nulb.model --seed-file nul.txt -n 10 --rng-seed 1 > nul.out 2> nul.err
[ "$(head -c 6 nul.out | od -An -c | tr -d ' ')" = 'ab\0cd\0' ] && [ "$(wc -c < nul.out)" = 16 ] \
    && pass seed_file_nul_byte_model || fail seed_file_nul_byte_model "$(cat nul.err; od -c nul.out | head -2)"
# a seed file longer than the first read (4096 bytes) is read whole
for i in $(seq 700); do printf 'the cat '; done > long.seed
sample -m st.model --seed-file long.seed -n 0 > long.out 2> long.err
cmp -s long.seed long.out && pass seed_file_long || fail seed_file_long "$(wc -c < long.out) bytes of 5600: $(cat long.err)"
printf 'at\0ca' > nul2.txt
expect_fail seed_file_nul_not_in_vocab "sample: --seed: character U\+0000 at character 2 \(byte 2\) is not in the vocabulary" \
    sample -m st.model --seed-file nul2.txt
