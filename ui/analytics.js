// analytics.js: one view per published analytic. Time series are drawn with uPlot
// (loaded on first use), histograms with the overview's SVG bars, lists as tables.
import { api, h, show, num, load, short, colours, errorBox } from './lib.js';
import { bars } from './overview.js';

const VIEWS = {
  rf: ['RF', rf], topology: ['Topology', topology], distance: ['Distance', distance],
  channels: ['Channels', channels], 'hash-sizes': ['Hash sizes', hashSizes],
  'hash-collisions': ['Hash collisions', collisions], subpaths: ['Subpaths', subpaths],
  roles: ['Roles', roles], 'clock-skew': ['Clock skew', clockSkew],
};

function table(id, cols, rows) {
  return h('div', { class: 'tablewrap' }, h('table', { id },
    h('thead', {}, h('tr', {}, cols.map(c => h('th', { scope: 'col' }, c[0])))),
    h('tbody', {}, rows.map(r => h('tr', {}, cols.map(c => h('td', {}, c[1](r))))))));
}
const nodeLink = (pk, name) => (pk ? h('a', { href: '#/nodes/' + pk }, name || short(pk)) : name || '–');
const fix = (v, d = 1) => (v == null ? '–' : Number(v).toFixed(d));
const hourTs = s => Date.parse(s + ':00:00Z') / 1000;

function histogram(title, hist, unit = '') {
  const pts = (hist && hist.bins || []).map(b => ({ label: `${fix(b.x)}–${fix(b.x + b.w)}${unit}`, short: fix(b.x, 0), value: b.count }));
  return h('section', { class: 'panel' }, h('h2', {}, title), pts.length ? bars(pts, { title }) : h('p', { class: 'muted' }, 'No data.'));
}

/** A uPlot time chart: xs in epoch seconds, series [{label, values, scale}]. */
async function timeChart(title, xs, series) {
  const box = h('div', { class: 'chart', role: 'img', 'aria-label': title });
  const sec = h('section', { class: 'panel' }, h('h2', {}, title), box);
  try {
    await Promise.all([load('uplot.css'), load('uplot.js')]);
  } catch (e) {
    box.replaceChildren(errorBox(e));
    return sec;
  }
  const c = colours();
  const palette = [c.accent, c.warn, '#2ca02c', '#9467bd', '#d62728'];
  const axis = { stroke: c.fg, grid: { stroke: c.line }, ticks: { stroke: c.line } };
  const scales = [...new Set(series.map(s => s.scale || 'y'))];
  const opts = {
    width: 800, height: 260,
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], width: 1.5, scale: s.scale || 'y' }))],
    axes: [axis, ...scales.map((sc, i) => ({ ...axis, scale: sc, side: i ? 1 : 3 }))],
  };
  requestAnimationFrame(() => {
    opts.width = Math.max(280, box.clientWidth || 800);
    new window.uPlot(opts, [xs, ...series.map(s => s.values)], box);
  });
  return sec;
}

async function rf(d) {
  const st = (k, o) => [h('dt', {}, k), h('dd', {}, o ? `avg ${fix(o.avg)}, median ${fix(o.median)}, min ${fix(o.min)}, max ${fix(o.max)}` : '–')];
  const t = d.signalOverTime || [];
  return [
    h('dl', { class: 'kv panel' }, st('SNR (dB)', d.snr), st('RSSI (dBm)', d.rssi),
      h('dt', {}, 'packets'), h('dd', {}, num(d.totalPackets), ' observations of ', num(d.totalTransmissions), ' transmissions'),
      h('dt', {}, 'size (bytes)'), h('dd', {}, `avg ${d.avgPacketSize}, min ${d.minPacketSize}, max ${d.maxPacketSize}`)),
    await timeChart('Packets and mean SNR per hour', t.map(p => hourTs(p.hour)),
      [{ label: 'packets', values: t.map(p => p.count) }, { label: 'mean SNR', values: t.map(p => p.avgSnr), scale: 'snr' }]),
    histogram('SNR', d.snrValues, ' dB'), histogram('RSSI', d.rssiValues, ' dBm'), histogram('Packet size', d.packetSizes, ' B'),
    table('payload-types', [['Type', r => r.name], ['Count', r => num(r.count)]], d.payloadTypes || []),
  ];
}

