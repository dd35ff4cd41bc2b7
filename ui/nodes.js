// nodes.js: the node list (search, role, last heard) and a node's page (its adverts, the
// paths it appears on, its neighbours on those paths, its health).
import { api, h, show, num, ago, errorBox, short, nodes, typeName } from './lib.js';
import { setQuery } from './app.js';
import { hopList } from './packets.js';

const ROLES = ['repeater', 'companion', 'room', 'sensor'];
const HEARD = ['1h', '6h', '24h', '7d', '30d'];

export function nodesView(ctx) {
  return ctx.arg ? nodePage(ctx) : nodeList(ctx);
}

async function nodeList({ main, query, stale }) {
  const f = { search: query.get('search') || '', role: query.get('role') || '', lastHeard: query.get('lastHeard') || '' };
  const tbody = h('tbody', {});
  const total = h('p', { class: 'muted', id: 'total' });
  const form = h('form', { class: 'filters', role: 'search', onsubmit: e => e.preventDefault() },
    h('label', {}, 'Search', h('input', { type: 'search', name: 'search', id: 'f-search', value: f.search, autocomplete: 'off' })),
    h('label', {}, 'Role', h('select', { name: 'role', id: 'f-role' }, h('option', { value: '' }, 'any'), ROLES.map(r => h('option', { value: r, selected: r === f.role }, r)))),
    h('label', {}, 'Heard within', h('select', { name: 'lastHeard', id: 'f-lastHeard' }, h('option', { value: '' }, 'any time'), HEARD.map(r => h('option', { value: r, selected: r === f.lastHeard }, r)))));
  show(main, h('h1', {}, 'Nodes'), form, total,
    h('div', { class: 'tablewrap' }, h('table', { id: 'nodes' },
      h('thead', {}, h('tr', {}, ['Name', 'Role', 'Last heard', 'Adverts', 'Hash size', 'Key'].map((t, i) => h('th', { scope: 'col', class: i === 5 ? 'hide-sm' : null }, t)))), tbody)));
  let seq = 0;
  async function load() {
    const my = ++seq;
    const q = new URLSearchParams({ limit: 200, sortBy: 'lastSeen' });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    try {
      const r = await api('nodes?' + q);
      if (stale() || my !== seq) return;
      total.textContent = `${num(r.total)} nodes` + (r.total > r.nodes.length ? `, the ${r.nodes.length} heard most recently shown` : '');
      tbody.replaceChildren(...r.nodes.map(n => h('tr', {},
        h('td', {}, h('a', { href: '#/nodes/' + n.public_key }, n.name || short(n.public_key))),
        h('td', {}, n.role), h('td', { title: n.last_heard }, ago(n.last_heard || n.last_seen)),
        h('td', {}, num(n.advert_count)), h('td', {}, n.hash_size ?? '–'),
        h('td', { class: 'mono hide-sm' }, short(n.public_key)))));
      if (!r.nodes.length) tbody.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No node matches.')));
    } catch (e) {
      if (!stale()) total.replaceChildren(errorBox(e));
    }
    const sq = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) sq.set(k, v);
    setQuery(sq);
  }
  let t = null;
  form.addEventListener('input', e => {
    if (!e.target.name) return;
    f[e.target.name] = e.target.value.trim();
    clearTimeout(t);
    t = setTimeout(load, e.target.tagName === 'INPUT' ? 300 : 0);
  });
  await load();
  return { stop: () => clearTimeout(t) };
}

/** healthy / degraded / silent from the last time heard and CoreScope's thresholds. */
export function healthOf(n, th) {
  const infra = n.role === 'repeater' || n.role === 'room';
  const deg = (infra ? th.infraDegradedMs : th.nodeDegradedMs) || 3600e3;
  const sil = (infra ? th.infraSilentMs : th.nodeSilentMs) || 86400e3;
  const age = Date.now() - Date.parse(n.last_heard || n.last_seen);
  if (!isFinite(age)) return ['unknown', 'muted'];
  return age > sil ? ['silent', 'bad'] : age > deg ? ['degraded', 'warn'] : ['healthy', 'ok'];
}

