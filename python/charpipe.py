"""charpipe - generate text from a charpipe model, and score text with it, from Python.

A thin ctypes layer over the shared library libcharpipe.so.1 (lib/charpipe.h): no compiled
extension, nothing to install but this file and the library.

    import charpipe
    m = charpipe.Model("model")
    print("ROMEO:" + m.generate("ROMEO:", n=200, temperature=0.8, stop=["\\n\\n"]))
    print(m.score("To be, or not to be"))     # nats per character, as evaluate reports

generate() returns the text 'sample' writes after the seed for the same options (seed= is
sample's --rng-seed); score() is evaluate's loss_nats. A model trained on bytes (vocab --bytes)
takes and returns bytes; one trained on code points, str.

The library is found, in this order: the path in CHARPIPE_LIB; the build tree this file sits
in (../build/libcharpipe.so.1, after make); the system's (ldconfig, LD_LIBRARY_PATH, as after
make install). CHARPIPE_KERNEL names the kernel set, as for the tools.
"""
import ctypes
import os

__all__ = ["Model", "CharpipeError", "library_version"]


class CharpipeError(Exception):
    """A failure of the library: .status is its CP_E... code, str() its message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class _GenOptions(ctypes.Structure):
    _fields_ = [("n", ctypes.c_long), ("temperature", ctypes.c_double), ("top_k", ctypes.c_int),
                ("top_p", ctypes.c_double), ("seed", ctypes.c_uint64), ("mode", ctypes.c_int),
                ("stop", ctypes.POINTER(ctypes.c_char_p)), ("nstop", ctypes.c_int),
                ("skip_unknown", ctypes.c_int)]


_MODES = {"default": 0, "stateful": 1, "window": 2}
_lib = None


def _library():
    global _lib
    if _lib is not None:
        return _lib
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("CHARPIPE_LIB"),
                  os.path.join(here, "..", "build", "libcharpipe.so.1"), "libcharpipe.so.1"]
    errors = []
    for c in candidates:
        if not c or (os.sep in c and not os.path.exists(c)):
            continue
        try:
            lib = ctypes.CDLL(c)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise OSError("charpipe: libcharpipe.so.1 not found (make builds it in build/; set CHARPIPE_LIB"
                      " to its path, or make install)" + ("".join("; " + e for e in errors)))
    P, sz, err = ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p
    lib.cp_version.restype = P
    lib.cp_version_number.restype = ctypes.c_int
    lib.cp_strerror.restype = P
    lib.cp_strerror.argtypes = [ctypes.c_int]
    lib.cp_open.argtypes = [P, P, ctypes.POINTER(ctypes.c_void_p), err, sz]
    lib.cp_close.argtypes = [ctypes.c_void_p]
    lib.cp_close.restype = None
    ip = ctypes.POINTER(ctypes.c_int)
    lib.cp_model_info.argtypes = [ctypes.c_void_p, ip, ip, ip, ip, ip, ip]
    lib.cp_gen_options_init.argtypes = [ctypes.POINTER(_GenOptions)]
    lib.cp_gen_options_init.restype = None
    lib.cp_generate.argtypes = [ctypes.c_void_p, P, sz, ctypes.POINTER(_GenOptions),
                                ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(sz), ip, err, sz]
    lib.cp_score.argtypes = [ctypes.c_void_p, P, sz, ctypes.c_int, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_double), err, sz]
    lib.cp_free.argtypes = [ctypes.c_void_p]
    lib.cp_free.restype = None
    if lib.cp_version_number() // 1000 != 1:
        raise OSError("charpipe: %s is version %s; this module speaks version 1"
                      % (c, lib.cp_version().decode()))
    _lib = lib
    return lib


def library_version():
    """The loaded library's version, e.g. '1.0 (charpipe 0.2)'."""
    return _library().cp_version().decode()


def _check(status, err):
    if status != 0:
        raise CharpipeError(status, err.value.decode("utf-8", "replace"))


class Model:
    """A model file as train writes it, open for generating and scoring."""

    def __init__(self, path, kernels=None):
        lib = _library()
        kernels = kernels if kernels is not None else os.environ.get("CHARPIPE_KERNEL") or None
        err = ctypes.create_string_buffer(512)
        handle = ctypes.c_void_p()
        _check(lib.cp_open(os.fsencode(path), kernels.encode() if kernels else None,
                           ctypes.byref(handle), err, len(err)), err)
        self._m = handle
        vals = [ctypes.c_int() for _ in range(6)]
        lib.cp_model_info(self._m, *[ctypes.byref(v) for v in vals])
        self.vocab_size, self.hidden, self.layers, self.maxlen = (v.value for v in vals[:4])
        self.stateful, self.bytes = bool(vals[4].value), bool(vals[5].value)

    def close(self):
        if getattr(self, "_m", None):
            _library().cp_close(self._m)
            self._m = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _bytes(self, s):
        return s if isinstance(s, (bytes, bytearray)) else s.encode("utf-8")

    def _handle(self):
        if not getattr(self, "_m", None):
            raise ValueError("charpipe: the model is closed")
        return self._m

    def generate(self, prompt=None, n=200, temperature=0.0, top_k=0, top_p=1.0, seed=0, stop=None,
                 mode="default", skip_unknown=False):
        """The text generated after prompt (not repeated), n characters or until a stop string
        (not included). prompt None: the first character is drawn at random and begins the
        result. mode: "default" (stateful for models of train --streams, else the window),
        "stateful" or "window". Returns str, or bytes for a byte-level model."""
        lib = _library()
        if isinstance(stop, (str, bytes)):
            stop = [stop]
        stops = [self._bytes(s) for s in (stop or [])]
        if any(len(s) == 0 or b"\0" in s for s in stops):
            raise ValueError("charpipe: a stop string is empty or holds a NUL")
        o = _GenOptions()
        lib.cp_gen_options_init(ctypes.byref(o))
        o.n, o.temperature, o.top_k, o.top_p, o.seed = n, temperature, top_k, top_p, seed
        if mode not in _MODES:
            raise ValueError("charpipe: mode must be one of %s" % ", ".join(_MODES))
        o.mode, o.skip_unknown = _MODES[mode], int(bool(skip_unknown))
        arr = (ctypes.c_char_p * max(len(stops), 1))(*stops)
        o.stop, o.nstop = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)), len(stops)
        p = None if prompt is None else self._bytes(prompt)
        out, size = ctypes.c_void_p(), ctypes.c_size_t()
        err = ctypes.create_string_buffer(512)
        _check(lib.cp_generate(self._handle(), p, len(p) if p is not None else 0, ctypes.byref(o),
                               ctypes.byref(out), ctypes.byref(size), None, err, len(err)), err)
        try:
            data = ctypes.string_at(out, size.value)
        finally:
            lib.cp_free(out)
        return data if self.bytes else data.decode("utf-8")

    def score(self, text, streams=-1, threads=0):
        """The mean cross-entropy of text in nats per predicted character, as evaluate reports
        it (streams: evaluate --streams; -1 its default). threads: 0 for all CPUs."""
        t = self._bytes(text)
        nats = ctypes.c_double()
        err = ctypes.create_string_buffer(512)
        _check(_library().cp_score(self._handle(), t, len(t), streams, threads, ctypes.byref(nats),
                                   err, len(err)), err)
        return nats.value
