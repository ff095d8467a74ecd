"""data_ref.py - an independent reference for the data stages (vocab, window, onehot, tdump).

No charpipe code: streams are decoded with gzip + msgpack + numpy following lib/FORMAT.md, and
the expected vocabulary, windows and one-hot arrays are recomputed from the raw text.
Prints "ok NAME" / "FAIL NAME" lines for tests/run.sh.

    data_ref.py check TEXT STREAM N STEP BATCH SEQ ONEHOT   a vocab|window[|onehot] stream
    data_ref.py text TEXT STREAM                            a vocab stream
    data_ref.py write KIND OUT                              write a hand-made stream
    data_ref.py tdump-json STREAM JSONLINES                 tdump --json -a output vs the stream
"""
import gzip
import io
import json
import sys

import msgpack
import numpy as np


def report(name, ok, why=""):
    print(("ok " if ok else "FAIL ") + name)
    if not ok:
        print("  " + why, file=sys.stderr)
    sys.stdout.flush()


def read_stream(path):
    """All frames between header and end frames (of every concatenated stream), as dicts;
    tensors get an "array" entry."""
    with open(path, "rb") as f:
        raw = gzip.decompress(f.read())
    frames, inside = [], False
    up = msgpack.Unpacker(io.BytesIO(raw), raw=False, strict_map_key=False)
    for fr in up:
        assert isinstance(fr, dict), "frame is not a map"
        if fr["name"] == "header":
            assert not inside and fr["format"] == "charpipe" and fr["version"] == 1
            inside, count = True, 0
            continue
        assert inside, "frame outside a stream"
        if fr["name"] == "end":
            assert fr.get("frames", count) == count, "end frame count"
            inside = False
            continue
        count += 1
        if "dtype" in fr:
            a = np.frombuffer(fr["data"], dtype="<" + fr["dtype"])
            fr["array"] = a.reshape(fr["shape"])
        frames.append(fr)
    assert not inside, "no end frame"
    return frames


def expected_text(text):
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    return chars, np.array([index[c] for c in text], dtype=np.int64)


