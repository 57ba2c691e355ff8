// panels.js - one dashboard panel: its card (title, state, the threshold it is judged
// against, when it was evaluated) and its body by kind: timeseries, stat with sparkline,
// gauge, table, heatmap, status_grid. The server judges the thresholds (state per panel and
// per series); the browser only draws what it said.
import { h, render } from './dom.js';
import { PALETTE, STATE_COLOR, align, gauge, heatmap, sparkline, timeSeries, toNum } from './charts.js';
import { thresholdText, time, unitValue } from './format.js';

const STATE_LABEL = { red: 'Red', amber: 'Amber', green: 'OK', unknown: 'No data' };

function lastValue(s) {
  return s.last ? toNum(s.last[1]) : null;
}

function stateOfValue(def, s) {
  if (s.state) return s.state;
  // A status grid without thresholds: 1 is up, 0 is down (probe_success, up).
  if (def.kind === 'status_grid' && !def.thresholds.length) {
    const v = lastValue(s);
    return v === null ? 'unknown' : v > 0 ? 'green' : 'red';
  }
  return null;
}

function seriesMeta(series) {
  return series.map((s, i) => ({ label: s.legend || '', color: PALETTE[i % PALETTE.length] }));
}

function timeseriesBody(body, def, p, d, ctx) {
  const cols = align(d.from, d.to, d.step, p.series);
  return timeSeries(body, { data: cols, series: seriesMeta(p.series), unit: def.unit, decimals: def.decimals,
    thresholds: def.thresholds, min: def.min, max: def.max, sync: ctx.sync, onZoom: ctx.onZoom,
    height: ctx.height, legend: true });
}

function statBody(body, def, p, d) {
  const cols = align(d.from, d.to, d.step, p.series);
  const list = p.series.slice(0, 6).map((s, i) => {
    const st = stateOfValue(def, s);
    return h(`div.dw-stat${p.series.length > 1 ? '.dw-stat-multi' : ''}`, { dataset: { state: st || 'none' } },
      p.series.length > 1 ? h('span.dw-stat-label', s.legend) : null,
      h('span.dw-stat-value', unitValue(lastValue(s), def.unit, def.decimals)),
      sparkline(cols[0], cols[i + 1], st && st !== 'unknown' ? STATE_COLOR[st] : PALETTE[i % PALETTE.length],
        def.thresholds));
  });
  if (p.series.length > 6) list.push(h('p.dw-muted', `and ${p.series.length - 6} more series`));
  render(body, h('div.dw-stats', list));
  return null;
}

function gaugeBody(body, def, p) {
  // the worst series: the one that decided the panel's state
  const rank = { red: 3, amber: 2, green: 1, unknown: 0 };
  const s = [...p.series].sort((a, b) => (rank[b.state] || 0) - (rank[a.state] || 0))[0];
  render(body, h('div.dw-gauge-box', gauge({ value: lastValue(s), min: def.min ?? 0, max: def.max ?? 1,
    thresholds: def.thresholds, direction: def.direction, unit: def.unit, decimals: def.decimals,
    state: s.state }), p.series.length > 1 ? h('p.dw-muted', s.legend) : null));
  return null;
}

function tableBody(body, def, p) {
  const rows = p.series.map((s) => {
    const st = stateOfValue(def, s);
    return h('tr', { dataset: { state: st || 'none' } },
      h('td', s.legend || '{}'),
      h('td.dw-num', unitValue(lastValue(s), def.unit, def.decimals)),
      h('td', st ? h(`span.dw-dot.dw-${st}`, { title: st }, STATE_LABEL[st]) : ''));
  });
  render(body, h('div.dw-table-wrap', h('table.dw-table',
    h('thead', h('tr', h('th', 'Series'), h('th.dw-num', 'Value'), h('th', 'State'))), h('tbody', rows))));
  return null;
}

function gridBody(body, def, p) {
  const cells = p.series.map((s) => {
    const st = stateOfValue(def, s) || 'unknown';
    const v = lastValue(s);
    const text = def.unit === 'none' && (v === 0 || v === 1) ? (v ? 'up' : 'down') : unitValue(v, def.unit, def.decimals);
    return h(`div.dw-cell.dw-${st}`, { dataset: { state: st }, title: `${s.legend}: ${text}` },
      h('span.dw-cell-label', s.legend || def.title), h('span.dw-cell-value', text));
  });
  render(body, h('div.dw-grid-cells', cells));
  return null;
}

function heatmapBody(body, def, p, d, ctx) {
  return heatmap(body, { series: p.series, from: d.from, to: d.to, step: d.step, unit: def.unit,
    sync: ctx.sync, onZoom: ctx.onZoom, height: ctx.height });
}

const KINDS = { timeseries: timeseriesBody, stat: statBody, gauge: gaugeBody, table: tableBody,
  status_grid: gridBody, heatmap: heatmapBody };

/** A panel's card for its definition; update() draws an answer of /api/dashboards/{id}/data. */
export function panelCard(def) {
  const badge = h('span.dw-badge');
  const judged = h('span.dw-judged');
  const evaluated = h('span.dw-evaluated');
  const body = h('div.dw-panel-body', h('p.dw-muted.dw-loading', 'Loading…'));
  const links = (def.links || []).map((l) => h('a.dw-panel-link', { href: l.url, target: l.url.startsWith('/console') ? null : '_blank', rel: 'noopener' }, l.title));
  const el = h(`section.dw-panel.w-${def.width}`, { dataset: { panel: def.id, kind: def.kind, state: 'pending' },
    'aria-label': def.title },
  h('header.dw-panel-head', h('h3', { title: def.description || def.title }, def.title), badge),
  body,
  h('footer.dw-panel-foot', judged, evaluated, links));
  let chart = null;
  const destroy = () => {
    if (chart) chart.destroy();
    chart = null;
  };
  const update = (p, d, ctx) => {
    destroy();
    const state = p.state || 'none';
    el.dataset.state = state;
    el.dataset.series = String(p.series.length);
    el.dataset.points = String(p.series.reduce((n, s) => n + (s.values ? s.values.length : 0), 0));
    badge.className = `dw-badge dw-${state}`;
    badge.textContent = STATE_LABEL[p.state] || '';
    badge.hidden = !p.state;
    const t = p.threshold;
    judged.textContent = def.thresholds.length
      ? `Judged against ${thresholdText(t || def.thresholds[0], def.unit, def.decimals)}${t && t.crossed ? ' (crossed)' : ''}`
      : 'No threshold';
    evaluated.textContent = `Evaluated ${time(p.evaluatedAt)}`;
    evaluated.title = new Date(p.evaluatedAt * 1000).toISOString();
    if (p.status === 'error') {
      render(body, h('p.dw-error', p.error));
    } else if (!p.series.length) {
      render(body, h('p.dw-empty', 'No data in this range'));
    } else {
      body.textContent = '';
      chart = KINDS[def.kind](body, def, p, d, ctx) || null;
    }
    el.dataset.drawn = '1';
  };
  return { el, update, destroy };
}
