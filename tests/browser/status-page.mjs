// status-page.mjs - the public status page (/status) as people see it, with the 90-day
// history test_status_browser.py seeded into the store ($DW_STATUS_EXPECT says what it
// implies: each seeded day's worst state and shares, the 90-day uptime):
//   desktop: title, landmarks, heading order, every component with its state, each day's
//     bar colour (computed fill) and label, uptime against the seeded intervals, no
//     script, no request but the document, none off loopback, contrast;
//   desktop without JavaScript: the same content;
//   dark (prefers-color-scheme): the background changes, bars keep their meaning,
//     contrast of every text in both modes;
//   phone (390x844, mobile, 3x): no horizontal scrolling, bars visible, no text under 12px;
//   overrides set over the API: states, group state, banner and today's bars follow.
// Screenshots: desktop, desktop-nojs, dark, phone, desktop-outage.
import { browserTest, DESKTOP, PHONE } from './lib.mjs';
import {
  BAD_STATES, STATES, STATE_LABELS, api, bodyColours, colourState, contrast, extraRequests,
  knownDefect, luminance, openStatus, overflow, parseColor, readStatus, smallText, textContrasts,
} from './status-lib.mjs';

const expect = JSON.parse(process.env.DW_STATUS_EXPECT || 'null');
if (!expect) throw new Error('DW_STATUS_EXPECT is not set (run through test_status_browser.py)');

// Defects of src/ the checks below find today: each is left out of the check it breaks and
// checked to still be there (knownDefect: a fixed one fails until its entry is removed).
const KNOWN = [];

const INDICATOR = { none: 'All Systems Operational', minor: 'Partially Degraded Service',
  major: 'Partial System Outage', critical: 'Major System Outage' };

function worst(states) {
  return states.reduce((a, b) => (STATES.indexOf(b) > STATES.indexOf(a) ? b : a), 'operational');
}

function indicator(states) {
  const w = worst(Object.values(states));
  return w === 'major_outage' ? 'critical' : w === 'partial_outage' ? 'major'
    : w === 'degraded_performance' ? 'minor' : 'none';
}

async function landmarks(t, page, label) {
  const n = {};
  for (const role of ['banner', 'main', 'contentinfo']) n[role] = await page.getByRole(role).count();
  t.check(n.banner === 1 && n.main === 1 && n.contentinfo === 1,
    `${label}: one banner (header), main and contentinfo (footer) landmark`, n);
  const h1 = await page.getByRole('heading', { level: 1 }).allTextContents();
  t.check(h1.length === 1 && h1[0].trim() === expect.title, `${label}: one h1, the page title`, h1);
}

/** Title, structure, components and their states (states: {id: state}). */
function checkStructure(t, s, label, states) {
  t.check(s.title === expect.title, `${label}: document title`, s.title);
  t.check(s.lang === 'en', `${label}: <html lang>`, s.lang);
  t.check(/width=device-width/.test(s.viewport || ''), `${label}: meta viewport`, s.viewport);
  t.check(JSON.stringify(s.bodyChildren) === '["header","main","footer"]',
    `${label}: body is header, main, footer`, s.bodyChildren);
  const levels = s.headings.map((h) => h.level);
  const jumps = levels.filter((l, i) => i > 0 && l > levels[i - 1] + 1);
  t.check(levels[0] === 1 && levels.filter((l) => l === 1).length === 1 && jumps.length === 0,
    `${label}: headings start at h1 and never skip a level`, levels.join(''));
  t.check(s.headings[0].in === 'header' && s.headings.slice(1).every((h) => h.in === 'main'),
    `${label}: the h1 is in the header, the others in main`, s.headings);
  const named = (x) => x.label || (x.labelledBy.length && x.labelledBy.every(Boolean));
  t.check(s.sections.length > 0 && s.sections.every(named),
    `${label}: every section is named (aria-label or aria-labelledby to an element)`, s.sections);
  t.check(s.scripts === 0 && s.handlers === 0, `${label}: no script element, no on* attribute`,
    { scripts: s.scripts, handlers: s.handlers });
  const wantBanner = INDICATOR[indicator(states)];
  t.check(s.banner && s.banner.text === wantBanner, `${label}: overall status says ${wantBanner}`,
    s.banner);

  const names = s.components.map((c) => c.name);
  t.check(JSON.stringify(names) === JSON.stringify(expect.components.map((c) => c.name)),
    `${label}: every configured component, in order`, names);
  for (const want of expect.components) {
    const c = s.components.find((x) => x.name === want.name);
    if (!c) continue;
    const st = states[want.id];
    t.check(c.state === STATE_LABELS[st] && (c.stateClass || '').split(/\s+/).includes(`s-${st}`),
      `${label}: ${want.name} shows ${STATE_LABELS[st]}`, { state: c.state, cls: c.stateClass });
    t.check(c.group === want.group, `${label}: ${want.name} is under ${want.group}`, c.group);
    t.check(!!c.bars === want.showcase, `${label}: ${want.name} ${want.showcase ? 'has' : 'has no'} bars`);
  }
  const platform = expect.components.filter((c) => c.group === 'Platform').map((c) => states[c.id]);
  const g = s.components.find((c) => c.group === 'Platform');
  t.check(g && g.groupState === STATE_LABELS[worst(platform)],
    `${label}: the Platform group shows its worst component`, g && g.groupState);
}

