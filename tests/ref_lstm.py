#!/usr/bin/python3
"""Independent reference for charpipe's model files (no charpipe code): gzip + msgpack + numpy.

    ref_lstm.py make MODEL TEXT SEED   write a model with random weights for TEXT's vocabulary
                                       (maxlen 5, H 7) and print the textbook mean loss (nats)
                                       of every window of TEXT, computed here in float64
    ref_lstm.py loss MODEL TEXT        print the same loss for an existing model file
"""
import gzip, sys
import msgpack
import numpy as np

NAMES = ["lstm/kernel", "lstm/recurrent_kernel", "lstm/bias", "dense/kernel", "dense/bias"]

def write_model(path, vocab, W, maxlen):
    V, H = W["lstm/kernel"].shape[0], W["dense/kernel"].shape[0]
    frames = [{"name": "header", "format": "charpipe", "version": 1},
              {"name": "model", "attrs": {"cell": "lstm", "layers": 1, "hidden": H, "maxlen": maxlen,
                                          "vocab_size": V, "targets": "last"}},
              {"name": "vocab", "dtype": "u4", "shape": [V], "attrs": {"unit": "codepoint"},
               "data": np.array(vocab, dtype="<u4").tobytes()}]
    for n in NAMES:
        a = W[n].astype("<f4")
        frames.append({"name": n, "dtype": "f4", "shape": list(a.shape), "data": a.tobytes()})
    frames.append({"name": "end", "frames": len(frames) - 1})
    with gzip.open(path, "wb") as f:
        for fr in frames:
            f.write(msgpack.packb(fr))

def read_model(path):
    with gzip.open(path, "rb") as f:
        frames = list(msgpack.Unpacker(f, raw=False))
    assert frames[0]["name"] == "header" and frames[-1]["name"] == "end"
    by = {fr["name"]: fr for fr in frames}
    W = {n: np.frombuffer(by[n]["data"], "<f4").reshape(by[n]["shape"]).astype(np.float64) for n in NAMES}
    vocab = np.frombuffer(by["vocab"]["data"], "<u4")
    return [chr(c) for c in vocab], W, by["model"]["attrs"]["maxlen"]

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def mean_loss(text, vocab, W, maxlen):
    idx = {c: i for i, c in enumerate(vocab)}
    t = np.array([idx[c] for c in text])
    K, R, b, D, db = (W[n] for n in NAMES)
    H = R.shape[0]
    starts = np.arange(0, len(t) - maxlen)
    h = np.zeros((len(starts), H)); c = np.zeros((len(starts), H))
    for s in range(maxlen):
        z = K[t[starts + s]] + b + h @ R
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2*H]), np.tanh(z[:, 2*H:3*H]), sigmoid(z[:, 3*H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    logits = h @ D + db
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(starts)), t[starts + maxlen]].mean()

def main():
    if sys.argv[1] == "make":
        path, text = sys.argv[2], open(sys.argv[3], encoding="utf-8").read()
        rng = np.random.default_rng(int(sys.argv[4]))
        vocab = sorted(set(text)); V, H, maxlen = len(vocab), 7, 5
        W = {"lstm/kernel": rng.normal(0, 0.5, (V, 4*H)), "lstm/recurrent_kernel": rng.normal(0, 0.5, (H, 4*H)),
             "lstm/bias": rng.normal(0, 0.5, 4*H), "dense/kernel": rng.normal(0, 1, (H, V)),
             "dense/bias": rng.normal(0, 0.5, V)}
        W = {k: v.astype(np.float32).astype(np.float64) for k, v in W.items()}
        write_model(path, [ord(c) for c in vocab], W, maxlen)
        print("%.8f" % mean_loss(text, vocab, W, maxlen))
    else:
        vocab, W, maxlen = read_model(sys.argv[2])
        print("%.8f" % mean_loss(open(sys.argv[3], encoding="utf-8").read(), vocab, W, maxlen))

main()
