// The console's script and style, served as they are: plain browser JavaScript (no framework, no
// bundler), kept in a module so that `npm start` (dist/) and the tests (tsx) serve the same bytes.
// Everything a device sent is put in the page with textContent, or comes escaped by the server.

export const CONSOLE_JS = String.raw`'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  // The feeds keep this many items: an open page does not grow without bound.
  const MAX_FEED = 100;
  let watched = null;
  let source = null;
  let commands = [];

  function query() {
    const p = new URLSearchParams();
    const q = $('filter-q').value.trim();
    if (q) p.set('q', q);
    if ($('filter-adapter').value) p.set('adapter', $('filter-adapter').value);
    if ($('filter-online').value) p.set('online', $('filter-online').value);
    return p.toString();
  }

  // Refreshes coalesce: a burst of bridge events costs one request.
  let timer = null;
  function refreshSoon(ms = 250) {
    if (timer === null) timer = setTimeout(refresh, ms);
  }
  async function refresh() {
    timer = null;
    try {
      const res = await fetch('/console/overview?' + query());
      // Rendered and escaped by the server: the one renderer of devices.
      if (res.ok) $('overview').innerHTML = await res.text();
    } catch (err) {
      $('feed-status').textContent = 'not reachable: ' + err.message;
    }
  }

  function push(list, node) {
    list.prepend(node);
    while (list.children.length > MAX_FEED) list.lastElementChild.remove();
  }
  function item(parts) {
    const li = document.createElement('li');
    for (const [tag, text] of parts) {
      if (text === undefined || text === null || text === '') continue;
      const el = document.createElement(tag);
      el.textContent = String(text);
      li.append(el, ' ');
    }
    return li;
  }

  function connect() {
    if (source) source.close();
    const p = new URLSearchParams();
    if (watched) {
      p.set('adapter', watched.adapter);
      p.set('device', watched.device);
    }
    // 'live' again only once this stream is open: the server listens before it answers.
    $('feed-status').textContent = 'connecting…';
    source = new EventSource('/console/events?' + p);
    source.addEventListener('open', () => ($('feed-status').textContent = 'live'));
    source.addEventListener('error', () => ($('feed-status').textContent = 'reconnecting…'));
    source.addEventListener('bridge', (e) => {
      const ev = JSON.parse(e.data);
      push($('bridge-events'), item([['time', ev.ts], ['b', ev.type], ['span', [ev.adapter, ev.deviceId, ev.remote].filter(Boolean).join(' ')], ['small', ev.reason]]));
      refreshSoon();
    });
    source.addEventListener('device', (e) => {
      const ev = JSON.parse(e.data);
      const li = item([['time', ev.envelope.ts], ['b', ev.kind + '/' + ev.name]]);
      li.className = 'device-event';
      const pre = document.createElement('pre');
      pre.textContent = JSON.stringify(ev.envelope.data, null, 1);
      li.append(pre);
      push($('device-feed'), li);
      refreshSoon();
    });
    source.addEventListener('dropped', (e) => {
      push($('bridge-events'), item([['b', 'dropped'], ['span', JSON.parse(e.data).dropped + ' events: the page read too slowly']]));
    });
  }

  function resolve(schema, prop) {
    const ref = prop && prop.$ref;
    if (typeof ref === 'string' && ref.startsWith('#/$defs/')) return { ...(schema.$defs || {})[ref.slice(8)], ...prop };
    return prop || {};
  }

  function field(schema, key, prop, required, defaults) {
    const label = document.createElement('label');
    label.className = 'field';
    const name = document.createElement('span');
    name.textContent = key + (required ? ' *' : '');
    const type = Array.isArray(prop.type) ? prop.type[0] : prop.type;
    let input;
    if (Array.isArray(prop.enum) || type === 'boolean') {
      input = document.createElement('select');
      input.append(new Option('', ''));
      for (const v of Array.isArray(prop.enum) ? prop.enum : [true, false]) input.append(new Option(String(v), JSON.stringify(v)));
      input.dataset.kind = 'json';
    } else if (type === 'integer' || type === 'number') {
      input = document.createElement('input');
      input.type = 'number';
      input.step = type === 'integer' ? '1' : 'any';
      input.dataset.kind = 'number';
    } else if (type === 'string') {
      input = document.createElement('input');
      input.type = 'text';
      input.dataset.kind = 'string';
    } else {
      input = document.createElement('textarea');
      input.rows = 2;
      input.placeholder = type === 'array' ? '[ … ] (JSON)' : '{ … } (JSON)';
      input.dataset.kind = 'json';
    }
    input.dataset.key = key;
    input.name = key;
    if (Object.prototype.hasOwnProperty.call(defaults, key)) input.placeholder = 'alias sets ' + JSON.stringify(defaults[key]);
    const hint = document.createElement('small');
    hint.textContent = prop.description || '';
    label.append(name, input, hint);
    return label;
  }

  function renderFields() {
    const c = commands.find((x) => x.name === $('command-name').value);
    const box = $('command-fields');
    box.replaceChildren();
    $('command-description').textContent = c ? (c.alias ? 'alias of ' + c.alias.command + '. ' : '') + c.description : '';
    if (!c) return;
    const schema = c.schema || {};
    const required = new Set(schema.required || []);
    const defaults = (c.alias && c.alias.defaults) || {};
    for (const [key, prop] of Object.entries(schema.properties || {})) box.append(field(schema, key, resolve(schema, prop), required.has(key), defaults));
    if (schema.additionalProperties !== false) {
      const extra = field(schema, 'data', { description: 'more of data, as a JSON object (merged under the fields above)' }, false, {});
      extra.querySelector('[data-key]').dataset.key = '';
      box.append(extra);
    }
  }

  async function loadCommands(adapter) {
    const res = await fetch('/console/api/commands/' + encodeURIComponent(adapter));
    const body = await res.json();
    commands = res.ok ? body.commands : [];
    $('command-name').replaceChildren(...commands.map((c) => new Option(c.alias ? c.name + ' → ' + c.alias.command : c.name, c.name)));
    renderFields();
  }

  function watch(adapter, device) {
    watched = { adapter, device };
    $('device-panel').hidden = false;
    $('device-title').textContent = adapter + '/' + device;
    $('device-feed').replaceChildren();
    $('command-reply').textContent = '—';
    $('command-reply').className = 'reply';
    void loadCommands(adapter);
    connect();
  }

  function readData() {
    const data = {};
    for (const input of $('command-fields').querySelectorAll('[data-key]')) {
      const raw = input.value.trim();
      if (raw === '') continue;
      const key = input.dataset.key;
      let value;
      if (input.dataset.kind === 'number') value = Number(raw);
      else if (input.dataset.kind === 'string') value = input.value;
      else {
        try {
          value = JSON.parse(raw);
        } catch (err) {
          throw new Error((key || 'data') + ' is not JSON: ' + err.message);
        }
      }
      if (key === '') Object.assign(data, value);
      else data[key] = value;
    }
    return data;
  }

  async function send(event) {
    event.preventDefault();
    if (!watched) return;
    const out = $('command-reply');
    const body = { adapter: watched.adapter, deviceId: watched.device, name: $('command-name').value };
    try {
      body.data = readData();
    } catch (err) {
      out.textContent = err.message;
      out.className = 'reply failed';
      return;
    }
    if ($('command-timeout').value) body.timeoutMs = Number($('command-timeout').value);
    out.textContent = 'sent, waiting for the reply…';
    out.className = 'reply waiting';
    try {
      const res = await fetch('/console/api/command', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const reply = await res.json();
      out.textContent = JSON.stringify(reply, null, 2);
      out.className = 'reply ' + (reply.ok ? 'ok' : 'failed');
    } catch (err) {
      out.textContent = 'no reply: ' + err.message;
      out.className = 'reply failed';
    }
    refreshSoon();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('filters').addEventListener('input', () => refreshSoon(150));
    $('filters').addEventListener('submit', (e) => e.preventDefault());
    $('overview').addEventListener('click', (e) => {
      const button = e.target.closest('button.watch');
      if (button) watch(button.dataset.adapter, button.dataset.device);
    });
    $('command-name').addEventListener('change', renderFields);
    $('command-form').addEventListener('submit', send);
    // Counts, last messages and uptime move without a bridge event.
    setInterval(() => refreshSoon(0), 5000);
    connect();
  });
})();
`;

