# test_machine_output.sh - machine-readable output stays machine-readable whatever bytes appear
# in names, paths and texts (issue 25): every --json line parses as strict JSON from strict
# UTF-8, every --tsv line keeps its fields, and what they hold reads back as what was meant.
. "$TESTS/lib.sh"
cd "$TMP" || exit 1
if ! have_py; then skip machine_output "$NO_PY"; exit 0; fi
REF=$TESTS/data_ref.py

# json_lines NAME FILE N: FILE is N lines, each strict JSON read from strict UTF-8
json_lines() {
    "$PY" -c '
import json, sys
data = open(sys.argv[1], "rb").read().decode("utf-8")      # strict: raises on invalid UTF-8
lines = data.split("\n")
assert lines[-1] == "", "no newline at the end"
for l in lines[:-1]:
    json.loads(l)
assert len(lines) - 1 == int(sys.argv[2]), "%d lines" % (len(lines) - 1)' "$2" "$3" 2> "$1.pyerr" \
        && pass "$1" || fail "$1" "$(tail -1 "$1.pyerr"): $(head -c 300 "$2" | od -c | head -5)"
}

# --- tdump --json: frame names, attr keys and values that JSON must escape; a byte-level
# vocabulary's bytes >= 0x80 with --text. Names and strings that are not UTF-8 are refused by
# the stream reader itself (lib/FORMAT.md): one line on stderr, nothing on stdout.
"$PY" "$REF" write oddnames odd.cp || fail oddnames_stream "data_ref.py failed"
tdump --json -a --text odd.cp > odd.json 2> odd.err || fail tdump_json_runs "$(cat odd.err)"
json_lines tdump_json_odd_names odd.json 4
"$PY" -c '
import json, sys
ls = [json.loads(l) for l in open("odd.json", encoding="utf-8")]
assert ls[0]["name"] == "caf\u00e9\u0001", ls[0]
assert ls[0]["attrs"] == {"k\u00ff\t": "v\u00fe\n\"", "ok": "\u00e9"}, ls[0]
assert ls[1]["text"] == "A\u00a9\u00c3", ls[1]            # the bytes as code points of their value
assert ls[2]["text"] == "A\u00a9\u00c3\ufffd", ls[2]       # index 7: outside the vocabulary
assert ls[3]["name"] == "tab\there\n\"q\"", ls[3]
' 2> chk.err && pass tdump_json_values || fail tdump_json_values "$(tail -1 chk.err)"
tdump --json odd.cp > odd2.json && json_lines tdump_json_without_text odd2.json 4
"$PY" "$REF" write badnames bad.cp || fail badnames_stream "data_ref.py failed"
tdump --json -a --text bad.cp > bad.json 2> bad.err
rc=$?
[ $rc -ne 0 ] && [ ! -s bad.json ] && [ "$(wc -l < bad.err)" = 1 ] && grep -q '^tdump: bad.cp: .*not UTF-8' bad.err \
    && pass tdump_json_refuses_non_utf8_names || fail tdump_json_refuses_non_utf8_names "exit $rc: $(cat bad.err) $(head -c 200 bad.json)"

# --- evaluate --json and --tsv: a model path with a tab, a newline, quotes, a backslash and a
# byte that is not UTF-8
for i in $(seq 30); do printf 'hello world %d, charpipe! ' "$i"; done > t.txt
vocab < t.txt | window -n 6 | train -H 4 -e 1 -j 1 --no-progress -o m.model 2> /dev/null
p=$(printf 'we"ird\\\tna\nme\377.model')
cp m.model "$p"
evaluate -m "$p" --json < t.txt > e.json 2> e.err || fail evaluate_json_runs "$(cat e.err)"
json_lines evaluate_json_odd_path e.json 1
"$PY" -c '
import json, sys
d = json.loads(open("e.json", encoding="utf-8").read())
assert d["model"] == "we\"ird\\\tna\nme\ufffd.model", repr(d["model"])
assert d["loss_nats"] > 0
' 2> chk.err && pass evaluate_json_path_value || fail evaluate_json_path_value "$(tail -1 chk.err)"
evaluate -m "$p" --tsv < t.txt > e.tsv 2> e.err || fail evaluate_tsv_runs "$(cat e.err)"
"$PY" -c '
import sys
lines = open("e.tsv", "rb").read().split(b"\n")
assert lines[-1] == b"" and len(lines) == 3, "%d lines" % (len(lines) - 1)
head, row = lines[0].split(b"\t"), lines[1].split(b"\t")
assert len(head) == 7 and len(row) == 7, (head, row)
field = row[0].replace(b"\\\\", b"\0").replace(b"\\t", b"\t").replace(b"\\n", b"\n").replace(b"\\r", b"\r").replace(b"\0", b"\\")
assert field == sys.argv[1].encode("utf-8", "surrogateescape"), field
float(row[3])
' "$p" 2> chk.err && pass evaluate_tsv_odd_path || fail evaluate_tsv_odd_path "$(tail -1 chk.err): $(od -c e.tsv | head -4)"

# --- sample --json and --prompts: a byte-level model whose text holds bytes >= 0x80 and
# control characters, a stop string of such a byte; error lines quoting what was sent
{ for i in $(seq 60); do printf 'caf\351 \303\251t\351\t\001x\r\n'; done; } > bytes.txt
vocab --bytes < bytes.txt | train --streams -n 8 -b 4 -H 16 -e 2 -j 1 --seed 1 -o b.model 2> /dev/null
sample -m b.model --seed "caf" -n 200 -t 1.2 --rng-seed 5 --count 3 --json --stop $'\t\001' > bj.json 2> bj.err
json_lines sample_json_byte_model bj.json 3
for i in 0 1 2; do sample -m b.model --seed "caf" -n 200 -t 1.2 --rng-seed $((5 + i)) --stop $'\t\001' > bone.$i; done
"$PY" -c '
import json
for i, l in enumerate(open("bj.json", encoding="utf-8")):
    d = json.loads(l)
    raw = open("bone.%d" % i, "rb").read()
    assert d["text"].encode("latin-1") == raw, (i, d["text"], raw)
    assert d["stop"] in (None, "\t\u0001"), d["stop"]
' 2> chk.err && pass sample_json_bytes_are_the_text || fail sample_json_bytes_are_the_text "$(tail -1 chk.err)"
printf '%s\n' '{"prompt": "caf", "n": 50, "temperature": 1.5, "seed": 2, "stop": ["\u00e9"], "id": "\u00e9\t\"x\""}' \
    "{\"x$(printf '\303\251%.0s' $(seq 40))\": 1, \"id\": 3}" '{"prompt": "caf", "id": [1]}' > req.jsonl
sample -m b.model --prompts < req.jsonl > pr.out 2> pr.err
json_lines prompts_lines_are_json pr.out 3
"$PY" -c '
import json
ls = [json.loads(l) for l in open("pr.out", encoding="utf-8")]
assert ls[0]["id"] == "\u00e9\t\"x\"" and ls[0]["samples"][0]["text"].startswith("caf"), ls[0]
assert "unknown field" in ls[1]["error"] and ls[1]["id"] == 3, ls[1]
assert "\"id\" must be" in ls[2]["error"], ls[2]
' 2> chk.err && pass prompts_answers_values || fail prompts_answers_values "$(tail -1 chk.err): $(cat pr.out)"
