// packets.js: the live packet table with its filters, and a packet's detail (decoded
// fields, path with resolved hops, every observation). New packets: the WebSocket feed
// at / when the server has one (tried once), else polling with If-None-Match.
import { api, h, show, num, ago, errorBox, typeName, routeName, PAYLOAD_TYPES, ROUTE_TYPES, decoded, short, nodes } from './lib.js';
import { setQuery } from './app.js';

const FILTERS = ['type', 'route', 'observer', 'region', 'channel', 'node'];
const POLL_MS = 5000;
let wsState = null; // null: not tried; 'open' | 'failed'

function select(name, label, options, value) {
  return h('label', {}, label, h('select', { name, id: 'f-' + name },
    h('option', { value: '' }, 'any'),
    options.map(([v, t]) => h('option', { value: v, selected: String(v) === value }, t))));
}

export async function packets({ main, query, stale }) {
  const f = Object.fromEntries(FILTERS.map(k => [k, query.get(k) || '']));
  let sel = query.get('sel') || '';
  const [observers, regions, channels] = await Promise.all([
    api('observers').then(r => r.observers).catch(() => []),
    api('config/regions').catch(() => ({})),
    api('analytics/channels').then(r => r.channels || []).catch(() => []),
  ]);
  if (stale()) return null;
  const form = h('form', { class: 'filters', role: 'search', onsubmit: e => e.preventDefault() },
    select('type', 'Type', PAYLOAD_TYPES.map((t, i) => [i, t]).filter(x => x[1]), f.type),
    select('route', 'Route', ROUTE_TYPES.map((t, i) => [i, t]), f.route),
    select('observer', 'Observer', observers.map(o => [o.id, o.name || short(o.id)]), f.observer),
    select('region', 'Region', Object.entries(regions).map(([k, v]) => [k, v === k ? k : `${k} (${v})`]), f.region),
    select('channel', 'Channel', channels.map(c => [c.name, c.name]), f.channel),
    h('label', {}, 'Node (key, prefix or name)', h('input', { name: 'node', id: 'f-node', value: f.node, type: 'search', autocomplete: 'off' })),
    h('span', { class: 'muted', id: 'live' }, ''));
  const tbody = h('tbody', {});
  const table = h('div', { class: 'tablewrap' }, h('table', { id: 'packets' },
    h('caption', { class: 'muted', style: 'text-align:left' }, 'Newest first; Enter or click opens a packet'),
    h('thead', {}, h('tr', {}, ['Time', 'Type', 'Route', 'Observer', 'Hops', 'Obs', 'SNR', 'RSSI', 'Hash'].map((t, i) => h('th', { scope: 'col', class: i === 2 || i === 8 ? 'hide-sm' : null }, t)))),
    tbody));
  const detail = h('section', { class: 'panel', id: 'detail', 'aria-label': 'Packet detail' }, h('p', { class: 'muted' }, 'Select a packet.'));
  const total = h('p', { class: 'muted', id: 'total' });
  show(main, h('h1', {}, 'Packets'), form, h('div', { class: 'split' }, h('div', {}, total, table), detail));

  let etag = null, timer = null, seen = new Set(), first = true, ws = null, inflight = null;

  function params() {
    const q = new URLSearchParams({ limit: 100 });
    for (const k of FILTERS) if (f[k]) q.set(k, f[k]);
    return q;
  }
  function row(p) {
    const tr = h('tr', { tabindex: 0, 'data-hash': p.hash, class: (first ? '' : 'new') + (p.hash === sel ? ' sel' : ''),
      onclick: () => open(p.hash),
      onkeydown: e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(p.hash); } } },
    h('td', { title: p.timestamp }, ago(p.timestamp)),
    h('td', {}, typeName(p.payload_type)),
    h('td', { class: 'hide-sm' }, routeName(p.route_type)),
    h('td', {}, p.observer_name || short(p.observer_id)),
    h('td', {}, (p._parsedPath || []).length),
    h('td', {}, p.observation_count),
    h('td', {}, p.snr ?? '–'),
    h('td', {}, p.rssi ?? '–'),
    h('td', { class: 'mono hide-sm' }, p.hash));
    return tr;
  }
  let again = false; // the filters changed while a request was out: ask once more after it
  async function poll() {
    if (inflight) { again = true; return; }
    const box = { value: null };
    const asked = params().toString();
    inflight = api('packets?' + asked, { headers: etag ? { 'If-None-Match': etag } : {}, etag: box });
    try {
      const r = await inflight;
      if (stale() || asked !== params().toString()) return; // an answer to older filters
      if (r) {
        etag = box.value;
        total.textContent = `${num(r.total)} matching`;
        const rows = r.packets.map(p => { const tr = row(p); if (seen.has(p.hash)) tr.classList.remove('new'); return tr; });
        seen = new Set(r.packets.map(p => p.hash));
        tbody.replaceChildren(...rows);
        if (!rows.length) tbody.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No packet matches these filters.')));
        first = false;
      }
    } catch (e) {
      if (!stale()) total.replaceChildren(errorBox(e));
    } finally {
      inflight = null;
      if (again && !stale()) { again = false; poll(); }
    }
  }
  function restart() {
    etag = null; first = true; seen = new Set();
    const q = params(); q.delete('limit'); if (sel) q.set('sel', sel);
    setQuery(q);
    poll();
  }
  form.addEventListener('change', e => { if (e.target.name) { f[e.target.name] = e.target.value.trim(); restart(); } });
  let debounce = null;
  form.addEventListener('input', e => {
    if (e.target.name !== 'node') return;
    clearTimeout(debounce);
    debounce = setTimeout(() => { f.node = e.target.value.trim(); restart(); }, 400);
  });

  async function open(hash) {
    sel = hash;
    for (const tr of tbody.children) tr.classList.toggle('sel', tr.dataset.hash === hash);
    const q = params(); q.delete('limit'); q.set('sel', hash); setQuery(q);
    detail.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    try {
      const [d, idx] = await Promise.all([api('packets/' + encodeURIComponent(hash)), nodes().catch(() => new Map())]);
      if (stale() || sel !== hash) return;
      detail.replaceChildren(...packetDetail(d, idx));
      detail.focus({ preventScroll: true });
    } catch (e) {
      detail.replaceChildren(errorBox(e));
    }
  }

  function live() {
    if (wsState === 'failed' || !('WebSocket' in window)) return;
    try {
      ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
    } catch { wsState = 'failed'; return; }
    ws.onopen = () => { wsState = 'open'; document.getElementById('live').textContent = 'live'; };
    ws.onmessage = () => poll();
    ws.onerror = () => { if (wsState !== 'open') wsState = 'failed'; };
    ws.onclose = () => { ws = null; };
  }

  detail.setAttribute('tabindex', '-1');
  await poll();
  if (sel) open(sel);
  live();
  timer = setInterval(() => { if (!ws || ws.readyState !== 1) poll(); }, POLL_MS);
  return { stop: () => { clearInterval(timer); clearTimeout(debounce); if (ws) ws.close(); } };
}