async function nodePage({ main, arg, stale }) {
  show(main, h('p', { class: 'muted' }, 'Loading…'));
  const [d, client, pk, idx] = await Promise.all([
    api('nodes/' + encodeURIComponent(arg)),
    api('config/client').catch(() => ({})),
    api('packets?limit=500&node=' + encodeURIComponent(arg)),
    nodes().catch(() => new Map()),
  ]);
  if (stale()) return null;
  const n = d.node;
  const [hs, hc] = healthOf(n, client.healthThresholds || {});
  // paths through or from this node, and the nodes next to it on them
  const paths = new Map(), neigh = new Map();
  for (const p of pk.packets) {
    const rp = p.resolved_path || [];
    const key = (p._parsedPath || []).join(' ');
    if (key) {
      const e = paths.get(key) || { count: 0, p };
      e.count++;
      paths.set(key, e);
    }
    rp.forEach((k, i) => {
      if (k !== n.public_key) return;
      for (const j of [i - 1, i + 1]) if (rp[j]) neigh.set(rp[j], (neigh.get(rp[j]) || 0) + 1);
    });
  }
  const topPaths = [...paths.values()].sort((a, b) => b.count - a.count).slice(0, 15);
  const nb = [...neigh.entries()].sort((a, b) => b[1] - a[1]);
  const adverts = d.recentAdverts || [];
  show(main,
    h('p', {}, h('a', { href: '#/nodes' }, '← Nodes')),
    h('h1', {}, n.name || short(n.public_key), ' ', h('span', { class: 'pill ' + hc, id: 'health' }, hs)),
    h('section', { class: 'panel' }, h('dl', { class: 'kv', id: 'node' },
      h('dt', {}, 'public key'), h('dd', { class: 'mono' }, n.public_key),
      h('dt', {}, 'role'), h('dd', {}, n.role),
      h('dt', {}, 'last heard'), h('dd', {}, ago(n.last_heard || n.last_seen), ' (', n.last_heard || n.last_seen, ')'),
      h('dt', {}, 'first seen'), h('dd', {}, n.first_seen),
      h('dt', {}, 'adverts'), h('dd', {}, num(n.advert_count)),
      h('dt', {}, 'position'), h('dd', {}, n.lat != null ? `${n.lat}, ${n.lon}` : '–'),
      h('dt', {}, 'hash size'), h('dd', {}, n.hash_size ?? '–', n.hash_size_inconsistent ? h('span', { class: 'warn' }, ' (inconsistent)') : ''),
      n.battery_mv != null ? [h('dt', {}, 'battery'), h('dd', {}, n.battery_mv + ' mV')] : null,
      n.temperature_c != null ? [h('dt', {}, 'temperature'), h('dd', {}, n.temperature_c + ' °C')] : null,
      h('dt', {}, 'packets'), h('dd', {}, num(pk.total), ' ', h('a', { href: '#/packets?node=' + n.public_key }, 'show')))),
    h('h2', {}, `Neighbours (${nb.length})`),
    nb.length ? h('ul', { id: 'neighbours' }, nb.slice(0, 30).map(([k, c]) => h('li', {}, h('a', { href: '#/nodes/' + k }, idx.get(k)?.name || short(k)), h('span', { class: 'muted' }, ` ${c} paths`))))
      : h('p', { class: 'muted' }, 'None seen on its recent paths.'),
    h('h2', {}, 'Recent adverts'),
    h('div', { class: 'tablewrap' }, h('table', { id: 'adverts' },
      h('thead', {}, h('tr', {}, ['Time', 'Observer', 'Obs', 'SNR', 'RSSI', 'Path'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, adverts.map(a => h('tr', {}, h('td', { title: a.timestamp }, ago(a.timestamp)), h('td', {}, a.observer_name || ''),
        h('td', {}, a.observation_count), h('td', {}, a.snr ?? '–'), h('td', {}, a.rssi ?? '–'),
        h('td', {}, hopList(a._parsedPath, a.resolved_path, idx))))))),
    h('h2', {}, 'Paths'),
    h('div', { class: 'tablewrap' }, h('table', { id: 'paths' },
      h('thead', {}, h('tr', {}, ['Seen', 'Last type', 'Path'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, topPaths.map(e => h('tr', {}, h('td', {}, e.count), h('td', {}, typeName(e.p.payload_type)),
        h('td', {}, hopList(e.p._parsedPath, e.p.resolved_path, idx))))))));
  return null;
}
