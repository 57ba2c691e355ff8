// api.js - the console's one way to the server: same-origin fetch with the session cookie,
// the CSRF token on every state change, and one error shape for the three answer styles the
// APIs use (dojowatch's {"status","data"} envelope, Alertmanager's bare JSON with a JSON
// string as the error, and plain text documents).

const session = { user: null, role: null, csrf: null };
const RANK = { viewer: 1, responder: 2, admin: 3 };

export function setSession(s) {
  Object.assign(session, s);
}
export function getSession() {
  return session;
}
/** Whether the signed-in role reaches `role` (the API checks again). */
export function can(role) {
  return (RANK[session.role] || 0) >= RANK[role];
}

export class ApiError extends Error {
  constructor(status, message, type) {
    super(message);
    this.status = status;
    this.type = type || null;
  }
}

let onSignedOut = () => {};
/** What happens when the session has ended (401): the shell shows the sign-in form. */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

function withParams(path, params) {
  if (!params) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

/**
 * One request. opts: params (query), body (JSON), form (urlencoded), text (answer as text),
 * signal. Returns the envelope's data, the bare JSON, or the text; throws ApiError.
 */
export async function api(method, path, opts = {}) {
  const headers = { Accept: opts.text ? 'text/markdown, text/plain, */*' : 'application/json' };
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  } else if (opts.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(opts.form).toString();
  }
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let r;
  try {
    r = await fetch(withParams(path, opts.params), { method, headers, body, credentials: 'same-origin',
      signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, `cannot reach dojowatch (${e && e.message ? e.message : e})`);
  }
  const text = await r.text();
  let doc = null;
  if (!opts.text || !r.ok) {
    try {
      doc = text ? JSON.parse(text) : null;
    } catch {
      doc = null;
    }
  }
  if (!r.ok) {
    const msg = typeof doc === 'string' ? doc : (doc && doc.error) || text.trim() || r.statusText;
    if (r.status === 401 && !opts.noSignOut) onSignedOut(msg);
    throw new ApiError(r.status, msg, doc && doc.errorType);
  }
  if (opts.text) return text;
  if (doc && typeof doc === 'object' && !Array.isArray(doc) && doc.status === 'success' && 'data' in doc)
    return doc.data;
  return doc;
}

export const get = (path, params, opts) => api('GET', path, { ...opts, params });
export const post = (path, body, opts) => api('POST', path, { ...opts, body });
