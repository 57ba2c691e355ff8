// dashboard.js - a dashboard: rows of panels drawn from one request for every panel's data,
// a time range picker, drag to zoom (the URL keeps the range), a crosshair shared by every
// chart, and each row refreshed on its own cadence (the launch plan's review cadence of the
// row's class in the current phase, as the definition says), or as the picker says.
import { get } from './api.js';
import { busy, h, render, select, toast } from './dom.js';
import { dateTime, parseDuration, serverNow, time } from './format.js';
import { panelCard } from './panels.js';
import { go, setQuery } from './router.js';
import { scope } from './scope.js';

const RANGES = ['15m', '1h', '2h', '6h', '12h', '24h', '2d', '7d', '30d'];
const REFRESH = [['plan', 'Refresh as the plan says'], ['30s', 'Every 30 s'], ['1m', 'Every minute'],
  ['5m', 'Every 5 minutes'], ['off', 'Refresh off']];

function rowCadence(row, def) {
  const every = `every ${row.refresh}`;
  if (row.refreshFrom === 'plan') return `${every}, as the plan reviews ${row.title} in the ${def.phase} phase`;
  if (row.refreshFrom === 'row') return `${every} (row setting)`;
  return `${every} (dashboard setting)`;
}

export async function dashboardView(el, params, q) {
  const sc = scope();
  const t0 = performance.now();
  const st = {
    id: params.id || null,
    range: q.range && parseDuration(q.range) ? q.range : null,
    from: q.from ? Number(q.from) : null,
    to: q.to ? Number(q.to) : null,
    refresh: REFRESH.some(([k]) => k === q.refresh) ? q.refresh : 'plan',
  };
  if (!(st.from < st.to)) st.from = st.to = null;
  const list = get('/api/dashboards');
  if (!st.id) {
    const boards = await list.catch(() => []);
    if (!boards.length) {
      render(el, h('div.dw-card', h('h1', 'No dashboards'), h('p', 'The configuration has no ',
        h('code', 'dashboards:'), ' section (docs/internals/dashboard.md).')));
      return sc.end;
    }
    st.id = boards[0].id;
  }
  const base = `/api/dashboards/${encodeURIComponent(st.id)}`;
  let def = null;
  const cards = new Map();

  const rangeParams = (extra) => {
    if (st.from !== null) return { from: st.from, to: st.to, ...extra };
    if (!st.range || !def || parseDuration(st.range) === def.timeRangeSeconds * 1000) return { ...extra };
    return { from: ((serverNow() - parseDuration(st.range)) / 1000).toFixed(3), ...extra };
  };
  const keepUrl = (push) => setQuery({ range: st.from === null ? st.range : null, from: st.from, to: st.to,
    refresh: st.refresh === 'plan' ? null : st.refresh }, { push });

  const ctx = {
    sync: `dw-${st.id}`,
    height: matchMedia('(max-width: 640px)').matches ? 150 : 180,
    onZoom: (from, to) => {
      // every synced chart reports the same selection: zoom once
      if (st.from === Math.floor(from) && st.to === Math.ceil(to)) return;
      st.from = Math.floor(from);
      st.to = Math.ceil(to);
      keepUrl(true);
      toolbarState();
      loadAll();
    },
  };

  const rangeSel = select({ 'aria-label': 'Time range', class: 'dw-range' }, [], '');
  const refreshSel = select({ 'aria-label': 'Auto-refresh' }, REFRESH, st.refresh);
  const zoomInfo = h('span.dw-zoom', { hidden: true });
  const resetBtn = h('button.dw-ghost', { type: 'button', hidden: true }, 'Back to now');
  const outBtn = h('button.dw-ghost', { type: 'button', title: 'Zoom out (twice the range)' }, 'Zoom out');
  const nowBtn = h('button', { type: 'button' }, 'Refresh');
  const updated = h('span.dw-muted.dw-updated');
  const boardSel = select({ 'aria-label': 'Dashboard' }, [[st.id, st.id]], st.id);

  const toolbarState = () => {
    const cur = st.range || (def ? def.timeRange : '2h');
    const opts = RANGES.includes(cur) ? RANGES : [...RANGES, cur];
    render(rangeSel, ...opts.map((r) => h('option', { value: r, selected: st.from === null && r === cur }, `Last ${r}`)),
      st.from !== null ? h('option', { value: '', selected: true }, 'Zoomed') : null);
    zoomInfo.hidden = st.from === null;
    resetBtn.hidden = st.from === null;
    if (st.from !== null) zoomInfo.textContent = `${dateTime(st.from)} – ${dateTime(st.to)}`;
  };

  rangeSel.addEventListener('change', () => {
    if (!rangeSel.value) return;
    st.range = rangeSel.value;
    st.from = st.to = null;
    keepUrl(true);
    toolbarState();
    loadAll();
  });
  refreshSel.addEventListener('change', () => {
    st.refresh = refreshSel.value;
    keepUrl(false);
    schedule();
  });
  resetBtn.addEventListener('click', () => {
    st.from = st.to = null;
    keepUrl(true);
    toolbarState();
    loadAll();
  });
  outBtn.addEventListener('click', () => {
    const now = serverNow() / 1000;
    const [f, t] = st.from !== null ? [st.from, st.to]
      : [now - parseDuration(st.range || def.timeRange) / 1000, now];
    const span = t - f;
    st.from = Math.floor(f - span / 2);
    st.to = Math.ceil(Math.min(now, t + span / 2));
    keepUrl(true);
    toolbarState();
    loadAll();
  });
  nowBtn.addEventListener('click', () => busy(nowBtn, () => loadAll()));
  boardSel.addEventListener('change', () => go(`/console/dashboards/${encodeURIComponent(boardSel.value)}`));
  list.then((boards) => {
    if (!sc.alive || !boards) return;
    render(boardSel, ...boards.map((b) => h('option', { value: b.id, selected: b.id === st.id }, b.title)));
  }).catch(() => {});

  const draw = (data, only) => {
    for (const p of data.panels) {
      const c = cards.get(p.id);
      if (c && (!only || only.has(p.id))) c.update(p, data, ctx);
    }
    const stamp = st.from === null ? `updated ${time(data.to)}` : `range ends ${time(data.to)}`;
    for (const row of def ? def.rows : []) if (!only || row.panels.some((p) => only.has(p.id))) row.stamp.textContent = stamp;
    updated.textContent = st.from === null ? `Updated ${time(data.to)}` : '';
  };

  const loadAll = async () => {
    const data = await get(`${base}/data`, rangeParams());
    if (sc.alive) draw(data);
    return data;
  };

  const loadRow = async (row) => {
    if (st.from !== null || document.hidden) return;
    const ids = new Set(row.panels.map((p) => p.id));
    try {
      // one request per panel of the row: the others keep their own cadence
      const answers = await Promise.all(row.panels.map((p) => get(`${base}/data`, rangeParams({ panel: p.id }))));
      if (!sc.alive) return;
      for (const a of answers) draw(a, ids);
    } catch (e) {
      if (sc.alive) toast(`${row.title}: ${e.message}`, 'error');
    }
  };

  let timers = [];
  const schedule = () => {
    timers.forEach((t) => clearInterval(t));
    timers = [];
    if (!def || st.refresh === 'off') return;
    for (const row of def.rows) {
      const ms = st.refresh === 'plan' ? row.refreshSeconds * 1000 : parseDuration(st.refresh);
      timers.push(setInterval(() => loadRow(row), Math.max(5000, ms)));
    }
  };
  sc.on(() => timers.forEach((t) => clearInterval(t)));

  let data;
  try {
    [def, data] = await Promise.all([get(base), get(`${base}/data`, rangeParams())]);
  } catch (e) {
    render(el, h('div.dw-card', h('h1', 'Dashboard'), h('p.dw-error', e.message)));
    return sc.end;
  }
  if (!sc.alive) return sc.end;
  if (!st.range) st.range = def.timeRange;
  // a range the URL gave that is not the default needs its own data
  const needOwn = st.from === null && parseDuration(st.range) !== def.timeRangeSeconds * 1000;
  toolbarState();

  const rowsEl = def.rows.map((row) => {
    row.stamp = h('span.dw-row-stamp.dw-muted');
    const panels = row.panels.map((p) => {
      const c = panelCard(p);
      cards.set(p.id, c);
      return c.el;
    });
    return h('section.dw-row', { dataset: { row: row.title, refresh: String(row.refreshSeconds) } },
      h('header.dw-row-head', h('h2', row.title),
        h('span.dw-muted.dw-cadence', rowCadence(row, def)), row.stamp),
      h('div.dw-row-panels', panels));
  });
  sc.on(() => cards.forEach((c) => c.destroy()));

  render(el,
    h('div.dw-dash-head',
      h('div.dw-dash-title', h('h1', def.title), def.description ? h('p.dw-muted', def.description) : null),
      h('div.dw-toolbar', boardSel, rangeSel, zoomInfo, resetBtn, outBtn, refreshSel, nowBtn, updated)),
    def.beforeLaunch ? h('p.dw-note', 'Before launch: the rows refresh at the cadence of the first phase.') : null,
    rowsEl,
    def.links.length ? h('p.dw-links', 'Links: ', def.links.map((l, i) => [i ? ' · ' : '', h('a', { href: l.url }, l.title)])) : null);

  if (needOwn) data = await get(`${base}/data`, rangeParams());
  if (!sc.alive) return sc.end;
  draw(data);
  const drawnMs = performance.now();
  const stats = window.dojowatchConsole;
  if (stats) {
    stats.timings.dashboard = { id: st.id, panels: cards.size, viewMs: Math.round(drawnMs - t0),
      drawnMs: Math.round(drawnMs) };
  }
  document.documentElement.dataset.dashboardDrawn = st.id;
  schedule();
  // the plan's next phase changes the rows' cadence: fetch the definition again then
  if (def.phaseEndsAt) {
    const wait = def.phaseEndsAt * 1000 - serverNow() + 1000;
    if (wait > 0 && wait < 864e5) sc.after(wait, () => go(location.pathname + location.search, { replace: true }));
  }
  el.dataset.range = st.from !== null ? `${st.from}-${st.to}` : st.range;
  return sc.end;
}
