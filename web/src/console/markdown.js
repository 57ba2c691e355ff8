// markdown.js - the incident report (Markdown from GET /api/incidents/{id}/report) as DOM:
// headings, nested lists, task boxes, **bold**, `code` and backslash escapes. Text only ever
// becomes text nodes, so nothing in a report (titles, notes) can become markup.
import { h } from './dom.js';

function inline(text) {
  const out = [];
  const re = /\\([\\`*_{}[\]()#+\-.!|<>~])|\*\*(.+?)\*\*|`([^`]+)`/g;
  let last = 0;
  let buf = '';
  let m;
  while ((m = re.exec(text))) {
    buf += text.slice(last, m.index);
    last = re.lastIndex;
    if (m[1] !== undefined) {
      buf += m[1];
      continue;
    }
    if (buf) out.push(buf);
    buf = '';
    out.push(m[2] !== undefined ? h('strong', inline(m[2])) : h('code', m[3]));
  }
  buf += text.slice(last);
  if (buf) out.push(buf);
  return out;
}

/** Markdown text into a <div class="dw-md">. */
export function markdown(text) {
  const root = h('div.dw-md');
  const stack = [{ indent: -1, el: root }];
  let para = null;
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (!line.trim()) {
      para = null;
      stack.length = 1;
      continue;
    }
    const head = /^(#{1,6})\s+(.*)$/.exec(line);
    const item = /^(\s*)[-*]\s+(.*)$/.exec(line);
    if (head) {
      stack.length = 1;
      para = null;
      root.appendChild(h(`h${Math.min(6, head[1].length + 1)}`, inline(head[2])));
    } else if (item) {
      para = null;
      const indent = item[1].length;
      while (stack.length > 1 && stack[stack.length - 1].indent > indent) stack.pop();
      let top = stack[stack.length - 1];
      if (top.indent < indent) {
        const parentLi = top.el.lastElementChild && top.el.tagName === 'UL' ? top.el.lastElementChild : top.el;
        const ul = h('ul');
        parentLi.appendChild(ul);
        top = { indent, el: ul };
        stack.push(top);
      }
      const task = /^\[([ xX])\]\s+(.*)$/.exec(item[2]);
      top.el.appendChild(task
        ? h('li.dw-task', h('input', { type: 'checkbox', disabled: true, checked: task[1] !== ' ', 'aria-label': 'done' }), ' ', inline(task[2]))
        : h('li', inline(item[2])));
    } else if (stack.length > 1 && /^\s+/.test(line)) {
      const top = stack[stack.length - 1].el;
      if (top.lastElementChild) top.lastElementChild.append(' ', ...inline(line.trim()));
    } else {
      stack.length = 1;
      if (!para) {
        para = h('p');
        root.appendChild(para);
      } else para.append(h('br'));
      para.append(...inline(line));
    }
  }
  return root;
}
