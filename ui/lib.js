// lib.js: what every view shares: the API client, DOM building, formatting, assets.

// Vendored files (uPlot, Leaflet): the build writes their fingerprinted names into
// <script id="assets">; served from the source tree, they come from node_modules.
const SOURCE_ASSETS = {
  'uplot.js': 'node_modules/uplot/dist/uPlot.iife.min.js',
  'uplot.css': 'node_modules/uplot/dist/uPlot.min.css',
  'leaflet.js': 'node_modules/leaflet/dist/leaflet.js',
  'leaflet.css': 'node_modules/leaflet/dist/leaflet.css',
};
let assetMap = null;
export function asset(name) {
  if (!assetMap) {
    const tag = document.getElementById('assets');
    assetMap = tag ? JSON.parse(tag.textContent) : SOURCE_ASSETS;
  }
  return assetMap[name] || null;
}

const loaded = new Map();
/** Loads a vendored script or stylesheet once; resolves when it is in the page. */
export function load(name) {
  if (loaded.has(name)) return loaded.get(name);
  const url = asset(name);
  const p = new Promise((resolve, reject) => {
    if (!url) { reject(new Error(name + ' is not part of this build (npm ci in ui/, then rebuild)')); return; }
    let node;
    if (name.endsWith('.css')) {
      node = document.createElement('link');
      node.rel = 'stylesheet';
      node.href = url;
    } else {
      node = document.createElement('script');
      node.src = url;
    }
    node.onload = () => resolve();
    node.onerror = () => reject(new Error('could not load ' + url));
    document.head.append(node);
  });
  loaded.set(name, p);
  return p;
}

/** GET /api/<path> as JSON. A 503 with Retry-After (analytics being computed, the
 * snapshot loading) is retried a few times (opts.retries, default 8). Throws an Error with the server's message. */
export async function api(path, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const r = await fetch('/api/' + path, { headers: opts.headers || {}, signal: opts.signal });
    if (r.status === 304) return null;
    if (r.status === 503 && attempt < (opts.retries ?? 8)) {
      const s = Math.min(parseFloat(r.headers.get('Retry-After') || '1') || 1, 5);
      await r.text();
      await new Promise(res => setTimeout(res, s * 1000));
      continue;
    }
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error((body && body.error) || ('HTTP ' + r.status + ' for /api/' + path));
    if (opts.etag) opts.etag.value = r.headers.get('ETag');
    return body;
  }
}

/** Builds an element: h('td', {class: 'x', onclick: f}, 'text', child, [more]). */
export function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    e.append(kid instanceof Node ? kid : String(kid));
  }
  return e;
}

export const num = v => (v == null ? '–' : Number(v).toLocaleString('en'));

/** "3 min ago" from an ISO time (or epoch seconds). */
export function ago(t) {
  if (t == null || t === '') return '–';
  const ms = typeof t === 'number' ? t * 1000 : Date.parse(t);
  if (!isFinite(ms)) return '–';
  let s = Math.round((Date.now() - ms) / 1000);
  const future = s < 0;
  s = Math.abs(s);
  const txt = s < 60 ? s + ' s' : s < 3600 ? Math.round(s / 60) + ' min' : s < 86400 ? Math.round(s / 3600) + ' h' : Math.round(s / 86400) + ' d';
  return future ? 'in ' + txt : txt + ' ago';
}

export const PAYLOAD_TYPES = ['REQ', 'RESPONSE', 'TXT_MSG', 'ACK', 'ADVERT', 'GRP_TXT', 'GRP_DATA', 'ANON_REQ', 'PATH', 'TRACE', 'MULTIPART', 'CONTROL'];
PAYLOAD_TYPES[15] = 'RAW_CUSTOM';
export const ROUTE_TYPES = ['TRANSPORT_FLOOD', 'FLOOD', 'DIRECT', 'TRANSPORT_DIRECT'];
export const typeName = t => PAYLOAD_TYPES[t] || ('type ' + t);
export const routeName = t => ROUTE_TYPES[t] || ('route ' + t);

export function decoded(p) {
  if (!p || !p.decoded_json) return null;
  try { return JSON.parse(p.decoded_json); } catch { return null; }
}

export const short = k => (k ? String(k).slice(0, 8) : '');

/** Replaces the content of main with nodes; returns main. */
export function show(main, ...nodes) {
  main.replaceChildren(...nodes.flat());
  return main;
}

export function errorBox(err) {
  return h('p', { class: 'bad', role: 'alert' }, String(err && err.message ? err.message : err));
}

/** The chart colours of the current theme. */
export function colours() {
  const cs = getComputedStyle(document.documentElement);
  return { fg: cs.getPropertyValue('--fg').trim(), line: cs.getPropertyValue('--line').trim(),
    accent: cs.getPropertyValue('--accent').trim(), warn: cs.getPropertyValue('--warn').trim(),
    muted: cs.getPropertyValue('--muted').trim() };
}

/** Node names by public key, loaded once per page (for resolved hops). */
let nodeIndex = null;
export function nodes() {
  if (!nodeIndex) {
    nodeIndex = api('nodes?limit=2000').then(r => {
      const m = new Map();
      for (const n of r.nodes) m.set(n.public_key, n);
      return m;
    }).catch(e => { nodeIndex = null; throw e; });
  }
  return nodeIndex;
}
