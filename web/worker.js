// worker.js - charpipe's generator in a Web Worker, so that the page stays responsive while a
// long sample is written. The page sends:
//   {type: 'open', module, name, bytes, kernels}   a compiled charpipe(-simd).wasm, the model
//                                                  file's name and bytes, the kernel set ('' = best)
//   {type: 'generate', prompt, n, temperature, topK, topP, seed, mode, stops}
// and receives {type: 'opened', info, kernels}, {type: 'text', text, prompt, made, ms} as the
// text becomes final (a message every few tens of milliseconds at most), {type: 'done', made,
// ms, stopsUnused}, or {type: 'error', message} with the tools' own message. To stop a sample, the page
// ends the worker and starts another.
//
// The WebAssembly module is built for WASI (clang --target=wasm32-wasi); the few WASI calls it
// makes are answered here: the model file is the one file there is (read-only, in memory),
// standard output and error go to the console, the clock is performance.now().
'use strict';

const E = { SUCCESS: 0, BADF: 8, INVAL: 28, NOENT: 44, NOSYS: 52, SPIPE: 70 };
const PREOPEN = 3;                      // the one directory, '/', that holds the model file

let inst = null;                        // the instance, its exports
let x = null;
let file = null;                        // {name, bytes}
const open = new Map();                 // fd -> {pos}
let nextFd = 4;
let sink = null;                        // where cpw_emit's text goes during cpw_generate

const mem8 = () => new Uint8Array(x.memory.buffer);
const view = () => new DataView(x.memory.buffer);
const cstr = (p) => {                   // a NUL-terminated string in the module's memory
  const m = mem8();
  let e = p;
  while (m[e]) e++;
  return new TextDecoder().decode(m.subarray(p, e));
};

const wasi = {
  environ_sizes_get(count, size) {
    view().setUint32(count, 0, true);
    view().setUint32(size, 0, true);
    return E.SUCCESS;
  },
  environ_get() { return E.SUCCESS; },
  clock_time_get(id, precision, out) {
    view().setBigUint64(out, BigInt(Math.round(performance.now() * 1e6)), true);
    return E.SUCCESS;
  },
  fd_prestat_get(fd, out) {
    if (fd !== PREOPEN) return E.BADF;
    view().setUint8(out, 0);            // a directory
    view().setUint32(out + 4, 1, true); // its name's length: '/'
    return E.SUCCESS;
  },
  fd_prestat_dir_name(fd, p, len) {
    if (fd !== PREOPEN) return E.BADF;
    if (len >= 1) mem8()[p] = 0x2f;
    return E.SUCCESS;
  },
  fd_fdstat_get(fd, out) {
    const type = fd === PREOPEN ? 3 : open.has(fd) ? 4 : fd <= 2 ? 2 : -1;
    if (type < 0) return E.BADF;
    const v = view();
    v.setUint8(out, type);              // directory, regular file, character device
    v.setUint16(out + 2, 0, true);
    v.setBigUint64(out + 8, 0xffffffffffffffffn, true);
    v.setBigUint64(out + 16, 0xffffffffffffffffn, true);
    return E.SUCCESS;
  },
  path_open(dirfd, dirflags, path, len, oflags, rights, inheriting, fdflags, out) {
    if (dirfd !== PREOPEN) return E.BADF;
    const name = new TextDecoder().decode(mem8().subarray(path, path + len));
    if (!file || name !== file.name || oflags !== 0) return E.NOENT;
    const fd = nextFd++;
    open.set(fd, { pos: 0 });
    view().setUint32(out, fd, true);
    return E.SUCCESS;
  },
  fd_read(fd, iovs, n, out) {
    const f = open.get(fd);
    if (!f && fd !== 0) return E.BADF;
    const v = view(), m = mem8();
    let total = 0;
    for (let i = 0; f && i < n; i++) {
      const p = v.getUint32(iovs + 8 * i, true), l = v.getUint32(iovs + 8 * i + 4, true);
      const k = Math.min(l, file.bytes.length - f.pos);
      m.set(file.bytes.subarray(f.pos, f.pos + k), p);
      f.pos += k;
      total += k;
      if (k < l) break;
    }
    v.setUint32(out, total, true);      // standard input is empty
    return E.SUCCESS;
  },
  fd_seek(fd, offset, whence, out) {
    const f = open.get(fd);
    if (!f) return fd <= 2 ? E.SPIPE : E.BADF;
    const base = [0, f.pos, file.bytes.length][whence];
    const to = Number(offset) + base;
    if (base === undefined || to < 0) return E.INVAL;
    f.pos = to;
    view().setBigUint64(out, BigInt(to), true);
    return E.SUCCESS;
  },
  fd_write(fd, iovs, n, out) {          // nothing in the library prints; if it did, the console
    const v = view();
    let total = 0, s = '';
    for (let i = 0; i < n; i++) {
      const p = v.getUint32(iovs + 8 * i, true), l = v.getUint32(iovs + 8 * i + 4, true);
      s += new TextDecoder().decode(mem8().subarray(p, p + l));
      total += l;
    }
    if (fd === 1 || fd === 2) console.log(s);
    else return E.BADF;
    v.setUint32(out, total, true);
    return E.SUCCESS;
  },
  fd_close(fd) { return open.delete(fd) ? E.SUCCESS : E.BADF; },
  poll_oneoff() { return E.NOSYS; },
  proc_exit(code) { throw new Error(`the generator stopped (exit status ${code})`); },
};