async function topology(d) {
  return [
    h('dl', { class: 'kv panel' }, h('dt', {}, 'unique nodes'), h('dd', {}, num(d.uniqueNodes)),
      h('dt', {}, 'hops'), h('dd', {}, `avg ${fix(d.avgHops)}, median ${d.medianHops}, max ${d.maxHops}`)),
    h('section', { class: 'panel' }, h('h2', {}, 'Hop count'), bars((d.hopDistribution || []).map(x => ({ label: x.hops + ' hops', short: x.hops, value: x.count })), { title: 'Hop count distribution' })),
    h('h2', {}, 'Busiest repeaters'),
    table('top-repeaters', [['Repeater', r => nodeLink(r.pubkey, r.name)], ['Hash', r => r.hop], ['Packets', r => num(r.count)]], d.topRepeaters || []),
    h('h2', {}, 'Busiest pairs'),
    table('top-pairs', [['A', r => nodeLink(r.pubkeyA, r.nameA)], ['B', r => nodeLink(r.pubkeyB, r.nameB)], ['Packets', r => num(r.count)]], d.topPairs || []),
    h('h2', {}, 'SNR by hop count'),
    table('hops-snr', [['Hops', r => r.hops], ['Packets', r => num(r.count)], ['Mean SNR', r => fix(r.avgSnr)]], d.hopsVsSnr || []),
  ];
}

async function distance(d) {
  const s = d.summary || {}, t = d.distOverTime || [];
  return [
    h('dl', { class: 'kv panel' }, h('dt', {}, 'hops'), h('dd', {}, num(s.totalHops), ' on ', num(s.totalPaths), ' paths'),
      h('dt', {}, 'distance (km)'), h('dd', {}, `avg ${fix(s.avgDist)}, max ${fix(s.maxDist)}`)),
    histogram('Hop distance', d.distHistogram, ' km'),
    await timeChart('Mean hop distance per hour (km)', t.map(p => hourTs(p.hour)), [{ label: 'km', values: t.map(p => p.avg) }]),
    table('dist-cats', [['Link', r => r[0]], ['Hops', r => num(r[1].count)], ['Avg km', r => fix(r[1].avg)], ['Median', r => fix(r[1].median)], ['Max', r => fix(r[1].max)]], Object.entries(d.catStats || {})),
    h('h2', {}, 'Longest hops'),
    table('top-hops', [['From', r => nodeLink(r.fromPk, r.fromName)], ['To', r => nodeLink(r.toPk, r.toName)], ['km', r => fix(r.dist)], ['Best SNR', r => fix(r.bestSnr)], ['Packet', r => h('a', { href: '#/packets?sel=' + r.hash }, r.hash)]], d.topHops || []),
  ];
}

async function channels(d) {
  return [
    h('dl', { class: 'kv panel' }, h('dt', {}, 'active channels'), h('dd', {}, num(d.activeChannels)), h('dt', {}, 'decryptable'), h('dd', {}, num(d.decryptable))),
    table('channels', [['Channel', r => h('a', { href: '#/packets?type=5&channel=' + encodeURIComponent(r.name) }, r.name)], ['Messages', r => num(r.messages)], ['Senders', r => num(r.senders)], ['Encrypted', r => (r.encrypted ? 'yes' : 'no')], ['Last activity', r => r.lastActivity]], d.channels || []),
    h('h2', {}, 'Top senders'),
    table('top-senders', [['Sender', r => r.name], ['Messages', r => num(r.count)]], d.topSenders || []),
  ];
}

