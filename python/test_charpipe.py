"""test_charpipe.py BIN - the Python module's tests: its texts are sample's and its scores
evaluate's, for the same model, options and seed; errors come as CharpipeError. Trains its
own small models with the tools in BIN, in the current directory. Prints "ok NAME" or
"FAIL NAME" per check (tests/run.sh counts them), as tests/test_python.sh runs it."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import charpipe  # noqa: E402

BIN = sys.argv[1]
failed = 0


def check(name, cond, why=""):
    global failed
    print(("ok " if cond else "FAIL ") + name, flush=True)
    if not cond:
        failed += 1
        print("  " + str(why), file=sys.stderr)


def tool(*args, stdin=None):
    r = subprocess.run([os.path.join(BIN, args[0])] + list(args[1:]), input=stdin, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()))
    return r.stdout


words = "the cat sat on a mat and a dog ran to the old red barn".split()
text = "".join(words[(i * 7 + i // 3) % len(words)] + (".\n" if i % 11 == 10 else " ") for i in range(900))
open("words.txt", "w").write(text)
voc = tool("vocab", stdin=text.encode())
tool("train", "--streams", "-n", "16", "-b", "8", "-H", "24", "-L", "2", "-e", "1", "-j", "1", "--seed", "1",
     "-o", "st.model", stdin=voc)
tool("train", "-H", "16", "-e", "1", "-j", "1", "--seed", "1", "-o", "win.model", stdin=tool("window", "-n", "8", stdin=voc))
tool("train", "--streams", "-n", "16", "-b", "8", "-H", "16", "-e", "1", "-j", "1", "--seed", "2", "-o", "bytes.model",
     stdin=tool("vocab", "--bytes", stdin=(text + "caf\u00e9 ").encode()))

# --- generate: sample's text after the seed ---
cases = [("st.model", dict(temperature=0.9, seed=3), ["-t", "0.9", "--rng-seed", "3"]),
         ("st.model", dict(temperature=1.2, top_k=4, top_p=0.9, seed=8), ["-t", "1.2", "-k", "4", "-p", "0.9", "--rng-seed", "8"]),
         ("st.model", dict(), []),
         ("win.model", dict(temperature=0.8, seed=5), ["-t", "0.8", "--rng-seed", "5"]),
         ("win.model", dict(temperature=1.0, seed=5, mode="stateful"), ["-t", "1", "--rng-seed", "5", "--stateful"]),
         ("st.model", dict(temperature=1.0, seed=9, stop=["at", "\n"]), ["-t", "1", "--rng-seed", "9", "--stop", "at", "--stop", "\\n"]),
         ("st.model", dict(temperature=1.0, seed=4, mode="window"), ["-t", "1", "--rng-seed", "4", "--window"])]
for i, (model, kw, args) in enumerate(cases):
    m = charpipe.Model(model)
    got = m.generate("the cat", n=150, **kw)
    want = tool("sample", "-m", model, "--seed", "the cat", "-n", "150", *args).decode()
    check("generate_is_sample_%d" % i, "the cat" + got == want and isinstance(got, str), (got, want))
    m.close()

m = charpipe.Model("st.model")
got = m.generate(n=40, temperature=1, seed=12)           # no prompt: the drawn first character begins it
want = tool("sample", "-m", "st.model", "-n", "40", "-t", "1", "--rng-seed", "12").decode()
check("generate_without_prompt", got == want and len(got) == 41, (got, want))
got = m.generate("the", n=500, temperature=1, seed=2, stop="a")
check("generate_stop_string", "a" not in got and len(got) < 500, got)

b = charpipe.Model("bytes.model")
got = b.generate("caf\u00e9", n=60, temperature=1.3, seed=7)
want = tool("sample", "-m", "bytes.model", "--seed", "caf\u00e9", "-n", "60", "-t", "1.3", "--rng-seed", "7")
check("generate_bytes_model", isinstance(got, bytes) and "caf\u00e9".encode() + got == want, (got, want))

# --- score: evaluate's loss_nats, for windows and carried-state streams ---
held = text[:2000]
for model, extra in (("win.model", []), ("st.model", []), ("st.model", ["--streams", "0"]), ("st.model", ["--streams", "3"])):
    import json
    e = json.loads(tool("evaluate", "-m", model, "--json", *extra, stdin=held.encode()))["loss_nats"]
    streams = -1 if not extra else int(extra[1])
    s = charpipe.Model(model).score(held, streams=streams)
    check("score_is_evaluate_%s%s" % (model.split(".")[0], "_".join([""] + extra).replace("--", "")),
          abs(s - e) < 2e-6, (s, e))

# --- errors ---
def raises(name, fn, status, text):
    try:
        fn()
    except charpipe.CharpipeError as e:
        check(name, e.status == status and text in str(e), (e.status, str(e)))
        return
    except Exception as e:  # noqa: BLE001
        check(name, False, "raised %r" % e)
        return
    check(name, False, "no error")


raises("error_missing_model", lambda: charpipe.Model("no/such.model"), 2, "no/such.model")
raises("error_not_a_model", lambda: charpipe.Model("words.txt"), 2, "words.txt")
raises("error_unknown_character", lambda: m.generate("the Q", n=5), 5, "character 'Q' (U+0051) at character 4")
raises("error_invalid_utf8", lambda: m.generate(b"the \xff", n=5), 4, "invalid UTF-8")
raises("error_bad_option", lambda: m.generate("the", top_p=0), 1, "top_p")
raises("error_kernels", lambda: charpipe.Model("st.model", kernels="nosuch"), 6, "nosuch")
raises("error_score_short", lambda: charpipe.Model("win.model").score("the"), 4, "no window")
check("skip_unknown", m.generate("the Q", n=5, skip_unknown=True) == m.generate("the ", n=5))
check("library_version", charpipe.library_version().startswith("1."), charpipe.library_version())
with charpipe.Model("st.model") as c:
    pass
try:
    c.generate("the")
    check("closed_model", False, "no error")
except ValueError:
    check("closed_model", True)
sys.exit(1 if failed else 0)
