#!/usr/bin/env python3
"""split_stream.py IN OUT SPEC... - rewrite a charpipe stream with its tensors split into
pieces (FORMAT.md: consecutive frames of one name are one tensor split along its first
axis), with Python's gzip and msgpack only (no charpipe code), for tests/test_split.sh.

SPEC is NAME=K: every tensor frame named NAME is cut into K consecutive frames of the same
name along its first axis (as equal as the rows allow; the pieces keep the frame's other
keys, attrs included). Or one of these, to make a split that no reader may accept:
  NAME=dtype    the second piece gets another dtype (its data converted)
  NAME=dims     the second piece gets another second dimension (a column dropped)
  NAME=rank     the second piece gets one dimension less
  NAME=info     an info frame of the same name follows the tensor
  NAME=dup      the second piece repeats the first's last row (a vocab no longer ascending)
  NAME=short    the last piece of the tensor is dropped
  NAME=scalar   the tensor is followed by a scalar of the same name (and so is it)
"""
import gzip
import io
import sys

import msgpack
import numpy as np


def frames_of(path):
    raw = gzip.decompress(open(path, "rb").read())
    return list(msgpack.Unpacker(io.BytesIO(raw), raw=False, max_bin_len=1 << 30))


def array(f):
    return np.frombuffer(f["data"], dtype="<" + f["dtype"]).reshape(f["shape"])


def frame_with(f, a, dtype=None):
    g = dict(f)
    dt = dtype or f["dtype"]
    a = np.array(a, dtype="<" + dt, order="C")     # (0-d stays 0-d)
    g["dtype"], g["shape"], g["data"] = dt, list(a.shape), a.tobytes()
    return g


def cut(f, k):
    a = array(f)
    bounds = [round(i * a.shape[0] / k) for i in range(k + 1)]
    return [frame_with(f, a[bounds[i]:bounds[i + 1]]) for i in range(k) if bounds[i + 1] > bounds[i]]


def rewrite(f, how):
    a = array(f)
    if how in ("dtype", "dims", "rank", "dup"):
        p = cut(f, 2)
        if len(p) < 2:
            sys.exit("split_stream.py: %s has fewer than 2 rows" % f["name"])
        b = array(p[1])
        if how == "dtype":
            p[1] = frame_with(p[1], b, {"u4": "u2", "u1": "u2", "f4": "f8"}.get(f["dtype"], "u4"))
        elif how == "dims":
            if b.ndim < 2:
                sys.exit("split_stream.py: %s has one dimension" % f["name"])
            p[1] = frame_with(p[1], b[:, :-1])
        elif how == "rank":
            p[1] = frame_with(p[1], b.reshape(-1) if b.ndim > 1 else b[:1].reshape(()))
        else:
            p[1] = frame_with(p[1], np.concatenate([array(p[0])[-1:], b]))
        return p
    if how == "info":
        return [f, {"name": f["name"], "attrs": {"note": "not a tensor"}}]
    if how == "short":
        return cut(f, 2)[:1]
    if how == "scalar":
        return [f, frame_with(f, a.reshape(-1)[:1].reshape(()))]
    return cut(f, int(how))


def main():
    src, dst, specs = sys.argv[1], sys.argv[2], dict(s.split("=", 1) for s in sys.argv[3:])
    out = []
    for f in frames_of(src):
        if f.get("name") in ("header", "end"):
            continue
        out += rewrite(f, specs[f["name"]]) if f.get("name") in specs and "dtype" in f else [f]
    packed = [msgpack.packb({"name": "header", "format": "charpipe", "version": 1})]
    packed += [msgpack.packb(f, use_bin_type=True) for f in out]
    packed.append(msgpack.packb({"name": "end", "frames": len(out)}))
    open(dst, "wb").write(gzip.compress(b"".join(packed), mtime=0))


main()
