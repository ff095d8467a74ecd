#!/usr/bin/python3
"""Independent reader of charpipe's safetensors exports (json + numpy; no charpipe code).

    st_ref.py loss EXPORT TEXT          the mean loss (nats) evaluate reports for TEXT, from an
                                        export in the torch layout, computed here in float64
                                        (loss, keras-loss and torch-loss take several EXPORTs
                                        before TEXT and print a line each)
    st_ref.py keras-loss EXPORT TEXT    the same from an export in the keras layout, its tensors
                                        taken in the metadata's "order" and consumed positionally
                                        as Keras's set_weights would (shapes checked)
    st_ref.py check EXPORT              the file's structure: header length, 8-byte alignment,
                                        offsets covering the data without holes, F32 only
    st_ref.py torch-loss EXPORT TEXT    the loss with torch's nn.LSTM / nn.GRU + nn.Linear,
                                        loaded with load_state_dict (strict)
    st_ref.py torch-sample EXPORT SEED N   SEED and N greedy characters from those modules, as
                                        sample generates them (a window of MAXLEN from a zero
                                        state, or the state carried for a streams model)

evaluate's loss: a windows model predicts text[s+N] from text[s:s+N] for every s (and every
text[s+1:s+N+1] when trained with a target at every position); a streams model cuts the text
into B streams of n = (len-1) // B steps, state carried, every next character predicted.
"""
import json, struct, sys
import numpy as np

def read(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    T = {}
    for name, d in header.items():
        assert d["dtype"] == "F32", d
        b, e = d["data_offsets"]
        T[name] = np.frombuffer(data[b:e], "<f4").reshape(d["shape"]).astype(np.float64)
    return meta, T, raw, n, header

def check(path):
    meta, T, raw, n, header = read(path)
    assert (8 + n) % 8 == 0, "data not 8-byte aligned"
    assert raw[8:9] == b"{", "header does not start with {"
    spans = sorted(tuple(d["data_offsets"]) for d in header.values())
    pos = 0
    for b, e in spans:
        assert b == pos, "hole or overlap at %d" % pos
        pos = e
    assert pos == len(raw) - 8 - n, "data length %d, offsets cover %d" % (len(raw) - 8 - n, pos)
    for name, d in header.items():
        assert int(np.prod(d["shape"])) * 4 == d["data_offsets"][1] - d["data_offsets"][0], name
    assert all(isinstance(v, str) for v in meta.values()), "metadata values must be strings"
    assert [k for k in json.loads(meta["order"])] == [k for k, _ in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])]
    print("ok", len(header), "tensors")

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def layer_norm_blocks(s, H):
    out = np.empty_like(s)
    for q in range(4):
        blk = s[:, q*H:(q+1)*H]
        out[:, q*H:(q+1)*H] = (blk - blk.mean(axis=1, keepdims=True)) / np.sqrt(blk.var(axis=1, keepdims=True) + 1e-5)
    return out

def step_torch(cell, T, L, x, h, c):
    """One step of L layers, torch layout; x (b, V) one-hot; h, c lists of (b, H)."""
    inp = x
    for l in range(L):
        Wi, Wh = T["rnn.weight_ih_l%d" % l], T["rnn.weight_hh_l%d" % l]
        H = Wh.shape[1]
        if cell == "gru":
            gi = inp @ Wi.T + T["rnn.bias_ih_l%d" % l]
            gh = h[l] @ Wh.T + T["rnn.bias_hh_l%d" % l]
            r = sigmoid(gi[:, :H] + gh[:, :H]); z = sigmoid(gi[:, H:2*H] + gh[:, H:2*H])
            n = np.tanh(gi[:, 2*H:] + r * gh[:, 2*H:])
            h[l] = (1 - z) * n + z * h[l]
        else:
            if cell == "lnlstm":
                g = T["rnn.gamma_l%d" % l] * layer_norm_blocks(inp @ Wi.T + h[l] @ Wh.T, H) + T["rnn.bias_l%d" % l]
            else:
                g = inp @ Wi.T + T["rnn.bias_ih_l%d" % l] + h[l] @ Wh.T + T["rnn.bias_hh_l%d" % l]
            i, f, gg, o = sigmoid(g[:, :H]), sigmoid(g[:, H:2*H]), np.tanh(g[:, 2*H:3*H]), sigmoid(g[:, 3*H:])
            c[l] = f * c[l] + i * gg
            h[l] = o * np.tanh(c[l])
        inp = h[l]
    return inp @ T["out.weight"].T + T["out.bias"]

