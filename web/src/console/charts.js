// charts.js - uPlot (canvas) for time series and heatmaps, SVG for sparklines and gauges.
// Time-series charts of one dashboard share a cursor (uPlot's sync: the crosshair moves on
// every panel at once) and report a drag-selected time range so the view can zoom.
import uPlot from 'uplot';
import { svg } from './dom.js';
import { axisValue, unitValue } from './format.js';

export const PALETTE = ['#3b82f6', '#10b981', '#f59e0b', '#a855f7', '#ec4899', '#14b8a6', '#eab308',
  '#f97316', '#64748b', '#84cc16'];
export const STATE_COLOR = { red: '#dc2626', amber: '#d97706', green: '#16a34a', unknown: '#94a3b8' };

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** A sample value as a number: null for NaN / missing, ±Infinity for "+Inf" / "-Inf". */
export function toNum(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isNaN(v) ? null : v;
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  const n = Number(v);
  return Number.isNaN(n) ? null : n;
}

/**
 * uPlot's columns for series on the grid from .. to every step (seconds): [xs, ys...].
 * A step with no sample is null (a gap); infinities cannot be drawn and are gaps too.
 */
export function align(from, to, step, series) {
  const n = Math.max(1, Math.round((to - from) / step) + 1);
  const start = to - (n - 1) * step;
  const xs = new Array(n);
  for (let i = 0; i < n; i++) xs[i] = start + i * step;
  const ys = series.map((s) => {
    const col = new Array(n).fill(null);
    for (const [t, v] of s.values || []) {
      const i = Math.round((t - start) / step);
      const x = toNum(v);
      if (i >= 0 && i < n && x !== null && Number.isFinite(x)) col[i] = x;
    }
    return col;
  });
  return [xs, ...ys];
}

function sizeOf(el, height) {
  return { width: Math.max(120, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 300)), height };
}

const hm = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' });
const dm = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short' });
function timeValues(u, splits) {
  const span = u.scales.x.max - u.scales.x.min;
  return splits.map((s) => (span > 2 * 86400 ? dm : hm).format(new Date(s * 1000)));
}

/** The y axis as wide as its longest label (uPlot passes the labels it will draw). */
function yAxisSize(u, values) {
  if (!values || !values.length) return 40;
  const longest = Math.max(...values.map((v) => String(v == null ? '' : v).length));
  return Math.max(40, Math.ceil(longest * 7) + 22);
}

function axes(unit, yValues) {
  const fg = cssVar('--dw-muted', '#64748b');
  const grid = cssVar('--dw-grid', 'rgba(127,127,127,0.18)');
  return [
    { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 28,
      font: '11px system-ui, sans-serif', values: timeValues },
    { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: yAxisSize,
      font: '11px system-ui, sans-serif', values: yValues || ((u, vals) => vals.map((v) => axisValue(v, unit))) },
  ];
}

/** The y range: the panel's min / max when set; flat data gets room; ratios start at 0. */
function yRange(o) {
  return (u, lo, hi) => {
    const fixedLo = o.min ?? null;
    const fixedHi = o.max ?? null;
    if (lo === null || hi === null || !Number.isFinite(lo) || !Number.isFinite(hi))
      return [fixedLo ?? 0, fixedHi ?? 1];
    let a;
    let b;
    if (lo === hi) {
      const pad = Math.abs(lo) * 0.1 || 1;
      [a, b] = [lo - pad, hi + pad];
      if (o.unit === 'ratio') [a, b] = [Math.min(0, lo), Math.max(1, hi)];
    } else {
      [a, b] = uPlot.rangeNum(lo, hi, 0.1, true);
    }
    if (lo >= 0 && a < 0) a = 0;
    return [fixedLo ?? a, fixedHi ?? b];
  };
}

/** Dashed lines at each threshold, in its colour. */
function thresholdHook(thresholds) {
  return (u) => {
    if (!thresholds || !thresholds.length) return;
    const { ctx } = u;
    const { left, width, top, height } = u.bbox;
    ctx.save();
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    for (const t of thresholds) {
      const y = u.valToPos(t.value, 'y', true);
      if (!(y >= top && y <= top + height)) continue;
      ctx.strokeStyle = STATE_COLOR[t.color] || t.color;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + width, y);
      ctx.stroke();
    }
    ctx.restore();
  };
}

function zoomHook(onZoom) {
  return (u) => {
    if (!onZoom || u.select.width < 4) return;
    const from = u.posToVal(u.select.left, 'x');
    const to = u.posToVal(u.select.left + u.select.width, 'x');
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    onZoom(from, to);
  };
}

/** Keeps a chart as wide as its box. */
function follow(el, u, height) {
  if (typeof ResizeObserver !== 'function') return () => {};
  let last = el.clientWidth;
  const ro = new ResizeObserver(() => {
    const w = el.clientWidth;
    if (w && Math.abs(w - last) > 2) {
      last = w;
      u.setSize(sizeOf(el, height));
    }
  });
  ro.observe(el);
  return () => ro.disconnect();
}

