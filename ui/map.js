// map.js: nodes with a position and the links between neighbours (consecutive resolved
// hops of recent packets), drawn with Leaflet. No tiles unless a tile URL is configured
// ([frontend] tiles_light_url / tiles_dark_url through /api/config/client, or this page's
// own setting stored in the browser), so the page loads nothing from elsewhere by default.
import { api, h, show, load, short, ago, colours } from './lib.js';

const ROLE_COLOURS = { repeater: '#1f77b4', companion: '#2ca02c', room: '#9467bd', sensor: '#ff7f0e' };
const TILE_KEY = 'meshsnap.tileUrl';

function tileUrl(client) {
  const own = localStorage.getItem(TILE_KEY);
  if (own) return own;
  const dark = document.documentElement.dataset.theme === 'dark' ||
    (!document.documentElement.dataset.theme && matchMedia('(prefers-color-scheme: dark)').matches);
  const t = (client && client.map && client.map.tiles) || {};
  return (dark ? t.dark : t.light) || t.light || t.dark || (client && typeof client.tiles === 'string' ? client.tiles : '') || '';
}

export async function map({ main, stale }) {
  show(main, h('h1', {}, 'Map'), h('p', { class: 'muted' }, 'Loading…'));
  const [, , cfg, client, nr, pr] = await Promise.all([
    load('leaflet.css'), load('leaflet.js'),
    api('config/map').catch(() => ({ center: [0, 0], zoom: 2 })),
    api('config/client').catch(() => ({})),
    api('nodes?limit=2000'),
    api('packets?limit=2000'),
  ]);
  if (stale()) return null;
  const L = window.L;
  const placed = new Map();
  for (const n of nr.nodes) if (n.lat != null && n.lon != null && (n.lat || n.lon)) placed.set(n.public_key, n);
  const links = new Map();
  for (const p of pr.packets) {
    const rp = p.resolved_path || [];
    for (let i = 1; i < rp.length; i++) {
      const a = rp[i - 1], b = rp[i];
      if (!a || !b || a === b || !placed.has(a) || !placed.has(b)) continue;
      const k = a < b ? a + b : b + a;
      const e = links.get(k) || { a, b, count: 0 };
      e.count++;
      links.set(k, e);
    }
  }
  const urlInput = h('input', { type: 'url', id: 'tile-url', placeholder: 'https://tiles.example.org/{z}/{x}/{y}.png', value: localStorage.getItem(TILE_KEY) || '', size: 40 });
  const settings = h('form', { class: 'filters', onsubmit: e => {
    e.preventDefault();
    const v = urlInput.value.trim();
    if (v) localStorage.setItem(TILE_KEY, v); else localStorage.removeItem(TILE_KEY);
    setTiles();
  } }, h('label', {}, 'Tile URL (this browser; empty: the server\'s, else none)', urlInput), h('button', { type: 'submit' }, 'Apply'),
  h('span', { class: 'muted', id: 'map-count' }, `${placed.size} nodes placed, ${links.size} neighbour links from the latest ${pr.packets.length} packets`));
  const div = h('div', { id: 'map', role: 'region', 'aria-label': 'Map of nodes' });
  show(main, h('h1', {}, 'Map'), settings, div);
  const m = L.map(div, { attributionControl: true }).setView(cfg.center || [0, 0], cfg.zoom || 9);
  let tiles = null;
  function setTiles() {
    if (tiles) { tiles.remove(); tiles = null; }
    const url = tileUrl(client);
    if (url) tiles = L.tileLayer(url, { maxZoom: 19, attribution: 'tiles: ' + new URL(url.replace(/[{}]/g, ''), location.href).host }).addTo(m);
  }
  setTiles();
  const c = colours();
  const max = Math.max(1, ...[...links.values()].map(e => e.count));
  for (const e of links.values()) {
    const a = placed.get(e.a), b = placed.get(e.b);
    L.polyline([[a.lat, a.lon], [b.lat, b.lon]], { color: c.muted, weight: 1 + 3 * (e.count / max), opacity: 0.6 })
      .bindTooltip(`${a.name || short(a.public_key)} ↔ ${b.name || short(b.public_key)}: ${e.count}`).addTo(m);
  }
  const pts = [];
  for (const n of placed.values()) {
    pts.push([n.lat, n.lon]);
    L.circleMarker([n.lat, n.lon], { radius: n.role === 'repeater' ? 6 : 4, color: ROLE_COLOURS[n.role] || c.fg, weight: 1, fillOpacity: 0.8 })
      .bindPopup(() => {
        const el = h('div', {}, h('a', { href: '#/nodes/' + n.public_key }, n.name || short(n.public_key)), h('br'), `${n.role}, heard ${ago(n.last_heard || n.last_seen)}`);
        return el;
      }).addTo(m);
  }
  if (pts.length && !cfg.center) m.fitBounds(pts);
  const onTheme = () => setTiles();
  window.addEventListener('themechange', onTheme);
  return { stop: () => { window.removeEventListener('themechange', onTheme); m.remove(); } };
}
