// dom.js - building the DOM without innerHTML: every text from the server goes in as a text
// node, so names, notes and labels can never become markup (and the CSP forbids inline
// scripts and styles anyway).

/**
 * h('div.card#x', {onclick, class, dataset, ...attrs}, children...): an element.
 * Children: strings (text), nodes, arrays, null/false (skipped).
 */
export function h(tag, props, ...children) {
  const [name, ...rest] = tag.split(/(?=[.#])/);
  const el = document.createElement(name || 'div');
  for (const r of rest) {
    if (r[0] === '.') el.classList.add(r.slice(1));
    else el.id = r.slice(1);
  }
  if (props && (typeof props !== 'object' || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = null;
  }
  if (props) setProps(el, props);
  append(el, children);
  return el;
}

function setProps(el, props) {
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') String(v).split(/\s+/).filter(Boolean).forEach((c) => el.classList.add(c));
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden')
      el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes (presentation attributes are not styles: the CSP allows them). */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces el's children. */
export function render(el, ...children) {
  clear(el);
  return append(el, children);
}

/** A <select> of [value, label] pairs (or strings) with value selected. */
export function select(props, options, value) {
  const s = h('select', props);
  for (const o of options) {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    s.appendChild(h('option', { value: v, selected: String(v) === String(value) }, label));
  }
  return s;
}

/** A labelled form field. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div.dw-field', h('label', { for: id }, label), input, hint ? h('small.dw-muted', hint) : null);
}

/** A short-lived message at the bottom of the screen (role=status). */
export function toast(text, kind = 'info') {
  let box = document.getElementById('dw-toasts');
  if (!box) {
    box = h('div#dw-toasts', { role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(box);
  }
  const t = h(`div.dw-toast.dw-toast-${kind}`, text);
  box.appendChild(t);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** Disables a button while the promise runs; errors become a toast. */
export async function busy(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    toast(e && e.message ? e.message : String(e), 'error');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
