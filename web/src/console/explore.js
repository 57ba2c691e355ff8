// explore.js - type PromQL (metric names, label names and label values complete from the
// label APIs), see a graph of the range and a table of the instant; the URL keeps the query.
import { get } from './api.js';
import { busy, h, render, select } from './dom.js';
import { PALETTE, align, timeSeries, toNum } from './charts.js';
import { parseDuration, serverNow, unitValue } from './format.js';
import { setQuery } from './router.js';
import { scope } from './scope.js';

const RANGES = ['5m', '15m', '1h', '2h', '6h', '12h', '24h', '2d', '7d'];
const FUNCS = ('abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min count_over_time ' +
  'day_of_month day_of_week days_in_month delta deriv exp floor histogram_quantile holt_winters hour idelta ' +
  'increase irate label_join label_replace last_over_time ln log10 log2 max_over_time min_over_time minute month ' +
  'predict_linear quantile_over_time rate resets round scalar sgn sort sort_desc sqrt stddev_over_time ' +
  'stdvar_over_time sum_over_time time timestamp vector year sum min max avg group stddev stdvar count ' +
  'count_values bottomk topk quantile').split(' ');
const KEYWORDS = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless'];

function seriesName(metric) {
  const { __name__: name, ...rest } = metric || {};
  const labels = Object.entries(rest).map(([k, v]) => `${k}="${v}"`).join(', ');
  return `${name || ''}${labels || !name ? `{${labels}}` : ''}`;
}

/** What to complete at the cursor: {kind: metric|label|value, prefix, metric, label}. */
export function context(pre) {
  const open = pre.lastIndexOf('{');
  if (open > pre.lastIndexOf('}')) {
    const metric = (/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(pre.slice(0, open)) || [])[1] || null;
    const inner = pre.slice(open + 1);
    const v = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/.exec(inner);
    if (v) return { kind: 'value', label: v[1], prefix: v[3], metric };
    const l = /(?:^|,)\s*([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(inner);
    if (l) return { kind: 'label', prefix: l[1] || '', metric };
    return null;
  }
  const g = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)$/.exec(pre);
  if (g) return { kind: 'label', prefix: (/([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(g[1]) || [])[1] || '', metric: null };
  const w = /([a-zA-Z_:][a-zA-Z0-9_:]*)$/.exec(pre);
  if (w) return { kind: 'metric', prefix: w[1] };
  return null;
}

const cache = new Map();
function cached(key, fn) {
  if (!cache.has(key)) cache.set(key, fn().catch((e) => {
    cache.delete(key);
    throw e;
  }));
  return cache.get(key);
}

async function candidates(ctx) {
  if (ctx.kind === 'metric') {
    const names = await cached('names', () => get('/api/v1/label/__name__/values'));
    return [...names, ...FUNCS, ...KEYWORDS];
  }
  const match = ctx.metric ? { 'match[]': ctx.metric } : null;
  if (ctx.kind === 'label')
    return (await cached(`labels:${ctx.metric}`, () => get('/api/v1/labels', match))).filter((l) => l !== '__name__');
  return cached(`values:${ctx.label}:${ctx.metric}`, () => get(`/api/v1/label/${encodeURIComponent(ctx.label)}/values`, match));
}

/** The query box with its completion list. */
function queryBox(initial, run) {
  const input = h('textarea.dw-promql', { rows: 2, spellcheck: 'false', autocapitalize: 'none', autocomplete: 'off',
    'aria-label': 'PromQL query', placeholder: 'rate(dojowatch_http_requests_total[5m])', role: 'combobox',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'dw-complete' }, initial);
  input.value = initial;
  const list = h('ul#dw-complete.dw-complete', { role: 'listbox', hidden: true });
  let items = [];
  let sel = 0;
  let ctx = null;
  let seq = 0;
  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    items = [];
  };
  const accept = (i) => {
    const word = items[i];
    if (!word || !ctx) return;
    const pos = input.selectionStart;
    const before = input.value.slice(0, pos - ctx.prefix.length);
    let after = input.value.slice(pos);
    let ins = word;
    if (ctx.kind === 'value') {
      ins = word.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
      if (!after.startsWith('"')) ins += '"';
    } else if (ctx.kind === 'label' && !/^\s*(=|!|,|\))/.test(after) && before.lastIndexOf('{') > before.lastIndexOf('}')) {
      ins += '="';
    } else if (ctx.kind === 'metric' && FUNCS.includes(word) && !after.startsWith('(')) {
      ins += '(';
      after = after || ')';
    }
    input.value = before + ins + after;
    const at = before.length + ins.length;
    input.setSelectionRange(at, at);
    close();
    input.focus();
    if (ctx.kind === 'label' && ins.endsWith('="')) update();
  };
  const show = () => {
    render(list, ...items.map((w, i) => h(`li${i === sel ? '.dw-sel' : ''}`, { role: 'option', 'aria-selected': String(i === sel),
      onmousedown: (e) => {
        e.preventDefault();
        accept(i);
      } }, w)));
    list.hidden = !items.length;
    input.setAttribute('aria-expanded', String(!!items.length));
    const cur = list.children[sel];
    if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: 'nearest' });
  };
  const update = async () => {
    const mine = ++seq;
    ctx = context(input.value.slice(0, input.selectionStart));
    if (!ctx) return close();
    let all;
    try {
      all = await candidates(ctx);
    } catch {
      return close();
    }
    if (mine !== seq) return undefined;
    const p = ctx.prefix.toLowerCase();
    const starts = all.filter((w) => w.toLowerCase().startsWith(p) && w !== ctx.prefix);
    const has = all.filter((w) => !w.toLowerCase().startsWith(p) && w.toLowerCase().includes(p));
    items = [...new Set([...starts, ...has])].slice(0, 50);
    sel = 0;
    if (ctx.kind === 'metric' && !p) items = [];
    show();
    return undefined;
  };
  input.addEventListener('input', update);
  input.addEventListener('click', update);
  input.addEventListener('blur', () => setTimeout(close, 150));
  input.addEventListener('keydown', (e) => {
    if (!list.hidden && items.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        sel = (sel + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
        show();
        return;
      }
      if (e.key === 'Tab' || (e.key === 'Enter' && !e.ctrlKey && !e.metaKey)) {
        e.preventDefault();
        accept(sel);
        return;
      }
      if (e.key === 'Escape') {
        close();
        return;
      }
    }
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey || !e.shiftKey)) {
      e.preventDefault();
      close();
      run();
    }
  });
  return { el: h('div.dw-query-box', input, list), input };
}

