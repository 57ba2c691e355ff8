// console.js - the web console's entry point: reads the session the page shell
// (src/http/console.c) put on #dw-app, then draws the header, the plan strip and the view of
// the URL (/console/<view>[/<id>]). Signed out, it drives the sign-in form the shell rendered.
// window.dojowatchConsole tells the browser tests what happened (ready, view, timings).
import { api, getSession, setSession, whenSignedOut } from './console/api.js';
import { alertsView } from './console/alerts.js';
import { dashboardView } from './console/dashboard.js';
import { h, render } from './console/dom.js';
import { exploreView } from './console/explore.js';
import { setServerNow } from './console/format.js';
import { incidentView, incidentsView } from './console/incidents.js';
import { oncallView } from './console/oncall.js';
import { drawPlan } from './console/plan.js';
import { route, start } from './console/router.js';

const state = { ready: false, version: '0.1.0', view: null, timings: {} };
window.dojowatchConsole = state;

function paintTimings() {
  for (const e of performance.getEntriesByType('paint')) state.timings[e.name] = Math.round(e.startTime);
}

function signIn(app) {
  const form = document.getElementById('dw-signin');
  const err = document.getElementById('dw-signin-error');
  if (!form) return;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    err.hidden = true;
    try {
      await api('POST', '/api/auth/login', { body: { username: form.username.value, password: form.password.value },
        noSignOut: true });
      location.reload();
    } catch (x) {
      err.textContent = x.status === 401 ? 'Wrong user name or password.'
        : x.status === 429 ? `Too many attempts: ${x.message}` : x.message;
      err.hidden = false;
      form.password.select();
      button.disabled = false;
    }
  });
  app.dataset.view = 'signin';
}

const NAV = [['/console', 'Dashboards', /^\/(console(\/dashboards.*)?)?$/], ['/console/alerts', 'Alerts', /^\/console\/alerts/],
  ['/console/incidents', 'Incidents', /^\/console\/incidents/], ['/console/oncall', 'On call', /^\/console\/oncall/],
  ['/console/explore', 'Explore', /^\/console\/explore/]];

function shell(app) {
  const s = getSession();
  const badges = {};
  const links = NAV.map(([href, label, re]) => {
    badges[label] = h('span.dw-count', { hidden: true });
    return h('a', { href, dataset: { nav: label.toLowerCase().replace(/\s+/g, '') } }, label, badges[label]);
  });
  const signOut = h('button.dw-ghost.dw-signout', { type: 'button' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    signOut.disabled = true;
    await api('POST', '/api/auth/logout').catch(() => {});
    location.href = '/console';
  });
  const strip = h('div#dw-plan.dw-strip', { 'aria-label': 'Launch plan at a glance' });
  const main = h('main#dw-main.dw-main');
  render(app,
    h('header.dw-top',
      h('a.dw-brand', { href: '/console' }, h('span.dw-logo', { 'aria-hidden': 'true' }), 'dojowatch',
        h('span.dw-service', app.dataset.service || '')),
      h('nav.dw-nav', { 'aria-label': 'Console' }, links, h('a', { href: '/status', target: '_blank', rel: 'noopener' }, 'Status page')),
      h('div.dw-user', h('span', { title: `signed in as ${s.user} (${s.role})` }, s.user, h('small', ` ${s.role}`)), signOut)),
    strip, main);
  const mark = (path) => {
    for (const a of links) {
      const on = NAV.find(([href]) => href === a.getAttribute('href'))[2].test(path);
      a.classList.toggle('dw-on', on);
      if (on) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    state.view = path;
  };
  const refreshStrip = () => drawPlan(strip).then((c) => {
    badges.Alerts.textContent = String(c.firing);
    badges.Alerts.hidden = !c.firing;
    badges.Incidents.textContent = String(c.incidents);
    badges.Incidents.hidden = !c.incidents;
  }).catch(() => {});
  refreshStrip();
  setInterval(() => !document.hidden && refreshStrip(), 30000);
  return { main, mark };
}

function boot() {
  const app = document.getElementById('dw-app');
  if (!app) return;
  setServerNow(Number(app.dataset.now));
  if (app.dataset.signedOut) {
    signIn(app);
  } else {
    setSession({ user: app.dataset.user, role: app.dataset.role, csrf: app.dataset.csrf });
    delete app.dataset.csrf;
    whenSignedOut(() => location.reload());
    route('', dashboardView);
    route('dashboards', dashboardView);
    route('dashboards/:id', dashboardView);
    route('alerts', alertsView);
    route('incidents', incidentsView);
    route('incidents/:id', incidentView);
    route('oncall', oncallView);
    route('explore', exploreView);
    const { main, mark } = shell(app);
    start(main, mark);
  }
  state.ready = true;
  document.documentElement.dataset.dwConsole = 'ready';
  if (document.readyState === 'complete') paintTimings();
  else addEventListener('load', () => setTimeout(paintTimings, 0));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
