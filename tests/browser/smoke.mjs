// smoke.mjs - the browser pipeline end to end: the console's page shell (GET /console, signed
// out: the sign-in form) loads the bundled console.js and console.css from their hashed
// /assets/ URLs, which run and apply in chromium on a desktop and a phone; and a page the
// daemon renders without scripts (the on-call link page) shows without errors. Screenshots of
// each. Started by test_browser_smoke.py.
import { browserTest, assetUrl, DESKTOP, PHONE } from './lib.mjs';

async function consolePage(t, device, label) {
  const js = assetUrl('console.js');
  const css = assetUrl('console.css');
  const page = await t.newPage(device);
  const assets = {};
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    if (path === js || path === css) assets[path] = { status: r.status(), headers: r.headers() };
  });
  await page.goto(t.url('/console'), { waitUntil: 'load' });
  await page.waitForFunction(() => window.dojowatchConsole && window.dojowatchConsole.ready);
  const seen = await page.evaluate(() => ({
    form: !!document.getElementById('dw-signin'),
    marked: document.documentElement.dataset.dwConsole,
    view: document.getElementById('dw-app').dataset.view,
    display: getComputedStyle(document.querySelector('.dw-signin')).display,
    width: window.innerWidth,
  }));
  t.check(seen.form && seen.view === 'signin', `${label}: console.js drives the sign-in form`, seen);
  t.check(seen.marked === 'ready', `${label}: console.js marked the page`, seen);
  t.check(seen.display === 'grid', `${label}: console.css applied`, seen);
  t.check(seen.width === device.viewport.width, `${label}: viewport width`, seen);
  const h = assets[js] && assets[js].headers;
  t.check(h && assets[js].status === 200, `${label}: ${js} answered 200`, assets[js]);
  t.check(h && h['cache-control'] === 'public, max-age=31536000, immutable',
    `${label}: ${js} is cached as immutable`, h);
  t.check(h && h['content-encoding'] === 'gzip', `${label}: ${js} came gzipped`, h);
  t.check(assets[css] && assets[css].status === 200, `${label}: ${css} answered 200`, assets[css]);
  await t.screenshot(page, `console-${label}`);
}

await browserTest('smoke', async (t) => {
  await consolePage(t, DESKTOP, 'desktop');
  await consolePage(t, PHONE, 'phone');
  // A page the daemon renders itself (no script on it): the on-call link confirmation.
  for (const [device, label] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
    const page = await t.open('/oncall/act?t=browser-smoke', device);
    t.check((await page.locator('form').count()) > 0, `${label}: /oncall/act shows its form`);
    await t.screenshot(page, `oncall-act-${label}`);
  }
});