export async function exploreView(el, params, q) {
  const sc = scope();
  let chart = null;
  sc.on(() => chart && chart.destroy());
  const rangeSel = select({ 'aria-label': 'Range' }, RANGES.map((r) => [r, `Last ${r}`]), RANGES.includes(q.range) ? q.range : '1h');
  const graph = h('div.dw-explore-graph');
  const table = h('div.dw-explore-table');
  const info = h('p.dw-muted.dw-explore-info');
  const runBtn = h('button.dw-primary', { type: 'button' }, 'Run');
  const run = () => busy(runBtn, async () => {
    const expr = box.input.value.trim();
    setQuery({ q: expr, range: rangeSel.value });
    if (!expr) return;
    const end = serverNow() / 1000;
    const span = parseDuration(rangeSel.value) / 1000;
    const step = Math.max(1, Math.round(span / 250));
    const t0 = performance.now();
    const [range, instant] = await Promise.all([
      get('/api/v1/query_range', { query: expr, start: (end - span).toFixed(3), end: end.toFixed(3), step }).catch((e) => ({ error: e })),
      get('/api/v1/query', { query: expr, time: end.toFixed(3) }).catch((e) => ({ error: e }))]);
    if (!sc.alive) return;
    if (chart) chart.destroy();
    chart = null;
    if (range.error) render(graph, h('p.dw-error', range.error.message));
    else if (!range.result.length) render(graph, h('p.dw-empty', 'No series in this range'));
    else {
      graph.textContent = '';
      const series = range.result.slice(0, 50);
      const start = Number((end - span).toFixed(3));
      const cols = align(start, start + Math.floor(span / step) * step, step, series.map((s) => ({ values: s.values })));
      chart = timeSeries(graph, { data: cols, series: series.map((s, i) => ({ label: seriesName(s.metric), color: PALETTE[i % PALETTE.length] })),
        unit: 'none', height: 260, legend: series.length <= 12 });
    }
    if (instant.error) render(table, h('p.dw-error', instant.error.message));
    else {
      const res = instant.resultType === 'vector' ? instant.result.map((r) => [seriesName(r.metric), r.value[1]])
        : instant.resultType === 'matrix' ? instant.result.map((r) => [seriesName(r.metric), `${r.values.length} samples`])
          : [[instant.resultType, String(instant.result[1])]];
      render(table, h('div.dw-table-wrap', h('table.dw-table',
        h('thead', h('tr', h('th', 'Series'), h('th.dw-num', 'Value'))),
        h('tbody', res.length ? res.map(([k, v]) => h('tr', h('td.dw-wrap', h('code', k)), h('td.dw-num', toNum(v) === null ? String(v) : unitValue(toNum(v), 'none'))))
          : h('tr', h('td.dw-empty', { colspan: 2 }, 'Empty result'))))));
    }
    const n = range.result ? range.result.length : 0;
    info.textContent = `${n} series, step ${step}s, ${Math.round(performance.now() - t0)} ms`;
    el.dataset.ran = expr;
  });
  const box = queryBox(q.q || '', run);
  runBtn.addEventListener('click', run);
  rangeSel.addEventListener('change', run);
  render(el, h('div.dw-view-head', h('h1', 'Explore'), h('span.dw-muted', 'PromQL over everything dojowatch stores')),
    h('div.dw-explore-form', box.el, h('div.dw-toolbar', rangeSel, runBtn, h('span.dw-muted', 'Enter runs, Shift+Enter adds a line, Tab completes'))),
    info, h('section.dw-card', h('h2', 'Graph'), graph), h('section.dw-card', h('h2', 'Table'), table));
  if (q.q) run();
  else box.input.focus();
  return sc.end;
}
