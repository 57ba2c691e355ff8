// smoke.mjs - the browser pipeline end to end: the bundled console.js and console.css,
// served by the daemon at their hashed /assets/ URLs, load and run in chromium on a
// desktop and a phone; and a page the daemon serves itself today (the on-call link page)
// renders without errors. Screenshots of each. Started by test_browser_smoke.py.
import { browserTest, assetUrl, DESKTOP, PHONE } from './lib.mjs';

const PAGE = '/__browser-smoke.html'; // answered inside the browser (t.serveHtml), same origin

function html(js, css) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dojowatch browser smoke</title>
<link rel="stylesheet" href="${css}">
<script src="${js}" defer></script>
</head><body><div id="dw-console">waiting for console.js</div></body></html>`;
}

async function consolePage(t, device, label) {
  const js = assetUrl('console.js');
  const css = assetUrl('console.css');
  const page = await t.newPage(device);
  const assets = {};
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    if (path === js || path === css) assets[path] = { status: r.status(), headers: r.headers() };
  });
  await t.serveHtml(page, PAGE, html(js, css));
  await page.goto(t.url(PAGE), { waitUntil: 'load' });
  await page.waitForFunction(() => window.dojowatchConsole && window.dojowatchConsole.ready);
  const seen = await page.evaluate(() => ({
    text: document.getElementById('dw-console').textContent,
    marked: document.documentElement.dataset.dwConsole,
    border: getComputedStyle(document.getElementById('dw-console')).borderLeftWidth,
    width: window.innerWidth,
  }));
  t.check(seen.text === 'dojowatch console: assets loaded', `${label}: console.js ran`, seen);
  t.check(seen.marked === 'ready', `${label}: console.js marked the page`, seen);
  t.check(seen.border === '4px', `${label}: console.css applied`, seen);
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
