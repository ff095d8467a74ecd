// drive.mjs PLAYWRIGHT_DIR WEB_DIR CASES OUT - drive charpipe's page in headless Chromium.
//
// Serves WEB_DIR (what make wasm fills) on 127.0.0.1, opens the page in Debian's Chromium with
// playwright-core (from PLAYWRIGHT_DIR/node_modules), and runs the cases of the JSON file CASES
// through the page's own controls, one after another, as a person would:
//   {"name": N, "model": PATH, "kernels": "scalar"|"simd128"|"", "seed": S, "n": N, "t": T,
//    "k": K, "p": P, "rng": R, "mode": 0|1|2, "stops": [..], "screenshot": true}
//       choose the kernel set and the model file (when they are not the ones the page has),
//       set the fields, press Generate, wait for the end; without "n" only load the model;
//       "stop": true starts the sample, waits for text, checks that the page answers while
//       it runs (OUT/N.during: its state and 6 * 7 as the page computed it), presses Stop;
//       "nosimd": true runs the case in a second tab whose WebAssembly.validate says no to
//       every module (a browser without WebAssembly SIMD); "query": "?model=NAME" in a tab
//       opened at that address, which loads the model itself (no "model").
// For each case it writes OUT/N.text (the output area's text), OUT/N.error (the error shown,
// if any), OUT/N.json ({state, made, rate, cps, note, kernels, command, ms}) and, when asked,
// a screenshot OUT/N.png. Every request the pages made goes to OUT/requests.txt (the test
// checks that they all stay on the local server), their console to OUT/console.txt. Exit
// status 1 with a message (and OUT/failure.png) when the page cannot be driven to the end.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pwDir, webDir, casesFile, out] = process.argv.slice(2);
const { chromium } = await import(pathToFileURL(path.join(pwDir, 'node_modules/playwright-core/index.mjs')).href);
const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
const TIMEOUT = Number(process.env.WEB_TIMEOUT_MS || 120000);

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
const server = http.createServer((req, res) => {
  const p = path.join(webDir, decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/\/$/, '/index.html'));
  if (!p.startsWith(path.resolve(webDir)) || !fs.existsSync(p)) { res.writeHead(404); res.end('not found'); return; }
  res.writeHead(200, { 'Content-Type': types[path.extname(p)] || 'application/octet-stream' });
  fs.createReadStream(p).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'charpipe-chromium-'));
let ctx, page;
const requests = [], logs = [];
try {
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  // one tab per variant: the page as it is, and ("nosimd": true) the page in a browser without
  // WebAssembly SIMD (WebAssembly.validate says no to every module, as to the page's probe)
  const tabs = {};
  const tab = async (nosimd, query) => {
    const key = query ? `query ${query}` : nosimd ? 'nosimd' : 'page';
    if (tabs[key]) return tabs[key];
    const p = key === 'page' && ctx.pages()[0] ? ctx.pages()[0] : await ctx.newPage();
    if (nosimd) await p.addInitScript(() => { WebAssembly.validate = () => false; });
    p.on('console', (m) => logs.push(`${key} ${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => logs.push(`${key} pageerror: ${e.message}`));
    await p.goto(url + (query || ''));
    if (query)                        // the page loads the model it is given: wait for that
      await p.waitForFunction(() => (document.body.dataset.loads || '0') !== '0', null, { timeout: TIMEOUT });
    return (tabs[key] = { page: p, chosen: query ? undefined : null, kernels: '' });
  };
  ctx.on('request', (r) => requests.push(r.url()));        // the pages' and their workers'

  for (const c of cases) {
    const t = await tab(c.nosimd, c.query);
    page = t.page;
    const counter = (what) => page.evaluate((w) => document.body.dataset[w] || '0', what);
    const waitCounter = (what, before) => page.waitForFunction(([w, b]) => (document.body.dataset[w] || '0') !== b,
      [what, before], { timeout: TIMEOUT });
    const kernels = c.kernels || '';
    if (kernels !== t.kernels) {      // the page reopens the file it has with the other set
      const before = await counter('loads');
      await page.selectOption('#kernels', kernels);
      t.kernels = kernels;
      if (t.chosen !== null) await waitCounter('loads', before);
    }
    if (c.model !== t.chosen) {
      const before = await counter('loads');
      await page.setInputFiles('#model-file', c.model);
      t.chosen = c.model;
      await waitCounter('loads', before);
    }
    const loaded = !(await page.isDisabled('#generate'));
    if (c.n !== undefined && loaded) {
      await page.fill('#seed', c.seed ?? '');
      await page.fill('#temperature', String(c.t ?? 0));
      await page.fill('#top-k', String(c.k ?? 0));
      await page.fill('#top-p', String(c.p ?? 1));
      await page.fill('#length', String(c.n));
      await page.fill('#rng-seed', c.rng === undefined ? '' : String(c.rng));
      await page.selectOption('#mode', String(c.mode ?? 0));
      while (await page.locator('#stops .chip button').count() > 0) await page.locator('#stops .chip button').first().click();
      for (const s of c.stops || []) {
        await page.fill('#stop-input', s);
        await page.press('#stop-input', 'Enter');
      }
      const before = await counter('runs');
      await page.click('#generate');
      if (c.stop) {
        // text appears while it runs, the page answers, and Stop ends it
        await page.waitForFunction(() => document.querySelector('#made').textContent !== '0', null, { timeout: TIMEOUT });
        const answer = await page.evaluate(() => [document.querySelector('#output').dataset.state, 6 * 7]);
        fs.writeFileSync(path.join(out, `${c.name}.during`), `${answer[0]} ${answer[1]}\n`);
        await page.click('#stop');
        await page.waitForFunction(() => !document.querySelector('#generate').disabled, null, { timeout: TIMEOUT });
      }
      await waitCounter('runs', before);
    }
    const result = await page.evaluate(() => ({
      state: document.querySelector('#output').dataset.state,
      made: document.querySelector('#made').textContent,
      rate: document.querySelector('#rate').textContent,
      kernels: document.querySelector('#kernel-badge').textContent,
      command: document.querySelector('#command').textContent,
      ms: document.querySelector('#output').dataset.ms || '',
      cps: document.querySelector('#output').dataset.rate || '',
      note: document.querySelector('#state-text').textContent,
    }));
    fs.writeFileSync(path.join(out, `${c.name}.text`), await page.evaluate(() => document.querySelector('#output').textContent));
    fs.writeFileSync(path.join(out, `${c.name}.error`), await page.evaluate(() => document.querySelector('#error').textContent));
    fs.writeFileSync(path.join(out, `${c.name}.json`), JSON.stringify(result) + '\n');
    if (c.screenshot) await page.screenshot({ path: path.join(out, `${c.name}.png`), fullPage: true });
  }
} catch (err) {
  console.error(`drive.mjs: ${err.message.split('\n')[0]} (the page's console: ${out}/console.txt, its look: ${out}/failure.png)`);
  process.exitCode = 1;
  if (page) await page.screenshot({ path: path.join(out, 'failure.png') }).catch(() => {});
} finally {
  fs.writeFileSync(path.join(out, 'requests.txt'), requests.join('\n') + '\n');
  fs.writeFileSync(path.join(out, 'console.txt'), logs.join('\n') + '\n');
  if (ctx) await ctx.close();
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
