// status-injection.mjs - text from the configuration, the API and people stays text on the
// public status page. test_status_browser.py configures a title, group, component names and
// a description holding the payloads ($DW_STATUS_PAYLOADS: a <script> element, an attribute
// break-out with an onerror handler, a javascript: URL); this script adds them to a
// maintenance, to incidents' titles and impact, to an internal note and to a public
// update (with the URL as a link in HTML and in Markdown). On /status, the incident's page
// and the history, with JavaScript on: window.__pwned stays undefined, no script, image,
// frame or on* attribute exists, no link goes anywhere but http(s), nothing is requested
// but the document, no dialog opens, and every payload is shown literally. The internal
// note is not public at all. Screenshots: injection, injection-incident.
import { browserTest, DESKTOP } from './lib.mjs';
import { apiOk, extraRequests, openStatus, reloadUntil } from './status-lib.mjs';

const P = JSON.parse(process.env.DW_STATUS_PAYLOADS || 'null');
if (!P) throw new Error('DW_STATUS_PAYLOADS is not set (run through test_status_browser.py)');
const ALL = [P.script, P.attr, P.js];
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** What a page lets run or load, and its text. */
function inspect(page) {
  return page.evaluate(() => ({
    pwned: typeof window.__pwned,
    scripts: document.querySelectorAll('script').length,
    active: document.querySelectorAll('img, iframe, frame, object, embed, video, audio, source, form, '
      + 'svg script, foreignObject').length,
    handlers: [...document.querySelectorAll('*')].flatMap((e) => [...e.attributes]
      .filter((a) => /^on/i.test(a.name)).map((a) => `${e.tagName}@${a.name}`)),
    hrefs: [...document.querySelectorAll('[href], [src], [action], [formaction], [xlink\\:href]')]
      .flatMap((e) => ['href', 'src', 'action', 'formaction', 'xlink:href']
        .filter((n) => e.hasAttribute(n)).map((n) => e.getAttribute(n))),
    title: document.title,
    h1: document.querySelector('h1')?.textContent.trim(),
    text: document.body.textContent,
  }));
}

function checkSafe(t, label, page, seen, mustShow) {
  t.check(seen.pwned === 'undefined', `${label}: window.__pwned is undefined`, seen.pwned);
  t.check(seen.scripts === 0, `${label}: no <script> element (none came from a payload)`, seen.scripts);
  t.check(seen.active === 0, `${label}: no img, frame, object, form or media element`, seen.active);
  t.check(seen.handlers.length === 0, `${label}: no on* attribute`, seen.handlers);
  const own = new URL(t.url('/')).origin;
  const bad = seen.hrefs.filter((h) => {
    try {
      const u = new URL(h, t.url('/status'));
      if (u.protocol === 'https:') return false;
      return !(u.protocol === 'http:' && (u.origin !== own || u.pathname.startsWith('/status')));
    } catch {
      return true;
    }
  });
  t.check(bad.length === 0 && seen.hrefs.every((h) => !/^\s*javascript:/i.test(h)),
    `${label}: every link is http(s), own ones under /status; no javascript: URL`, bad);
  const missing = mustShow.filter((s) => !seen.text.includes(s));
  t.check(missing.length === 0, `${label}: the payloads are shown literally`, missing);
  t.check(extraRequests(page).length === 0, `${label}: nothing but the document was requested`,
    extraRequests(page));
}

await browserTest('status-injection', async (t) => {
  const now = Date.now();
  const maint = `Upgrade ${P.script}`;
  await apiOk(t, 'POST', '/api/status/maintenances', {
    name: maint,
    body: `${P.attr} details: ${P.js} <a href="${P.js}">here</a>`,
    components: ['api'],
    scheduled_for: iso(now + 3600000),
    scheduled_until: iso(now + 7200000),
  });
  const titleA = `Card payments ${P.script}${P.attr}`.slice(0, 200);
  const a = (await apiOk(t, 'POST', '/api/incidents', {
    title: titleA, severity: 3, impact: `${P.attr} ${P.js}`, affectedSystems: ['api', P.attr],
  })).id;
  const note = `internal-note-7f3a ${P.script} ${P.attr}`;
  await apiOk(t, 'POST', `/api/incidents/${a}/notes`, { text: note });
  const body = `${P.script}\n${P.attr}\n[status](${P.js}) <a href="${P.js}">status</a> ${P.js}`;
  await apiOk(t, 'POST', `/api/status/incidents/${a}/updates`,
    { status: 'investigating', body, components: { api: 'major_outage' } });
  const titleB = `Logins ${P.attr}`;
  // a SEV2: published by itself, the notice's text quoting the title
  const b = (await apiOk(t, 'POST', '/api/incidents', { title: titleB, severity: 2 })).id;

  const page = await openStatus(t, '/status', DESKTOP, 'status');
  const shown = await reloadUntil(page, async (p) => {
    const text = await p.evaluate(() => document.body.textContent);
    return text.includes(titleA) && text.includes(titleB);
  }, { timeoutMs: 8000 });
  t.check(shown.ok, 'both incidents are on the page');
  const seen = await inspect(page);
  checkSafe(t, 'status', page, seen, [maint, titleA, titleB, body, ...ALL, `Status ${P.script}`,
    `Platform ${P.attr}`, `API ${P.script}`, `Web ${P.attr}`, `see <a href="${P.js}">here</a> ${P.attr}`]);
  t.check(seen.title === `Status ${P.script}` && seen.h1 === `Status ${P.script}`,
    'status: the configured title is the document title and the h1, literally',
    { title: seen.title, h1: seen.h1 });
  t.check(!seen.text.includes('internal-note-7f3a'), 'status: an internal note is not on the public page');
  await t.screenshot(page, 'injection');

  for (const [id, title] of [[a, titleA], [b, titleB]]) {
    const inc = await openStatus(t, `/status/incidents/${encodeURIComponent(id)}`, DESKTOP, id);
    const s = await inspect(inc);
    checkSafe(t, id, inc, s, id === a ? [title, body, ...ALL] : [title]);
    t.check(s.title.startsWith(title), `${id}: the incident title is the document title, literally`,
      s.title);
    t.check(!s.text.includes('internal-note-7f3a'), `${id}: no internal note on the incident's page`);
    if (id === a) await t.screenshot(inc, 'injection-incident');
  }
  const hist = await openStatus(t, '/status/history', DESKTOP, 'history');
  checkSafe(t, 'history', hist, await inspect(hist), [titleA, titleB, body]);
});
