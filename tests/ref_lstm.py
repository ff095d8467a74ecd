#!/usr/bin/python3
"""Independent reference for charpipe's model files (no charpipe code): gzip + msgpack + numpy.

    ref_lstm.py make MODEL TEXT SEED [gru|lnlstm]
                                       write a model with random weights for TEXT's vocabulary
                                       (maxlen 5, H 7; an LSTM, a GRU or a layer-normalised
                                       LSTM) and print the textbook
                                       mean loss (nats) of every window of TEXT, computed here
                                       in float64
    ref_lstm.py loss MODEL TEXT        print the same loss for an existing model file
    ref_lstm.py logprob MODEL TEXT SEEDLEN window|stateful
                                       print the total log-probability (nats, float64) of
                                       TEXT's characters after its first SEEDLEN, each given
                                       the ones before it: in a window of the last maxlen
                                       from a zero state, or with the state carried from the
                                       start of TEXT (what sample --beam-all reports)
    ref_lstm.py margin MODEL TEXT SEEDLEN
                                       print the smallest margin (nats, float64), over TEXT's
                                       characters after its first SEEDLEN, of each character's
                                       log-probability over the most likely other one, the
                                       state carried from the start of TEXT: > 0 when TEXT is
                                       the greedy (stateful) continuation, and how far any
                                       rounding of the logits would have to go to change it

The GRU is Keras's (reset_after=True): kernel (V, 3H), recurrent_kernel (H, 3H), bias (2, 3H),
gates z, r, h:  z = s(x Wz + bz + h Uz + b'z), r = s(... r ...),
n = tanh(x Wh + bh + r * (h Uh + b'h)), h = z * h + (1 - z) * n.
The lnlstm normalises each gate block q of s = x W + h U before its bias:
z_q = gamma_q * (s_q - mean(s_q)) / sqrt(var(s_q) + 1e-5) + b_q, then the LSTM's gates.
"""
import gzip, sys
import msgpack
import numpy as np

def names(cell):
    extra = [cell + "/gamma"] if cell == "lnlstm" else []
    return [cell + "/kernel", cell + "/recurrent_kernel", cell + "/bias"] + extra + ["dense/kernel", "dense/bias"]

def layer_norm(s, H):
    out = np.empty_like(s)
    for q in range(4):
        blk = s[:, q*H:(q+1)*H]
        out[:, q*H:(q+1)*H] = (blk - blk.mean(axis=1, keepdims=True)) / np.sqrt(blk.var(axis=1, keepdims=True) + 1e-5)
    return out

def write_model(path, vocab, W, maxlen, cell):
    V, H = W[cell + "/kernel"].shape[0], W["dense/kernel"].shape[0]
    frames = [{"name": "header", "format": "charpipe", "version": 1},
              {"name": "model", "attrs": {"cell": cell, "layers": 1, "hidden": H, "maxlen": maxlen,
                                          "vocab_size": V, "targets": "last"}},
              {"name": "vocab", "dtype": "u4", "shape": [V], "attrs": {"unit": "codepoint"},
               "data": np.array(vocab, dtype="<u4").tobytes()}]
    for n in names(cell):
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
    cell = by["model"]["attrs"]["cell"]
    parts = {}                        # a tensor of more than 1 MiB comes in pieces (FORMAT.md)
    for fr in frames:
        if fr["name"] in names(cell):
            parts.setdefault(fr["name"], []).append(np.frombuffer(fr["data"], "<f4").reshape(fr["shape"]))
    W = {n: np.concatenate(parts[n]).astype(np.float64) for n in names(cell)}
    vocab = np.frombuffer(by["vocab"]["data"], "<u4")
    return [chr(c) for c in vocab], W, by["model"]["attrs"]["maxlen"], cell

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def mean_loss(text, vocab, W, maxlen, cell):
    idx = {c: i for i, c in enumerate(vocab)}
    t = np.array([idx[c] for c in text])
    K, R, b = (W[n] for n in names(cell)[:3])
    D, db = W["dense/kernel"], W["dense/bias"]
    H = R.shape[0]
    starts = np.arange(0, len(t) - maxlen)
    h = np.zeros((len(starts), H)); c = np.zeros((len(starts), H))
    for s in range(maxlen):
        if cell == "gru":
            a = K[t[starts + s]] + b[0]
            u = h @ R + b[1]
            z, r = sigmoid(a[:, :H] + u[:, :H]), sigmoid(a[:, H:2*H] + u[:, H:2*H])
            n = np.tanh(a[:, 2*H:] + r * u[:, 2*H:])
            h = z * h + (1 - z) * n
            continue
        if cell == "lnlstm":
            z = W["lnlstm/gamma"] * layer_norm(K[t[starts + s]] + h @ R, H) + b
        else:
            z = K[t[starts + s]] + b + h @ R
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2*H]), np.tanh(z[:, 2*H:3*H]), sigmoid(z[:, 3*H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    logits = h @ D + db
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(starts)), t[starts + maxlen]].mean()