async function hashSizes(d) {
  const hr = d.hourly || [];
  return [
    table('hash-dist', [['Hash size', r => r[0] + ' byte'], ['Packets', r => num(r[1])], ['Repeaters', r => num((d.distributionByRepeaters || {})[r[0]])]], Object.entries(d.distribution || {})),
    await timeChart('Packets per hour by hash size', hr.map(p => hourTs(p.hour)), ['1', '2', '3'].map(k => ({ label: k + ' byte', values: hr.map(p => p[k] || 0) }))),
    h('h2', {}, 'Multi-byte nodes'),
    table('multibyte', [['Node', r => nodeLink(r.pubkey, r.name)], ['Role', r => r.role], ['Hash size', r => r.hashSize], ['Packets', r => num(r.packets)]], d.multiByteNodes || []),
  ];
}

async function collisions(d) {
  const out = [];
  for (const [size, v] of Object.entries(d.by_size || {})) {
    const list = v.collisions || [];
    out.push(h('h2', {}, `${size}-byte prefixes: ${list.length} collisions`),
      list.length ? table('collisions-' + size, [['Prefix', r => h('code', {}, r.prefix)], ['Nodes', r => r.nodes.map((n, i) => [i ? ', ' : '', nodeLink(n.public_key, n.name)])]], list.slice(0, 100)) : h('p', { class: 'muted' }, 'None.'));
  }
  if ((d.inconsistent_nodes || []).length)
    out.push(h('h2', {}, 'Nodes with inconsistent hash sizes'), table('inconsistent', [['Node', r => nodeLink(r.public_key, r.name)]], d.inconsistent_nodes));
  return out;
}

async function subpaths(d) {
  return [h('p', { class: 'muted' }, `${num(d.totalPaths)} paths`),
    table('subpaths', [['Subpath', r => r.path], ['Hops', r => r.hops], ['Count', r => num(r.count)], ['%', r => fix(r.pct)]], d.subpaths || [])];
}

async function roles(d) {
  return [h('p', { class: 'muted' }, `${num(d.totalNodes)} nodes`),
    table('roles', [['Role', r => r.role], ['Nodes', r => num(r.nodeCount)], ['Median |skew| s', r => fix(r.medianAbsSkewSec)], ['OK', r => r.okCount], ['Warning', r => r.warningCount], ['Critical', r => r.criticalCount], ['Absurd', r => r.absurdCount], ['No clock', r => r.noClockCount]], d.roles || [])];
}

async function clockSkew() {
  const [n, o] = await Promise.all([api('nodes/clock-skew'), api('observers/clock-skew')]);
  const sev = {};
  for (const x of n) sev[x.severity] = (sev[x.severity] || 0) + 1;
  return [
    h('p', {}, Object.entries(sev).map(([k, v]) => h('span', { class: 'pill' }, `${k}: ${v} `))),
    h('h2', {}, 'Observers'),
    table('observer-skew', [['Observer', r => short(r.observerID)], ['Offset s', r => fix(r.offsetSec)], ['Samples', r => num(r.samples)]], o),
    h('h2', {}, 'Nodes, worst first'),
    table('node-skew', [['Node', r => nodeLink(r.pubkey, r.nodeName)], ['Severity', r => r.severity], ['Median skew s', r => fix(r.medianSkewSec)], ['Drift s/day', r => fix(r.driftPerDaySec)], ['Samples', r => num(r.sampleCount)]],
      [...n].sort((a, b) => Math.abs(b.medianSkewSec || 0) - Math.abs(a.medianSkewSec || 0)).slice(0, 100)),
  ];
}

export async function analytics({ main, arg, stale }) {
  const name = VIEWS[arg] ? arg : 'rf';
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Analytics' }, Object.entries(VIEWS).map(([k, v]) =>
    h('a', { href: '#/analytics/' + k, 'aria-current': k === name ? 'page' : null }, v[0])));
  const body = h('div', { id: 'analytic', 'data-name': name }, h('p', { class: 'muted' }, 'Loading…'));
  show(main, h('h1', {}, 'Analytics: ' + VIEWS[name][0]), tabs, body);
  try {
    const d = name === 'clock-skew' ? null : await api('analytics/' + name);
    if (stale()) return null;
    const parts = await VIEWS[name][1](d);
    if (stale()) return null;
    body.replaceChildren(...parts);
  } catch (e) {
    if (!stale()) body.replaceChildren(errorBox(e));
  }
  return null;
}