/** "2024-05-01: 75% operational, 25% degraded_performance" -> {state: percent}. */
function parseShares(title) {
  const out = {};
  for (const part of title.slice(12).split(', ')) {
    const m = /^(\d+(?:\.\d+)?)% ([A-Za-z_ ]+)$/.exec(part);
    if (!m) return null;
    out[m[2].toLowerCase().replace(/ /g, '_')] = Number(m[1]);
  }
  return out;
}

/**
 * Each showcase component's 90 bars: colour and label of every day against the seeded
 * history (today: todayStates). Returns {state: fill} for the colour checks.
 */
function checkBars(t, s, label, todayStates, { uptime = true } = {}) {
  const fills = {};
  const bad = [];
  for (const want of expect.components.filter((c) => c.showcase)) {
    const c = s.components.find((x) => x.name === want.name);
    if (!c || !c.bars) continue;
    const b = c.bars;
    const days = expect.days[want.name] || {};
    t.check(b.rects.length === 90, `${label}: ${want.name} has 90 daily bars`, b.rects.length);
    const dates = b.rects.map((r) => (r.title || '').slice(0, 10));
    const consecutive = dates.every((d, i) => i === 0
      || Date.parse(`${d}T00:00:00Z`) - Date.parse(`${dates[i - 1]}T00:00:00Z`) === 86400000);
    t.check(consecutive && dates[89] >= expect.today,
      `${label}: ${want.name}'s bars are 90 days up to today`, { first: dates[0], last: dates[89] });
    let nbad = 0;
    const wrong = [];
    b.rects.forEach((r, i) => {
      const date = dates[i];
      const state = days[date] ? days[date].worst : date < expect.today ? 'none' : todayStates[want.id];
      if (BAD_STATES.includes(state)) nbad++;
      (fills[state] = fills[state] || new Set()).add(r.fill);
      const seen = colourState(r.fill);
      let ok = r.cls === `b-${state}` && seen === state;
      if (state === 'none') ok = ok && r.title === `${date}: no data`;
      else {
        const shares = parseShares(r.title || '');
        const wantShares = days[date] ? days[date].shares : null;
        if (!shares) ok = false;
        else if (wantShares) {
          ok = ok && Object.keys(shares).length === Object.keys(wantShares).length
            && Object.entries(wantShares).every(([k, v]) => Math.abs((shares[k] ?? -1) - v) <= 0.0051);
        } else {
          const sum = Object.values(shares).reduce((x, y) => x + y, 0);
          ok = ok && Math.abs(sum - 100) < 0.05 && worst(Object.keys(shares)) === state;
        }
      }
      if (!ok) wrong.push({ date, want: state, cls: r.cls, fill: r.fill, colour: seen, title: r.title });
    });
    t.check(wrong.length === 0, `${label}: ${want.name}'s bars have the seeded colours and labels`,
      wrong.slice(0, 6));
    const seeded = Object.keys(days).filter((d) => dates.includes(d));
    t.check(seeded.length === Object.keys(days).length,
      `${label}: ${want.name}'s seeded days are all on the page`, seeded);
    const name = `${want.name}: last 90 days, ${nbad} with degraded service or an outage`;
    t.check(b.role === 'img' && b.label === name,
      `${label}: ${want.name}'s bars are one image named with the bad days`,
      { role: b.role, label: b.label, nbad });
    bad.push(nbad);
    if (uptime) {
      const range = expect.uptime[want.name] || [100, 100];
      const m = /^([\d.]+) % uptime over 90 days \(target ([\d.]+) %(, below)?\)$/.exec(b.uptime || '');
      const v = m ? Number(m[1]) : NaN;
      t.check(m && v >= range[0] - 0.0051 && v <= range[1] + 0.0051,
        `${label}: ${want.name}'s 90-day uptime is what the intervals give`,
        { shown: b.uptime, expected: range.map((x) => x.toFixed(3)) });
      t.check(m && Number(m[2]) === expect.target && !!m[3] === v < expect.target,
        `${label}: ${want.name}'s uptime is set against the target, "below" when under it`, b.uptime);
    }
  }
  return fills;
}

