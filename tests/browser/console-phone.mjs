// console-phone.mjs - the console on a phone (390 px wide, touch): sign in, the dashboard
// with its panels one under the other, and every view usable without sideways scrolling;
// the same in dark mode. Screenshots of each. Started by test_console_browser.py.
import { browserTest, PHONE } from './lib.mjs';
import { dashboardDrawn, sideways, shot, signedIn, viewShot, visit } from './console-lib.mjs';

const VIEWS = [['/console/alerts', 'alerts'], ['/console/incidents?state=all', 'incidents'],
  ['/console/oncall', 'oncall'], ['/console/explore?q=up&range=1h', 'explore'], ['/console/dashboards/dojowatch-self', 'self']];

async function layout(t, page, label) {
  const s = await sideways(page);
  t.check(s.scrollWidth <= s.innerWidth && !s.wide.length, `${label}: no sideways scrolling`, s);
}

/** A viewer sees what a responder sees, without the actions the API would refuse. */
async function viewer(t) {
  const page = await signedIn(t, PHONE, '/console/alerts', { user: 'viewer', password: process.env.DW_VIEWER_PASSWORD });
  await page.waitForSelector('#dw-main[data-loaded="1"]');
  const role = await page.textContent('.dw-user small');
  t.check(role.trim() === 'viewer', 'signed in as a viewer', role);
  const alertActions = await page.$$eval('.dw-alert button', (els) => els.length);
  t.check(alertActions === 0 && await page.locator('li.dw-alert').count() > 0,
    'viewer: alerts are listed without acknowledge or silence', alertActions);
  await visit(t, page, '/console/incidents?state=all');
  await page.waitForSelector('#dw-main[data-loaded="1"]');
  t.check(await page.locator('button:has-text("Open an incident")').count() === 0, 'viewer: no "Open an incident"');
  await page.locator('[data-incident] a').first().click();
  await page.waitForSelector('.dw-inc-head');
  t.check(await page.locator('.dw-states button').count() === 0 && await page.locator('.dw-page-someone').count() === 0,
    'viewer: an incident without state changes or paging');
  await shot(t, page, 'incident-viewer-phone');
}

await browserTest('console-phone', async (t) => {
  await viewer(t);
  for (const scheme of ['light', 'dark']) {
    const page = await signedIn(t, { ...PHONE, colorScheme: scheme }, '/console');
    await dashboardDrawn(page, 'critical-metrics');
    const cols = await page.$$eval('.dw-panel', (els) => [...new Set(els.map((e) => Math.round(e.getBoundingClientRect().width)))]);
    t.check(cols.length === 1 && cols[0] > 330, `${scheme}: panels take the phone's whole width`, cols);
    const nav = await page.$eval('.dw-nav', (e) => e.getBoundingClientRect().right <= window.innerWidth);
    t.check(nav, `${scheme}: the navigation fits`);
    await layout(t, page, `${scheme} dashboard`);
    await viewShot(t, page, `dashboard-phone-${scheme}-top`);
    if (scheme === 'dark') {
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      t.check(bg === 'rgb(13, 17, 23)', 'dark mode: dark background', bg);
      break;
    }
    await shot(t, page, 'dashboard-phone');
    for (const [path, label] of VIEWS) {
      await visit(t, page, path);
      if (label === 'self') await dashboardDrawn(page, 'dojowatch-self');
      else if (label === 'explore') await page.waitForSelector('.dw-explore-table tbody tr');
      else await page.waitForSelector('#dw-main[data-loaded="1"]');
      await layout(t, page, label);
      await shot(t, page, `${label}-phone`);
    }
    const first = await visit(t, page, '/console/incidents?state=all');
    t.check(first.status() === 200, 'incident list answers');
    await page.waitForSelector('#dw-main[data-loaded="1"]');
    const link = page.locator('[data-incident] a').first();
    if (await link.count()) {
      await link.click();
      await page.waitForSelector('.dw-inc-head');
      await layout(t, page, 'incident detail');
      await shot(t, page, 'incident-phone');
    }
  }
});