def step_keras(cell, W, L, x, h, c):
    """The same step from Keras's tensors: W = [kernel, recurrent, bias(, gamma)] * L + [dense k, b]."""
    nt = 4 if cell == "lnlstm" else 3
    inp = x
    for l in range(L):
        K, R, b = W[nt*l], W[nt*l + 1], W[nt*l + 2]
        H = R.shape[0]
        if cell == "gru":          # Keras GRU, reset_after: gates z, r, h; bias rows input, recurrent
            a = inp @ K + b[0]; u = h[l] @ R + b[1]
            z = sigmoid(a[:, :H] + u[:, :H]); r = sigmoid(a[:, H:2*H] + u[:, H:2*H])
            n = np.tanh(a[:, 2*H:] + r * u[:, 2*H:])
            h[l] = z * h[l] + (1 - z) * n
        else:                      # Keras LSTM: gates i, f, c, o
            if cell == "lnlstm":
                g = W[nt*l + 3] * layer_norm_blocks(inp @ K + h[l] @ R, H) + b
            else:
                g = inp @ K + b + h[l] @ R
            i, f, gg, o = sigmoid(g[:, :H]), sigmoid(g[:, H:2*H]), np.tanh(g[:, 2*H:3*H]), sigmoid(g[:, 3*H:])
            c[l] = f * c[l] + i * gg
            h[l] = o * np.tanh(c[l])
        inp = h[l]
    return inp @ W[-2] + W[-1]

def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

def encode(meta, text):
    vocab = json.loads(meta["vocab"])
    idx = {cp: i for i, cp in enumerate(vocab)}
    if meta["unit"] == "byte":
        return np.array([idx[b] for b in text.encode("utf-8")]), len(vocab)
    return np.array([idx[ord(ch)] for ch in text]), len(vocab)

def mean_loss(meta, step, text):
    """evaluate's loss, with step(x_onehot, h, c) -> logits."""
    t, V = encode(meta, text)
    L, H, N = int(meta["layers"]), int(meta["hidden"]), int(meta["maxlen"])
    eye = np.eye(V)
    if meta["layout"] == "streams":
        B = min(int(meta["streams"]), len(t) - 1)
        n = (len(t) - 1) // B
        rows = np.arange(B) * n
        h = [np.zeros((B, H)) for _ in range(L)]; c = [np.zeros((B, H)) for _ in range(L)]
        total = 0.0
        for i in range(n):
            lp = log_softmax(step(eye[t[rows + i]], h, c))
            total -= lp[np.arange(B), t[rows + i + 1]].sum()
        return total / (n * B)
    starts = np.arange(len(t) - N)
    b = len(starts)
    h = [np.zeros((b, H)) for _ in range(L)]; c = [np.zeros((b, H)) for _ in range(L)]
    total, count = 0.0, 0
    every = meta["targets"] == "every"
    for s in range(N):
        logits = step(eye[t[starts + s]], h, c)
        if every or s == N - 1:
            lp = log_softmax(logits)
            total -= lp[np.arange(b), t[starts + s + 1]].sum()
            count += b
    return total / count

