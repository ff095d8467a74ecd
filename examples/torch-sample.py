#!/usr/bin/env python3
"""Sample from a charpipe model in PyTorch.

    export-model -m model -o model.safetensors
    python3 examples/torch-sample.py model.safetensors --seed "the " -n 200 [-t 0.8]

The export holds an nn.LSTM (or nn.GRU) named rnn and an nn.Linear named out, as PyTorch's
state_dict names them; its metadata holds the vocabulary and the shape (lib/EXPORT.md). With
-t 0 (the default) the text is the one `sample -m model` writes: greedy, a window of the last
MAXLEN characters from a zero state (or the state carried, for a model trained with
train --streams, as sample does for those).
"""
import argparse, json, struct
import numpy as np
import torch

def load(path):
    """(metadata, state_dict); safetensors.torch.load_file does the same when installed."""
    try:
        from safetensors import safe_open
        from safetensors.torch import load_file
        with safe_open(path, "pt") as f:
            return f.metadata(), load_file(path)
    except ImportError:                        # the format is simple enough to read by hand
        raw = open(path, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        meta = header.pop("__metadata__")
        return meta, {k: torch.from_numpy(np.frombuffer(raw, "<f4", int(np.prod(v["shape"])),
                                                         8 + n + v["data_offsets"][0]).reshape(v["shape"]).copy())
                      for k, v in header.items()}

class CharRNN(torch.nn.Module):
    def __init__(self, cell, V, H, L):
        super().__init__()
        self.V = V
        self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](V, H, num_layers=L, batch_first=True)
        self.out = torch.nn.Linear(H, V)

    def forward(self, x, state=None):          # x (B, T) character indices -> logits (B, T, V)
        y, state = self.rnn(torch.nn.functional.one_hot(x, self.V).float(), state)
        return self.out(y), state

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("export")
    ap.add_argument("--seed", default="", help="the seed text (default: the vocabulary's first character)")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("-t", type=float, default=0, help="temperature; 0 = greedy")
    a = ap.parse_args()
    meta, weights = load(a.export)
    if meta["tensor_layout"] != "torch" or meta["cell"] not in ("lstm", "gru"):
        raise SystemExit("torch-sample.py: needs an lstm or gru model exported in the torch layout"
                         " (the lnlstm has no PyTorch module: see lib/EXPORT.md)")
    vocab = json.loads(meta["vocab"])          # code points, or bytes when meta["unit"] is "byte"
    index = {c: i for i, c in enumerate(vocab)}
    seed = a.seed.lower() if meta["lower"] == "true" else a.seed
    seed = seed.encode("utf-8") if meta["unit"] == "byte" else [ord(ch) for ch in seed]
    N = int(meta["maxlen"])
    net = CharRNN(meta["cell"], len(vocab), int(meta["hidden"]), int(meta["layers"]))
    net.load_state_dict(weights)                # all it takes
    net.eval()
    text = [index[c] for c in seed if c in index] or [0]     # (characters not in it are dropped)
    gen = torch.Generator().manual_seed(1)

    def pick(logits):
        if a.t == 0:
            return int(logits.argmax())
        return int(torch.multinomial(torch.softmax(logits / a.t, 0), 1, generator=gen))

    with torch.no_grad():
        if meta["layout"] == "streams":          # the state carried from character to character
            logits, state = net(torch.tensor([text]))
            for _ in range(a.n):
                text.append(pick(logits[0, -1]))
                logits, state = net(torch.tensor([text[-1:]]), state)
        else:                                    # the window of the last MAXLEN, from zero
            for _ in range(a.n):
                logits, _ = net(torch.tensor([text[-N:]]))
                text.append(pick(logits[0, -1]))
    if meta["unit"] == "byte":
        print(bytes(vocab[i] for i in text).decode("utf-8", "replace"))
    else:
        print("".join(chr(vocab[i]) for i in text))

main()
