#!/usr/bin/python3
"""ref_dynamic.py MODEL TEXT SEGMENT LR DECAY - dynamic evaluation of a one-layer charpipe
model on TEXT, written from lib/dynamic.h's description and nothing else of charpipe: the
model file read with gzip + msgpack, the cell (lstm, lnlstm or gru, in Keras's layout, as
tests/ref_lstm.py describes them) in PyTorch float64, every gradient by autograd.

The text is read as one stream from a zero state, cut into segments of SEGMENT characters
(the last may be shorter), each predicting the character after each of its own. Segment i
(1, 2, ...) is scored with the weights w_(i-1), then
    g = d(mean loss of the segment)/dw at w_(i-1), the state it started from held fixed
    ms += g^2, r = sqrt(ms / i)
    w_i = w_(i-1) - LR g / (r + 1e-5) + DECAY min(r / mean(r), 1 / DECAY) (w_0 - w_(i-1))
with mean(r) over every weight. Prints the mean loss (nats per character scored) and the
number of characters scored."""
import gzip, sys
import msgpack
import numpy as np
import torch

EPS = 1e-5
path, text_path = sys.argv[1], sys.argv[2]
seg, lr, lam = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])

with gzip.open(path, "rb") as f:
    frames = list(msgpack.Unpacker(f, raw=False))
by = {fr["name"]: fr for fr in frames}
attrs = by["model"]["attrs"]
cell = attrs["cell"]
assert attrs["layers"] == 1, "one layer only"
names = [cell + "/kernel", cell + "/recurrent_kernel", cell + "/bias"]
names += [cell + "/gamma"] if cell == "lnlstm" else []
names += ["dense/kernel", "dense/bias"]
parts = {}                            # a tensor of more than 1 MiB comes in pieces
for fr in frames:
    if fr["name"] in names:
        parts.setdefault(fr["name"], []).append(np.frombuffer(fr["data"], "<f4").reshape(fr["shape"]))
W0 = [torch.tensor(np.concatenate(parts[n]).astype(np.float64)) for n in names]
vocab = [chr(c) for c in np.frombuffer(by["vocab"]["data"], "<u4")]
index = {c: i for i, c in enumerate(vocab)}
with open(text_path, encoding="utf-8") as f:
    text = [index[c] for c in f.read()]
H = W0[1].shape[0]

def step(W, x, h, c):
    K, R, b = W[0], W[1], W[2]
    if cell == "gru":
        a = K[x] + b[0]
        u = h @ R + b[1]
        z = torch.sigmoid(a[:H] + u[:H])
        r = torch.sigmoid(a[H:2*H] + u[H:2*H])
        n = torch.tanh(a[2*H:] + r * u[2*H:])
        return z * h + (1 - z) * n, c
    s = K[x] + h @ R
    if cell == "lnlstm":
        blocks = []
        for q in range(4):
            sq = s[q*H:(q+1)*H]
            blocks.append((sq - sq.mean()) / torch.sqrt(sq.var(unbiased=False) + 1e-5))
        s = torch.cat(blocks) * W[3]
    z = s + b
    i, f, g, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2*H]), torch.tanh(z[2*H:3*H]), torch.sigmoid(z[3*H:])
    c = f * c + i * g
    return o * torch.tanh(c), c

W = [w.clone() for w in W0]
ms = [torch.zeros_like(w) for w in W0]
h, c = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
total, count, i = 0.0, 0, 0
for a in range(0, len(text) - 1, seg):
    x = text[a:a + seg + 1]
    T = len(x) - 1
    Wg = [w.clone().requires_grad_(True) for w in W]
    hh, cc, loss = h, c, 0
    for t in range(T):
        hh, cc = step(Wg, x[t], hh, cc)
        logits = hh @ Wg[-2] + Wg[-1]
        loss = loss - torch.log_softmax(logits, 0)[x[t + 1]]
    total += loss.item()
    count += T
    i += 1
    grads = torch.autograd.grad(loss / T, Wg)
    h, c = hh.detach(), cc.detach()
    r = []
    for k, g in enumerate(grads):
        ms[k] += g * g
        r.append(torch.sqrt(ms[k] / i))
    rbar = torch.cat([x.flatten() for x in r]).mean()
    for k, g in enumerate(grads):
        rate = torch.clamp(r[k] / rbar, max=1 / lam) if lam > 0 else torch.zeros_like(r[k])
        W[k] = W[k] - lr * g / (r[k] + EPS) + lam * rate * (W0[k] - W[k])
print("%.10f %d" % (total / count, count))
