// plan.js - the strip on top of every view: the launch phase and the time to the next, the
// checklist reviews that are due, the KPIs against their targets (measured by their
// dashboards.kpis query through /api/kpis; a KPI without one is missed while an alert
// carrying its `kpi` label fires), open incidents, firing alerts by priority and who
// is on call. Everything an on-call engineer needs at a glance, refreshed every 30 s.
import { get } from './api.js';
import { h, render } from './dom.js';
import { dateTime, duration, op, serverNow, toMs, unitValue } from './format.js';

let directory = null;

function phaseItem(plan) {
  const now = serverNow();
  if (plan.before_launch) {
    const at = toMs(plan.launch_at);
    return h('div.dw-strip-item', { dataset: { item: 'phase' } }, h('span.dw-strip-key', 'Launch'),
      h('strong', `in ${duration(at - now)}`), h('span.dw-muted', dateTime(at)));
  }
  const next = toMs(plan.next_phase_change);
  return h('div.dw-strip-item', { dataset: { item: 'phase' } }, h('span.dw-strip-key', 'Phase'),
    h('strong.dw-phase', plan.phase ? plan.phase.name : '–'),
    h('span.dw-muted', next ? `next in ${duration(next - now)}` : 'last phase'));
}

function kpiState(kpi, alerts) {
  if (kpi.state === 'met') return 'green';
  if (kpi.state === 'missed') return 'red';
  const mine = alerts.filter((a) => a.labels && a.labels.kpi === kpi.id);
  if (mine.some((a) => a.state === 'firing')) return 'red';
  if (mine.some((a) => a.state === 'pending')) return 'amber';
  return 'green';
}

function kpiTarget(k) {
  const unit = { percent: 'percent', ms: 'ms', seconds: 'seconds' }[k.unit];
  return `${op(k.op)} ${unit ? unitValue(k.target, unit) : `${k.target}${k.unit ? ` ${k.unit.replace(/_/g, ' ')}` : ''}`}`;
}

function kpiItem(kpis, alerts) {
  if (!kpis.length) return null;
  const judged = kpis.map((k) => ({ k, st: kpiState(k, alerts) }));
  const missed = judged.filter((x) => x.st === 'red');
  const measured = (k) => (typeof k.value === 'number'
    ? ` (now ${{ percent: 1, ms: 1, seconds: 1 }[k.unit] ? unitValue(k.value, k.unit) : Math.round(k.value * 100) / 100})` : '');
  const chip = ({ k, st }) => h(`li.dw-chip.dw-${st}`, { title: k.description || '', dataset: { kpi: k.id, state: st } },
    `${k.name} ${kpiTarget(k)}${measured(k)}`);
  return h('div.dw-strip-item.dw-kpis', { dataset: { item: 'kpis' } }, h('span.dw-strip-key', 'KPIs'),
    h('strong', missed.length ? `${missed.length} missed` : 'none missed'),
    missed.length ? h('ul.dw-chips', missed.map(chip)) : null,
    h('details', h('summary', `all ${kpis.length}`), h('ul.dw-chips', judged.map(chip))));
}

function alertsItem(alerts) {
  const by = {};
  for (const a of alerts) if (a.state === 'firing') by[a.labels.priority || 'other'] = (by[a.labels.priority || 'other'] || 0) + 1;
  const parts = ['P0', 'P1', 'P2'].map((p) => h(`a.dw-prio.dw-prio-${p}${by[p] ? '.dw-hot' : ''}`,
    { href: '/console/alerts', dataset: { priority: p } }, `${p} ${by[p] || 0}`));
  return h('div.dw-strip-item', { dataset: { item: 'alerts' } }, h('span.dw-strip-key', 'Firing'), parts);
}

function incidentsItem(incidents) {
  const worst = incidents.reduce((m, i) => Math.min(m, i.severity || 9), 9);
  return h('div.dw-strip-item', { dataset: { item: 'incidents' } }, h('span.dw-strip-key', 'Incidents'),
    h(`a${incidents.length ? '.dw-hot' : ''}`, { href: '/console/incidents' },
      incidents.length ? `${incidents.length} open` : 'none open'),
    incidents.length ? h('span.dw-muted', `worst SEV${worst}`) : null);
}

function oncallItem(who) {
  const s = who && who.schedules && who.schedules[0];
  if (!s) return null;
  return h('div.dw-strip-item', { dataset: { item: 'oncall' } }, h('span.dw-strip-key', 'On call'),
    h('a', { href: '/console/oncall' }, s.onCall ? s.onCall.name : 'nobody'),
    h('span.dw-muted', s.name.replace(/\s*\(.*\)$/, '')));
}

function reviewsItem(plan) {
  const checks = plan.checks || [];
  const due = checks.filter((c) => c.overdue).length;
  return h('div.dw-strip-item', { dataset: { item: 'reviews' } }, h('span.dw-strip-key', 'Reviews'),
    h(`span${due ? '.dw-hot' : ''}`, due ? `${due} overdue` : 'none overdue'),
    h('span.dw-muted', `${checks.length} checks`));
}

/** Draws the strip into el; resolves with counts for the navigation badges. */
export async function drawPlan(el) {
  const soft = (p, d) => p.catch(() => d);
  if (!directory) directory = soft(get('/api/console/directory'), { kpis: [], people: [] });
  const [plan, dir, alerts, incidents, who, kpis] = await Promise.all([
    soft(get('/api/plan'), null), directory, soft(get('/api/v1/alerts/lifecycle'), []),
    soft(get('/api/incidents', { state: 'open' }), []), soft(get('/api/oncall/now'), null),
    soft(get('/api/kpis'), null)]);
  const live = (alerts || []).filter((a) => a.state === 'firing' || a.state === 'pending');
  render(el, plan ? phaseItem(plan) : null, plan ? reviewsItem(plan) : null, kpiItem(kpis || dir.kpis || [], live),
    incidentsItem(incidents || []), alertsItem(live), oncallItem(who));
  el.dataset.loaded = '1';
  return { firing: live.filter((a) => a.state === 'firing').length, incidents: (incidents || []).length };
}

/** The plan's people, for pickers (ids, names, roles). */
export async function people() {
  if (!directory) directory = get('/api/console/directory').catch(() => ({ kpis: [], people: [] }));
  return (await directory).people || [];
}