/**
 * A time-series chart into el. o: data (align()), series [{label, color}], unit, decimals,
 * thresholds, min, max, sync (cursor group key), onZoom(fromS, toS), height, legend.
 * Returns {chart, destroy, setData}.
 */
export function timeSeries(el, o) {
  const height = o.height || 180;
  const opts = {
    ...sizeOf(el, height),
    cursor: {
      sync: o.sync ? { key: o.sync } : undefined,
      drag: { x: true, y: false, setScale: false },
      focus: { prox: 16 },
    },
    focus: { alpha: 0.4 },
    legend: { show: o.legend !== false, live: true },
    scales: { x: { time: true }, y: { range: yRange(o) } },
    axes: axes(o.unit),
    series: [{ value: (u, v) => (v === null ? '–' : new Date(v * 1000).toLocaleTimeString('en-GB')) },
      ...o.series.map((s, i) => ({
        label: s.label,
        stroke: s.color || PALETTE[i % PALETTE.length],
        width: 1.5,
        value: (u, v) => unitValue(v, o.unit, o.decimals),
      }))],
    hooks: { draw: [thresholdHook(o.thresholds)], setSelect: [zoomHook(o.onZoom)] },
  };
  const chart = new uPlot(opts, o.data, el);
  const unfollow = follow(el, chart, height);
  return { chart, setData: (d) => chart.setData(d), destroy: () => { unfollow(); chart.destroy(); } };
}

function heatColor(f, dark) {
  // from the panel's background to a warm red through amber
  const a = Math.max(0.08, Math.min(1, f));
  const r = 239;
  const g = Math.round(200 - 150 * a);
  const b = Math.round(80 - 60 * a);
  return `rgba(${r},${g},${b},${dark ? 0.25 + 0.75 * a : 0.2 + 0.8 * a})`;
}

function leValue(s) {
  const le = s.labels && s.labels.le;
  return le === '+Inf' ? Infinity : Number(le);
}

/**
 * A heatmap of a latency histogram: series with an `le` label (cumulative buckets, as
 * histogram_quantile takes them, or plain counts), x time, y buckets, colour the count.
 */
export function heatmap(el, o) {
  const height = o.height || 200;
  const buckets = o.series.filter((s) => s.labels && s.labels.le !== undefined)
    .sort((a, b) => leValue(a) - leValue(b));
  const cols = align(o.from, o.to, o.step, buckets);
  const xs = cols[0];
  const counts = cols.slice(1);
  // cumulative buckets (each at least the one below) become per-bucket counts
  const cumulative = counts.every((c, j) => j === 0 || c.every((v, i) => v === null || counts[j - 1][i] === null || v >= counts[j - 1][i]));
  const cells = counts.map((c, j) => c.map((v, i) => (v === null ? null
    : cumulative && j > 0 && counts[j - 1][i] !== null ? Math.max(0, v - counts[j - 1][i]) : v)));
  let max = 0;
  for (const c of cells) for (const v of c) if (v !== null && v > max) max = v;
  const labels = buckets.map((s) => (s.labels.le === '+Inf' ? '+Inf' : axisValue(Number(s.labels.le), o.unit)));
  const nb = Math.max(1, buckets.length);
  const dark = matchMedia('(prefers-color-scheme: dark)').matches;
  const draw = (u) => {
    const { ctx } = u;
    const half = (o.step || 1) / 2;
    ctx.save();
    for (let j = 0; j < cells.length; j++) {
      const y0 = u.valToPos(j, 'y', true);
      const y1 = u.valToPos(j + 1, 'y', true);
      for (let i = 0; i < xs.length; i++) {
        const v = cells[j][i];
        if (v === null || v <= 0 || max <= 0) continue;
        const x0 = u.valToPos(xs[i] - half, 'x', true);
        const x1 = u.valToPos(xs[i] + half, 'x', true);
        ctx.fillStyle = heatColor(v / max, dark);
        ctx.fillRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0) + 0.5, Math.abs(y1 - y0) - 1);
      }
    }
    ctx.restore();
  };
  const opts = {
    ...sizeOf(el, height),
    cursor: { sync: o.sync ? { key: o.sync } : undefined, drag: { x: true, y: false, setScale: false },
      points: { show: false } },
    legend: { show: false },
    scales: { x: { time: true }, y: { auto: false, range: [0, nb] } },
    axes: axes(o.unit, (u, vals) => vals.map((v) => labels[Math.floor(v)] ?? '')),
    series: [{}, { label: 'buckets', stroke: 'transparent', paths: () => null, points: { show: false } }],
    hooks: { draw: [draw], setSelect: [zoomHook(o.onZoom)] },
  };
  opts.axes[1].splits = () => labels.map((_, j) => j + 0.5);
  const chart = new uPlot(opts, [xs, xs.map(() => null)], el);
  const unfollow = follow(el, chart, height);
  return { chart, destroy: () => { unfollow(); chart.destroy(); }, max, buckets: nb };
}

