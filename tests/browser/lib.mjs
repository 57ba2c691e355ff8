// lib.mjs - the harness of dojowatch's browser tests: Debian's headless chromium driven by
// playwright-core (from web/node_modules; it never downloads a browser).
//
// DESIGN
//   A browser test is one script, tests/browser/<name>.mjs, started by
//   tests/integration/browser.py against a running daemon:
//       node tests/browser/<name>.mjs --base http://127.0.0.1:PORT --out DIR
//   It calls browserTest(name, async (t) => { ... }) once. The harness launches chromium
//   (/usr/bin/chromium, or $DW_CHROMIUM), runs the body, closes everything and prints ONE
//   line of JSON on stdout, the result:
//       {"test":..,"ok":..,"checks":[{"name","ok","detail"}],"errors":[..],
//        "screenshots":[..],"browser":"156.0..","ms":..}
//   and exits 0 when ok, 1 otherwise. Progress goes to stderr.
//   A test fails when a check fails, the body throws, or any page it opened had an error:
//   an uncaught exception, a console.error, a request that failed on the network, or a
//   response with status >= 400 (except /favicon.ico, and statuses the page was opened
//   with in allowStatus). Every page is watched from its creation (t.newPage / t.open).
//   assetUrl("console.js") gives today's hashed URL from the build's manifest.
//   Screenshots are PNG files in the --out folder (the build dir's
//   browser-screenshots/<test>/), full page, named by the test.
//   Chromium's flags: headless, no GPU, no QUIC, no background networking, component
//   updates or sync (this machine's network is closed; those only produce refused
//   connections), --no-sandbox when root (the sandbox needs an unprivileged user), a
//   throw-away profile (playwright makes one per launch).
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

/** A desktop window. */
export const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };
/** A phone: iPhone 12-15 sized, touch, mobile viewport rules (meta viewport honoured). */
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
};

let manifest = null;

/**
 * "/assets/<hashed>" of a bundled asset by its logical name ("console.js"), from the
 * manifest the build wrote ($DW_ASSET_MANIFEST, set by tests/integration/browser.py).
 */
export function assetUrl(logical) {
  if (!manifest) {
    const path = process.env.DW_ASSET_MANIFEST;
    if (!path) throw new Error('DW_ASSET_MANIFEST is not set (run through tests/integration/browser.py)');
    manifest = JSON.parse(readFileSync(path, 'utf8'));
  }
  const a = manifest[logical];
  if (!a) throw new Error(`${logical} is not a bundled asset (have: ${Object.keys(manifest).join(', ')})`);
  return a.url;
}

function isFavicon(url) {
  try {
    return new URL(url).pathname === '/favicon.ico';
  } catch {
    return false;
  }
}

function parseArgs(argv) {
  const opts = {
    base: process.env.DW_BASE_URL || '',
    out: process.env.DW_BROWSER_OUT || '',
    timeout: Number(process.env.DW_BROWSER_TIMEOUT_MS || 15000),
  };
  for (let i = 2; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--base') opts.base = v;
    else if (k === '--out') opts.out = v;
    else if (k === '--timeout-ms') opts.timeout = Number(v);
    else throw new Error(`unknown argument ${k} (want --base URL --out DIR [--timeout-ms N])`);
    i++;
  }
  if (!opts.base || !opts.out) throw new Error('usage: node <test>.mjs --base URL --out DIR');
  opts.base = opts.base.replace(/\/+$/, '');
  return opts;
}

function launchOptions() {
  const args = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
  return { executablePath: process.env.DW_CHROMIUM || '/usr/bin/chromium', headless: true, args };
}

class TestContext {
  constructor(name, opts, browser) {
    this.name = name;
    this.base = opts.base;
    this.outDir = opts.out;
    this.timeout = opts.timeout;
    this.browser = browser;
    this.checks = [];
    this.errors = [];
    this.screenshots = [];
    this.contexts = [];
  }

  /** The daemon's URL for a path ("/metrics"). */
  url(path) {
    return this.base + path;
  }

  log(...args) {
    console.error(`[${this.name}]`, ...args);
  }

