// browse.mjs: drives Debian's Chromium (playwright-core, no downloaded browser) through
// every page of a single-page frontend served by a running meshsnapd, and reports what
// went wrong: console errors, uncaught page errors, failed requests (HTTP >= 400 on the
// server's own origin, or a network failure), and whether the live page received the
// WebSocket messages of packets inserted while it was open.
//
// Run by test_browser.py, which starts the daemon and inserts the packets. Protocol on
// stdout/stdin (one JSON object per line):
//   -> {"event":"page", ...}          one per page visited (its figures and problems)
//   -> {"event":"live-ready"}         the live page is open with its socket connected
//   <- {"hashes":[...]}               the hashes of the transmissions inserted since
//   -> {"event":"live", ...}          which of them arrived over the WebSocket
//   -> {"event":"done","failures":N}
// Environment: MSN_BASE (http://127.0.0.1:PORT), MSN_PAGES (JSON [[name, hash route]]),
// MSN_LIVE_ROUTE (the live page's route, empty: no live check), MSN_OUT (screenshot
// folder), CHROMIUM (default /usr/bin/chromium).
//
// Requests that would leave the machine are answered locally and never counted as
// failures: the frontend's CDN libraries (leaflet, leaflet.heat, chart.js) from this
// folder's node_modules (the versions its page names, so their integrity hashes match),
// map tiles with a blank image, anything else with an empty 204. They are listed in each
// page's report.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = process.env.MSN_BASE;
const pages = JSON.parse(process.env.MSN_PAGES || '[]');
const liveRoute = process.env.MSN_LIVE_ROUTE || '';
const outDir = process.env.MSN_OUT || '';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const SETTLE_QUIET_MS = 1200;
const SETTLE_MIN_MS = 2000;
const SETTLE_MAX_MS = 25000;

const origin = new URL(base).origin;
const lines = readline.createInterface({ input: process.stdin });
const stdinQueue = [];
let stdinWaiter = null;
lines.on('line', (l) => {
  if (stdinWaiter) { const w = stdinWaiter; stdinWaiter = null; w(l); } else stdinQueue.push(l);
});
function readLine(timeoutMs) {
  if (stdinQueue.length) return Promise.resolve(stdinQueue.shift());
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { stdinWaiter = null; reject(new Error('no answer on stdin')); }, timeoutMs);
    stdinWaiter = (l) => { clearTimeout(t); resolve(l); };
  });
}
function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

// The CDN files the frontend names, served from node_modules.
const CDN = [
  [/^https:\/\/unpkg\.com\/leaflet@1\.9\.4\/dist\/(.+)$/, 'leaflet/dist/'],
  [/^https:\/\/unpkg\.com\/leaflet\.heat@0\.2\.0\/dist\/(.+)$/, 'leaflet.heat/dist/'],
  [/^https:\/\/unpkg\.com\/chart\.js@4\/dist\/(.+)$/, 'chart.js/dist/'],
];
const TYPES = { '.js': 'application/javascript', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml' };
// 1x1 transparent PNG for map tiles.
const BLANK_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

async function answerExternal(route, note) {
  const url = route.request().url();
  for (const [re, dir] of CDN) {
    const m = url.match(re);
    if (!m) continue;
    const file = path.join(here, 'node_modules', dir, m[1].split('?')[0]);
    if (fs.existsSync(file)) {
      note('cdn ' + url);
      return route.fulfill({
        status: 200, body: fs.readFileSync(file),
        headers: { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
                   'access-control-allow-origin': '*' },
      });
    }
  }
  if (route.request().resourceType() === 'image') {
    note('image ' + url);
    return route.fulfill({ status: 200, body: BLANK_PNG,
                           headers: { 'content-type': 'image/png', 'access-control-allow-origin': '*' } });
  }
  note('other ' + url);
  return route.fulfill({ status: 204, body: '', headers: { 'access-control-allow-origin': '*' } });
}

// Defects of the frontend itself, whatever server answers: an error matching one is
// reported under "tolerated" with its reason instead of counting as a failure. Keep this
// list short and specific (a message and the functions on its stack).
const KNOWN_FRONTEND_DEFECTS = [
  {
    id: 'analytics-theme-race',
    why: "analytics.js re-renders its tab on the 'theme-refresh' event (dispatched 300 ms after " +
         '/api/config/theme arrives) even before its own Promise.all of analytics requests has ' +
         'filled _analyticsData, so renderTab reads fields of undefined; the tab renders again ' +
         'when the data arrives',
    match: (t) => /^TypeError: Cannot read properties of undefined/.test(t) && /_themeRefreshHandler/.test(t) &&
                  /renderTab/.test(t),
  },
];
function knownDefect(text) { return KNOWN_FRONTEND_DEFECTS.find((k) => k.match(text)); }

function shortUrl(u) { return u.startsWith(origin) ? u.slice(origin.length) : u; }

// Opens route in a fresh tab, waits until its requests settle, screenshots it and
// returns its report. hook(page) runs after the settle, before the screenshot.
async function visit(context, name, route, hook) {
  const page = await context.newPage();
  const rep = { event: 'page', name, route, consoleErrors: [], pageErrors: [], failedRequests: [],
                external: [], api: [], tolerated: [], apiCalls: 0, apiBytes: 0, ms: 0 };
  const pending = new Set();
  let lastActivity = Date.now();
  const t0 = Date.now();
  page.on('console', (m) => {
    if (m.type() === 'error') {
      const loc = m.location();
      rep.consoleErrors.push(m.text() + (loc && loc.url ? ' @ ' + shortUrl(loc.url) + ':' + loc.lineNumber : ''));
    }
  });
  page.on('pageerror', (e) => {
    const text = String(e && e.stack || e);
    const k = knownDefect(text);
    if (k) rep.tolerated.push(k.id + ': ' + text.split('\n')[0]); else rep.pageErrors.push(text);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(origin)) return;
    pending.add(r); lastActivity = Date.now();
  });
  page.on('requestfinished', async (r) => {
    pending.delete(r); lastActivity = Date.now();
    if (!r.url().startsWith(origin)) return;
    const resp = await r.response().catch(() => null);
    if (!resp) return;
    const u = shortUrl(r.url());
    if (u.startsWith('/api/')) {
      rep.apiCalls++;
      const len = Number(resp.headers()['content-length'] || 0);
      rep.apiBytes += len;
      const t = r.timing();
      rep.api.push([u, resp.status(), Math.round(t.responseEnd), Math.round(t.startTime - t0)]);
    }
    if (resp.status() >= 400) rep.failedRequests.push(`${r.method()} ${u} -> ${resp.status()}`);
  });
  page.on('requestfailed', (r) => {
    pending.delete(r); lastActivity = Date.now();
    if (!r.url().startsWith(origin)) return;
    rep.failedRequests.push(`${r.method()} ${shortUrl(r.url())} -> ${r.failure() ? r.failure().errorText : 'failed'}`);
  });
  // every socket the page opens (CoreScope's live page has two: app.js's and its own)
  const ws = { sockets: [], packets: 0 };
  page.on('websocket', (sock) => {
    const one = { seen: new Set(), closed: false };
    ws.sockets.push(one);
    sock.on('close', () => { one.closed = true; });
    sock.on('socketerror', (e) => rep.failedRequests.push('WS ' + shortUrl(sock.url()) + ' -> ' + e));
    sock.on('framereceived', (f) => {
      let m = null;
      try { m = JSON.parse(typeof f.payload === 'string' ? f.payload : f.payload.toString()); } catch (e) { return; }
      if (m && m.type === 'packet' && m.data) { ws.packets++; one.seen.add(m.data.hash); }
    });
  });
  await page.route((u) => !u.href.startsWith(origin), (r) => answerExternal(r, (s) => rep.external.push(s)));
  try {
    await page.goto(base + '/' + route, { waitUntil: 'load', timeout: 30000 });
    for (;;) {
      await page.waitForTimeout(200);
      const now = Date.now();
      if (now - t0 > SETTLE_MAX_MS) { rep.unsettled = [...pending].map((r) => shortUrl(r.url())); break; }
      if (now - t0 >= SETTLE_MIN_MS && pending.size === 0 && now - lastActivity >= SETTLE_QUIET_MS) break;
    }
    rep.ms = Date.now() - t0;
    if (hook) await hook(page, rep, ws);
    if (outDir) await page.screenshot({ path: path.join(outDir, name + '.png'), fullPage: false });
  } catch (e) {
    rep.pageErrors.push('visit: ' + String(e && e.message || e));
  }
  // stop counting before the tab goes (closing it aborts what it still has in flight)
  page.removeAllListeners('console');
  page.removeAllListeners('pageerror');
  page.removeAllListeners('requestfinished');
  page.removeAllListeners('requestfailed');
  await page.close().catch(() => {});
  return rep;
}

