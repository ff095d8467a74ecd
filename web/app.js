// app.js - the page: choose a model file, set the sampler, watch the text come. The generator
// runs in worker.js (charpipe's C library built to WebAssembly), so the page stays responsive;
// Stop ends that worker and starts a fresh one on the same model.
//
// Two builds of the library sit beside this file: charpipe-simd.wasm (the kernel set
// "simd128", WebAssembly's 128-bit SIMD, and the scalar set) and charpipe.wasm (the scalar set
// alone, for browsers without SIMD). The page takes the SIMD build where the browser
// validates a tiny SIMD module.
'use strict';

const $ = (id) => document.getElementById(id);

// (module (func (result v128) (v128.const i32x4 0 0 0 0)))
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
  10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
const HAVE_SIMD = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
const OPEN_TIMEOUT_MS = 120000;
const SHOWN = 100000;                   // the characters of a long sample on screen: its last ones

const modules = {};                     // build -> Promise of its compiled WebAssembly.Module
function compiled(build) {
  const url = build === 'simd' ? 'charpipe-simd.wasm' : 'charpipe.wasm';
  modules[build] = modules[build] || fetch(url).then((r) => {
    if (!r.ok) throw new Error(`${url}: ${r.status} ${r.statusText} (is the page served from the folder make wasm fills?)`);
    return r.arrayBuffer();
  }).then((b) => WebAssembly.compile(b));
  modules[build].catch(() => { delete modules[build]; });
  return modules[build];
}

const S = {
  model: null,                          // {name, bytes}
  worker: null,
  cancelOpen: null,                     // ends the wait for the worker being opened
  opened: null,                         // the worker's 'opened' message: info, kernels
  running: false,
  stops: [],                            // as typed (with \n escapes)
  req: null,                            // the request running
};

// ---- the worker ------------------------------------------------------------------------------

