// overview.js: totals, packets per hour (24 h / 7 d), the snapshot's freshness, and
// load/backfill progress while they run. Refreshes every 10 s.
import { api, h, show, num, ago, errorBox } from './lib.js';

/** A bar chart in SVG: points [{label, value}]; small enough to need no library. */
export function bars(points, { height = 180, title = '' } = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const w = 800, pad = 28;
  const max = Math.max(1, ...points.map(p => p.value));
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', title);
  svg.style.width = '100%';
  svg.style.height = 'auto';
  const bw = (w - pad) / Math.max(1, points.length);
  const grid = document.createElementNS(ns, 'text');
  grid.setAttribute('x', 0); grid.setAttribute('y', 12);
  grid.setAttribute('fill', 'currentColor'); grid.setAttribute('font-size', 11);
  grid.textContent = num(max);
  svg.append(grid);
  points.forEach((p, i) => {
    const bh = (p.value / max) * (height - 30);
    const r = document.createElementNS(ns, 'rect');
    r.setAttribute('x', pad + i * bw + bw * 0.1);
    r.setAttribute('y', height - 16 - bh);
    r.setAttribute('width', Math.max(1, bw * 0.8));
    r.setAttribute('height', bh);
    r.setAttribute('fill', 'var(--accent)');
    const t = document.createElementNS(ns, 'title');
    t.textContent = `${p.label}: ${num(p.value)}`;
    r.append(t);
    svg.append(r);
  });
  const step = Math.ceil(points.length / 8);
  points.forEach((p, i) => {
    if (i % step) return;
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', pad + i * bw);
    t.setAttribute('y', height - 2);
    t.setAttribute('fill', 'currentColor');
    t.setAttribute('font-size', 11);
    t.textContent = p.short || p.label;
    svg.append(t);
  });
  return svg;
}

function card(k, v, extra) {
  return h('div', { class: 'card' }, h('div', { class: 'v' }, v), h('div', { class: 'k' }, k), extra || null);
}

function progress(label, done, total) {
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  return h('div', {}, h('div', {}, `${label}: ${num(done)}${total ? ' of ' + num(total) + ` (${pct.toFixed(0)} %)` : ''}`),
    h('progress', { max: 100, value: pct.toFixed(1), 'aria-label': label }));
}

function health(hz) {
  const kids = [];
  const stale = hz.stale ? h('span', { class: 'bad' }, 'stale') : h('span', { class: 'ok' }, 'fresh');
  kids.push(h('dl', { class: 'kv' },
    h('dt', {}, 'phase'), h('dd', {}, hz.phase || '–'),
    h('dt', {}, 'status'), h('dd', {}, hz.status || '–'),
    h('dt', {}, 'generation'), h('dd', {}, num(hz.generation)),
    h('dt', {}, 'published'), h('dd', {}, hz.publishedAt ? ago(hz.publishedAt) : '–'),
    h('dt', {}, 'snapshot age'), h('dd', {}, hz.snapshotAgeSec == null ? '–' : hz.snapshotAgeSec.toFixed(1) + ' s ', stale),
    h('dt', {}, 'workers'), h('dd', {}, num((hz.workers || []).length))));
  if (!hz.ready || hz.phase === 'loading')
    kids.push(progress('Loading transmissions', hz.loadedTx || 0, hz.loadProgress || 0));
  const fp = hz.from_pubkey_backfill;
  if (fp && !fp.done) kids.push(progress('from_pubkey backfill', fp.processed, fp.total));
  for (const m of hz.async_migrations || [])
    if (m.status === 'running') kids.push(progress(m.name, m.rowsProcessed, m.rowsTotal));
  if (hz.backfillRemaining) kids.push(h('p', {}, `Backfill remaining: ${num(hz.backfillRemaining)}`));
  return kids;
}

export async function overview({ main, stale }) {
  let range = 24, timer = null, rf = null;
  const cards = h('div', { class: 'cards', id: 'totals' });
  const chart = h('div', { class: 'chart', id: 'pph' }, h('p', { class: 'muted' }, 'Loading…'));
  const snap = h('div', { id: 'snapshot' });
  const toggle = h('div', { class: 'tabs', role: 'group', 'aria-label': 'Chart range' },
    [24, 168].map(n => h('a', { href: '#/', 'data-range': n, onclick: e => { e.preventDefault(); range = n; drawChart(); } }, n === 24 ? '24 h' : '7 d')));
  show(main, h('h1', {}, 'Overview'), cards,
    h('section', { class: 'panel' }, h('h2', {}, 'Packets per hour'), toggle, chart),
    h('section', { class: 'panel' }, h('h2', {}, 'Snapshot'), snap));

  function drawChart() {
    for (const a of toggle.children) a.toggleAttribute('aria-current', +a.dataset.range === range);
    for (const a of toggle.children) if (+a.dataset.range === range) a.setAttribute('aria-current', 'page');
    if (!rf) return;
    const pts = (rf.packetsPerHour || []).slice(-range).map(p => ({ label: p.hour + ':00Z', short: range > 24 ? p.hour.slice(5, 10) : p.hour.slice(11) + 'h', value: p.count }));
    chart.replaceChildren(pts.length ? bars(pts, { title: `Packets per hour, last ${range === 24 ? '24 hours' : '7 days'}` }) : h('p', { class: 'muted' }, 'No packets yet.'));
  }

  let chartLoading = false;
  async function loadChart() {
    if (chartLoading) return;
    chartLoading = true;
    try {
      const a = await api('analytics/rf');
      if (stale()) return;
      rf = a;
      drawChart();
    } catch (e) {
      if (!stale()) chart.replaceChildren(errorBox(e));
    } finally {
      chartLoading = false;
    }
  }

  async function refresh() {
    try {
      // both at once: the totals need not wait for the health answer
      const [hz, st] = await Promise.all([api('healthz'), api('stats', { retries: 0 }).catch(() => null)]);
      if (stale()) return;
      snap.replaceChildren(...health(hz));
      if (hz.generation > 0 && st) {
        if (!rf) loadChart();
        cards.replaceChildren(
          card('Transmissions', num(st.totalTransmissions)),
          card('Observations', num(st.totalObservations)),
          card('Nodes', num(st.totalNodes)),
          card('Observers', num(st.totalObservers)),
          card('Last hour', num(st.packetsLastHour)),
          card('Last 24 h', num(st.packetsLast24h)),
          ...Object.entries(st.counts || {}).map(([k, v]) => card(k, num(v))));
      } else {
        cards.replaceChildren(h('p', { class: 'muted' }, 'The server is loading its database…'));
      }
    } catch (e) {
      if (!stale()) snap.replaceChildren(errorBox(e));
    }
  }
  await refresh();
  let tick = 0;
  timer = setInterval(() => { if (++tick % 6 === 0) loadChart(); refresh(); }, 10000);
  return { stop: () => clearInterval(timer) };
}