// Text from the generator, passed on in batches: one message per 40 ms at most.
function emit(p, n, prompt) {
  const s = sink;
  const bytes = mem8().slice(p, p + n);
  if (prompt) {
    postMessage({ type: 'text', prompt: true, text: new TextDecoder().decode(bytes), made: 0, ms: 0 });
    return;
  }
  s.pending += s.decoder.decode(bytes, { stream: true });
  const now = performance.now();
  if (now - s.sent >= 40) flush(now);
}

function flush(now) {
  const s = sink;
  postMessage({ type: 'text', prompt: false, text: s.pending, made: x.cpw_made(), ms: now - s.t0 });
  s.pending = '';
  s.sent = now;
}

function fail(where) {
  postMessage({ type: 'error', where, message: cstr(x.cpw_error()) });
}

// Copy bytes into the module's memory (freed by the caller), NUL-terminated.
function put(bytes) {
  const p = x.cpw_alloc(bytes.length + 1);
  const m = mem8();
  m.set(bytes, p);
  m[p + bytes.length] = 0;
  return p;
}

async function openModel(msg) {
  inst = await WebAssembly.instantiate(msg.module, {
    wasi_snapshot_preview1: wasi,
    env: { cpw_emit: emit },
  });
  x = inst.exports;
  x._initialize();
  file = { name: msg.name, bytes: new Uint8Array(msg.bytes) };
  const enc = new TextEncoder();
  const path = put(enc.encode(msg.name)), k = put(enc.encode(msg.kernels || ''));
  const rc = x.cpw_open(path, k);
  x.cpw_free(path);
  x.cpw_free(k);
  file.bytes = null;                    // read: the model is in the module now
  if (rc !== 0) return fail('open');
  const info = x.cpw_alloc(32);
  x.cpw_info(info);
  const v = new Int32Array(x.memory.buffer, info, 8);
  const [V, H, L, maxlen, streams, bytes, lower, cell] = v;
  x.cpw_free(info);
  postMessage({ type: 'opened', kernels: cstr(x.cpw_kernels()),
                info: { V, H, L, maxlen, streams, bytes, lower, cell: ['lstm', 'gru', 'lnlstm'][cell] || 'lstm' } });
}

function generate(msg) {
  const enc = new TextEncoder();
  const prompt = enc.encode(msg.prompt || '');
  const stops = msg.stops.map((s) => enc.encode(s)).filter((b) => b.length > 0 && !b.includes(0));
  const all = new Uint8Array(stops.reduce((a, b) => a + b.length + 1, 0));
  let o = 0;
  for (const b of stops) { all.set(b, o); o += b.length + 1; }
  const pp = put(prompt), sp = put(all);
  sink = { decoder: new TextDecoder(), pending: '', sent: performance.now(), t0: performance.now() };
  const rc = x.cpw_generate(pp, prompt.length, msg.n, msg.temperature, msg.topK, msg.topP,
                            BigInt.asUintN(64, BigInt(msg.seed)), msg.mode, sp, stops.length);
  x.cpw_free(pp);
  x.cpw_free(sp);
  if (rc !== 0) return fail('generate');
  sink.pending += sink.decoder.decode();
  const now = performance.now();
  flush(now);
  postMessage({ type: 'done', made: x.cpw_made(), ms: now - sink.t0, stopsUnused: x.cpw_stops_unused() });
}

onmessage = async (e) => {
  try {
    if (e.data.type === 'open') await openModel(e.data);
    else if (e.data.type === 'generate') generate(e.data);
  } catch (err) {
    postMessage({ type: 'error', where: e.data.type, message: String(err && err.message || err) });
  }
};