// The live page: count the packet messages its sockets receive, announce readiness,
// and check that each inserted transmission arrives.
async function liveHook(page, rep, ws) {
  const deadline = Date.now() + 10000;
  while (ws.sockets.filter((x) => !x.closed).length < 2 && Date.now() < deadline) await page.waitForTimeout(100);
  await page.waitForTimeout(500);
  const countText = () => page.evaluate(() => {
    const el = document.getElementById('livePktCount');
    return el ? Number(el.textContent) || 0 : -1;
  });
  const before = await countText();
  emit({ event: 'live-ready' });
  const answer = JSON.parse(await readLine(60000));
  const want = [...new Set(answer.hashes || [])];
  const open = () => ws.sockets.filter((x) => !x.closed);
  const complete = () => open().length > 0 && open().every((x) => want.every((h) => x.seen.has(h)));
  const until = Date.now() + 30000;
  while (!complete() && Date.now() < until) await page.waitForTimeout(200);
  await page.waitForTimeout(1500); // let the page draw them
  rep.live = { sockets: ws.sockets.length, open: open().length, packetMessages: ws.packets, inserted: want.length,
               receivedPerSocket: open().map((x) => want.filter((h) => x.seen.has(h)).length),
               pageCountBefore: before, pageCountAfter: await countText() };
  rep.live.received = Math.min(...(rep.live.receivedPerSocket.length ? rep.live.receivedPerSocket : [0]));
  emit({ event: 'live', ...rep.live });
}

async function main() {
  if (outDir) fs.mkdirSync(outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: chromiumPath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  let failures = 0;
  const count = (rep) => {
    const n = rep.consoleErrors.length + rep.pageErrors.length + rep.failedRequests.length;
    failures += n;
    emit(rep);
  };
  for (const [name, route] of pages) count(await visit(context, name, route));
  if (liveRoute) {
    const rep = await visit(context, 'live-feed', liveRoute, liveHook).catch((e) => ({ event: 'page', name: 'live-feed', route: liveRoute, consoleErrors: [], pageErrors: [String(e)],
                       failedRequests: [], external: [] }));
    if (!rep.live || rep.live.received < rep.live.inserted || rep.live.inserted === 0) failures++;
    count(rep);
  }
  await browser.close();
  emit({ event: 'done', failures });
  process.exit(failures ? 1 : 0);
}

main().catch((e) => { emit({ event: 'fatal', error: String(e && e.stack || e) }); process.exit(2); });
