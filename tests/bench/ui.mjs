// ui.mjs: loads a dashboard's first page cold in Debian's chromium, RUNS times, and prints
// one JSON line per run: bytes transferred (headers and bodies as they crossed the wire,
// gzip where the server compressed), requests, first contentful paint, the time until the
// network is idle, and (when SELECTOR is given) the time until that element shows.
// Requests leaving the machine are blocked and listed, never made.
//
//   node tests/bench/ui.mjs URL RUNS NODE_MODULES [SELECTOR]
import { createRequire } from 'node:module';
import path from 'node:path';

const [url, runsArg, nm, selector] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nm), 'noop.js'));
const { chromium } = require('playwright-core');
const origin = new URL(url).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
for (let i = 0; i < +runsArg; i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const blocked = [];
  await context.route(u => !u.href.startsWith(origin) && !u.href.startsWith('data:'), r => { blocked.push(r.request().url()); r.abort(); });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let bytes = 0, requests = 0;
  cdp.on('Network.loadingFinished', e => { bytes += e.encodedDataLength; requests++; });
  if (selector)
    await page.addInitScript(sel => {
      const t = () => { if (document.querySelector(sel)) { window.__shown = performance.now(); return true; } return false; };
      new MutationObserver((_, o) => { if (t()) o.disconnect(); }).observe(document, { childList: true, subtree: true });
    }, selector);
  await page.goto(url, { waitUntil: 'load' });
  if (selector) await page.waitForFunction(() => window.__shown, null, { timeout: 60000 });
  await page.waitForLoadState('networkidle', { timeout: 60000 }).catch(() => {});
  const idle = await page.evaluate(() => performance.now());
  const m = await page.evaluate(() => ({
    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime ?? null,
    shown: window.__shown ?? null,
  }));
  console.log(JSON.stringify({ run: i + 1, bytes, requests, fcpMs: m.fcp, shownMs: m.shown, idleMs: idle, blocked }));
  await context.close();
}
await browser.close();
