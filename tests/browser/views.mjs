// views.mjs: drives Debian's chromium through every view of the dashboard on a live
// meshsnapd and checks that each renders real data, with no console error and no failed
// request; changes a packet filter and opens a packet; writes a screenshot per view.
//
//   node tests/browser/views.mjs BASE_URL OUT_DIR [NODE_MODULES]
//
// NODE_MODULES: where playwright-core is installed (default: ui/node_modules next to this
// file's tree). CHROMIUM: the browser (default /usr/bin/chromium). Prints one JSON line per
// check; exit status 0 when all passed, 1 on the first failure (with the reason).
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const [base, outDir, nmArg] = process.argv.slice(2);
if (!base || !outDir) {
  console.error('usage: views.mjs BASE_URL OUT_DIR [NODE_MODULES]');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const nm = nmArg || path.join(here, '..', '..', 'ui', 'node_modules');
const require = createRequire(path.join(path.resolve(nm), 'noop.js'));
const { chromium } = require('playwright-core');
fs.mkdirSync(outDir, { recursive: true });

const problems = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
// The WebSocket feed at / is tried once and dropped silently when the server has none;
// Chromium itself logs that failed handshake, the one console line not counted as an error.
const wsNoise = /^WebSocket connection to 'wss?:\/\/[^']*\/' failed/;
// A 503 with Retry-After (an analytic still being computed) is the API's way to say "ask
// again"; the page does, and Chromium logs the 503 itself: neither counts.
const retryNoise = /^Failed to load resource: the server responded with a status of 503/;
page.on('console', m => { if (m.type() === 'error' && !wsNoise.test(m.text()) && !retryNoise.test(m.text())) problems.push('console: ' + m.text()); });
page.on('pageerror', e => problems.push('page error: ' + e.message));
// Chromium reports a body-less answer to fetch() (the 304 of a poll with If-None-Match) as
// net::ERR_ABORTED after its response arrived; such a request did not fail.
const notModified = new Set();
page.on('requestfailed', r => {
  const err = r.failure() && r.failure().errorText;
  if (err === 'net::ERR_ABORTED' && notModified.has(r)) return;
  problems.push(`request failed: ${r.url()} ${err}`);
});
page.on('response', r => {
  if (r.status() === 304 || r.status() === 204) notModified.add(r.request());
  if (r.status() === 503 && r.headers()['retry-after']) return;
  if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
});
// nothing may leave the machine
await context.route(u => !u.href.startsWith(base) && !u.href.startsWith('data:'), r => { problems.push('external request: ' + r.request().url()); r.abort(); });

const T = { timeout: 30000 };
let advertKey = '';
async function check(name, fn) {
  const t0 = Date.now();
  await fn();
  await page.screenshot({ path: path.join(outDir, `ui-${name}.png`), fullPage: false });
  if (problems.length) throw new Error(`${name}: ${problems.join('; ')}`);
  console.log(JSON.stringify({ view: name, ok: true, ms: Date.now() - t0 }));
}
const count = sel => page.locator(sel).count();
async function atLeast(sel, n, what) {
  await page.waitForFunction(([s, k]) => document.querySelectorAll(s).length >= k, [sel, n], T)
    .catch(() => { throw new Error(`${what}: fewer than ${n} of ${sel}`); });
}