def keras_weights(meta, T):
    """The tensors in set_weights order, each checked against the shape Keras's layers have."""
    cell, L, H, V = meta["cell"], int(meta["layers"]), int(meta["hidden"]), int(meta["vocab_size"])
    G = (3 if cell == "gru" else 4) * H
    want = []
    for l in range(L):
        want += [(V if l == 0 else H, G), (H, G), (2, G) if cell == "gru" else (G,)]
        if cell == "lnlstm":
            want.append((G,))
    want += [(H, V), (V,)]
    W = [T[name] for name in json.loads(meta["order"])]
    assert [w.shape for w in W] == want, "set_weights shapes %s, Keras wants %s" % ([w.shape for w in W], want)
    return W

def torch_model(path):
    import torch
    meta, T, _, _, _ = read(path)
    cell, L, H, V = meta["cell"], int(meta["layers"]), int(meta["hidden"]), int(meta["vocab_size"])
    Rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    class CharRNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = Rnn(V, H, num_layers=L, batch_first=True)
            self.out = torch.nn.Linear(H, V)
        def forward(self, x, state=None):
            y, state = self.rnn(torch.nn.functional.one_hot(x, V).float(), state)
            return self.out(y), state
    net = CharRNN()
    net.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in T.items()}, strict=True)
    return meta, net.eval()

def torch_loss(path, text):
    import torch
    meta, net = torch_model(path)
    t, V = encode(meta, text)
    N = int(meta["maxlen"])
    with torch.no_grad():
        if meta["layout"] == "streams":
            B = min(int(meta["streams"]), len(t) - 1)
            n = (len(t) - 1) // B
            x = torch.tensor(np.stack([t[j*n:j*n + n] for j in range(B)]))
            y = torch.tensor(np.stack([t[j*n + 1:j*n + n + 1] for j in range(B)]))
            logits, _ = net(x)
            return torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1)).item()
        starts = np.arange(len(t) - N)
        x = torch.tensor(np.stack([t[s:s + N] for s in starts]))
        logits, _ = net(x)
        if meta["targets"] == "every":
            y = torch.tensor(np.stack([t[s + 1:s + N + 1] for s in starts]))
            return torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1)).item()
        y = torch.tensor(t[starts + N])
        return torch.nn.functional.cross_entropy(logits[:, -1], y).item()

def torch_sample(path, seed, n):
    import torch
    meta, net = torch_model(path)
    vocab = json.loads(meta["vocab"])
    t, _ = encode(meta, seed)
    out = list(t)
    N = int(meta["maxlen"])
    with torch.no_grad():
        if meta["layout"] == "streams":       # sample's default for streams models: stateful
            logits, state = net(torch.tensor([out]))
            for _ in range(n):
                nxt = int(logits[0, -1].argmax())
                out.append(nxt)
                logits, state = net(torch.tensor([[nxt]]), state)
        else:                                 # a window of the last MAXLEN from a zero state
            for _ in range(n):
                logits, _ = net(torch.tensor([out[-N:]]))
                out.append(int(logits[0, -1].argmax()))
    return "".join(chr(vocab[i]) for i in out)

def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "check":
        return check(path)
    if cmd == "torch-sample":
        sys.stdout.write(torch_sample(path, sys.argv[3], int(sys.argv[4])))
        return
    text = open(sys.argv[-1], encoding="utf-8").read()
    for path in sys.argv[2:-1]:
        if cmd == "torch-loss":
            print("%.8f" % torch_loss(path, text))
            continue
        meta, T, _, _, _ = read(path)
        L = int(meta["layers"])
        if cmd == "loss":
            assert meta["tensor_layout"] == "torch"
            print("%.8f" % mean_loss(meta, lambda x, h, c: step_torch(meta["cell"], T, L, x, h, c), text))
        elif cmd == "keras-loss":
            assert meta["tensor_layout"] == "keras"
            W = keras_weights(meta, T)
            print("%.8f" % mean_loss(meta, lambda x, h, c: step_keras(meta["cell"], W, L, x, h, c), text))
        else:
            sys.exit("st_ref.py: unknown command " + cmd)

main()
