// The console's HTML, rendered here only: the page's script swaps in the overview fragment
// (/console/overview) rather than render devices a second time in the browser.
import type { JsonObject } from '../adapter.js';
import type { DeviceSummary } from '../devices.js';
import { isObject } from '../json.js';
import type { AdapterView } from './server.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Device ids, remotes and reasons come from devices: every one is escaped. */
export function escape(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

function uptime(startedAt: unknown): string {
  const since = Date.parse(String(startedAt));
  if (Number.isNaN(since)) return '';
  let s = Math.max(0, Math.floor((Date.now() - since) / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${d > 0 ? `${d}d ` : ''}${h}h ${m}m ${s}s`;
}

function addresses(broker: unknown): string {
  if (!isObject(broker)) return 'none (external broker)';
  return Object.entries(broker)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
}

function bridgeSection(bridge: JsonObject): string {
  const mqtt = isObject(bridge.mqtt) ? bridge.mqtt : {};
  const buffer = isObject(bridge.buffer) ? bridge.buffer : {};
  const state = bridge.state === 'online' ? 'online' : 'offline';
  const rows: Array<[string, string]> = [
    ['state', `<span class="state ${state}" id="bridge-state">${state}</span>`],
    ['version', escape(bridge.version)],
    ['base topic', `<code>${escape(bridge.baseTopic)}</code>`],
    ['MQTT', `${escape(mqtt.url)} (MQTT ${escape(mqtt.protocolVersion)}${mqtt.embedded ? ', embedded broker' : ''})`],
    ['broker listeners', escape(addresses(bridge.broker))],
    ['started', `${escape(bridge.startedAt)} (up <span id="uptime">${uptime(bridge.startedAt)}</span>)`],
    [
      'disk buffer',
      buffer.mode === 'disk' ? `<span id="buffer-depth">${escape(buffer.depth)}</span> messages, ${escape(buffer.bytes)} bytes` : 'off (buffer.mode)',
    ],
  ];
  return `<section id="bridge"><h2>Bridge</h2><table class="kv">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table></section>`;
}

function adaptersSection(adapters: readonly AdapterView[]): string {
  const rows = adapters
    .map(
      (a) =>
        `<tr data-adapter="${escape(a.id)}"><td>${escape(a.id)}</td><td>${a.listen ? escape(a.listen) : a.failed ? '' : 'the HTTP server'}</td><td class="count">${a.online}</td>` +
        `<td>${a.failed ? `<span class="state offline">failed</span> ${escape(a.failed)}` : '<span class="state online">running</span>'}</td></tr>`,
    )
    .join('');
  return `<section id="adapters"><h2>Adapters</h2><table><thead><tr><th>adapter</th><th>listens on</th><th>devices online</th><th>status</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function deviceRow(adapter: string, d: DeviceSummary): string {
  const availability = d.online ? 'online' : 'offline';
  return (
    `<tr class="device" data-adapter="${escape(adapter)}" data-device="${escape(d.deviceId)}">` +
    `<td><button type="button" class="watch" data-adapter="${escape(adapter)}" data-device="${escape(d.deviceId)}">${escape(d.deviceId)}</button></td>` +
    `<td><span class="state ${availability}">${availability}</span>${d.reason ? ` <small>${escape(d.reason)}</small>` : ''}</td>` +
    `<td>${escape(d.remote)}</td><td><time>${escape(d.connectedAt)}</time></td>` +
    `<td>${d.lastMessage ? `${escape(d.lastMessage)} <time>${escape(d.lastMessageAt)}</time>` : '—'}</td>` +
    `<td class="count messages-in">${d.messagesIn}</td><td class="count">${d.commands}</td></tr>`
  );
}

function devicesSection(adapters: readonly AdapterView[]): string {
  const tables = adapters
    .map((a) => {
      const body = a.devices.length > 0 ? a.devices.map((d) => deviceRow(a.id, d)).join('') : '<tr><td colspan="7" class="empty">no device</td></tr>';
      return (
        `<h3>${escape(a.id)}</h3><table class="devices" data-adapter="${escape(a.id)}"><thead><tr><th>device</th><th>availability</th><th>remote</th>` +
        `<th>connected since</th><th>last message</th><th>messages</th><th>commands</th></tr></thead><tbody>${body}</tbody></table>`
      );
    })
    .join('');
  return `<section id="devices"><h2>Devices</h2>${tables}</section>`;
}

/** What the script refreshes: bridge, adapters and the (filtered) device tables. */
export function renderOverview(bridge: JsonObject, adapters: readonly AdapterView[]): string {
  return bridgeSection(bridge) + adaptersSection(adapters) + devicesSection(adapters);
}

function bridgeEventItem(event: JsonObject): string {
  const where = [event.deviceId, event.remote].filter((v) => v !== undefined).map(escape).join(' ');
  return `<li><time>${escape(event.ts)}</time> <b>${escape(event.type)}</b> ${escape(event.adapter)} ${where} <small>${escape(event.reason)}</small></li>`;
}

export function renderPage(bridge: JsonObject, adapters: readonly AdapterView[], recent: readonly JsonObject[]): string {
  const options = adapters.map((a) => `<option value="${escape(a.id)}">${escape(a.id)}</option>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gate2mqtt console</title>
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<header><h1>gate2mqtt</h1><span>console of ${escape(bridge.baseTopic)}</span></header>
<main>
<form id="filters" class="filters" role="search">
<label>device or remote <input id="filter-q" name="q" type="search" placeholder="filter"></label>
<label>adapter <select id="filter-adapter" name="adapter"><option value="">all</option>${options}</select></label>
<label>availability <select id="filter-online" name="online"><option value="">all</option><option value="true">online</option><option value="false">offline</option></select></label>
</form>
<div id="overview">${renderOverview(bridge, adapters)}</div>
<section id="device-panel" hidden>
<h2>Device <code id="device-title"></code></h2>
<div class="columns">
<div><h3>Events, live</h3><ol id="device-feed" class="feed"></ol></div>
<div><h3>Command</h3>
<form id="command-form">
<label>command <select id="command-name"></select></label>
<p id="command-description" class="description"></p>
<div id="command-fields"></div>
<label>timeoutMs <input id="command-timeout" type="number" min="1" placeholder="default"></label>
<button type="submit" id="command-send">Send</button>
</form>
<h4>Reply</h4>
<pre id="command-reply" class="reply">—</pre>
</div>
</div>
</section>
<section id="bridge-feed"><h2>bridge/event, live</h2><p id="feed-status" class="description">connecting…</p><ol id="bridge-events" class="feed">${[...recent].reverse().map(bridgeEventItem).join('')}</ol></section>
</main>
</body>
</html>
`;
}