function flatten(obj, prefix = '', out = []) {
  for (const [k, v] of Object.entries(obj || {})) {
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, prefix + k + '.', out);
    else out.push([prefix + k, Array.isArray(v) ? JSON.stringify(v) : String(v)]);
  }
  return out;
}

export function hopList(path, resolved, idx) {
  return h('ol', { class: 'hops', 'aria-label': 'Path' }, (path || []).map((hop, i) => {
    const pk = resolved && resolved[i];
    const n = pk && idx.get(pk);
    return h('li', { class: pk ? null : 'unres', title: pk || 'not resolved' },
      pk ? h('a', { href: '#/nodes/' + pk }, n ? n.name : short(pk)) : hop);
  }));
}

export function packetDetail(d, idx) {
  const p = d.packet;
  const dec = decoded(p) || {};
  const obs = d.observations || p.observations || [];
  return [
    h('h2', {}, `${typeName(p.payload_type)} `, h('span', { class: 'mono' }, p.hash)),
    h('dl', { class: 'kv' },
      h('dt', {}, 'first seen'), h('dd', {}, p.first_seen || p.timestamp),
      h('dt', {}, 'route'), h('dd', {}, routeName(p.route_type)),
      h('dt', {}, 'observations'), h('dd', {}, num(d.observation_count ?? obs.length))),
    h('h2', {}, 'Decoded'),
    h('dl', { class: 'kv', id: 'decoded' }, flatten(dec).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('h2', {}, 'Path'),
    (p._parsedPath || []).length ? hopList(p._parsedPath, p.resolved_path, idx) : h('p', { class: 'muted' }, 'Direct (no hops).'),
    h('h2', {}, 'Observations'),
    h('div', { class: 'tablewrap' }, h('table', { id: 'observations' },
      h('thead', {}, h('tr', {}, ['Observer', 'Region', 'SNR', 'RSSI', 'Hops', 'Time'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, obs.map(o => {
        let hops = 0;
        try { hops = JSON.parse(o.path_json || '[]').length; } catch { /* shown as 0 */ }
        return h('tr', {}, h('td', {}, o.observer_name || short(o.observer_id)), h('td', {}, o.observer_iata || ''),
          h('td', {}, o.snr ?? '–'), h('td', {}, o.rssi ?? '–'), h('td', {}, hops), h('td', { title: o.timestamp }, ago(o.timestamp)));
      })))),
    h('details', {}, h('summary', {}, 'Raw bytes'), h('code', { style: 'word-break:break-all' }, p.raw_hex || '')),
  ];
}
