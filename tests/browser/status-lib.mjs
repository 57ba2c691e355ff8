// status-lib.mjs - what the status page's browser tests (status-*.mjs) share: opening
// /status with every request watched (only loopback, only the document), the management
// API with the token tests/integration/test_status_browser.py passes ($DW_STATUS_TOKEN),
// reading the page's structure, colours and WCAG contrast, and reloading until something
// shows. No test of its own.
import { performance } from 'node:perf_hooks';

/** The labels the page shows for each state (src/status/render.c, state_labels). */
export const STATE_LABELS = {
  operational: 'Operational',
  under_maintenance: 'Under maintenance',
  degraded_performance: 'Degraded performance',
  partial_outage: 'Partial outage',
  major_outage: 'Major outage',
};
export const STATES = Object.keys(STATE_LABELS); // best to worst
export const BAD_STATES = ['degraded_performance', 'partial_outage', 'major_outage'];

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A page on the daemon (t.newPage) whose every request is checked: a request to a host that
 * is not loopback is a page error, and requests lists what the page asked for (the
 * status page is one document: no script, style sheet, font or image of its own).
 */
export async function statusPage(t, device, opts = {}) {
  const page = await t.newPage(device, opts);
  page.requests = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    page.requests.push({ url: r.url(), type: r.resourceType() });
    if (u.protocol !== 'data:' && !LOOPBACK.has(u.hostname))
      t.errors.push({ kind: 'off-loopback request', url: r.url(), text: r.resourceType() });
  });
  page.on('dialog', (d) => {
    t.errors.push({ kind: 'dialog', url: page.url(), text: `${d.type()}: ${d.message()}` });
    d.dismiss().catch(() => {});
  });
  return page;
}

/** statusPage + goto(path); checks the answer is 200 HTML. */
export async function openStatus(t, path, device, label, opts = {}) {
  const page = await statusPage(t, device, opts);
  const resp = await page.goto(t.url(path), { waitUntil: 'load' });
  const type = resp ? resp.headers()['content-type'] || '' : '';
  t.check(resp && resp.status() === 200 && /^text\/html/.test(type), `${label}: GET ${path} answers 200 HTML`,
    resp && { status: resp.status(), type });
  return page;
}

/** The requests a page made besides its documents and Chromium's own /favicon.ico. */
export function extraRequests(page) {
  return page.requests.filter((r) => r.type !== 'document' && new URL(r.url).pathname !== '/favicon.ico');
}

/**
 * A known defect of src/ that a test finds today: stillThere says whether it still shows.
 * While it does, the check passes, named "known defect: ..." (test_status_browser.py
 * prints those); once it is fixed the check fails, asking for the known-defect entry to be
 * removed so that the test asserts the fixed behaviour from then on.
 */
export function knownDefect(t, name, stillThere, why, detail) {
  if (stillThere) t.log(`known defect: ${name}: ${why}`);
  return t.check(stillThere, stillThere ? `known defect: ${name} (${why})`
    : `known defect is fixed, remove its entry from the test: ${name} (${why})`, detail);
}

/** The management API with the responder token: {status, json, text}. */
export async function api(t, method, path, body) {
  const token = process.env.DW_STATUS_TOKEN;
  if (!token) throw new Error('DW_STATUS_TOKEN is not set (run through test_status_browser.py)');
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  const r = await fetch(t.url(path), init);
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: r.status, json, text };
}

/** Like api() but throws unless it answers 2xx; returns the JSON's data. */
export async function apiOk(t, method, path, body) {
  const r = await api(t, method, path, body);
  if (r.status < 200 || r.status > 299)
    throw new Error(`${method} ${path} answered ${r.status}: ${r.text}`);
  return r.json ? r.json.data : null;
}

/**
 * Reloads page (a plain GET of its URL) until probe(page) is truthy or timeoutMs passes,
 * at most one load every minGapMs. Returns {ok, ms (performance.now() when it held), loads}.
 */
