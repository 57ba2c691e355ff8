// alerts.js - firing and pending alerts by priority with acknowledge and silence, the open
// pages with acknowledge / resolve, and the silences with an editor (Alertmanager's API v2,
// dojowatch's ack route). Actions need the responder role; a viewer sees the same list.
import { api, can, get, getSession } from './api.js';
import { busy, field, h, render, select, toast } from './dom.js';
import { ago, dateTime, localInput, serverNow, toMs } from './format.js';
import { scope } from './scope.js';

const PRIORITIES = ['P0', 'P1', 'P2'];
const OPS = [['=', '='], ['!=', '!='], ['=~', '=~'], ['!~', '!~']];

function matcherOp(m) {
  const neg = m.isEqual === false;
  return m.isRegex ? (neg ? '!~' : '=~') : neg ? '!=' : '=';
}

function matches(m, labels) {
  const v = labels[m.name] ?? '';
  let ok;
  if (m.isRegex) {
    try {
      ok = new RegExp(`^(?:${m.value})$`).test(v);
    } catch {
      ok = false;
    }
  } else ok = v === m.value;
  return m.isEqual === false ? !ok : ok;
}

function labelChips(labels, skip) {
  return h('ul.dw-labels', Object.entries(labels || {}).filter(([k]) => !skip.includes(k))
    .map(([k, v]) => h('li', h('span.dw-lk', k), '=', h('span.dw-lv', v))));
}

function alertRow(a, actions) {
  const ack = a.acknowledged;
  return h(`li.dw-alert.dw-alert-${a.state}`, { dataset: { fingerprint: a.fingerprint, state: a.state,
    alertname: a.labels.alertname || '' } },
  h('div.dw-alert-main',
    h('div.dw-alert-title', h(`span.dw-badge.dw-${a.state === 'firing' ? 'red' : 'amber'}`, a.state),
      h('strong', a.labels.alertname || a.fingerprint),
      a.flapping ? h('span.dw-badge.dw-amber', 'flapping') : null,
      a.silencedBy && a.silencedBy.length ? h('span.dw-badge.dw-none', 'silenced') : null),
    a.annotations && a.annotations.summary ? h('p', a.annotations.summary) : null,
    labelChips(a.labels, ['alertname', 'priority']),
    h('p.dw-muted', `${a.state === 'firing' ? 'firing since' : 'pending since'} ${dateTime(a.state === 'firing' ? a.firingAt : a.pendingAt)} (${ago(a.state === 'firing' ? a.firingAt : a.pendingAt)})`),
    ack ? h('p.dw-acked', { dataset: { acked: ack.by } }, `Acknowledged by ${ack.by} ${ago(ack.at)}${ack.comment ? `: “${ack.comment}”` : ''}`) : null),
  h('div.dw-actions', actions));
}

