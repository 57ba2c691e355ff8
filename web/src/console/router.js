// router.js - the console's views live under /console/<view>[/<id>] (the daemon serves the
// same shell for each), with the view's state in the query string, so a URL is a view:
// reload it, bookmark it, paste it in #incidents.

const routes = [];
let current = null;

/** route('incidents/:id', (params, query) => cleanup) */
export function route(pattern, view) {
  routes.push({ parts: pattern.split('/').filter(Boolean), view });
}

function match(path) {
  const parts = path.replace(/^\/+|\/+$/g, '').split('/').filter(Boolean);
  if (parts[0] === 'console') parts.shift();
  for (const r of routes) {
    if (r.parts.length !== parts.length) continue;
    const params = {};
    let ok = true;
    r.parts.forEach((p, i) => {
      if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(parts[i]);
      else if (p !== parts[i]) ok = false;
    });
    if (ok) return { view: r.view, params };
  }
  return null;
}

let mount = null;
let onChange = () => {};
export function start(el, changed) {
  mount = el;
  onChange = changed || onChange;
  window.addEventListener('popstate', () => show());
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[href]');
    if (!a || a.target || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !/^\/console(\/|$)/.test(url.pathname)) return;
    e.preventDefault();
    go(url.pathname + url.search);
  });
  show();
}

/** Navigates to a console URL ("/console/incidents/INC-1"). */
export function go(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  show();
}

/** Changes only the query string of the current view (no redraw). */
export function setQuery(params, { push = false } = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  const url = location.pathname + (s ? `?${s}` : '');
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

export function query() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

function show() {
  if (current && typeof current.cleanup === 'function') current.cleanup();
  const m = match(location.pathname) || match('/');
  current = { cleanup: null };
  const mine = current;
  mount.textContent = '';
  for (const k of Object.keys(mount.dataset)) delete mount.dataset[k];
  onChange(location.pathname);
  Promise.resolve(m.view(mount, m.params, query())).then((cleanup) => {
    if (current === mine) mine.cleanup = cleanup;
    else if (typeof cleanup === 'function') cleanup();
  });
}
