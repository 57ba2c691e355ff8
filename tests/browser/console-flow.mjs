// console-flow.mjs - the web console end to end on a desktop, as an on-call engineer uses
// it: sign in (a wrong password first), the Critical Metrics Dashboard with every panel
// drawn from data, the plan strip, the crosshair shared by the charts, drag to zoom (the URL
// keeps it), a threshold breach that turns a panel red, acknowledging and silencing an
// alert, opening an incident and working it to resolved (note, roles, action item, page
// someone, the report), the on-call view with an override, and PromQL with completion in
// Explore. Started by test_console_browser.py, which imported the data and posted the alert
// ConsoleTestAlert; screenshots of each view.
import { browserTest, DESKTOP } from './lib.mjs';
import { apiGet, dashboardDrawn, push, settle, shot, signedIn, viewShot } from './console-lib.mjs';

const BOARD = 'critical-metrics';

async function signInForm(t) {
  const page = await t.open('/console', DESKTOP, { allowStatus: [401] });
  t.check(await page.locator('#dw-signin').count() === 1, 'signed out: the sign-in form is shown');
  t.check(await page.locator('.dw-nav').count() === 0, 'signed out: no navigation');
  await page.fill('#dw-username', 'admin');
  await page.fill('#dw-password', 'not-the-password');
  await page.click('#dw-signin button[type=submit]');
  await page.waitForSelector('#dw-signin-error:not([hidden])');
  const msg = await page.textContent('#dw-signin-error');
  t.check(msg === 'Wrong user name or password.', 'a wrong password says so', msg);
  // the 401 was the answer wanted; chromium logs every failed fetch as a console error
  t.errors = t.errors.filter((e) => !(e.kind === 'console.error' && /\/api\/auth\/login$/.test(e.url) && /401/.test(e.text)));
  await shot(t, page, 'signin-desktop');
}

async function dashboard(t, page) {
  await dashboardDrawn(page, BOARD);
  const panels = await page.$$eval('.dw-panel', (els) => els.map((p) => ({
    id: p.dataset.panel, kind: p.dataset.kind, state: p.dataset.state, points: Number(p.dataset.points),
    canvas: p.querySelectorAll('.dw-panel-body canvas').length, svg: p.querySelectorAll('.dw-panel-body svg').length,
    cells: p.querySelectorAll('.dw-cell').length, rows: p.querySelectorAll('tbody tr').length,
    foot: p.querySelector('.dw-panel-foot').textContent, error: (p.querySelector('.dw-error') || {}).textContent || null })));
  const want = await apiGet(t, `/api/dashboards/${BOARD}`);
  const ids = want.rows.flatMap((r) => r.panels.map((p) => p.id));
  t.check(JSON.stringify(panels.map((p) => p.id)) === JSON.stringify(ids), 'every panel of the definition is on the page',
    { page: panels.map((p) => p.id), api: ids });
  for (const p of panels) {
    const drawn = { timeseries: p.canvas > 0, heatmap: p.canvas > 0, stat: p.svg > 0, gauge: p.svg > 0,
      status_grid: p.cells > 0, table: p.rows > 0 }[p.kind];
    t.check(p.points > 0 && drawn && !p.error, `panel ${p.id} (${p.kind}) is drawn with data`, p);
    t.check(/Evaluated \d\d:\d\d:\d\d/.test(p.foot) && /(Judged against|No threshold)/.test(p.foot),
      `panel ${p.id} says when it was evaluated and what it is judged against`, p.foot);
  }
  const api = panels.find((p) => p.id === 'api-response-time');
  t.check(api && api.state === 'green', 'API response time is green before the breach', api);
  t.check(api && api.foot.includes('Judged against amber at ≥ 400 ms'), 'its threshold is shown in its unit', api && api.foot);
  const rows = await page.$$eval('.dw-row', (els) => els.map((r) => [r.dataset.row, r.dataset.refresh]));
  t.check(JSON.stringify(rows) === JSON.stringify([['System Health', '900'], ['User Experience', '1800'], ['Business Metrics', '3600']]),
    'rows refresh at the plan\'s cadence (15 min, 30 min, 1 h)', rows);
  await page.waitForSelector('#dw-plan[data-loaded="1"]');
  const strip = await page.$$eval('#dw-plan .dw-strip-item', (els) => els.map((e) => e.dataset.item));
  t.check(['phase', 'kpis', 'incidents', 'alerts', 'oncall'].every((k) => strip.includes(k)),
    'the plan strip shows phase, KPIs, incidents, alerts and who is on call', strip);
  const kpis = await page.$$eval('#dw-plan [data-kpi]', (els) => els.length);
  t.check(kpis >= 12, 'the plan strip lists the KPIs against their targets', kpis);
  await shot(t, page, 'dashboard-desktop');
}

