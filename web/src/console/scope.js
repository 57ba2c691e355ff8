// scope.js - what a view started (timers, charts, listeners), ended together when the user
// leaves the view, so nothing keeps polling or drawing for a page no longer shown.
export function scope() {
  const s = { alive: true, fns: [] };
  s.every = (ms, fn) => {
    const id = setInterval(fn, ms);
    s.fns.push(() => clearInterval(id));
    return id;
  };
  s.after = (ms, fn) => {
    const id = setTimeout(fn, ms);
    s.fns.push(() => clearTimeout(id));
    return id;
  };
  s.on = (fn) => s.fns.push(fn);
  s.end = () => {
    s.alive = false;
    for (const f of s.fns.splice(0)) {
      try {
        f();
      } catch {
        /* a chart already gone */
      }
    }
  };
  return s;
}