try {
  await check('overview', async () => {
    // cold: what a first visit transfers (headers and gzip bodies) until the page is idle
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    let bytes = 0;
    const onDone = e => { bytes += e.encodedDataLength; };
    cdp.on('Network.loadingFinished', onDone);
    await page.goto(base + '/', { waitUntil: 'load' });
    await atLeast('#totals .card', 6, 'overview totals');
    await atLeast('#pph svg rect', 12, 'packets per hour bars');
    await page.waitForLoadState('networkidle', T).catch(() => {});
    cdp.off('Network.loadingFinished', onDone);
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
    console.log(JSON.stringify({ overviewBytes: bytes }));
    if (bytes > 150 * 1024) throw new Error(`overview: ${bytes} bytes transferred, over the 150 KB budget`);
    if (bytes < 5000) throw new Error(`overview: only ${bytes} bytes counted`);
    await atLeast('#pph svg rect', 12, 'packets per hour bars');
    const tx = await page.locator('#totals .card .v').first().textContent();
    if (!/^[1-9][\d,]*$/.test(tx.trim())) throw new Error('overview: transmissions total is ' + tx);
    await page.getByRole('link', { name: '7 d' }).click();
    await atLeast('#pph svg rect', 25, 'packets per hour over 7 d');
    const snap = await page.locator('#snapshot').textContent();
    if (!/generation/.test(snap)) throw new Error('overview: no snapshot generation');
  });

  await check('packets', async () => {
    await page.goto(base + '/#/packets');
    await atLeast('#packets tbody tr[data-hash]', 5, 'packet rows');
    // a filter change: ADVERT only (payload type 4)
    await page.selectOption('#f-type', '4');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#packets tbody tr[data-hash]')];
      return rows.length > 0 && rows.every(r => r.children[1].textContent === 'ADVERT') && location.hash.includes('type=4');
    }, null, T).catch(() => { throw new Error('packets: the type filter did not narrow the table to ADVERT'); });
    // a packet click: decoded fields, path, observations
    await page.locator('#packets tbody tr[data-hash]').first().click();
    await atLeast('#decoded dt', 3, 'decoded fields');
    await atLeast('#observations tbody tr', 1, 'observations');
    const dec = await page.locator('#decoded').textContent();
    if (!/ADVERT/.test(dec)) throw new Error('packets: the decoded fields do not name ADVERT');
    advertKey = (await page.locator('#decoded dt:text-is("pubKey") + dd').textContent()).trim();
    const snr = await page.locator('#observations tbody tr td').nth(2).textContent();
    if (!/^-?\d/.test(snr)) throw new Error('packets: observation SNR is ' + snr);
  });

  await check('nodes', async () => {
    await page.goto(base + '/#/nodes');
    await atLeast('#nodes tbody tr td a', 5, 'node rows');
    await page.selectOption('#f-role', 'repeater');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#nodes tbody tr')];
      return rows.length > 0 && rows.every(r => r.children[1] && r.children[1].textContent === 'repeater');
    }, null, T).catch(() => { throw new Error('nodes: the role filter did not narrow the list'); });
  });

  await check('node', async () => {
    // a click in the list opens a node's page
    await page.locator('#nodes tbody tr td a').first().click();
    await page.waitForSelector('#node', T);
    const key = await page.locator('#node dd').first().textContent();
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error('node page: public key ' + key);
    // the page of the node whose advert was opened above lists that advert and its paths
    await page.goto(base + '/#/nodes/' + advertKey);
    await page.waitForFunction(k => document.querySelector('#node dd')?.textContent === k, advertKey, T);
    await atLeast('#adverts tbody tr', 1, 'node adverts');
  });

  await check('map', async () => {
    await page.goto(base + '/#/map');
    await atLeast('#map .leaflet-interactive', 10, 'map markers');
    const txt = await page.locator('#map-count').textContent();
    if (!/^[1-9]\d* nodes placed, [1-9]\d* neighbour links/.test(txt)) throw new Error('map: ' + txt);
  });

  const analytics = { rf: '#analytic .uplot', topology: '#top-repeaters tbody tr', distance: '#top-hops tbody tr',
    channels: '#channels tbody tr', 'hash-sizes': '#hash-dist tbody tr', 'hash-collisions': '#analytic h2',
    subpaths: '#subpaths tbody tr', roles: '#roles tbody tr', 'clock-skew': '#node-skew tbody tr' };
  for (const [name, sel] of Object.entries(analytics)) {
    await check('analytics-' + name, async () => {
      await page.goto(base + '/#/analytics/' + name);
      await page.waitForSelector(`#analytic[data-name="${name}"]`, T);
      await atLeast(sel, 1, 'analytics ' + name);
      if (await count('#analytic [role=alert]')) throw new Error('analytics ' + name + ': ' + await page.locator('#analytic [role=alert]').first().textContent());
    });
  }

  // phone width, dark mode: the overview still renders
  await check('overview-phone-dark', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(base + '/');
    await page.locator('#theme').click();
    await atLeast('#totals .card', 6, 'overview on a phone');
    const theme = await page.evaluate(() => document.documentElement.dataset.theme);
    if (!theme) throw new Error('theme switch did nothing');
  });
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: e.message }));
  await browser.close();
  process.exit(1);
}
await browser.close();
console.log(JSON.stringify({ ok: true }));
