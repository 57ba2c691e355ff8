// format.js - numbers in the panels' units, times and durations, as people read them.

const nf = (max) => new Intl.NumberFormat('en', { maximumFractionDigits: max });
const fixed = (d) => new Intl.NumberFormat('en', { minimumFractionDigits: d, maximumFractionDigits: d });

/** A number with `decimals` digits, or a sensible number of them. */
export function num(v, decimals) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '+∞' : '-∞';
  if (decimals !== null && decimals !== undefined) return fixed(decimals).format(v);
  const a = Math.abs(v);
  if (a >= 1e9) return nf(1).format(v / 1e9) + 'G';
  if (a >= 1e6) return nf(1).format(v / 1e6) + 'M';
  if (a >= 1e4) return nf(1).format(v / 1e3) + 'k';
  if (a >= 100) return nf(0).format(v);
  if (a >= 1) return nf(2).format(v);
  if (a === 0) return '0';
  return nf(Math.min(6, 2 - Math.floor(Math.log10(a)))).format(v);
}

function seconds(v, decimals) {
  const a = Math.abs(v);
  if (a === 0) return '0 s';
  if (a < 1e-3) return `${num(v * 1e6, decimals)} µs`;
  if (a < 1) return `${num(v * 1e3, decimals)} ms`;
  if (a < 120) return `${num(v, decimals)} s`;
  return duration(v * 1000);
}

function bytes(v, decimals) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let x = Math.abs(v);
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${v < 0 ? '-' : ''}${num(x, decimals)} ${units[i]}`;
}

/** v in a panel's unit ("seconds", "ratio", "currency:EUR", ...). */
export function unitValue(v, unit, decimals) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '+∞' : '-∞';
  switch (unit) {
    // decimals count in the configured unit; converted to ms or µs they would mislead
    case 'seconds': return seconds(v, null);
    case 'ms': return seconds(v / 1000, null);
    case 'ratio': return `${num(v * 100, decimals)}%`;
    case 'percent': return `${num(v, decimals)}%`;
    case 'bytes': return bytes(v, decimals);
    case 'bytes/s': return `${bytes(v, decimals)}/s`;
    case 'req/s': return `${num(v, decimals)} req/s`;
    case 'ops/s': return `${num(v, decimals)}/s`;
    case 'per_minute': return `${num(v, decimals)}/min`;
    case 'per_hour': return `${num(v, decimals)}/h`;
    case 'per_day': return `${num(v, decimals)}/day`;
    default:
      if (unit && unit.startsWith('currency:')) {
        try {
          return new Intl.NumberFormat('en', { style: 'currency', currency: unit.slice(9),
            maximumFractionDigits: decimals ?? 2 }).format(v);
        } catch {
          return `${num(v, decimals)} ${unit.slice(9)}`;
        }
      }
      return num(v, decimals);
  }
}

/** A shorter label for axes. */
export function axisValue(v, unit) {
  return unitValue(v, unit, null);
}

const OPS = { '>=': '≥', '<=': '≤', '>': '>', '<': '<', '==': '=' };
export function op(o) {
  return OPS[o] || o || '';
}

/** "red at ≥ 500 ms" */
export function thresholdText(t, unit, decimals) {
  if (!t) return 'no threshold';
  return `${t.color} at ${op(t.op)} ${unitValue(t.value, unit, decimals)}`;
}

/** Server-time offset (ms): the shell says the server's now; tests run it on a test clock. */
let offsetMs = 0;
export function setServerNow(ms) {
  if (Number.isFinite(ms)) offsetMs = ms - Date.now();
}
export function serverNow() {
  return Date.now() + offsetMs;
}

/** "2d 4h", "3m 12s", "850 ms". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  const neg = ms < 0;
  let s = Math.abs(ms) / 1000;
  if (s < 1) return `${neg ? '-' : ''}${Math.round(s * 1000)} ms`;
  const parts = [];
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const m = Math.floor(s / 60);
  s = Math.floor(s - m * 60);
  if (d) parts.push(`${d}d`);
  if (hh) parts.push(`${hh}h`);
  if (m && parts.length < 2) parts.push(`${m}m`);
  if (!d && !hh && (s || !parts.length)) parts.push(`${s}s`);
  return (neg ? '-' : '') + parts.slice(0, 2).join(' ');
}

/** ms since epoch from an RFC 3339 string, Unix seconds or ms. */
export function toMs(t) {
  if (t === null || t === undefined || t === '') return null;
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t;
  const v = Date.parse(t);
  return Number.isNaN(v) ? null : v;
}

/** "3m ago" / "in 2d 4h" against the server's now. */
export function ago(t) {
  const ms = toMs(t);
  if (ms === null) return '–';
  const d = serverNow() - ms;
  if (Math.abs(d) < 5000) return 'just now';
  return d > 0 ? `${duration(d)} ago` : `in ${duration(-d)}`;
}

const sameDay = (a, b) => a.toDateString() === b.toDateString();
const tf = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dtf = new Intl.DateTimeFormat('en-GB', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const df = new Intl.DateTimeFormat('en-GB', { weekday: 'short', month: 'short', day: 'numeric' });

/** "10:34:12" today, else "27 Nov, 10:34". */
export function time(t) {
  const ms = toMs(t);
  if (ms === null) return '–';
  const d = new Date(ms);
  return sameDay(d, new Date(serverNow())) ? tf.format(d) : dtf.format(d);
}

export function dateTime(t) {
  const ms = toMs(t);
  return ms === null ? '–' : dtf.format(new Date(ms));
}

export function day(ms) {
  return df.format(new Date(ms));
}

/** Prometheus duration text ("2h", "15m", "1d") in ms; null when it is not one. */
export function parseDuration(s) {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(String(s || '').trim());
  if (!m) return null;
  return Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2]];
}

/** "2h" for 7200000. */
export function durationText(ms) {
  for (const [u, f] of [['w', 6048e5], ['d', 864e5], ['h', 36e5], ['m', 6e4], ['s', 1e3]])
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  return `${Math.round(ms)}ms`;
}

/** value for an <input type=datetime-local> (local time) from ms. */
export function localInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