/** A sparkline of one aligned column as SVG (no axes, no cursor: cheap for many stats). */
export function sparkline(xs, ys, color, thresholds) {
  const w = 200;
  const hgt = 40;
  const pts = [];
  let lo = Infinity;
  let hi = -Infinity;
  ys.forEach((v) => {
    if (v !== null) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  });
  const el = svg('svg', { viewBox: `0 0 ${w} ${hgt}`, preserveAspectRatio: 'none', class: 'dw-spark',
    'aria-hidden': 'true' });
  if (lo === Infinity) return el;
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const x0 = xs[0];
  const dx = xs[xs.length - 1] - x0 || 1;
  let path = '';
  let pen = false;
  ys.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    const x = ((xs[i] - x0) / dx) * w;
    const y = hgt - 2 - ((v - lo) / (hi - lo)) * (hgt - 4);
    path += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pts.push([x, y]);
    pen = true;
  });
  if (pts.length) {
    const area = `${path}L${pts[pts.length - 1][0].toFixed(1)},${hgt}L${pts[0][0].toFixed(1)},${hgt}Z`;
    el.appendChild(svg('path', { d: area, fill: color, 'fill-opacity': 0.15, stroke: 'none' }));
    el.appendChild(svg('path', { d: path, fill: 'none', stroke: color, 'stroke-width': 1.5,
      'vector-effect': 'non-scaling-stroke' }));
  }
  for (const t of thresholds || []) {
    if (t.value < lo || t.value > hi) continue;
    const y = hgt - 2 - ((t.value - lo) / (hi - lo)) * (hgt - 4);
    el.appendChild(svg('line', { x1: 0, x2: w, y1: y, y2: y, stroke: STATE_COLOR[t.color], 'stroke-dasharray': '4 3',
      'stroke-width': 1, 'vector-effect': 'non-scaling-stroke' }));
  }
  return el;
}

function arc(cx, cy, r, a0, a1) {
  const p = (a) => [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  const [x0, y0] = p(a0);
  const [x1, y1] = p(a1);
  return `M${x0.toFixed(2)},${y0.toFixed(2)}A${r},${r} 0 ${a1 - a0 > Math.PI ? 1 : 0} 1 ${x1.toFixed(2)},${y1.toFixed(2)}`;
}

/** A half-circle gauge from min to max with the thresholds' bands and the value's arc. */
export function gauge({ value, min, max, thresholds, direction, unit, decimals, state }) {
  const cx = 100;
  const cy = 92;
  const r = 72;
  const A0 = Math.PI;
  const span = Math.PI;
  const f = (v) => Math.max(0, Math.min(1, (v - min) / (max - min || 1)));
  const el = svg('svg', { viewBox: '0 0 200 112', class: 'dw-gauge', role: 'img',
    'aria-label': `${unitValue(value, unit, decimals)} of ${unitValue(max, unit, decimals)}` });
  el.appendChild(svg('path', { d: arc(cx, cy, r, A0, A0 + span), class: 'dw-gauge-track', fill: 'none',
    'stroke-width': 14 }));
  // bands: from each threshold towards the bad end
  const ts = thresholds || [];
  ts.forEach((t, i) => {
    const below = direction === 'below_is_bad';
    const next = ts[i + 1];
    const a = f(t.value);
    const b = next ? f(next.value) : below ? 0 : 1;
    const [lo, hi] = a < b ? [a, b] : [b, a];
    if (hi - lo <= 0) return;
    el.appendChild(svg('path', { d: arc(cx, cy, r + 10, A0 + lo * span, A0 + hi * span), fill: 'none',
      stroke: STATE_COLOR[t.color], 'stroke-width': 4 }));
  });
  if (value !== null && value !== undefined && Number.isFinite(value)) {
    const v = f(value);
    if (v > 0.001)
      el.appendChild(svg('path', { d: arc(cx, cy, r, A0, A0 + v * span), fill: 'none',
        stroke: STATE_COLOR[state] || PALETTE[0], 'stroke-width': 14, 'stroke-linecap': 'butt' }));
  }
  el.appendChild(svg('text', { x: cx, y: cy - 8, 'text-anchor': 'middle', class: 'dw-gauge-value' },
    unitValue(value, unit, decimals)));
  el.appendChild(svg('text', { x: cx - r, y: cy + 16, 'text-anchor': 'middle', class: 'dw-gauge-scale' },
    unitValue(min, unit, null)));
  el.appendChild(svg('text', { x: cx + r, y: cy + 16, 'text-anchor': 'middle', class: 'dw-gauge-scale' },
    unitValue(max, unit, null)));
  return el;
}