/** The silence editor: matchers, how long, why. Resolves after a save or a cancel. */
function silenceEditor(box, { silence, labels, alerts, onDone }) {
  const now = serverNow();
  const ms = silence ? silence.matchers.map((m) => ({ ...m })) : Object.entries(labels || {})
    .filter(([k]) => ['alertname', 'service', 'instance', 'probe'].includes(k))
    .map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
  if (!ms.length) ms.push({ name: 'alertname', value: '', isRegex: false, isEqual: true });
  const rows = h('div.dw-matchers');
  const preview = h('p.dw-muted.dw-preview');
  const read = () => [...rows.children].map((r) => {
    const [name, opSel, value] = r.querySelectorAll('input, select');
    const o = opSel.value;
    return { name: name.value.trim(), value: value.value, isRegex: o.includes('~'), isEqual: !o.startsWith('!') };
  }).filter((m) => m.name);
  const refresh = () => {
    const m = read();
    const hit = m.length ? alerts.filter((a) => m.every((x) => matches(x, a.labels))) : [];
    preview.textContent = `Matches ${hit.length} of the ${alerts.length} alerts shown${hit.length ? `: ${[...new Set(hit.map((a) => a.labels.alertname))].join(', ')}` : ''}`;
  };
  const addRow = (m) => {
    const r = h('div.dw-matcher',
      h('input', { 'aria-label': 'Label', placeholder: 'label', value: m.name, required: true, oninput: refresh }),
      select({ 'aria-label': 'Operator', onchange: refresh }, OPS, matcherOp(m)),
      h('input', { 'aria-label': 'Value', placeholder: 'value', value: m.value, oninput: refresh }),
      h('button.dw-ghost', { type: 'button', 'aria-label': 'Remove matcher', onclick: () => { r.remove(); refresh(); } }, '×'));
    rows.appendChild(r);
  };
  ms.forEach(addRow);
  const start = silence ? Math.max(toMs(silence.startsAt), now) : now;
  const end = silence ? toMs(silence.endsAt) : now + 2 * 36e5;
  const durSel = select({}, [['1h', '1 hour'], ['2h', '2 hours'], ['4h', '4 hours'], ['12h', '12 hours'],
    ['1d', '1 day'], ['3d', '3 days'], ['custom', 'Until…']], silence ? 'custom' : '2h');
  const until = h('input', { type: 'datetime-local', value: localInput(end), hidden: !silence });
  durSel.addEventListener('change', () => { until.hidden = durSel.value !== 'custom'; });
  const comment = h('textarea', { rows: 2, required: true, placeholder: 'Why: the ticket, the maintenance, who is on it' },
    silence ? silence.comment : '');
  const save = h('button.dw-primary', { type: 'submit' }, silence ? 'Update silence' : 'Silence');
  const form = h('form.dw-card.dw-silence-editor', { 'aria-label': 'Silence editor' },
    h('h3', silence ? 'Edit silence' : 'New silence'),
    h('p.dw-muted', 'Alerts matching every matcher are silenced: no notifications, no pages.'),
    rows,
    h('button.dw-ghost', { type: 'button', onclick: () => { addRow({ name: '', value: '', isEqual: true }); refresh(); } }, '+ Matcher'),
    preview,
    h('div.dw-form-row', field('Duration', durSel), until),
    field('Comment', comment),
    h('p.dw-muted', `Created by ${getSession().user}`),
    h('div.dw-actions', save, h('button.dw-ghost', { type: 'button', onclick: () => { form.remove(); onDone(false); } }, 'Cancel')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const matchersNow = read();
    if (!matchersNow.length) {
      toast('A silence needs at least one matcher', 'error');
      return;
    }
    const DUR = { '1h': 36e5, '2h': 72e5, '4h': 144e5, '12h': 432e5, '1d': 864e5, '3d': 2592e5 };
    const endsAt = durSel.value === 'custom' ? new Date(until.value).getTime() : start + DUR[durSel.value];
    busy(save, async () => {
      const body = { matchers: matchersNow, startsAt: new Date(start).toISOString(),
        endsAt: new Date(endsAt).toISOString(), createdBy: getSession().user, comment: comment.value.trim() };
      if (silence) body.id = silence.id;
      await api('POST', '/api/v2/silences', { body });
      toast(silence ? 'Silence updated' : 'Silenced');
      form.remove();
      onDone(true);
    });
  });
  refresh();
  box.prepend(form);
  form.scrollIntoView({ block: 'start' });
  form.querySelector('textarea').focus({ preventScroll: true });
}

function silenceRow(s, reload, editorBox, alerts) {
  const state = s.status ? s.status.state : 'active';
  return h(`li.dw-silence.dw-silence-${state}`, { dataset: { silence: s.id, state } },
    h('div.dw-alert-main',
      h('div.dw-alert-title', h(`span.dw-badge.dw-${state === 'active' ? 'amber' : 'none'}`, state),
        h('code', s.matchers.map((m) => `${m.name}${matcherOp(m)}"${m.value}"`).join(', '))),
      h('p', s.comment),
      h('p.dw-muted', `${s.createdBy} · ${dateTime(s.startsAt)} → ${dateTime(s.endsAt)}${state === 'active' ? ` (ends ${ago(s.endsAt)})` : ''}`)),
    can('responder') && state !== 'expired' ? h('div.dw-actions',
      h('button', { type: 'button', onclick: () => silenceEditor(editorBox, { silence: s, alerts, onDone: (ok) => ok && reload() }) }, 'Edit'),
      h('button.dw-danger', { type: 'button', onclick: (e) => busy(e.currentTarget, async () => {
        await api('DELETE', `/api/v2/silence/${encodeURIComponent(s.id)}`);
        toast('Silence expired');
        reload();
      }) }, 'Expire')) : null);
}

function pageRow(p, reload) {
  const act = (what) => (e) => busy(e.currentTarget, async () => {
    await api('POST', `/api/oncall/pages/${encodeURIComponent(p.id)}/${what}`);
    toast(`${p.id} ${what === 'ack' ? 'acknowledged' : 'resolved'}`);
    reload();
  });
  return h(`li.dw-page.dw-page-${p.state}`, { dataset: { page: p.id, state: p.state } },
    h('div.dw-alert-main',
      h('div.dw-alert-title', h(`span.dw-badge.dw-${p.state === 'triggered' ? 'red' : 'amber'}`, p.state),
        h('strong', `${p.id} ${p.priority || ''}`), h('span', p.summary || '')),
      h('p.dw-muted', p.state === 'acknowledged'
        ? `Acknowledged by ${p.ackedBy} via ${p.ackedVia} ${ago(p.ackedAt)}`
        : `Paged ${ago(p.createdAt)}, step ${p.step} round ${p.round}${p.nextEscalationAt ? `, escalates ${ago(p.nextEscalationAt)}` : ''}`)),
    can('responder') ? h('div.dw-actions',
      p.state === 'triggered' ? h('button', { type: 'button', onclick: act('ack') }, 'Acknowledge page') : null,
      h('button.dw-ghost', { type: 'button', onclick: act('resolve') }, 'Resolve page')) : null);
}