def check(textpath, streampath, n, step, batch, seq, onehot):
    name = "ref n=%d s=%d b=%d%s%s" % (n, step, batch, " seq" if seq else "", " onehot" if onehot else "")
    try:
        text = open(textpath, "rb").read().decode("utf-8")
        chars, idx = expected_text(text)
        V = len(chars)
        starts = list(range(0, len(text) - n, step))
        X = np.array([idx[i:i + n] for i in starts])
        Y = np.array([idx[i + 1:i + n + 1] for i in starts]) if seq else np.array([idx[i + n] for i in starts])
        frames = read_stream(streampath)
        assert frames[0]["name"] == "vocab", "first frame is %s" % frames[0]["name"]
        assert frames[0]["array"].tolist() == [ord(c) for c in chars], "vocabulary differs"
        xs = [f for f in frames if f["name"] == "x"]
        ys = [f for f in frames if f["name"] == "y"]
        assert [f["name"] for f in frames[1:]] == ["x", "y"] * len(xs), "frame order"
        sizes = [f["array"].shape[0] for f in xs]
        want = [batch] * (len(starts) // batch) + ([len(starts) % batch] if len(starts) % batch else [])
        assert sizes == want, "batch sizes %s, want %s" % (sizes[:5], want[:5])
        for f in xs:
            assert f["attrs"]["maxlen"] == n and f["attrs"]["step"] == step, "x attrs"
        gx = np.concatenate([f["array"] for f in xs])
        gy = np.concatenate([f["array"] for f in ys])
        if onehot:
            eye = np.eye(V, dtype=np.float32)
            assert all(f["dtype"] == "f4" for f in xs + ys), "dtype"
            assert gx.shape == (len(starts), n, V), "x shape %s" % (gx.shape,)
            assert np.array_equal(gx, eye[X]), "one-hot x differs"
            assert gy.shape == ((len(starts), n, V) if seq else (len(starts), V)), "y shape"
            assert np.array_equal(gy, eye[Y]), "one-hot y differs"
        else:
            want_dt = "u1" if V <= 256 else "u2" if V <= 65536 else "u4"
            assert all(f["dtype"] == want_dt for f in xs + ys), "dtype, want %s" % want_dt
            assert gx.shape == X.shape and np.array_equal(gx, X), "windows x differ"
            assert gy.shape == Y.shape and np.array_equal(gy, Y), "targets y differ"
        report(name, True)
    except Exception as e:  # noqa: BLE001 - any failure is a test failure
        report(name, False, "%s: %s" % (type(e).__name__, e))


def check_text(textpath, streampath):
    name = "ref vocab " + textpath.rsplit("/", 1)[-1]
    try:
        text = open(textpath, "rb").read().decode("utf-8")
        chars, idx = expected_text(text)
        frames = read_stream(streampath)
        assert frames[0]["name"] == "vocab" and frames[0]["dtype"] == "u4"
        assert frames[0]["array"].tolist() == [ord(c) for c in chars], "vocabulary differs"
        assert frames[0]["attrs"]["unit"] == "codepoint"
        texts = [f for f in frames[1:] if f["name"] == "text"]
        assert len(texts) == len(frames) - 1
        want_dt = "u1" if len(chars) <= 256 else "u2" if len(chars) <= 65536 else "u4"
        assert all(f["dtype"] == want_dt for f in texts), "text dtype, want %s" % want_dt
        got = np.concatenate([f["array"] for f in texts])
        assert np.array_equal(got, idx), "text indices differ"
        report(name, True)
    except Exception as e:  # noqa: BLE001
        report(name, False, "%s: %s" % (type(e).__name__, e))


def frame(name, dtype=None, shape=None, data=None, attrs=None):
    f = {"name": name}
    if dtype is not None:
        f.update(dtype=dtype, shape=list(shape), data=data)
    if attrs is not None:
        f["attrs"] = attrs
    return f


def write(kind, out):
    """Hand-made streams, some of them broken on purpose."""
    header = {"name": "header", "format": "charpipe", "version": 1}
    a = np.arange(6, dtype="<f4").reshape(2, 3) / 4 - 0.5
    b = np.array([-3, 0, 7, 30000], dtype="<i2")
    good = [
        frame("weights", "f4", a.shape, a.tobytes(), {"lr": 0.001, "note": 'a "quoted"\nline \\ é'}),
        frame("steps", "i2", b.shape, b.tobytes()),
        frame("model", attrs={"hidden": 128, "ok": True, "name": "tab\there"}),
        frame("scalar", "f8", [], np.array(2.5, "<f8").tobytes()),
    ]
    frames = {
        "good": good,
        "noend": good,
        "badsize": [frame("x", "u1", [2, 3], b"\0" * 5)],
        "baddtype": [frame("x", "c8", [1], b"\0" * 8)],
        "vocabonly": [frame("vocab", "u4", [2], np.array([97, 98], "<u4").tobytes())],
        "xnovocab": [frame("x", "u1", [1, 3], bytes([0, 1, 5]))],
        # (an info frame before the vocab; not named "model": vocab -v validates a model file)
        "midvocab": [frame("notes", attrs={"hidden": 4}),
                     frame("vocab", "u4", [3], np.array([97, 98, 233], "<u4").tobytes(),
                           {"unit": "codepoint"})],
        "bytevocab": [frame("vocab", "u4", [2], np.array([0xA9, 0xC3], "<u4").tobytes(),
                            {"unit": "byte"})],
    }.get(kind, [])
    raw = set()
    if kind == "badnames":
        # names and attrs that are not UTF-8 (packed as msgpack str: bytes, use_bin_type off),
        # and a byte-level vocabulary with bytes >= 0x80, for the machine-readable outputs
        frames = [frame(b"caf\xe9", attrs={b"k\xff": b"v\xfe\n", "ok": "\u00e9"}),
                  frame("vocab", "u4", [3], np.array([0x41, 0xA9, 0xC3], "<u4").tobytes(), {"unit": "byte"}),
                  frame("text", "u1", [4], bytes([0, 1, 2, 7])),
                  frame("tab\there\n\"q\"", "u1", [1], b"\0")]
        raw = {0}
    if kind == "oddnames":
        # the same with UTF-8 names and attrs that JSON must escape (a tab, a newline, quotes, a
        # control character), beside a byte-level vocabulary with bytes >= 0x80
        frames = [frame("caf\u00e9\u0001", attrs={"k\u00ff\t": "v\u00fe\n\"", "ok": "\u00e9"}),
                  frame("vocab", "u4", [3], np.array([0x41, 0xA9, 0xC3], "<u4").tobytes(), {"unit": "byte"}),
                  frame("text", "u1", [4], bytes([0, 1, 2, 7])),
                  frame("tab\there\n\"q\"", "u1", [1], b"\0")]
    body = [header] + frames
    if kind != "noend":
        body.append({"name": "end", "frames": len(frames)})
    with gzip.open(out, "wb") as f:
        for i, fr in enumerate(body):
            f.write(msgpack.packb(fr, use_bin_type=(i - 1) not in raw))


def tdump_json(streampath, jsonpath):
    name = "tdump --json matches python"
    try:
        frames = read_stream(streampath)
        lines = [json.loads(line) for line in open(jsonpath, encoding="utf-8")]
        assert len(lines) == len(frames), "%d lines for %d frames" % (len(lines), len(frames))
        for fr, js in zip(frames, lines):
            assert js["name"] == fr["name"], "name"
            assert js["attrs"] == fr.get("attrs", {}), "attrs %r != %r" % (js["attrs"], fr.get("attrs"))
            if "array" in fr:
                assert js["dtype"] == fr["dtype"] and js["shape"] == fr["shape"], "dtype/shape"
                assert js["head"] == fr["array"].ravel().tolist(), "values %r" % js["head"]
            else:
                assert "dtype" not in js and "head" not in js, "info frame printed as a tensor"
        report(name, True)
    except Exception as e:  # noqa: BLE001
        report(name, False, "%s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "check":
        t, s, n, step, b, seq, oh = sys.argv[2:9]
        check(t, s, int(n), int(step), int(b), seq == "1", oh == "1")
    elif cmd == "text":
        check_text(sys.argv[2], sys.argv[3])
    elif cmd == "write":
        write(sys.argv[2], sys.argv[3])
    elif cmd == "tdump-json":
        tdump_json(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown command " + cmd)
