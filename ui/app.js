// app.js: the dashboard's entry: the hash router, the theme switch, and the views that
// need no library (overview, packets, nodes). Map and analytics load on first use.
import { h, show, errorBox } from './lib.js';
import { overview } from './overview.js';
import { packets } from './packets.js';
import { nodesView } from './nodes.js';

const main = document.getElementById('main');
let current = null; // {stop()} of the view on screen

const VIEWS = {
  '': overview,
  packets,
  nodes: nodesView,
  map: ctx => import('./map.js').then(m => m.map(ctx)),
  analytics: ctx => import('./analytics.js').then(m => m.analytics(ctx)),
};

/** #/<view>/<arg>?<query> */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q] = raw.split('?');
  const parts = path.split('/').map(decodeURIComponent);
  return { view: parts[0] || '', arg: parts.slice(1).join('/'), query: new URLSearchParams(q || '') };
}

async function route() {
  const r = parseHash();
  const fn = VIEWS[r.view];
  if (current && current.stop) current.stop();
  current = null;
  for (const a of document.querySelectorAll('nav a')) {
    const v = a.dataset.view === 'overview' ? '' : a.dataset.view;
    if (v === r.view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!fn) {
    show(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Overview')));
    return;
  }
  const token = {};
  route.token = token;
  try {
    const v = await fn({ main, arg: r.arg, query: r.query, stale: () => route.token !== token });
    if (route.token !== token) { if (v && v.stop) v.stop(); return; }
    current = v;
  } catch (e) {
    if (route.token === token) show(main, errorBox(e));
  }
  document.title = 'meshsnap · ' + (r.view || 'overview');
}

/** Replaces the query part of the current hash without adding a history entry per keystroke. */
export function setQuery(query, push = false) {
  const r = parseHash();
  const q = query.toString();
  const hash = '#/' + [r.view, r.arg].filter(Boolean).map(encodeURIComponent).join('/') + (q ? '?' + q : '');
  if (push) location.hash = hash;
  else history.replaceState(null, '', hash);
}

function theme() {
  const btn = document.getElementById('theme');
  const saved = localStorage.getItem('meshsnap.theme');
  if (saved) document.documentElement.dataset.theme = saved;
  btn.addEventListener('click', () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === 'dark'
      : matchMedia('(prefers-color-scheme: dark)').matches;
    const t = dark ? 'light' : 'dark';
    document.documentElement.dataset.theme = t;
    localStorage.setItem('meshsnap.theme', t);
    window.dispatchEvent(new Event('themechange'));
  });
}

theme();
window.addEventListener('hashchange', route);
route();