export async function alertsView(el) {
  const sc = scope();
  const listEl = h('div.dw-alert-groups');
  const pagesEl = h('ul.dw-list');
  const silencesEl = h('ul.dw-list');
  const editorBox = h('div');
  const showExpired = h('input', { type: 'checkbox' });
  let alerts = [];
  const load = async (periodic) => {
    const [life, silences, pages] = await Promise.all([get('/api/v1/alerts/lifecycle'), get('/api/v2/silences'),
      get('/api/oncall/pages', { limit: 50 }).catch(() => [])]);
    if (!sc.alive) return;
    alerts = life.filter((a) => a.state === 'firing' || a.state === 'pending');
    const groups = [...PRIORITIES, 'other'].map((p) => {
      const mine = alerts.filter((a) => (PRIORITIES.includes(a.labels.priority) ? a.labels.priority : 'other') === p)
        .sort((a, b) => (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1));
      if (!mine.length) return null;
      const firing = mine.filter((a) => a.state === 'firing').length;
      return h('section.dw-alert-group', { dataset: { priority: p } },
        h('h2', h(`span.dw-prio.dw-prio-${p}`, p), ` ${firing} firing, ${mine.length - firing} pending`),
        h('ul.dw-list', mine.map((a) => alertRow(a, can('responder') ? [
          a.state === 'firing' && !a.acknowledged ? h('button.dw-primary', { type: 'button', onclick: (e) => ackForm(e.currentTarget, a) }, 'Acknowledge') : null,
          h('button', { type: 'button', onclick: () => silenceEditor(editorBox, { labels: a.labels, alerts, onDone: (ok) => ok && load() }) }, 'Silence'),
        ] : []))));
    });
    // an acknowledgement being written stays: the periodic refresh skips the list then
    if (!(periodic && listEl.querySelector('form')))
      render(listEl, alerts.length ? groups : h('p.dw-empty', 'Nothing is firing or pending.'));
    const open = pages.filter((p) => p.state !== 'resolved');
    render(pagesEl, open.length ? open.map((p) => pageRow(p, load)) : h('li.dw-empty', 'No open pages.'));
    const shown = silences.filter((s) => showExpired.checked || !s.status || s.status.state !== 'expired')
      .sort((a, b) => toMs(b.endsAt) - toMs(a.endsAt));
    render(silencesEl, shown.length ? shown.map((s) => silenceRow(s, load, editorBox, alerts)) : h('li.dw-empty', 'No silences.'));
    el.dataset.loaded = '1';
  };
  const ackForm = (button, a) => {
    const row = button.closest('li');
    if (row.querySelector('form')) return;
    const comment = h('input', { 'aria-label': 'Comment', placeholder: 'Comment (optional): what you are doing' });
    const ok = h('button.dw-primary', { type: 'submit' }, 'Acknowledge');
    const f = h('form.dw-inline-form', comment, ok, h('button.dw-ghost', { type: 'button', onclick: () => f.remove() }, 'Cancel'));
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(ok, async () => {
        await api('POST', `/api/v1/alerts/${encodeURIComponent(a.fingerprint)}/ack`, { form: { comment: comment.value } });
        toast(`${a.labels.alertname} acknowledged`);
        await load();
      });
    });
    row.appendChild(f);
    comment.focus();
  };
  showExpired.addEventListener('change', () => load());
  render(el,
    h('div.dw-view-head', h('h1', 'Alerts'), h('span.dw-muted', 'Firing and pending, by priority')),
    listEl,
    h('section.dw-section', h('h2', 'Pages'), h('p.dw-muted', 'Acknowledging a page stops its escalation.'), pagesEl),
    h('section.dw-section',
      h('div.dw-view-head', h('h2', 'Silences'),
        can('responder') ? h('button', { type: 'button', onclick: () => silenceEditor(editorBox, { alerts, onDone: (ok) => ok && load() }) }, 'New silence') : null,
        h('label.dw-check', showExpired, ' show expired')),
      editorBox, silencesEl));
  try {
    await load();
  } catch (e) {
    render(listEl, h('p.dw-error', e.message));
  }
  sc.every(15000, () => load(true).catch(() => {}));
  return sc.end;
}
