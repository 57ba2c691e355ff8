// incidents.js - the incidents: the list (open first), opening one, and one incident with its
// state changes, roles, fields, timeline, notes, action items, "page someone", and the
// generated report. What a role may do follows the API: viewers read, responders act.
import { api, can, get, post } from './api.js';
import { busy, field, h, render, select, toast } from './dom.js';
import { ago, dateTime, duration } from './format.js';
import { markdown } from './markdown.js';
import { people } from './plan.js';
import { go } from './router.js';
import { scope } from './scope.js';

// the incident module's state machine (src/incident/incident.c: allowed[])
const NEXT = {
  triggered: ['acknowledged', 'investigating', 'identified', 'monitoring', 'resolved'],
  acknowledged: ['investigating', 'identified', 'monitoring', 'resolved'],
  investigating: ['identified', 'monitoring', 'resolved'],
  identified: ['investigating', 'monitoring', 'resolved'],
  monitoring: ['investigating', 'identified', 'resolved'],
  resolved: ['investigating', 'postmortem', 'closed'],
  postmortem: ['closed'],
  closed: [],
};
const SEVERITIES = [[1, 'SEV1 Critical'], [2, 'SEV2 High'], [3, 'SEV3 Medium'], [4, 'SEV4 Low']];
const OPEN = ['triggered', 'acknowledged', 'investigating', 'identified', 'monitoring'];
const ROLES = [['commander', 'Incident commander'], ['communicationsLead', 'Communications lead'], ['scribe', 'Scribe']];
const FIELDS = [['impact', 'Impact'], ['usersAffected', 'Users affected'], ['rootCause', 'Root cause'],
  ['resolution', 'Resolution'], ['prevention', 'Prevention'], ['lessonsLearned', 'Lessons learned']];

function sevBadge(i) {
  return h(`span.dw-sev.dw-sev-${i.severity}`, `SEV${i.severity}`);
}
function stateBadge(state) {
  const cls = OPEN.includes(state) ? (state === 'triggered' ? 'red' : 'amber') : 'green';
  return h(`span.dw-badge.dw-${cls}`, { dataset: { state } }, state);
}

function newIncidentForm(box, persons) {
  const title = h('input', { required: true, maxlength: 200, placeholder: 'What is broken, for whom' });
  const sev = select({}, SEVERITIES, 2);
  const prio = select({}, [['', 'from the severity'], 'P0', 'P1', 'P2'], '');
  const cmd = select({}, [['', 'nobody yet'], ...persons.map((p) => [p.id, p.name])], '');
  const impact = h('textarea', { rows: 2, placeholder: 'Who cannot do what' });
  const systems = h('input', { placeholder: 'api, database' });
  const ok = h('button.dw-primary', { type: 'submit' }, 'Open incident');
  const f = h('form.dw-card.dw-new-incident', { 'aria-label': 'Open an incident' }, h('h2', 'Open an incident'),
    field('Title', title), h('div.dw-form-row', field('Severity', sev), field('Priority', prio), field('Commander', cmd)),
    field('Impact', impact), field('Affected systems', systems, 'comma separated'),
    h('div.dw-actions', ok, h('button.dw-ghost', { type: 'button', onclick: () => f.remove() }, 'Cancel')));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(ok, async () => {
      const body = { title: title.value.trim(), severity: Number(sev.value) };
      if (prio.value) body.priority = prio.value;
      if (cmd.value) body.commander = cmd.value;
      if (impact.value.trim()) body.impact = impact.value.trim();
      const sys = systems.value.split(',').map((s) => s.trim()).filter(Boolean);
      if (sys.length) body.affectedSystems = sys;
      const r = await post('/api/incidents', body);
      toast(`${r.id} opened`);
      go(`/console/incidents/${encodeURIComponent(r.id)}`);
    });
  });
  box.prepend(f);
  title.focus();
}