async function crosshairAndZoom(t, page) {
  const overs = page.locator('.dw-panel[data-kind="timeseries"] .u-over');
  const box = await overs.nth(0).boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  await page.waitForTimeout(100);
  const shown = await page.$$eval('.dw-panel[data-kind="timeseries"] .u-cursor-x', (els) => els.filter((e) => !e.classList.contains('u-off')).length);
  t.check(shown >= 3, 'the crosshair shows on every time-series chart at once', shown);
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => /[?&]from=\d+&to=\d+/.test(location.search));
  const url = new URL(page.url());
  const span = Number(url.searchParams.get('to')) - Number(url.searchParams.get('from'));
  t.check(span > 600 && span < 3600, 'dragging across a chart zooms and the URL keeps the range', url.search);
  await page.waitForFunction(() => !document.querySelector('.dw-zoom').hidden);
  // the zoomed URL is a view: open it again
  await dashboardDrawn(page, BOARD);
  await settle(page);
  await page.goto(url.href, { waitUntil: 'load' });
  await dashboardDrawn(page, BOARD);
  const sel = await page.$eval('select.dw-range', (s) => s.options[s.selectedIndex].textContent);
  t.check(sel === 'Zoomed', 'the zoomed URL opens zoomed', sel);
  await page.click('text=Back to now');
  await page.waitForFunction(() => !/from=/.test(location.search));
  await dashboardDrawn(page, BOARD);
}

async function breach(t, page) {
  await push(t, 'job:http_request_duration_seconds:p95_5m{job="dojopool-api"} 0.93\n');
  await page.click('.dw-toolbar button:has-text("Refresh")');
  await page.waitForFunction(() => document.querySelector('[data-panel="api-response-time"]').dataset.state === 'red');
  const p = await page.$eval('[data-panel="api-response-time"]', (e) => ({ badge: e.querySelector('.dw-badge').textContent,
    foot: e.querySelector('.dw-panel-foot').textContent }));
  t.check(p.badge === 'Red' && p.foot.includes('red at ≥ 500 ms (crossed)'), 'the breach turns the panel red and names the threshold crossed', p);
  await shot(t, page, 'dashboard-breach');
  await page.mouse.move(420, 440); // the crosshair, shared by every chart
  await viewShot(t, page, 'dashboard-breach-window');
}