/** Colours: one per state, all different; states (not "no data") 3:1 against the page. */
function checkPalette(t, fills, label, background) {
  const one = {};
  for (const [state, set] of Object.entries(fills)) {
    t.check(set.size === 1, `${label}: every ${state} bar has the same colour`, [...set]);
    one[state] = [...set][0];
  }
  const values = Object.values(one);
  t.check(new Set(values).size === values.length, `${label}: each state has its own colour`, one);
  t.check(Object.keys(one).length === 6, `${label}: all five states and "no data" were drawn`,
    Object.keys(one));
  const bg = parseColor(background);
  const low = Object.entries(one).filter(([s, f]) => s !== 'none' && contrast(parseColor(f), bg) < 3)
    .map(([s, f]) => ({ state: s, fill: f, ratio: contrast(parseColor(f), bg).toFixed(2) }));
  t.check(low.length === 0, `${label}: state colours have 3:1 against the background (WCAG 1.4.11)`, low);
  return one;
}

/** Every text's contrast; KNOWN defects are left out (and must still be there). */
async function checkContrast(t, page, label, mode) {
  const body = await bodyColours(page);
  const ratio = contrast(parseColor(body.color), parseColor(body.background));
  t.check(ratio >= 4.5, `${label}: body text contrast ${ratio.toFixed(2)} >= 4.5`, body);
  const items = await textContrasts(page);
  t.check(items.length > 20, `${label}: text found for the contrast check`, items.length);
  const low = items.filter((i) => i.ratio < i.need);
  const known = KNOWN.filter((k) => k.mode === mode);
  const real = low.filter((i) => !known.some((k) => k.path.test(i.path)));
  t.check(real.length === 0, `${label}: every text has WCAG AA contrast`, real.slice(0, 8));
  for (const k of known) {
    const here = items.filter((i) => k.path.test(i.path));
    if (!here.length) continue; // not on this page state
    knownDefect(t, `${label}: contrast of ${k.path.source} (KNOWN in status-page.mjs)`,
      here.some((i) => i.ratio < i.need), k.why, here.map((i) => ({ text: i.text, ratio: i.ratio })));
  }
  return body;
}