export async function incidentsView(el, params, q) {
  const sc = scope();
  const filter = q.state === 'all' ? 'all' : 'open';
  const box = h('div');
  const rows = h('tbody');
  const load = async () => {
    const list = await get('/api/incidents', filter === 'all' ? { limit: 200 } : { state: 'open' });
    if (!sc.alive) return;
    render(rows, list.length ? list.map((i) => h('tr', { dataset: { incident: i.id, state: i.state } },
      h('td', h('a', { href: `/console/incidents/${encodeURIComponent(i.id)}` }, i.id)),
      h('td', sevBadge(i)), h('td.dw-wrap', i.title), h('td', stateBadge(i.state)),
      h('td', i.commander || '–'), h('td', { title: dateTime(i.createdAt) }, ago(i.createdAt)),
      h('td', i.duration || duration(i.durationSeconds * 1000))))
      : h('tr', h('td.dw-empty', { colspan: 7 }, filter === 'open' ? 'No open incidents.' : 'No incidents.')));
    el.dataset.loaded = '1';
  };
  render(el,
    h('div.dw-view-head', h('h1', 'Incidents'),
      h('nav.dw-tabs', h(`a${filter === 'open' ? '.dw-on' : ''}`, { href: '/console/incidents' }, 'Open'),
        h(`a${filter === 'all' ? '.dw-on' : ''}`, { href: '/console/incidents?state=all' }, 'All')),
      can('responder') ? h('button.dw-primary', { type: 'button', onclick: async () => newIncidentForm(box, await people()) }, 'Open an incident') : null),
    box,
    h('div.dw-table-wrap', h('table.dw-table.dw-incidents',
      h('thead', h('tr', ...['Incident', 'Severity', 'Title', 'State', 'Commander', 'Opened', 'Duration'].map((t) => h('th', t)))),
      rows)));
  try {
    await load();
  } catch (e) {
    render(rows, h('tr', h('td.dw-error', { colspan: 7 }, e.message)));
  }
  sc.every(20000, () => load().catch(() => {}));
  return sc.end;
}

function timelineEntry(t) {
  return h(`li.dw-tl.dw-tl-${t.kind}`, { dataset: { kind: t.kind } },
    h('time', { datetime: t.at, title: t.at }, dateTime(t.at)),
    h('span.dw-tl-kind', t.kind.replace(/_/g, ' ')),
    t.who ? h('span.dw-tl-who', t.who) : null,
    h('span.dw-tl-text', t.text));
}

