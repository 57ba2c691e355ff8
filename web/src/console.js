// console.js - placeholder entry point of the web console (the console feature replaces it).
// It exists so the asset pipeline (esbuild bundle -> embedded C arrays -> GET /assets/...)
// and the browser smoke test have something real to carry: it imports a dependency from
// node_modules, sets a global the smoke test reads, and marks the page when the DOM is there.
import { onTTFB } from 'web-vitals';

const state = { ready: true, version: 'placeholder', vitals: {} };
window.dojowatchConsole = state;

onTTFB((metric) => {
  state.vitals[metric.name] = Math.round(metric.value);
});

function mark() {
  const root = document.getElementById('dw-console');
  if (root) root.textContent = 'dojowatch console: assets loaded';
  document.documentElement.dataset.dwConsole = 'ready';
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mark);
else mark();