await browserTest('status-page', async (t) => {
  const allOperational = Object.fromEntries(expect.components.map((c) => [c.id, 'operational']));

  // Desktop, light, JavaScript on.
  const page = await openStatus(t, '/status', { ...DESKTOP, colorScheme: 'light' }, 'desktop');
  const light = await readStatus(page);
  checkStructure(t, light, 'desktop', allOperational);
  await landmarks(t, page, 'desktop');
  const lightBody = await checkContrast(t, page, 'desktop', 'light');
  const lightBars = checkBars(t, light, 'desktop', allOperational);
  const lightFills = checkPalette(t, lightBars, 'desktop', lightBody.background);
  t.check(extraRequests(page).length === 0, 'desktop: the page loads nothing but itself',
    extraRequests(page));
  await t.screenshot(page, 'desktop');

  // Without JavaScript: the same page.
  const nojs = await openStatus(t, '/status', { ...DESKTOP, javaScriptEnabled: false }, 'no-js');
  const plain = await readStatus(nojs);
  checkStructure(t, plain, 'no-js', allOperational);
  t.check(plain.mainText === light.mainText, 'no-js: main says the same as with JavaScript');
  checkBars(t, plain, 'no-js', allOperational, { uptime: false });
  await t.screenshot(nojs, 'desktop-nojs');

  // Dark.
  const dark = await openStatus(t, '/status', { ...DESKTOP, colorScheme: 'dark' }, 'dark');
  const darkBody = await checkContrast(t, dark, 'dark', 'dark');
  const [lb, db] = [parseColor(lightBody.background), parseColor(darkBody.background)];
  t.check(lb && db && lb.slice(0, 3).join() !== db.slice(0, 3).join(), 'dark: the background changes',
    { light: lightBody.background, dark: darkBody.background });
  t.check(luminance(db) < 0.05 && luminance(lb) > 0.8, 'dark: a dark background (light one in light mode)',
    { light: lightBody.background, dark: darkBody.background });
  const darkRead = await readStatus(dark);
  const darkBars = checkBars(t, darkRead, 'dark', allOperational, { uptime: false });
  const darkFills = checkPalette(t, darkBars, 'dark', darkBody.background);
  t.check(Object.keys(darkFills).every((s) => darkFills[s] !== lightFills[s]),
    'dark: bar colours have their dark variants', { light: lightFills, dark: darkFills });
  await t.screenshot(dark, 'dark');

  // Phone.
  const phone = await openStatus(t, '/status', PHONE, 'phone');
  const o = await overflow(phone);
  t.check(o.innerWidth === 390 && o.scrollWidth <= o.innerWidth, 'phone: no horizontal scrolling', o);
  const ph = await readStatus(phone);
  for (const c of ph.components.filter((x) => x.bars)) {
    const b = c.bars.box;
    const thin = c.bars.rects.filter((r) => !(r.box.w >= 1 && r.box.h >= 16));
    t.check(b.w >= 250 && b.x >= 0 && b.x + b.w <= o.innerWidth && b.h >= 16 && thin.length === 0,
      `phone: ${c.name}'s 90 bars are on screen, each at least 1x16 px`, { box: b, thin: thin.length });
  }
  const small = await smallText(phone, 12);
  t.check(small.length === 0, 'phone: no text under 12px', small.slice(0, 5));
  const pb = await bodyColours(phone);
  t.check(pb.fontSize >= 16, 'phone: body text is at least 16px', pb);
  await t.screenshot(phone, 'phone');

  // Overrides over the API: the page follows at once (dw_status_override rebuilds).
  const set = { realtime: 'degraded_performance', web: 'major_outage', database: 'partial_outage' };
  for (const [id, state] of Object.entries(set)) {
    const r = await api(t, 'POST', `/api/status/components/${id}`, { state });
    t.check(r.status === 200, `override ${id} to ${state} answers 200`, r.status);
  }
  const states = { ...allOperational, ...set };
  const out = await openStatus(t, '/status', DESKTOP, 'outage');
  const outage = await readStatus(out);
  checkStructure(t, outage, 'outage', states);
  const today = { api: 'operational', realtime: 'degraded_performance', web: 'major_outage' };
  checkBars(t, outage, 'outage', today, { uptime: false });
  await checkContrast(t, out, 'outage', 'light');
  const outDark = await openStatus(t, '/status', { ...DESKTOP, colorScheme: 'dark' }, 'outage-dark');
  await checkContrast(t, outDark, 'outage-dark', 'dark');
  await t.screenshot(out, 'desktop-outage');
});
