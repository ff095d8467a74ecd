"""hostile_model.py IN OUT CASE - write OUT, the model file IN with one thing changed (CASE),
as a hostile or damaged model file would be. Independent of charpipe's code: gzip + msgpack.
`hostile_model.py IN - list` prints the cases that apply to IN (windows or streams layout)."""
import gzip, sys
import msgpack, numpy as np

src, dst, case = sys.argv[1:4]
with gzip.open(src, "rb") as f:
    frames = list(msgpack.Unpacker(f, raw=False))
body = frames[1:-1]
names = [f["name"] for f in body]
M = body[names.index("model")]["attrs"]
streams = M.get("layout") == "streams"
cell = M["cell"]

def get(name):
    return body[[f["name"] for f in body].index(name)]

def arr(f):
    return np.frombuffer(f["data"], "<" + f["dtype"]).reshape(f["shape"]).copy()

def put(f, a):
    f["data"] = a.astype("<" + f["dtype"]).tobytes()
    f["shape"] = list(a.shape)

def edit(name, fn):
    f = get(name)
    a = arr(f)
    r = fn(a)
    put(f, a if r is None else r)

def drop(name):
    body.remove(get(name))

def setitem(name, idx, value):
    def fn(a):
        a.flat[idx] = value
    edit(name, fn)

def state(value_h=0.0, value_c=0.0, B=None):
    """mid-epoch carried state frames (L, B, H), as train writes them after SIGINT"""
    L, H = M["layers"], M["hidden"]
    B = M["streams"] if B is None else B
    for n, v in (("state/h", value_h), ("state/c", value_c)):
        body.append({"name": n, "dtype": "f4", "shape": [L, B, H],
                     "data": np.full((L, B, H), v, "<f4").tobytes()})

def midepoch():
    M["epoch_batches"] = 1
    M["steps"] = M["steps"] + 1
    state(0.25, -0.5)

def split(name, where):
    """tensor name in two frames of the same name along the first axis; where: 'gap' puts
    another frame between them, 'short' keeps only the first"""
    f = get(name)
    a = arr(f)
    i = body.index(f)
    p1, p2 = dict(f), dict(f)
    put(p1, a[:1])
    put(p2, a[1:])
    body[i:i + 1] = [p1] if where == "short" else [p1, get("vocab"), p2] if where == "gap" else [p1, p2]

def near_bound():
    """every kernel at 0.9 of the largest magnitude a model of H units may hold (lib/model.c
    max_weight: sqrt(FLT_MAX) / (2H + 2)), signs kept: finite, and must stay usable"""
    lim = 0.9 * np.sqrt(np.float64(np.finfo(np.float32).max)) / (2 * M["hidden"] + 2)
    for f in body:
        if "dtype" in f and "kernel" in f["name"] and not f["name"].startswith("adam/"):
            edit(f["name"], lambda a: np.where(a < 0, -lim, lim))