export const CONSOLE_CSS = `
:root { --fg: #1d2330; --muted: #5b6578; --line: #d9dee7; --bg: #f6f7f9; --ok: #1b7f3b; --bad: #b3261e; --accent: #2456a6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1.2em; background: #1d2330; color: #fff; }
header h1 { margin: 0; font-size: 1.3em; }
main { padding: 0 1.2em 2em; display: grid; gap: .5em; }
h2 { font-size: 1.1em; margin: 1em 0 .4em; }
h3 { font-size: 1em; margin: .8em 0 .3em; }
table { border-collapse: collapse; background: #fff; width: 100%; }
th, td { border: 1px solid var(--line); padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
table.kv { width: auto; }
.count { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: var(--muted); font-style: italic; }
.state { display: inline-block; padding: 0 .5em; border-radius: 1em; color: #fff; font-size: .9em; }
.state.online { background: var(--ok); }
.state.offline { background: var(--bad); }
.filters { display: flex; gap: 1em; flex-wrap: wrap; margin-top: 1em; }
button.watch { border: 0; background: none; color: var(--accent); text-decoration: underline; cursor: pointer; font: inherit; padding: 0; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2em; }
.columns > div { min-width: 0; }
.feed { list-style: none; padding: 0; margin: 0; max-height: 22em; overflow: auto; background: #fff; border: 1px solid var(--line); }
.feed li { padding: .25em .5em; border-bottom: 1px solid var(--line); }
.feed pre { margin: .2em 0 0; white-space: pre-wrap; word-break: break-all; font-size: .85em; }
time { color: var(--muted); font-size: .9em; }
.field { display: grid; grid-template-columns: 10em 1fr; gap: .1em .5em; margin: .3em 0; }
.field small { grid-column: 2; color: var(--muted); }
.description { color: var(--muted); margin: .3em 0; }
.reply { background: #fff; border: 1px solid var(--line); padding: .5em; white-space: pre-wrap; word-break: break-all; min-height: 3em; max-height: 30em; overflow: auto; }
.reply.ok { border-color: var(--ok); }
.reply.failed { border-color: var(--bad); }
`;