// A fresh worker with the model open: a promise of its 'opened' message. A worker started
// while another was still opening replaces it: the earlier promise then rejects with
// SUPERSEDED, which its caller ignores.
const SUPERSEDED = new Error('superseded');
function startWorker() {
  if (S.worker) S.worker.terminate();
  if (S.cancelOpen) S.cancelOpen();
  S.opened = null;
  const choice = $('kernels').value;
  const build = choice === 'scalar' || (choice === '' && !HAVE_SIMD) ? 'scalar' : 'simd';
  const w = S.worker = new Worker('worker.js');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${S.model.name}: not read after ${OPEN_TIMEOUT_MS / 1000} s`)), OPEN_TIMEOUT_MS);
    const done = (f, v) => { clearTimeout(timer); S.cancelOpen = null; f(v); };
    S.cancelOpen = () => done(reject, SUPERSEDED);
    w.onmessage = (e) => {
      if (e.data.type === 'opened') done(resolve, e.data);
      else if (e.data.type === 'error') done(reject, new Error(e.data.message));
    };
    w.onerror = (e) => { e.preventDefault(); done(reject, new Error(e.message || 'the generator failed to start')); };
    if (choice === 'simd128' && !HAVE_SIMD) {
      done(reject, new Error('simd128: this browser does not run WebAssembly SIMD; choose scalar'));
      return;
    }
    compiled(build).then((module) => {
      if (S.worker === w) w.postMessage({ type: 'open', module, name: S.model.name, bytes: S.model.bytes, kernels: choice });
    }, (err) => done(reject, err));
  }).then((m) => {
    S.opened = m;
    return m;
  });
}

function describe(info) {
  const cell = { lstm: 'LSTM', gru: 'GRU', lnlstm: 'layer-norm LSTM' }[info.cell];
  const layers = info.L > 1 ? `${info.L} layers × ${info.H}` : `1 layer × ${info.H}`;
  const unit = info.bytes ? 'bytes' : 'characters';
  const how = info.streams ? `trained with the state carried (${info.streams} streams)` : `trained on windows of ${info.maxlen}`;
  return `<b>${cell}</b>, ${layers} · <b>${info.V}</b> ${unit}${info.lower ? ' (lowercased)' : ''} · ${how}`;
}

async function loadModel(name, bytes) {
  S.model = { name, bytes };
  $('model-name').textContent = name;
  $('model-info').textContent = `reading ${(bytes.byteLength / 1024).toFixed(1)} KiB…`;
  setState('loading', 'reading the model…');
  $('command').textContent = '';
  $('generate').disabled = true;
  clearError();
  try {
    const m = await startWorker();
    $('model-info').innerHTML = describe(m.info);
    $('kernel-badge').textContent = m.kernels;
    setState('ready', 'ready');
    $('generate').disabled = false;
  } catch (err) {
    if (err === SUPERSEDED) return;
    $('model-info').textContent = 'not loaded';
    $('kernel-badge').textContent = '';
    showError(err.message);
    setState('error', 'model not loaded');
  }
  count('loads');
}

// Counters of finished loads and runs on <body data-loads data-runs>: what a test waits for.
function count(what) {
  document.body.dataset[what] = String(Number(document.body.dataset[what] || 0) + 1);
}

// ---- generating ------------------------------------------------------------------------------

function unescapeStop(s) {              // as sample --stop: \n, \t, \\ (others as typed)
  return s.replace(/\\([nt\\])/g, (_, c) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

function number(id, lo, hi, what, int) {
  const el = $(id), v = Number(el.value);
  if (el.value.trim() === '' || !Number.isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v)))
    throw new Error(`${what}: ${el.value.trim() || '(empty)'} is not ${int ? 'an integer' : 'a number'} in ${lo} .. ${hi}`);
  return v;
}

function readRequest() {
  addPendingStop();
  // sample --rng-seed's range; empty: a new one, shown with the command line after the run
  let seed = $('rng-seed').value.trim();
  if (seed === '') {
    seed = String(crypto.getRandomValues(new Uint32Array(1))[0] >>> 1);
  } else if (!/^\d{1,10}$/.test(seed) || Number(seed) > 2147483647) {
    throw new Error(`random seed: ${seed} is not an integer in 0 .. 2147483647`);
  }
  return {
    type: 'generate',
    prompt: $('seed').value,
    n: number('length', 0, 1e9, 'length', true),
    temperature: number('temperature', 0, 100, 'temperature'),
    topK: number('top-k', 0, 2097152, 'top-k', true),
    topP: number('top-p', 1e-9, 1, 'top-p'),
    seed,
    mode: Number($('mode').value),
    stops: S.stops.map(unescapeStop),
  };
}

function quote(s) {
  return /^[A-Za-z0-9_.,:/=+@%-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function commandLine(r) {
  const a = ['sample', '-m', quote(S.model.name)];
  if (r.mode === 1) a.push('--stateful');
  if (r.mode === 2) a.push('--window');
  if (r.prompt !== '') a.push('--seed', quote(r.prompt));
  a.push('-n', String(r.n));
  if (r.temperature > 0) {
    a.push('-t', String(r.temperature));
    if (r.topK) a.push('-k', String(r.topK));
    if (r.topP < 1) a.push('-p', String(r.topP));
  }
  for (const s of S.stops) a.push('--stop', quote(s));
  if (r.temperature > 0 || r.prompt === '') a.push('--rng-seed', r.seed);
  if (S.opened && S.opened.kernels === 'scalar') a.unshift('CHARPIPE_KERNEL=scalar');
  return a.join(' ');
}

function generate() {
  if (S.running || !S.opened) return;
  clearError();
  let r;
  try {
    r = readRequest();
  } catch (err) {
    showError(err.message);
    return;
  }
  S.req = r;
  const out = $('output');
  out.textContent = '';
  const prompt = document.createElement('span');
  prompt.className = 'prompt';
  const gen = document.createElement('span');
  gen.className = 'gen';
  const caret = document.createElement('span');
  caret.className = 'caret';
  out.append(prompt, gen, caret);
  $('made').textContent = '0';
  $('rate').textContent = '–';
  $('progress').value = 0;
  $('command').textContent = '';
  delete out.dataset.rate;
  setRunning(true);
  setState('running', 'writing…');
  const t0 = performance.now();
  const w = S.worker;
  // The text is drawn once a frame at most, and of a long sample only the last SHOWN
  // characters: laying out a growing text costs its length each time, which would starve the
  // page (and its Stop button) on a slow or busy machine. Copy takes the whole text.
  let all = '', drawn = 0, pending = false;
  S.text = () => prompt.textContent + all;
  const draw = () => {
    pending = false;
    if (drawn === all.length) return;
    const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 24;
    if (all.length <= SHOWN) gen.append(all.slice(drawn));
    else gen.textContent = '…' + all.slice(all.length - SHOWN);
    drawn = all.length;
    if (stick) out.scrollTop = out.scrollHeight;
  };
  S.draw = draw;
  w.onmessage = (e) => {
    const m = e.data;
    if (w !== S.worker) return;
    if (m.type === 'text') {
      if (m.prompt) prompt.append(m.text);
      else all += m.text;
      if (!pending) {
        pending = true;
        requestAnimationFrame(draw);
      }
      progress(m.made, m.ms, r.n);
    } else if (m.type === 'done') {
      draw();
      progress(m.made, m.ms, r.n);
      $('progress').value = 1;
      out.dataset.ms = String(performance.now() - t0);
      let note = m.made < r.n ? `done: ended at a stop string after ${m.made.toLocaleString()} characters` : 'done';
      if (m.stopsUnused) {
        note += ` (${m.stopsUnused} stop string${m.stopsUnused > 1 ? 's hold' : ' holds'} a character the model does not know: never met)`;
      }
      finish('done', note);
    } else if (m.type === 'error') {
      draw();
      showError(m.message);
      finish('error', 'failed');
    }
  };
  w.onerror = (e) => {
    e.preventDefault();
    showError(e.message || 'the generator failed');
    finish('error', 'failed');
    restart();
  };
  w.postMessage(r);
}

function progress(made, ms, n) {
  $('made').textContent = made.toLocaleString();
  if (ms > 0 && made > 0) {
    const rate = made / (ms / 1000);
    $('rate').textContent = Math.round(rate).toLocaleString();
    $('output').dataset.rate = rate.toFixed(1);
  }
  $('progress').value = n > 0 ? made / n : 1;
}

function finish(state, text) {
  setRunning(false);
  setState(state, text);
  if (S.req && state !== 'error') $('command').textContent = `same as: ${commandLine(S.req)}`;
  count('runs');
}

function stop() {
  if (!S.running) return;
  S.draw();
  finish('stopped', 'stopped');
  restart();
}

// A fresh worker on the same model (after Stop, or a failure).
function restart() {
  $('generate').disabled = true;
  startWorker().then(() => { $('generate').disabled = false; },
    (err) => { if (err !== SUPERSEDED) { showError(err.message); setState('error', 'model not loaded'); } });
}

// ---- the page's state ------------------------------------------------------------------------

function setRunning(on) {
  S.running = on;
  $('generate').disabled = on || !S.opened;
  $('stop').disabled = !on;
  $('copy').disabled = on || !$('output').querySelector('.gen');
}

function setState(state, text) {
  $('output').dataset.state = state;
  $('state-text').textContent = text;
}

function showError(msg) {
  $('error').textContent = msg;
  $('error').classList.add('show');
}

function clearError() {
  $('error').textContent = '';
  $('error').classList.remove('show');
}

function renderStops() {
  const box = $('stops');
  box.textContent = '';
  S.stops.forEach((s, i) => {
    const chip = document.createElement('span');
    chip.className = 'chip';
    chip.append(s);
    const x = document.createElement('button');
    x.textContent = '×';
    x.title = 'remove';
    x.onclick = () => { S.stops.splice(i, 1); renderStops(); };
    chip.append(x);
    box.append(chip);
  });
}

function addPendingStop() {
  const v = $('stop-input').value;
  if (v !== '' && !S.stops.includes(v)) S.stops.push(v);
  $('stop-input').value = '';
  renderStops();
}

// ---- wiring ----------------------------------------------------------------------------------

const MAX_FILE = 2 ** 31;               // what a worker can copy and a 32-bit module hold

function chooseFile(f) {
  if (!f) return;
  if (f.size > MAX_FILE) {
    showError(`${f.name}: ${(f.size / 2 ** 30).toFixed(1)} GiB: larger than the page can hold (2 GiB)`);
    return;
  }
  f.arrayBuffer().then((b) => loadModel(f.name, b), (err) => showError(`${f.name}: ${err.message}`));
}

$('drop').onclick = () => $('model-file').click();
$('drop').onkeydown = (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('model-file').click(); } };
$('model-file').onchange = (e) => { chooseFile(e.target.files[0]); e.target.value = ''; };
for (const ev of ['dragenter', 'dragover']) {
  document.addEventListener(ev, (e) => { e.preventDefault(); $('drop').classList.add('over'); });
}
for (const ev of ['dragleave', 'drop']) {
  document.addEventListener(ev, (e) => { e.preventDefault(); $('drop').classList.remove('over'); });
}
document.addEventListener('drop', (e) => chooseFile(e.dataTransfer.files[0]));

$('temperature-range').oninput = (e) => { $('temperature').value = e.target.value; };
$('temperature').oninput = (e) => { $('temperature-range').value = e.target.value; };
$('stop-input').onkeydown = (e) => { if (e.key === 'Enter') { e.preventDefault(); addPendingStop(); } };
$('generate').onclick = generate;
$('stop').onclick = stop;
$('copy').onclick = () => {
  navigator.clipboard.writeText(S.text ? S.text() : $('output').textContent).then(() => {
    $('copy').textContent = 'Copied';
    setTimeout(() => { $('copy').textContent = 'Copy text'; }, 1200);
  }, (err) => showError(`copy: ${err.message}`));
};
$('kernels').onchange = () => { if (S.model && !S.running) loadModel(S.model.name, S.model.bytes); };
document.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) generate(); });
// index.html?model=NAME opens NAME from the page's own site: a model published beside the page
// (a relative address; another site's needs its CORS consent)
const published = new URLSearchParams(location.search).get('model');
if (published) {
  const name = published.split('/').pop() || published;
  fetch(published)
    .then((r) => {
      if (!r.ok) throw new Error(`${r.status} ${r.statusText || 'error'}`);
      return r.arrayBuffer();
    })
    .then((b) => loadModel(name, b), (err) => { showError(`${published}: ${err.message}`); count('loads'); });
}
if (!HAVE_SIMD) {
  $('kernels').querySelector('option[value=simd128]').disabled = true;
  $('kernels').options[0].textContent = 'fastest here (scalar: no SIMD in this browser)';
}
