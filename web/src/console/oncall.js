// oncall.js - who is on call now and next in each schedule, a calendar of the coming four
// weeks (from each schedule's iCal feed, overrides included), the overrides with a form to
// add one, gaps and double bookings, and the recent pages.
import { api, can, get, post } from './api.js';
import { busy, field, h, render, select, toast } from './dom.js';
import { ago, dateTime, day, localInput, serverNow } from './format.js';
import { people } from './plan.js';
import { scope } from './scope.js';

const DAY = 864e5;
const WEEKS = 4;

function icalTime(v) {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$/.exec(v);
  if (!m) return null;
  const [y, mo, d, hh = 0, mi = 0, ss = 0, z] = m.slice(1);
  return z || !m[4] ? Date.UTC(+y, mo - 1, +d, +hh, +mi, +ss) : new Date(+y, mo - 1, +d, +hh, +mi, +ss).getTime();
}

/** The VEVENTs of an iCalendar text: {start, end, who, override}. */
export function parseIcal(text) {
  const lines = text.replace(/\r?\n[ \t]/g, '').split(/\r?\n/);
  const events = [];
  let ev = null;
  for (const line of lines) {
    if (line === 'BEGIN:VEVENT') ev = {};
    else if (line === 'END:VEVENT' && ev) {
      if (ev.start !== null && ev.end !== null) events.push(ev);
      ev = null;
    } else if (ev) {
      const i = line.indexOf(':');
      const key = line.slice(0, i).split(';')[0];
      const val = line.slice(i + 1).replace(/\\([,;\\])/g, '$1').replace(/\\n/gi, ' ');
      if (key === 'DTSTART') ev.start = icalTime(val);
      else if (key === 'DTEND') ev.end = icalTime(val);
      else if (key === 'SUMMARY') ev.who = val.replace(/^On call:\s*/, '').replace(/\s*\((?:[^()]|\([^()]*\))*\)$/, '');
      else if (key === 'DESCRIPTION') ev.override = /^override/i.test(val);
    }
  }
  return events;
}

function nowCard(s, next) {
  return h('section.dw-card.dw-oncall-now', { dataset: { schedule: s.id } },
    h('h2', s.name),
    h('p.dw-oncall-who', s.onCall ? h('strong', { dataset: { person: s.onCall.id } }, s.onCall.name) : h('strong.dw-error', 'Nobody is on call'),
      s.onCall && s.onCall.phone ? h('a.dw-muted', { href: `tel:${s.onCall.phone}` }, s.onCall.phone) : null),
    h('p.dw-muted', s.until ? `until ${dateTime(s.until)} (${ago(s.until)})` : 'no change within a year'),
    next && next.onCall ? h('p', 'Next: ', h('strong', next.onCall.name), ` from ${dateTime(s.until)}`) : null,
    h('p.dw-muted', `Time zone ${s.timeZone}`));
}

function calendar(schedules, feeds) {
  const now = new Date(serverNow());
  const first = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const rows = [];
  for (let d = 0; d < WEEKS * 7; d++) {
    const start = first + d * DAY;
    const end = start + DAY;
    const cells = schedules.map((s) => {
      const evs = (feeds[s.id] || []).filter((e) => e.start < end && e.end > start);
      return h('td', evs.length ? evs.map((e) => h(`span.dw-shift${e.override ? '.dw-override' : ''}`,
        { title: `${dateTime(e.start)} – ${dateTime(e.end)}${e.override ? ' (override)' : ''}` },
        e.who, e.start > start ? h('small', ` from ${new Date(e.start).toTimeString().slice(0, 5)}`) : null,
        e.end < end ? h('small', ` until ${new Date(e.end).toTimeString().slice(0, 5)}`) : null))
        : h('span.dw-error', 'gap'));
    });
    const wd = new Date(start).getDay();
    rows.push(h(`tr${d === 0 ? '.dw-today' : ''}${wd === 1 ? '.dw-week-start' : ''}`, h('th', { scope: 'row' }, day(start)), cells));
  }
  return h('div.dw-table-wrap', h('table.dw-table.dw-calendar',
    h('thead', h('tr', h('th', 'Day'), schedules.map((s) => h('th', s.name.replace(/\s*\(.*\)$/, ''))))),
    h('tbody', rows)));
}