export async function incidentView(el, params) {
  const sc = scope();
  const id = params.id;
  const path = `/api/incidents/${encodeURIComponent(id)}`;
  const [persons, schedules] = await Promise.all([people(),
    get('/api/oncall/now').then((w) => w.schedules).catch(() => [])]);
  const reportBox = h('div.dw-report', { hidden: true });
  const responder = can('responder');

  // What someone has typed or picked and not sent yet (fields with data-keep), by key: a
  // redraw puts it back, the periodic refresh waits, and an action clears only its own.
  const dirty = {};
  const touch = (e) => {
    const k = e.target && e.target.dataset && e.target.dataset.keep;
    if (!k) return;
    if (e.target.value === '' && e.target.tagName !== 'SELECT') delete dirty[k];
    else dirty[k] = e.target.value;
  };
  el.addEventListener('input', touch);
  el.addEventListener('change', touch);
  sc.on(() => {
    el.removeEventListener('input', touch);
    el.removeEventListener('change', touch);
  });
  const restore = () => {
    for (const [k, v] of Object.entries(dirty)) {
      const f = el.querySelector(`[data-keep="${k}"]`);
      if (f) f.value = v;
    }
  };

  const change = async (button, fn, msg, done = []) => busy(button, async () => {
    await fn();
    if (msg) toast(msg);
    for (const k of done) delete dirty[k];
    await draw();
  });

  const draw = async (periodic) => {
    let inc;
    try {
      inc = await get(path);
    } catch (e) {
      if (!periodic) render(el, h('div.dw-card', h('h1', id), h('p.dw-error', e.message), h('a', { href: '/console/incidents' }, 'All incidents')));
      return;
    }
    if (!sc.alive || (periodic && Object.keys(dirty).length)) return;
    const states = h('div.dw-actions.dw-states', responder ? NEXT[inc.state].map((s) => h(`button${s === 'resolved' ? '.dw-primary' : ''}`,
      { type: 'button', dataset: { to: s }, onclick: (e) => change(e.currentTarget, () => post(`${path}/state`, { state: s }), `${id} is ${s}`) },
      s === 'resolved' ? 'Resolve' : `Mark ${s}`)) : []);

    const roleSel = ROLES.map(([k, label]) => field(label, select({ disabled: !responder, dataset: { role: k, keep: `role-${k}` } },
      [['', 'nobody'], ...persons.map((p) => [p.id, p.name])], inc[`${k}Id`] || '')));
    const saveRoles = h('button', { type: 'button', hidden: !responder }, 'Save roles');
    saveRoles.addEventListener('click', () => {
      const body = {};
      for (const r of roleSel) {
        const s = r.querySelector('select');
        if (s.value !== (inc[`${s.dataset.role}Id`] || '')) body[s.dataset.role] = s.value || null;
      }
      if (!Object.keys(body).length) return toast('No role changed');
      return change(saveRoles, () => api('PATCH', path, { body }), 'Roles saved', ROLES.map(([k]) => `role-${k}`));
    });

    const fieldEls = FIELDS.map(([k, label]) => field(label, h('textarea', { rows: 2, disabled: !responder,
      dataset: { field: k, keep: `field-${k}` } }, inc[k] || '')));
    const saveFields = h('button', { type: 'button', hidden: !responder }, 'Save details');
    saveFields.addEventListener('click', () => {
      const body = {};
      for (const f of fieldEls) {
        const t = f.querySelector('textarea');
        const v = t.value.trim();
        if (v !== (inc[t.dataset.field] || '')) body[t.dataset.field] = v || null;
      }
      if (!Object.keys(body).length) return toast('Nothing changed');
      return change(saveFields, () => api('PATCH', path, { body }), 'Details saved', FIELDS.map(([k]) => `field-${k}`));
    });

    const note = h('textarea', { rows: 2, placeholder: 'What happened, what you tried, what you found', 'aria-label': 'Note',
      dataset: { keep: 'note' } });
    const addNote = h('button', { type: 'submit' }, 'Add note');
    const noteForm = h('form.dw-inline-form', note, addNote);
    noteForm.addEventListener('submit', (e) => {
      e.preventDefault();
      if (note.value.trim()) change(addNote, () => post(`${path}/notes`, { text: note.value.trim() }), 'Note added', ['note']);
    });

    const actions = inc.actionItems.map((a) => h('li.dw-action', { dataset: { action: String(a.id), done: String(a.done) } },
      h('label.dw-check', h('input', { type: 'checkbox', checked: a.done, disabled: !responder,
        onchange: (e) => change(null, () => api('PATCH', `${path}/actions/${a.id}`, { body: { done: e.target.checked } })) }),
      ` ${a.task}`),
      h('span.dw-muted', [a.ownerName || a.owner, a.due ? `due ${dateTime(a.due)}` : null].filter(Boolean).join(' · ')),
      a.overdue ? h('span.dw-badge.dw-red', 'overdue') : null));
    const task = h('input', { placeholder: 'Action item', required: true, 'aria-label': 'Task', dataset: { keep: 'task' } });
    const owner = select({ 'aria-label': 'Owner', dataset: { keep: 'owner' } }, [['', 'owner'], ...persons.map((p) => [p.id, p.name])], '');
    const due = h('input', { type: 'date', 'aria-label': 'Due', dataset: { keep: 'due' } });
    const addAction = h('button', { type: 'submit' }, 'Add');
    const actionForm = h('form.dw-inline-form', task, owner, due, addAction);
    actionForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = { task: task.value.trim() };
      if (owner.value) body.owner = owner.value;
      if (due.value) body.due = due.value;
      change(addAction, () => post(`${path}/actions`, body), 'Action item added', ['task', 'owner', 'due']);
    });

    const who = select({ 'aria-label': 'Who to page', dataset: { keep: 'page-who' } }, [...schedules.map((s) => [`schedule:${s.id}`,
      `On call: ${s.name.replace(/\s*\(.*\)$/, '')}${s.onCall ? ` (${s.onCall.name})` : ''}`]), ...persons.map((p) => [p.id, `${p.name}${p.role ? ` (${p.role.replace(/\s*\(.*\)$/, '')})` : ''}`])], schedules.length ? `schedule:${schedules[0].id}` : '');
    const msg = h('input', { placeholder: 'Message: what you need from them', required: true, maxlength: 160, 'aria-label': 'Message',
      dataset: { keep: 'page-msg' } });
    const pageBtn = h('button.dw-primary', { type: 'submit' }, 'Page');
    const pageForm = h('form.dw-inline-form', who, msg, pageBtn);
    pageForm.addEventListener('submit', (e) => {
      e.preventDefault();
      change(pageBtn, async () => {
        const r = await post(`/api/console/incidents/${encodeURIComponent(id)}/page`, { person: who.value, message: msg.value.trim() });
        toast(`${r.name} paged (${r.page}, ${r.priority}): escalates until acknowledged`, 'info');
      }, null, ['page-msg']);
    });

    const showReport = h('button', { type: 'button' }, reportBox.hidden ? 'Show report' : 'Hide report');
    showReport.addEventListener('click', () => busy(showReport, async () => {
      if (!reportBox.hidden) {
        reportBox.hidden = true;
        showReport.textContent = 'Show report';
        return;
      }
      const md = await api('GET', `${path}/report`, { text: true });
      render(reportBox, markdown(md));
      reportBox.hidden = false;
      showReport.textContent = 'Hide report';
    }));

    const times = [['Opened', inc.createdAt], ['Acknowledged', inc.acknowledgedAt], ['Resolved', inc.resolvedAt]]
      .filter(([, t]) => t).map(([k, t]) => h('span', `${k} ${dateTime(t)}`));
    render(el,
      h('p.dw-crumbs', h('a', { href: '/console/incidents' }, 'Incidents'), ' / ', id),
      h('div.dw-inc-head', { dataset: { incident: id, state: inc.state } },
        h('h1', sevBadge(inc), ' ', inc.title),
        h('div.dw-inc-meta', stateBadge(inc.state), inc.priority ? h(`span.dw-prio.dw-prio-${inc.priority}`, inc.priority) : null,
          h('span', `${inc.severityName}`), h('span', `open for ${inc.duration}`), times,
          inc.timeToAcknowledge ? h('span', `acknowledged after ${inc.timeToAcknowledge}`) : null,
          inc.mergedInto ? h('a', { href: `/console/incidents/${encodeURIComponent(inc.mergedInto)}` }, `merged into ${inc.mergedInto}`) : null),
        states),
      inc.breaches && inc.breaches.length ? h('p.dw-error', `Missed targets: ${inc.breaches.map((b) => b.kind || b.target || JSON.stringify(b)).join(', ')}`) : null,
      h('div.dw-inc-grid',
        h('section.dw-card.dw-inc-timeline', h('h2', 'Timeline'), h('ol.dw-timeline', inc.timeline.map(timelineEntry)),
          responder ? noteForm : null),
        h('div.dw-inc-side',
          h('section.dw-card', h('h2', 'Roles'), roleSel, saveRoles,
            inc.commander ? null : h('p.dw-muted', 'No commander yet: name one so everyone knows who decides.')),
          responder ? h('section.dw-card.dw-page-someone', h('h2', 'Page someone'),
            h('p.dw-muted', 'A text and an e-mail now, recorded on the timeline.'), pageForm) : null,
          h('section.dw-card', h('h2', 'Action items'), h('ul.dw-list.dw-actions-list', actions.length ? actions : h('li.dw-empty', 'None yet.')),
            responder ? actionForm : null),
          h('section.dw-card', h('h2', 'Details'), h('p', `Affected: ${(inc.affectedSystems || []).join(', ') || '–'}`),
            h('p', `Detection: ${inc.detection ? inc.detection.method : '–'}${inc.detection && inc.detection.alert ? ` (alert ${inc.detection.alert})` : ''}`),
            fieldEls, saveFields))),
      h('section.dw-card', h('div.dw-view-head', h('h2', 'Incident report'), showReport,
        h('a', { href: `${path}/report?format=html`, target: '_blank', rel: 'noopener' }, 'Open as a page'),
        h('a', { href: `${path}/notice?format=text`, target: '_blank', rel: 'noopener' }, 'User notice')),
      reportBox));
    restore();
    el.dataset.loaded = '1';
  };
  await draw();
  sc.every(20000, () => {
    if (!Object.keys(dirty).length) draw(true).catch(() => {});
  });
  return sc.end;
}