export async function reloadUntil(page, probe, { timeoutMs = 5000, minGapMs = 20 } = {}) {
  const start = performance.now();
  let loads = 0;
  for (;;) {
    const t0 = performance.now();
    await page.reload({ waitUntil: 'domcontentloaded' });
    loads++;
    if (await probe(page)) return { ok: true, ms: performance.now(), loads };
    if (performance.now() - start > timeoutMs) return { ok: false, ms: performance.now(), loads };
    const wait = minGapMs - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

/**
 * The page as the tests read it (runs in the page): title, landmarks, headings, banner,
 * components with their state, bars (fill, label, size) and uptime line.
 */
export async function readStatus(page) {
  return page.evaluate(() => {
    const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : null);
    const box = (el) => {
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y, w: r.width, h: r.height };
    };
    const comps = [...document.querySelectorAll('main li')]
      .filter((li) => li.querySelector(':scope > .row > h3, :scope > div > h3'))
      .map((li) => {
        const h3 = li.querySelector('h3');
        const st = h3.nextElementSibling;
        const after = h3.parentElement.nextElementSibling;
        const section = li.closest('section');
        const h2 = section && section.querySelector('h2');
        const svg = li.querySelector('svg');
        let bars = null;
        if (svg) {
          const ps = [...li.querySelectorAll('p')];
          bars = {
            role: svg.getAttribute('role'),
            label: svg.getAttribute('aria-label'),
            box: box(svg),
            rects: [...svg.querySelectorAll('rect')].map((r) => ({
              cls: r.getAttribute('class'),
              fill: getComputedStyle(r).fill,
              title: text(r.querySelector('title')),
              box: box(r),
            })),
            uptime: text(ps[ps.length - 1]),
          };
        }
        return {
          name: text(h3),
          group: h2 ? text(h2.firstChild) : null,
          groupState: h2 && h2.querySelector('span') ? text(h2.querySelector('span')) : null,
          state: text(st),
          stateClass: st ? st.getAttribute('class') : null,
          description: after && after.tagName === 'P' ? text(after) : null,
          bars,
        };
      });
    const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map((h) => ({
      level: Number(h.tagName[1]),
      text: text(h),
      in: ['header', 'main', 'footer'].find((l) => h.closest(l)) || 'body',
    }));
    const sections = [...document.querySelectorAll('main section')].map((s) => {
      const ids = (s.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
      return {
        label: s.getAttribute('aria-label'),
        labelledBy: ids.map((id) => text(document.getElementById(id))),
      };
    });
    const banner = document.querySelector('main section[aria-label="Overall status"]');
    return {
      title: document.title,
      lang: document.documentElement.getAttribute('lang'),
      viewport: document.querySelector('meta[name=viewport]')?.getAttribute('content') || null,
      bodyChildren: [...document.body.children].map((e) => e.tagName.toLowerCase()),
      headings,
      sections,
      banner: banner ? { text: text(banner), cls: banner.getAttribute('class') } : null,
      scripts: document.querySelectorAll('script').length,
      handlers: [...document.querySelectorAll('*')]
        .filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
      components: comps,
      mainText: text(document.querySelector('main')),
    };
  });
}

/** "rgb(1, 2, 3)" / "rgba(1, 2, 3, 0.5)" -> [r, g, b, a]. */
export function parseColor(s) {
  const m = /^rgba?\(([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)(?:[ ,/]+([\d.]+))?\)$/.exec(String(s).trim());
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
}

/** WCAG 2 relative luminance of [r, g, b]. */
export function luminance([r, g, b]) {
  const c = (v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
}

/** WCAG 2 contrast ratio of two colours. */
export function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/** Hue (0-360) and saturation (0-1) of [r, g, b], HSL. */
export function hsl([r, g, b]) {
  const [R, G, B] = [r / 255, g / 255, b / 255];
  const max = Math.max(R, G, B);
  const min = Math.min(R, G, B);
  const l = (max + min) / 2;
  const d = max - min;
  if (d === 0) return { h: 0, s: 0, l };
  const s = d / (1 - Math.abs(2 * l - 1));
  let h;
  if (max === R) h = ((G - B) / d) % 6;
  else if (max === G) h = (B - R) / d + 2;
  else h = (R - G) / d + 4;
  h *= 60;
  if (h < 0) h += 360;
  return { h, s, l };
}

/**
 * Which state a bar colour says, by hue: green operational, blue maintenance, amber
 * degraded, orange partial, red major, grey (unsaturated) no data. null when none fits.
 */
export function colourState(fill) {
  const c = parseColor(fill);
  if (!c) return null;
  const { h, s } = hsl(c);
  if (s < 0.25) return 'none';
  if (h >= 90 && h < 170) return 'operational';
  if (h >= 190 && h < 250) return 'under_maintenance';
  if (h >= 34 && h < 60) return 'degraded_performance';
  if (h >= 14 && h < 34) return 'partial_outage';
  if (h < 14 || h >= 335) return 'major_outage';
  return null;
}

/**
 * Every visible element with text of its own, with its colour composited over the
 * background it is painted on and the contrast WCAG 1.4.3 asks of it (3 for large text:
 * >= 24px, or >= 18.66px and bold; else 4.5). Runs in the page.
 */
export async function textContrasts(page) {
  const items = await page.evaluate(() => {
    const parse = (s) => {
      const m = /^rgba?\(([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)(?:[ ,/]+([\d.]+))?\)$/.exec(s.trim());
      return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])] : null;
    };
    const over = (top, under) => {
      const a = top[3];
      return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat(1);
    };
    // The colour an element is painted on: its own and its ancestors' backgrounds,
    // composited bottom-up over the canvas (white unless the root paints).
    const backdrop = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c[3] > 0) layers.push(c);
        if (c && c[3] >= 1) break;
      }
      let bg = [255, 255, 255, 1];
      for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
      return bg;
    };
    const path = (el) => {
      const parts = [];
      for (let e = el; e && e !== document.body; e = e.parentElement) {
        const cls = e.getAttribute('class');
        parts.unshift(e.tagName.toLowerCase() + (cls ? '.' + cls.trim().split(/\s+/).join('.') : ''));
      }
      return parts.join('>');
    };
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('svg') || ['SCRIPT', 'STYLE', 'TITLE'].includes(el.tagName)) continue;
      const own = [...el.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim())
        .map((n) => n.textContent.trim()).join(' ');
      if (!own) continue;
      const r = el.getBoundingClientRect();
      const cs = getComputedStyle(el);
      if (!r.width || !r.height || cs.visibility !== 'visible' || Number(cs.opacity) === 0) continue;
      const bg = backdrop(el);
      const fg = over(parse(cs.color) || [0, 0, 0, 1], bg);
      const size = parseFloat(cs.fontSize);
      const bold = Number(cs.fontWeight) >= 700;
      out.push({ path: path(el), text: own.slice(0, 40), fg, bg, size, bold });
    }
    return out;
  });
  return items.map((i) => {
    const ratio = contrast(i.fg, i.bg);
    const large = i.size >= 24 || (i.size >= 18.66 && i.bold);
    return { ...i, ratio: Math.round(ratio * 100) / 100, need: large ? 3 : 4.5 };
  });
}

/** The body's own text and background colours. */
export async function bodyColours(page) {
  return page.evaluate(() => {
    const cs = getComputedStyle(document.body);
    return { color: cs.color, background: cs.backgroundColor, fontSize: parseFloat(cs.fontSize) };
  });
}

/** Visible elements with their own text whose font is smaller than px. */
export async function smallText(page, px) {
  return page.evaluate((min) => {
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('svg')) continue;
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own) continue;
      const r = el.getBoundingClientRect();
      const size = parseFloat(getComputedStyle(el).fontSize);
      if (r.width && r.height && size < min)
        out.push({ tag: el.tagName, text: el.textContent.trim().slice(0, 40), size });
    }
    return out;
  }, px);
}

/** Horizontal overflow: the document's scroll width against the viewport's. */
export async function overflow(page) {
  return page.evaluate(() => {
    const wide = [...document.body.querySelectorAll('*')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .slice(0, 5)
      .map((e) => ({ tag: e.tagName, cls: e.getAttribute('class'),
        right: Math.round(e.getBoundingClientRect().right) }));
    return { scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth, wide };
  });
}