function overrideForm(box, schedules, persons, reload) {
  const sched = select({}, schedules.map((s) => [s.id, s.name]), schedules[0] && schedules[0].id);
  const who = select({}, persons.map((p) => [p.id, p.name]), '');
  const replaces = select({}, [['', 'everyone (a plain override)'], ...persons.map((p) => [p.id, p.name])], '');
  const now = serverNow();
  const start = h('input', { type: 'datetime-local', required: true, value: localInput(now) });
  const end = h('input', { type: 'datetime-local', required: true, value: localInput(now + 8 * 36e5) });
  const ok = h('button.dw-primary', { type: 'submit' }, 'Add override');
  const f = h('form.dw-card', { 'aria-label': 'New override' }, h('h3', 'New override'),
    h('div.dw-form-row', field('Schedule', sched), field('Person on call', who), field('Instead of', replaces, 'a swap when set')),
    h('div.dw-form-row', field('From', start), field('Until', end)),
    h('div.dw-actions', ok, h('button.dw-ghost', { type: 'button', onclick: () => f.remove() }, 'Cancel')));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(ok, async () => {
      const body = { schedule: sched.value, person: who.value, start: new Date(start.value).toISOString(),
        end: new Date(end.value).toISOString() };
      if (replaces.value) body.replaces = replaces.value;
      await post('/api/oncall/overrides', body);
      toast('Override added');
      f.remove();
      reload();
    });
  });
  box.prepend(f);
}

export async function oncallView(el) {
  const sc = scope();
  const formBox = h('div');
  const load = async () => {
    const [who, overrides, check, pages, persons] = await Promise.all([get('/api/oncall/now'),
      get('/api/oncall/overrides'), get('/api/oncall/check').catch(() => ({ issues: [] })),
      get('/api/oncall/pages', { limit: 20 }).catch(() => []), people()]);
    const schedules = who.schedules;
    const [nexts, feeds] = await Promise.all([
      Promise.all(schedules.map((s) => (s.until ? get('/api/oncall/now', { schedule: s.id, at: s.until })
        .then((n) => n.schedules[0]).catch(() => null) : null))),
      Promise.all(schedules.map((s) => api('GET', `/api/oncall/schedules/${encodeURIComponent(s.id)}/ical`, { text: true })
        .then(parseIcal).catch(() => []))),
    ]);
    if (!sc.alive) return;
    const byId = Object.fromEntries(schedules.map((s, i) => [s.id, feeds[i]]));
    const name = (id) => (persons.find((p) => p.id === id) || {}).name || id;
    render(el,
      h('div.dw-view-head', h('h1', 'On call'), h('span.dw-muted', `as of ${dateTime(who.at)}`)),
      h('div.dw-oncall-grid', schedules.map((s, i) => nowCard(s, nexts[i]))),
      check.issues && check.issues.length ? h('section.dw-card.dw-issues', h('h2', 'Gaps and double bookings (4 weeks)'),
        h('ul', check.issues.map((i) => h('li', `${i.kind === 'gap' ? 'Nobody on call' : `${name(i.person)} double-booked`} in ${i.schedule}${i.otherSchedule ? ` and ${i.otherSchedule}` : ''}: ${dateTime(i.start)} – ${dateTime(i.end)}`)))) : null,
      h('section.dw-section', h('h2', 'The next four weeks'), calendar(schedules, byId)),
      h('section.dw-section',
        h('div.dw-view-head', h('h2', 'Overrides'), can('responder') ? h('button', { type: 'button', onclick: () => overrideForm(formBox, schedules, persons, load) }, 'New override') : null),
        formBox,
        h('ul.dw-list', overrides.length ? overrides.map((o) => h('li.dw-override-row', { dataset: { override: String(o.id) } },
          h('div.dw-alert-main', h('strong', name(o.person)), ` on call in ${o.schedule}${o.replaces ? ` instead of ${name(o.replaces)}` : ''}`,
            h('p.dw-muted', `${dateTime(o.start)} – ${dateTime(o.end)} · by ${o.createdBy}`)),
          can('responder') ? h('div.dw-actions', h('button.dw-danger', { type: 'button', onclick: (e) => busy(e.currentTarget, async () => {
            await api('DELETE', `/api/oncall/overrides/${o.id}`);
            toast('Override deleted');
            load();
          }) }, 'Delete')) : null))
          : h('li.dw-empty', 'No overrides: the rotations apply.'))),
      h('section.dw-section', h('h2', 'Recent pages'), h('ul.dw-list', pages.length ? pages.map((p) => h('li', { dataset: { page: p.id } },
        h('span.dw-badge.dw-' + (p.state === 'triggered' ? 'red' : p.state === 'acknowledged' ? 'amber' : 'green'), p.state), ' ',
        h('strong', p.id), ` ${p.priority || ''} ${p.summary || ''} `,
        h('span.dw-muted', `${ago(p.createdAt)}${p.ackedBy ? ` · acknowledged by ${p.ackedBy}` : ''}${p.resolvedBy ? ` · resolved by ${p.resolvedBy}` : ''}`)))
        : h('li.dw-empty', 'No pages yet.'))));
    el.dataset.loaded = '1';
  };
  try {
    await load();
  } catch (e) {
    render(el, h('div.dw-card', h('h1', 'On call'), h('p.dw-error', e.message)));
  }
  sc.every(60000, () => {
    if (!formBox.firstChild) load().catch(() => {});
  });
  return sc.end;
}
