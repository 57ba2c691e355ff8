// console-lib.mjs - what the console's browser tests (console-*.mjs) share: signing in
// through the form, waiting for a view, pushing samples with the responder token
// tests/integration/test_console_browser.py passes ($DW_RESPONDER_TOKEN), and layout checks.
// No test of its own.
import { DESKTOP } from './lib.mjs';

export const USER = process.env.DW_CONSOLE_USER || 'admin';
export const PASSWORD = process.env.DW_CONSOLE_PASSWORD || '';

/** A new page signed in through the sign-in form at path (the shell's form, then a reload). */
export async function signedIn(t, device = DESKTOP, path = '/console', { user = USER, password = PASSWORD } = {}) {
  const page = await t.newPage(device);
  page.on('dialog', (d) => {
    t.errors.push({ kind: 'dialog', url: page.url(), text: d.message() });
    d.dismiss().catch(() => {});
  });
  await page.goto(t.url(path), { waitUntil: 'load' });
  await page.fill('#dw-username', user);
  await page.fill('#dw-password', password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#dw-signin button[type=submit]')]);
  await page.waitForFunction(() => window.dojowatchConsole && window.dojowatchConsole.ready);
  return page;
}

/**
 * Waits until the page has no request in flight, before leaving it with goto() or reload():
 * the harness counts a request the browser aborts on the way out as a page error.
 */
export async function settle(page) {
  await page.waitForLoadState('networkidle');
}

/** Opens path in page after the requests of the current one are done. */
export async function visit(t, page, path) {
  await settle(page);
  return page.goto(t.url(path), { waitUntil: 'load' });
}

/** Waits until the dashboard id has drawn every panel. */
export async function dashboardDrawn(page, id) {
  await page.waitForFunction((d) => document.documentElement.dataset.dashboardDrawn === d &&
    [...document.querySelectorAll('.dw-panel')].every((p) => p.dataset.drawn === '1'), id);
}

/** A full-page screenshot from the top (the sticky header would land mid-page otherwise). */
export async function shot(t, page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  return t.screenshot(page, name);
}

/** A screenshot of the window only (what one sees first; docs/console.png is one). */
export async function viewShot(t, page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  const path = `${t.outDir}/${name}.png`;
  await page.screenshot({ path });
  t.screenshots.push(path);
  return path;
}

/** Whether the page scrolls sideways (it must not, on a phone least of all). */
export async function sideways(page) {
  return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    wide: [...document.querySelectorAll('body *')].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.right > window.innerWidth + 1 && !e.closest('.dw-table-wrap, .dw-complete');
    }).slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`) }));
}

/** Pushes Prometheus text (no timestamps: now) with the responder token. */
export async function push(t, text) {
  const r = await fetch(t.url('/api/v1/push'), { method: 'POST', body: text,
    headers: { Authorization: `Bearer ${process.env.DW_RESPONDER_TOKEN}` } });
  if (r.status >= 300) throw new Error(`push answered ${r.status}: ${await r.text()}`);
}

/** A JSON API call with the admin token, for checking what the browser did. */
export async function apiGet(t, path) {
  const r = await fetch(t.url(path), { headers: { Authorization: `Bearer ${process.env.DW_ADMIN_TOKEN}` } });
  const doc = await r.json();
  return doc && doc.status === 'success' ? doc.data : doc;
}