def step(cell, W, x, h, c):
    """One step of one layer from state (h, c) on character index x; returns h, c, logp."""
    K, R, b = (W[n] for n in names(cell)[:3])
    H = R.shape[0]
    if cell == "gru":
        a, u = K[x] + b[0], h @ R + b[1]
        z, r = sigmoid(a[:H] + u[:H]), sigmoid(a[H:2*H] + u[H:2*H])
        n = np.tanh(a[2*H:] + r * u[2*H:])
        h = z * h + (1 - z) * n
    else:
        if cell == "lnlstm":
            z = W["lnlstm/gamma"] * layer_norm((K[x] + h @ R)[None, :], H)[0] + b
        else:
            z = K[x] + b + h @ R
        i, f, g, o = sigmoid(z[:H]), sigmoid(z[H:2*H]), np.tanh(z[2*H:3*H]), sigmoid(z[3*H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    logits = h @ W["dense/kernel"] + W["dense/bias"]
    logits -= logits.max()
    return h, c, logits - np.log(np.exp(logits).sum())

def logprob(text, seedlen, vocab, W, maxlen, cell, stateful):
    idx = {ch: i for i, ch in enumerate(vocab)}
    t = [idx[ch] for ch in text]
    H = W["dense/kernel"].shape[0]
    total = 0.0
    if stateful:
        h, c = np.zeros(H), np.zeros(H)
        for j in range(len(t) - 1):
            h, c, lp = step(cell, W, t[j], h, c)
            if j + 1 >= seedlen:
                total += lp[t[j + 1]]
        return total
    for j in range(seedlen, len(t)):
        h, c = np.zeros(H), np.zeros(H)
        for x in t[max(0, j - maxlen):j]:
            h, c, lp = step(cell, W, x, h, c)
        total += lp[t[j]]
    return total

def margin(text, seedlen, vocab, W, cell):
    idx = {ch: i for i, ch in enumerate(vocab)}
    t = [idx[ch] for ch in text]
    H = W["dense/kernel"].shape[0]
    h, c, best = np.zeros(H), np.zeros(H), np.inf
    for j in range(len(t) - 1):
        h, c, lp = step(cell, W, t[j], h, c)
        if j + 1 >= seedlen:
            best = min(best, lp[t[j + 1]] - np.delete(lp, t[j + 1]).max())
    return best

def main():
    if sys.argv[1] == "make":
        path, text = sys.argv[2], open(sys.argv[3], encoding="utf-8").read()
        rng = np.random.default_rng(int(sys.argv[4]))
        cell = sys.argv[5] if len(sys.argv) > 5 else "lstm"
        vocab = sorted(set(text)); V, H, maxlen = len(vocab), 7, 5
        G, bias = (3 * H, (2, 3 * H)) if cell == "gru" else (4 * H, (4 * H,))
        W = {cell + "/kernel": rng.normal(0, 0.5, (V, G)), cell + "/recurrent_kernel": rng.normal(0, 0.5, (H, G)),
             cell + "/bias": rng.normal(0, 0.5, bias), "dense/kernel": rng.normal(0, 1, (H, V)),
             "dense/bias": rng.normal(0, 0.5, V)}
        if cell == "lnlstm":
            W["lnlstm/gamma"] = rng.normal(1, 0.3, G)
        W = {k: v.astype(np.float32).astype(np.float64) for k, v in W.items()}
        write_model(path, [ord(c) for c in vocab], W, maxlen, cell)
        print("%.8f" % mean_loss(text, vocab, W, maxlen, cell))
    elif sys.argv[1] == "logprob":
        vocab, W, maxlen, cell = read_model(sys.argv[2])
        text = open(sys.argv[3], encoding="utf-8").read()
        print("%.8f" % logprob(text, int(sys.argv[4]), vocab, W, maxlen, cell, sys.argv[5] == "stateful"))
    elif sys.argv[1] == "margin":
        vocab, W, maxlen, cell = read_model(sys.argv[2])
        text = open(sys.argv[3], encoding="utf-8").read()
        print("%.8f" % margin(text, int(sys.argv[4]), vocab, W, cell))
    else:
        vocab, W, maxlen, cell = read_model(sys.argv[2])
        print("%.8f" % mean_loss(open(sys.argv[3], encoding="utf-8").read(), vocab, W, maxlen, cell))

main()