async function alerts(t, page) {
  await page.click('.dw-nav a[data-nav="alerts"]');
  await page.waitForSelector('#dw-main[data-loaded="1"]');
  const row = page.locator('li.dw-alert[data-alertname="ConsoleTestAlert"]');
  t.check(await row.count() === 1, 'the posted alert is listed');
  const prio = await row.evaluate((e) => e.closest('.dw-alert-group').dataset.priority);
  t.check(prio === 'P2', 'under its priority', prio);
  await row.locator('button:has-text("Acknowledge")').click();
  await row.locator('form input').fill('looking at checkout');
  await row.locator('form button[type=submit]').click();
  await page.waitForSelector('li.dw-alert[data-alertname="ConsoleTestAlert"] .dw-acked');
  const fp = await row.getAttribute('data-fingerprint');
  const life = (await apiGet(t, '/api/v1/alerts/lifecycle')).find((a) => a.fingerprint === fp);
  t.check(life && life.acknowledged && life.acknowledged.by === 'admin' && life.acknowledged.comment === 'looking at checkout',
    'acknowledged as the signed-in user, with the comment', life && life.acknowledged);
  await shot(t, page, 'alerts-acknowledged');

  await page.locator('li.dw-alert[data-alertname="ConsoleTestAlert"] button:has-text("Silence")').click();
  const editor = page.locator('form.dw-silence-editor');
  const matchers = await editor.locator('.dw-matcher input').evaluateAll((els) => els.map((e) => e.value));
  t.check(matchers.includes('alertname') && matchers.includes('ConsoleTestAlert'), 'the silence editor starts from the alert\'s labels', matchers);
  t.check(/Matches 1 of/.test(await editor.locator('.dw-preview').textContent()), 'and says what it matches');
  await editor.locator('textarea').fill('checkout deploy in progress');
  await shot(t, page, 'silence-editor');
  await editor.locator('button[type=submit]').click();
  await page.waitForSelector('li.dw-silence[data-state="active"]');
  const sil = (await apiGet(t, '/api/v2/silences')).find((s) => s.comment === 'checkout deploy in progress');
  t.check(sil && sil.createdBy === 'admin' && sil.status.state === 'active', 'the silence is active', sil);
  await page.locator(`li.dw-silence[data-silence="${sil.id}"] button:has-text("Expire")`).click();
  await page.waitForFunction((id) => !document.querySelector(`li.dw-silence[data-silence="${id}"]`), sil.id);
  const after = (await apiGet(t, '/api/v2/silences')).find((s) => s.id === sil.id);
  t.check(after && after.status.state === 'expired', 'expiring it from the list ends it', after && after.status);
}

async function incident(t, page) {
  await page.click('.dw-nav a[data-nav="incidents"]');
  await page.waitForSelector('#dw-main[data-loaded="1"]');
  await page.click('button:has-text("Open an incident")');
  const form = page.locator('form.dw-new-incident');
  await form.locator('input').first().fill('Checkout fails for some users');
  await form.locator('select').nth(0).selectOption('2');
  await form.locator('select').nth(2).selectOption('primary-engineer');
  await form.locator('textarea').fill('About 5% of checkouts fail');
  await form.locator('button[type=submit]').click();
  await page.waitForURL(/\/console\/incidents\/INC-/);
  await page.waitForSelector('#dw-main[data-loaded="1"] .dw-inc-head');
  const id = decodeURIComponent(page.url().split('/').pop());
  t.check(await page.textContent('.dw-inc-head h1') === 'SEV2 Checkout fails for some users', 'the new incident opens', id);

  const note = page.locator('form.dw-inline-form textarea[aria-label="Note"]');
  await note.fill('Rolled back the checkout service');
  await page.click('button:has-text("Add note")');
  await page.waitForSelector('.dw-tl-note >> text=Rolled back the checkout service');

  await note.fill('a draft not sent yet');
  await page.selectOption('select[data-role="scribe"]', 'devops-lead');
  await page.click('button:has-text("Save roles")');
  await page.waitForSelector('.dw-tl >> text=scribe: DevOps Lead');
  const draft = await page.inputValue('textarea[aria-label="Note"]');
  t.check(draft === 'a draft not sent yet', 'what is typed and not sent survives another change', draft);
  await page.fill('textarea[aria-label="Note"]', '');

  await page.fill('input[aria-label="Task"]', 'Add a checkout canary');
  await page.selectOption('select[aria-label="Owner"]', 'devops-lead');
  await page.click('form:has(input[aria-label="Task"]) button[type=submit]');
  await page.waitForSelector('li.dw-action >> text=Add a checkout canary');

  await page.fill('input[aria-label="Message"]', 'Checkout is failing, please join');
  await page.click('.dw-page-someone button[type=submit]');
  await page.waitForFunction(() => document.querySelector('.dw-timeline').textContent.includes('paged Primary Engineer'));

  await page.click('button[data-to="investigating"]');
  await page.waitForSelector('.dw-inc-head[data-state="investigating"]');
  await shot(t, page, 'incident-investigating');
  await page.click('button[data-to="resolved"]');
  await page.waitForSelector('.dw-inc-head[data-state="resolved"]');
  const inc = await apiGet(t, `/api/incidents/${encodeURIComponent(id)}`);
  t.check(inc.state === 'resolved' && inc.scribeId === 'devops-lead' && inc.commanderId === 'primary-engineer',
    'resolved, with its roles', { state: inc.state, scribe: inc.scribeId, commander: inc.commanderId });
  t.check(inc.actionItems.length === 1 && inc.timeline.some((e) => e.kind === 'note' && e.who === 'admin'),
    'the note and the action item are on the incident', inc.actionItems);
  await page.click('button:has-text("Show report")');
  await page.waitForSelector('.dw-report .dw-md h2');
  const report = await page.textContent('.dw-report');
  t.check(report.includes('Incident Report') && report.includes(id) && report.includes('Add a checkout canary'),
    'the generated report is shown', report.slice(0, 200));
  await shot(t, page, 'incident-resolved-report');
}