k0 = cell + "/kernel"
cases = {
    # the same file: must be accepted (the writer round-trips)
    "identity": lambda: None,
    "split_pieces": lambda: split(k0, "ok"),
    # the model frame: dimensions
    "hidden_claims_8192": lambda: M.update(hidden=8192, layers=8),
    "maxlen_claims_100000": lambda: M.update(maxlen=100000),
    "vocab_size_off_by_one": lambda: M.update(vocab_size=M["vocab_size"] + 1),
    "layers_zero": lambda: M.update(layers=0),
    "layout_unknown": lambda: M.update(layout="grid"),
    "targets_unknown": lambda: M.update(targets="some"),
    # the model frame: training settings
    "batch_huge": lambda: M.update(batch=1 << 30),
    "batch_zero": lambda: M.update(batch=0),
    "batch_string": lambda: M.update(batch="64"),
    "val_split_one": lambda: M.update(val_split=1.0),
    "val_split_negative": lambda: M.update(val_split=-0.5),
    "val_split_nan": lambda: M.update(val_split=float("nan")),
    "lr_negative": lambda: M.update(lr=-0.001),
    "lr_infinite": lambda: M.update(lr=float("inf")),
    "dropout_one": lambda: M.update(dropout=1.0),
    "beta1_one": lambda: M.update(beta1=1.0),
    "beta2_below_beta1_squared": lambda: M.update(beta2=0.5),
    "epsilon_zero": lambda: M.update(epsilon=0.0),
    "clip_negative": lambda: M.update(clip=-1.0),
    "decay_every_zero": lambda: M.update(decay_every=0),
    "schedule_unknown": lambda: M.update(schedule="warp"),
    "epochs_negative": lambda: M.update(epochs=-1),
    "steps_below_epoch_batches": lambda: M.update(epoch_batches=5, steps=2),
    "epoch_batches_beyond_data": lambda: M.update(epoch_batches=10**9, steps=10**9),
    "loss_negative": lambda: M.update(train_loss=-1.0),
    # the vocabulary
    "vocab_unsorted": lambda: edit("vocab", lambda a: a[::-1].copy()),
    "vocab_duplicate": lambda: setitem("vocab", 1, arr(get("vocab"))[0]),
    "vocab_twice": lambda: body.insert(names.index("vocab"), dict(get("vocab"))),
    # weights
    "weight_nan": lambda: setitem("dense/bias", 0, np.nan),
    "weight_huge": lambda: setitem("dense/kernel", 0, 1e30),
    "weight_near_bound": near_bound,
    "weight_missing": lambda: drop("dense/bias"),
    "weight_twice": lambda: body.insert(names.index("dense/bias"), dict(get("dense/bias"))),
    "weight_split_gap": lambda: split(k0, "gap"),
    "weight_cut_short": lambda: split(k0, "short"),
    "weight_wrong_dtype": lambda: get("dense/bias").update(dtype="f8", shape=[M["vocab_size"] // 2]) if M["vocab_size"] % 2 == 0 else get("dense/bias").update(dtype="u4"),
    # the optimizer state and the RNG (train --resume reads them)
    "adam_v_negative": lambda: setitem("adam/v/dense/bias", 0, -1.0),
    "adam_m_beyond_v": lambda: (setitem("adam/m/dense/bias", 0, 1.0), setitem("adam/v/dense/bias", 0, 0.0)),
    "adam_m_nan": lambda: setitem("adam/m/" + k0, 3, np.nan),
    "adam_part_missing": lambda: drop("adam/m/dense/bias"),
    "rng_missing": lambda: drop("rng"),
    "rng_all_zero": lambda: edit("rng", lambda a: np.zeros_like(a)),
    "rng_now_zero": lambda: edit("rng", lambda a: np.concatenate([a[:1], np.zeros_like(a[1:])])),
    "rng_wrong_shape": lambda: edit("rng", lambda a: a.reshape(8)),
    # weight averaging (train --ema): the decay, and the raw weights an averaged model keeps
    "ema_one": lambda: M.update(ema=1.0),
    # where the streams start (train --stream-starts)
    "stream_starts_unknown": lambda: M.update(stream_starts="sometimes"),
    "stream_starts_not_text": lambda: M.update(stream_starts=1),
}
if M.get("ema", 0) > 0:
    cases.update({
        "raw_missing": lambda: [drop(n) for n in names if n.startswith("raw/")],
        "raw_part_missing": lambda: drop("raw/dense/bias"),
        "raw_nan": lambda: setitem("raw/" + k0, 2, np.nan),
        "raw_huge": lambda: setitem("raw/dense/kernel", 0, 1e30),
        "ema_zero_with_raw": lambda: M.update(ema=0.0),
    })
if streams:
    cases.update({
        "midepoch": midepoch,
        "stream_starts_random": lambda: M.update(stream_starts="random"),
        "streams_not_batch": lambda: M.update(batch=M["streams"] + 3),
        "streams_more_than_batch": lambda: M.update(streams=M["streams"] + 3),
        "streams_zero": lambda: M.update(streams=0),
        "streams_targets_last": lambda: M.update(targets="last"),
        "streams_too_many_for_data": lambda: M.update(streams=100000, batch=100000),
        "state_h_only": lambda: (midepoch(), drop("state/c")),
        "state_h_outside": lambda: (M.update(epoch_batches=1, steps=M["steps"] + 1), state(5.0, 0.0)),
        "state_c_infinite": lambda: (M.update(epoch_batches=1, steps=M["steps"] + 1), state(0.0, np.inf)),
        "state_wrong_streams": lambda: (M.update(epoch_batches=1, steps=M["steps"] + 1), state(B=M["streams"] + 1)),
        "state_twice": lambda: (midepoch(), body.append(dict(get("state/h")))),
    })
else:
    cases.update({
        "state_in_windows_model": lambda: (M.update(epoch_batches=1), state(B=2)),
        "targets_every_on_last_data": lambda: M.update(targets="every"),
    })
if case == "list":
    print("\n".join(cases))
    sys.exit(0)
cases[case]()
out = [frames[0]] + body + [{"name": "end", "frames": len(body)}]
with open(dst, "wb") as f:
    f.write(gzip.compress(b"".join(msgpack.packb(x) for x in out), 1))