  /** Records a check; a false one fails the test (the body goes on). */
  check(ok, name, detail) {
    this.checks.push({ name, ok: !!ok, ...(detail === undefined ? {} : { detail }) });
    if (!ok) this.log('check failed:', name, detail === undefined ? '' : JSON.stringify(detail));
    return !!ok;
  }

  /**
   * A new page in its own browser context with device (DESKTOP, PHONE or playwright context
   * options), watched for errors. allowStatus: HTTP statuses >= 400 that are not errors.
   */
  async newPage(device = DESKTOP, { allowStatus = [] } = {}) {
    const context = await this.browser.newContext({ ...device });
    this.contexts.push(context);
    context.setDefaultTimeout(this.timeout);
    const page = await context.newPage();
    const where = () => page.url();
    page.on('pageerror', (e) => this.errors.push({ kind: 'pageerror', url: where(), text: String(e) }));
    page.on('console', (m) => {
      // Chromium asks for /favicon.ico by itself and logs its 404; that is no page error.
      if (m.type() === 'error' && !isFavicon(m.location().url))
        this.errors.push({ kind: 'console.error', url: m.location().url || where(), text: m.text() });
    });
    page.on('requestfailed', (r) => {
      const text = r.failure()?.errorText || '';
      // A request still in flight when the page navigates away is cancelled by the browser
      // (net::ERR_ABORTED): not a failure of the server. Refused or reset connections are.
      if (text === 'net::ERR_ABORTED') return;
      this.errors.push({ kind: 'requestfailed', url: r.url(), text });
    });
    page.on('response', (r) => {
      const s = r.status();
      if (s >= 400 && !allowStatus.includes(s) && !isFavicon(r.url()))
        this.errors.push({ kind: 'http', url: r.url(), text: `status ${s}` });
    });
    return page;
  }

  /** newPage + goto(path) until 'load'; checks the status is below 400 unless allowed. */
  async open(path, device = DESKTOP, opts = {}) {
    const page = await this.newPage(device, opts);
    const resp = await page.goto(this.url(path), { waitUntil: 'load' });
    const status = resp ? resp.status() : 0;
    this.check(status > 0 && (status < 400 || (opts.allowStatus || []).includes(status)),
      `GET ${path} answers`, { status });
    return page;
  }

  /**
   * Answers requests for path on the daemon's origin with html inside the browser, for
   * pages the daemon does not serve yet: the page's own requests (/assets/...) still go
   * to the daemon, same origin. Call before page.goto(t.url(path)).
   */
  async serveHtml(page, path, html) {
    await page.route(this.url(path), (route) =>
      route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
  }

  /** A full-page PNG, <out>/<file>.png; returns its path. */
  async screenshot(page, file) {
    mkdirSync(this.outDir, { recursive: true });
    const path = join(this.outDir, `${file}.png`);
    await page.screenshot({ path, fullPage: true });
    this.screenshots.push(path);
    this.check(statSync(path).size > 0, `screenshot ${file}.png is not empty`);
    return path;
  }
}

/** Runs one browser test and exits the process with its result (see DESIGN). */
export async function browserTest(name, body) {
  const t0 = Date.now();
  let opts;
  let browser = null;
  let t = null;
  let thrown = null;
  try {
    opts = parseArgs(process.argv);
    mkdirSync(opts.out, { recursive: true });
    browser = await chromium.launch(launchOptions());
    t = new TestContext(name, opts, browser);
    await body(t);
  } catch (e) {
    thrown = e && e.stack ? e.stack : String(e);
    console.error(`[${name}] ${thrown}`);
  }
  const version = browser ? browser.version() : null;
  if (t) for (const c of t.contexts) await c.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  const checks = t ? t.checks : [];
  const errors = t ? t.errors : [];
  if (thrown) errors.push({ kind: 'exception', text: thrown });
  const ok = !thrown && errors.length === 0 && checks.every((c) => c.ok);
  const result = { test: name, ok, checks, errors, screenshots: t ? t.screenshots : [],
    browser: version, ms: Date.now() - t0 };
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(ok ? 0 : 1);
}