async function oncall(t, page) {
  await page.click('.dw-nav a[data-nav="oncall"]');
  await page.waitForSelector('#dw-main[data-loaded="1"]');
  const who = await page.$$eval('.dw-oncall-now', (els) => els.map((e) => [e.dataset.schedule, e.querySelector('.dw-oncall-who strong').textContent]));
  t.check(JSON.stringify(who) === JSON.stringify([['primary', 'Primary Engineer'], ['secondary', 'Secondary Engineer']]),
    'who is on call now in each schedule', who);
  const days = await page.$$eval('.dw-calendar tbody tr', (els) => els.length);
  t.check(days === 28, 'a calendar of the coming four weeks', days);
  await page.click('button:has-text("New override")');
  const f = page.locator('form[aria-label="New override"]');
  await f.locator('select').nth(1).selectOption('devops-lead');
  await f.locator('button[type=submit]').click();
  await page.waitForSelector('li.dw-override-row');
  await page.waitForSelector('.dw-oncall-now[data-schedule="primary"] [data-person="devops-lead"]');
  t.check(true, 'an override puts its person on call at once');
  await shot(t, page, 'oncall');
  await page.click('li.dw-override-row button:has-text("Delete")');
  await page.waitForSelector('.dw-oncall-now[data-schedule="primary"] [data-person="primary-engineer"]');
  t.check((await apiGet(t, '/api/oncall/overrides')).length === 0, 'deleting the override restores the rotation');
}

async function explore(t, page) {
  await page.click('.dw-nav a[data-nav="explore"]');
  const q = page.locator('textarea.dw-promql');
  await q.click();
  await q.type('job:http_request_dur');
  await page.waitForSelector('#dw-complete li');
  const first = await page.textContent('#dw-complete li');
  t.check(first === 'job:http_request_duration_seconds:p95_5m', 'metric names complete', first);
  await page.keyboard.press('Tab');
  await q.type('{');
  await page.waitForSelector('#dw-complete li');
  const labels = await page.$$eval('#dw-complete li', (els) => els.map((e) => e.textContent));
  t.check(labels.includes('job'), 'label names complete', labels);
  await q.type('jo');
  await page.keyboard.press('Tab');
  await page.waitForSelector('#dw-complete li');
  const values = await page.$$eval('#dw-complete li', (els) => els.map((e) => e.textContent));
  t.check(values.includes('dojopool-api'), 'label values complete', values);
  await page.keyboard.press('Tab');
  await q.type('}');
  const text = await q.inputValue();
  t.check(text === 'job:http_request_duration_seconds:p95_5m{job="dojopool-api"}', 'the completed query', text);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.dw-explore-graph canvas');
  await page.waitForSelector('.dw-explore-table tbody tr td code');
  t.check(new URL(page.url()).searchParams.get('q') === text, 'the URL keeps the query');
  await shot(t, page, 'explore');
}

await browserTest('console-flow', async (t) => {
  await signInForm(t);
  const page = await signedIn(t, DESKTOP, '/console');
  await dashboard(t, page);
  await crosshairAndZoom(t, page);
  await breach(t, page);
  await alerts(t, page);
  await incident(t, page);
  await oncall(t, page);
  await explore(t, page);
  await settle(page);
  await page.click('button.dw-signout');
  await page.waitForSelector('#dw-signin');
  t.check(true, 'signing out shows the sign-in form again');
});
