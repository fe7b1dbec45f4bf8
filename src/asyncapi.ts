// The MQTT API as an AsyncAPI 3.0 document, generated from what the gateway itself uses: the topic
// table (Topics), the envelope and reply shapes, and every command's JSON Schema in mappings/. The
// committed docs/asyncapi.yaml is this document for the default base topic (a test compares them);
// GET /asyncapi.json serves it for the running gateway's base topic. Run: npm run docs:asyncapi
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dump } from 'js-yaml';
import { schema as configSchema } from './config.js';
import { commandsFile } from './mappings.js';
import { ROOT, VERSION } from './paths.js';
import { MAX_NAME_LENGTH, Topics } from './topics.js';

type Schema = Record<string, unknown>;

/** The adapters whose API the document describes (all built in, enabled or not). */
export const API_ADAPTERS = ['gantry', 'qyzn', 'wsdoor', 'wscam'] as const;
/** Which adapters publish a retained `state` (the others report no status). */
const STATE_ADAPTERS = ['gantry'];
// The defaults of the configuration schema: the committed document shows what a default gateway does.
const defaultOf = (option: unknown): unknown => (option as { default: unknown }).default;
const DEFAULT_BASE = String(defaultOf(configSchema.baseTopic));
const COMMAND_LIMITS = {
  defaultTimeoutMs: Number(defaultOf(configSchema.commands.defaultTimeoutMs)),
  maxTimeoutMs: Number(defaultOf(configSchema.commands.maxTimeoutMs)),
};
const COMMAND_ERROR_TYPES = ['unsupported', 'invalid', 'offline', 'timeout', 'device'];
const BINDING = '0.2.0';

const ref = (to: string): Schema => ({ $ref: to });
const json = 'application/json';

// The Topics class builds every topic; the document takes its addresses from it, with the
// parameters as placeholders, so a topic renamed there is renamed here.
function addresses(base: string) {
  const t = new Topics(base);
  const [A, D, N] = ['{adapter}', '{deviceId}', '{name}'];
  return {
    bridgeState: t.bridgeState,
    bridgeInfo: t.bridgeInfo,
    bridgeEvent: t.bridgeEvent,
    instanceState: t.instance('{instanceId}', 'state'),
    instanceInfo: t.instance('{instanceId}', 'info'),
    availability: t.device(A, D, 'availability'),
    info: t.device(A, D, 'info'),
    state: t.device(A, D, 'state'),
    event: t.event(A, D, N),
    media: t.media(A, D, '{field}'),
    request: t.request(A, D, N),
    requestReply: `${t.request(A, D, N)}/reply`,
    whitelist: `${base}/gantry/${D}/whitelist`,
  };
}

const parameters = {
  adapter: { description: 'The adapter (device protocol).', enum: [...API_ADAPTERS] },
  stateAdapter: { description: 'The adapter: only gantry reports a status.', enum: STATE_ADAPTERS },
  deviceId: {
    description:
      'The device identity: the gantry `gantryId`, the qyzn serial, the wsdoor `sn` of its register message, the wscam `sn`. One topic level: not empty, at most 256 characters, no `/`, `+`, `#` or control character, no white space at either end.',
  },
  name: {
    description: `The protocol's own name of the message (gantry \`method\`, qyzn \`message\`, wscam \`operate\`, wsdoor \`command\`, or \`register\`/\`realtimeEvent\`); a name a device chooses is at most ${MAX_NAME_LENGTH} characters.`,
  },
  instanceId: { description: 'Several instances (`instance.mode` multi): the instance, its `instance.id`.' },
  field: { description: 'The field of the message that carried the image or video (`snapPic`, `img`, `data`, `getCabinetImageVedio`, ...).' },
};

const schemas: Record<string, Schema> = {
  onlineOffline: { type: 'string', enum: ['online', 'offline'] },
  envelope: {
    type: 'object',
    description:
      "An event or a device request. `data` is the device's parameter object, keys trimmed; gantry values typed by mappings/gantry/fields.json, NoData/GetFailed/NotSupport as null listed in `data.quality`. With `output.media: reference` a base64 image is replaced by `{media, bytes, sha256}`.",
    required: ['id', 'ts', 'adapter', 'deviceId', 'name', 'data'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', description: 'Unique per message; a request/{name}/reply answers with the same id.' },
      ts: { type: 'string', format: 'date-time' },
      adapter: { type: 'string', enum: [...API_ADAPTERS] },
      deviceId: { type: 'string', minLength: 1 },
      name: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH },
      data: { type: 'object' },
      raw: { description: "The device's untouched message, with `output.includeRaw: true`." },
    },
  },
  commandError: {
    type: ['object', 'null'],
    required: ['type', 'message'],
    additionalProperties: false,
    properties: {
      type: {
        type: 'string',
        enum: COMMAND_ERROR_TYPES,
        description:
          'Checked in this order: unsupported (no such command), invalid (not JSON or fails the schema; nothing sent), offline (device not connected here), timeout (no answer within timeoutMs), device (the device answered an error).',
      },
      message: { type: 'string' },
    },
  },
  reply: {
    type: 'object',
    description: "The one reply of a command. `code`, `message` and `data` are the device's own; null for a failure the gateway decided.",
    required: ['id', 'ok', 'code', 'message', 'data', 'error'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', description: "The command's id, or one the gateway made." },
      ok: { type: 'boolean' },
      code: { type: ['number', 'string', 'null'] },
      message: { type: ['string', 'null'] },
      data: { type: ['object', 'null'] },
      error: ref('#/components/schemas/commandError'),
    },
  },
  bridgeInfo: {
    type: 'object',
    required: ['version', 'startedAt', 'baseTopic', 'mqtt', 'broker', 'http', 'buffer', 'adapters'],
    properties: {
      version: { type: 'string' },
      startedAt: { type: 'string', format: 'date-time' },
      baseTopic: { type: 'string' },
      instance: {
        type: 'object',
        required: ['id', 'bootId', 'mode'],
        properties: {
          id: { type: 'string' },
          bootId: { type: 'string', description: 'Random per start: a restarted instance is told apart from the one that died.' },
          mode: { type: 'string', enum: ['single', 'multi'] },
        },
      },
      mqtt: {
        type: 'object',
        required: ['url', 'protocolVersion', 'embedded', 'inProcess'],
        properties: {
          url: { type: 'string', description: 'Credentials redacted.' },
          protocolVersion: { type: 'string', enum: ['3.1.1', '5'] },
          embedded: { type: 'boolean' },
          inProcess: { type: 'boolean' },
        },
      },
      broker: {
        type: ['object', 'null'],
        description: "The embedded broker's listen addresses; null with an external broker.",
        properties: { mqtt: { type: 'string' }, ws: { type: 'string' } },
      },
      http: { type: ['string', 'null'] },
      buffer: {
        type: 'object',
        required: ['mode', 'depth', 'bytes'],
        properties: { mode: { type: 'string', enum: ['off', 'disk'] }, depth: { type: 'integer', minimum: 0 }, bytes: { type: 'integer', minimum: 0 } },
      },
      adapters: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          required: ['listen', 'devices'],
          properties: {
            listen: { type: ['string', 'null'] },
            devices: { type: 'integer', minimum: 0 },
            failed: { type: 'string', description: 'Why the adapter did not start.' },
          },
        },
      },
    },
  },
  bridgeEvent: {
    type: 'object',
    required: ['type', 'adapter', 'reason', 'ts'],
    additionalProperties: false,
    properties: {
      type: { type: 'string', enum: ['device_connected', 'device_disconnected', 'auth_failed', 'protocol_error'] },
      adapter: { type: 'string', enum: [...API_ADAPTERS] },
      deviceId: { type: 'string' },
      remote: { type: 'string', description: 'host:port of the device.' },
      reason: {
        type: 'string',
        pattern: '^[a-z_]+$',
        description:
          'A token of one closed list: connected; closed, logout, replaced, timeout, protocol_error, shutdown for a disconnection; the README "Reasons" tables for auth_failed and protocol_error.',
      },
      ts: { type: 'string', format: 'date-time' },
    },
  },
  deviceInfo: {
    type: 'object',
    description: "Identity, remote address and connection time, with the type, version, mac, ... the protocol gives.",
    required: ['deviceId', 'remote', 'connectedAt'],
    properties: {
      deviceId: { type: 'string' },
      remote: { type: 'string' },
      connectedAt: { type: 'string', format: 'date-time' },
    },
  },
  deviceState: { type: 'object', description: 'The latest status the device reported, typed like event data (docs/gantry.md).' },
  media: { type: 'string', format: 'binary', description: 'The raw bytes of the latest image or video.' },
  requestReply: {
    type: 'object',
    required: ['id'],
    properties: {
      id: { type: 'string', description: 'The id of the request envelope.' },
      data: { type: 'object', description: "Becomes the data of the device's answer." },
    },
    description: 'May also carry protocol fields such as qyzn `result` and `desc` to answer the device with another result.',
  },
  whitelist: {
    type: 'object',
    required: ['latestVersion', 'cardInfos'],
    properties: {
      latestVersion: { type: 'string', description: 'yyyyMMddHHmmss' },
      cardInfos: {
        type: 'array',
        items: {
          type: 'object',
          required: ['cardId', 'validTime', 'invalidTime'],
          properties: { cardId: { type: 'string' }, validTime: { type: 'string' }, invalidTime: { type: 'string' } },
        },
      },
    },
  },
};

function message(name: string, title: string, payload: Schema, contentType = json, extra: Schema = {}): Schema {
  return { name, title, contentType, payload, ...extra };
}

const ENVELOPE_EXAMPLE = {
  id: '5f0c0e5e-7f7e-4a55-9a8f-7d0b1b6c2a11',
  ts: '2026-11-25T08:00:00.000Z',
  adapter: 'qyzn',
  deviceId: '0c16d06a45914b758ca226ef325422a3',
  name: 'snapshot_face',
  data: { score: 93 },
};

const messages: Record<string, Schema> = {
  bridgeState: message('bridgeState', 'Gateway availability', ref('#/components/schemas/onlineOffline'), 'text/plain', {
    description: '`offline` is also the MQTT last will of the gateway.',
  }),
  bridgeInfo: message('bridgeInfo', 'Gateway information', ref('#/components/schemas/bridgeInfo')),
  bridgeEvent: message('bridgeEvent', 'Connection and refusal event', ref('#/components/schemas/bridgeEvent'), json, {
    examples: [
      {
        payload: {
          type: 'device_connected',
          adapter: 'qyzn',
          deviceId: '0c16d06a45914b758ca226ef325422a3',
          remote: '10.1.2.3:50122',
          reason: 'connected',
          ts: '2026-11-25T08:00:00.000Z',
        },
      },
    ],
  }),
  availability: message('availability', 'Device availability', ref('#/components/schemas/onlineOffline'), 'text/plain'),
  deviceInfo: message('deviceInfo', 'Device information', ref('#/components/schemas/deviceInfo')),
  deviceState: message('deviceState', 'Device status', ref('#/components/schemas/deviceState')),
  event: message('event', 'Device event', ref('#/components/schemas/envelope'), json, { examples: [{ payload: ENVELOPE_EXAMPLE }] }),
  media: message('media', 'Image or video bytes', ref('#/components/schemas/media'), 'application/octet-stream'),
  request: message('request', 'Device request the platform answers', ref('#/components/schemas/envelope'), json, {
    examples: [{ payload: { ...ENVELOPE_EXAMPLE, name: 'qrcode_data', data: { content: 'QR' } } }],
  }),
  requestReply: message('requestReply', "The platform's answer to a device request", ref('#/components/schemas/requestReply'), json, {
    examples: [{ payload: { id: ENVELOPE_EXAMPLE.id, data: { opendoor: 1 } } }],
  }),
  whitelist: message('whitelist', 'Card whitelist of a gantry', ref('#/components/schemas/whitelist'), json, {
    description: 'Retained by the platform; an empty payload drops it.',
  }),
  reply: message('commandReply', 'Command reply', ref('#/components/schemas/reply'), json, {
    examples: [{ payload: { id: 'door-1', ok: true, code: 0, message: 'Success', data: {}, error: null } }],
    bindings: {
      mqtt: {
        correlationData: { type: 'string', format: 'binary', description: "The command's correlation data, when it came with a response topic." },
        bindingVersion: BINDING,
      },
    },
  }),
};

/** `$defs` of a command schema are moved to components (their `#/$defs/...` refs would resolve
 *  against the document root) under names prefixed with the command's. */
function hoist(commandSchema: Schema, prefix: string, into: Record<string, Schema>): Schema {
  const { $defs, ...rest } = commandSchema as Schema & { $defs?: Record<string, Schema> };
  const renamed = (name: string): string => `${prefix}_${name}`;
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== 'object') return node;
    const out: Schema = {};
    for (const [key, value] of Object.entries(node)) {
      out[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/$defs/') ? `#/components/schemas/${renamed(value.slice(8))}` : rewrite(value);
    }
    return out;
  };
  for (const [name, def] of Object.entries($defs ?? {})) into[renamed(name)] = rewrite(def) as Schema;
  return rewrite(rest) as Schema;
}

/** Keywords of a data schema that a value laid under the caller's data cannot invalidate. */
const PER_PROPERTY = ['type', 'properties', 'additionalProperties', 'patternProperties', 'propertyNames', 'description', '$comment'];

/** An alias's defaults are laid under the caller's data, and the result is checked against the
 *  native command's schema: data the gateway accepts may lack what the native schema requires,
 *  and JSON Schema cannot say "valid once merged". So an alias's data keeps the per-property
 *  checks (a value given must be valid) with the defaults as `default`s, and drops the
 *  requirements; the gateway still checks the merged data and answers `invalid` naming why. */
function aliasData(dataSchema: Schema, defaults: Schema | undefined, native: string): Schema {
  if (!defaults || Object.keys(defaults).length === 0) return dataSchema;
  const kept: Schema = Object.fromEntries(Object.entries(dataSchema).filter(([key]) => PER_PROPERTY.includes(key)));
  const properties = (kept.properties ?? {}) as Record<string, Schema>;
  kept.properties = Object.fromEntries(
    Object.entries(properties).map(([key, property]) => [key, Object.hasOwn(defaults, key) ? { ...property, default: defaults[key] } : property]),
  );
  kept.description = `Laid over ${JSON.stringify(defaults)}; the merged data must be valid ${native} data.`;
  return kept;
}

function commandPayload(dataSchema: Schema): Schema {
  return {
    type: 'object',
    properties: {
      id: { type: 'string', description: 'Echoed in the reply; the gateway makes one when it is missing.' },
      timeoutMs: {
        type: 'integer',
        minimum: 1,
        maximum: COMMAND_LIMITS.maxTimeoutMs,
        default: COMMAND_LIMITS.defaultTimeoutMs,
        description: 'How long to wait for the device (commands.defaultTimeoutMs, at most commands.maxTimeoutMs).',
      },
      data: dataSchema,
    },
  };
}

const qos1 = (retain: boolean): Schema => ({ mqtt: { qos: 1, retain, bindingVersion: BINDING } });

export interface AsyncApiOptions {
  /** The base topic the addresses start with (baseTopic). */
  base?: string;
}

export function asyncApiDocument(options: AsyncApiOptions = {}): Schema {
  const base = options.base ?? DEFAULT_BASE;
  const at = addresses(base);
  const channels: Record<string, Schema> = {};
  const operations: Record<string, Schema> = {};
  const componentSchemas: Record<string, Schema> = { ...schemas };
  const componentMessages: Record<string, Schema> = { ...messages };
  const messageRef = (id: string): Schema => ref(`#/components/messages/${id}`);

  const channel = (id: string, address: string, messageId: string, description: string, params: Record<string, Schema> = {}): void => {
    channels[id] = {
      address,
      description,
      messages: { [messageId]: messageRef(messageId) },
      ...(Object.keys(params).length > 0 ? { parameters: params } : {}),
    };
  };
  const op = (id: string, action: 'send' | 'receive', channelId: string, retain: boolean, summary: string, extra: Schema = {}): void => {
    operations[id] = { action, channel: ref(`#/channels/${channelId}`), summary, bindings: qos1(retain), ...extra };
  };
  const { adapter, deviceId, name, field, stateAdapter, instanceId } = parameters;

  channel('bridgeState', at.bridgeState, 'bridgeState', 'Retained: `online` once every adapter listens, `offline` at stop and as the last will.');
  op('sendBridgeState', 'send', 'bridgeState', true, 'The gateway publishes its availability.');
  channel('bridgeInfo', at.bridgeInfo, 'bridgeInfo', 'Retained: version, start time, broker, adapters with their listen addresses and connected-device counts.');
  op('sendBridgeInfo', 'send', 'bridgeInfo', true, 'The gateway publishes what it is and runs.');
  channel('instanceState', at.instanceState, 'bridgeState', 'Several instances: retained `online` / `offline` of one instance (its last will, or a survivor once its lease ran out). `bridgeState` then means at least one instance is online.', { instanceId });
  op('sendInstanceState', 'send', 'instanceState', true, 'An instance publishes its availability.');
  channel('instanceInfo', at.instanceInfo, 'bridgeInfo', 'Several instances: retained information of one instance (there is no `bridgeInfo` then).', { instanceId });
  op('sendInstanceInfo', 'send', 'instanceInfo', true, 'An instance publishes what it is and runs.');
  channel('bridgeEvent', at.bridgeEvent, 'bridgeEvent', 'Devices connecting and disconnecting, refused authentications and protocol errors.');
  op('sendBridgeEvent', 'send', 'bridgeEvent', false, 'The gateway reports a connection change or a refusal.');
  channel('deviceAvailability', at.availability, 'availability', 'Retained: whether the device is connected.', { adapter, deviceId });
  op('sendDeviceAvailability', 'send', 'deviceAvailability', true, 'The gateway publishes a device online or offline.');
  channel('deviceInfo', at.info, 'deviceInfo', 'Retained: what the device said about itself when it connected.', { adapter, deviceId });
  op('sendDeviceInfo', 'send', 'deviceInfo', true, 'The gateway publishes a device identity.');
  channel('deviceState', at.state, 'deviceState', 'Retained: the latest status of a device that reports status.', { adapter: stateAdapter, deviceId });
  op('sendDeviceState', 'send', 'deviceState', true, 'The gateway publishes a device status.');
  channel('deviceEvent', at.event, 'event', 'A device message, in the event envelope.', { adapter, deviceId, name });
  op('sendDeviceEvent', 'send', 'deviceEvent', false, 'The gateway publishes a device event (after which the device is acknowledged).');
  channel('deviceMedia', at.media, 'media', 'Retained: the bytes of the latest image carried in a field of an event or a command answer.', {
    adapter,
    deviceId,
    field,
  });
  op('sendDeviceMedia', 'send', 'deviceMedia', true, 'The gateway publishes the bytes of an image or video.');
  channel('deviceRequest', at.request, 'request', 'A device message whose answer the platform decides (`<adapter>.answers.<name>.mode: mqtt`).', {
    adapter,
    deviceId,
    name,
  });
  op('sendDeviceRequest', 'send', 'deviceRequest', false, 'The gateway asks the platform for the answer to a device request.', {
    reply: { channel: ref('#/channels/deviceRequestReply'), messages: [ref('#/channels/deviceRequestReply/messages/requestReply')] },
  });
  channel('deviceRequestReply', at.requestReply, 'requestReply', 'The platform answers a device request, with its id, within `<adapter>.answers.<name>.timeoutMs`.', {
    adapter,
    deviceId,
    name,
  });
  op('receiveDeviceRequestReply', 'receive', 'deviceRequestReply', false, 'The platform answers a device request.');
  channel('gantryWhitelist', at.whitelist, 'whitelist', 'Retained by the platform: answers queryAndGetCardInfo without a round trip.', { deviceId });
  op('receiveGantryWhitelist', 'receive', 'gantryWhitelist', true, 'The platform holds the card whitelist of a gantry.');
  componentMessages.haDiscovery = message('haDiscovery', 'Home Assistant device discovery', { type: 'object', description: 'A device-based discovery config (device, origin, availability, components); see the README, "Home Assistant".' });
  componentMessages.deviceRemoveRequest = message('deviceRemoveRequest', 'Forget a device', {
    type: 'object',
    description: '`{"id": "<adapter>/<deviceId>"}` or `{"adapter", "deviceId"}`, with an optional `transaction` echoed in the response.',
  });
  componentMessages.deviceRemoveResponse = message('deviceRemoveResponse', 'Outcome of forgetting a device', {
    type: 'object',
    required: ['status'],
    properties: { status: { enum: ['ok', 'error'] } },
  });
  channel('haDiscovery', 'homeassistant/device/{objectId}/config', 'haDiscovery', 'Retained: Home Assistant MQTT discovery of one device, under `homeassistant.prefix` (default `homeassistant`); cleared when the device is forgotten.', {
    objectId: { description: 'The Home Assistant device id: base topic, adapter and device id joined by `_` (non-word characters as `_`), or `{base}_bridge`.' },
  });
  op('sendHaDiscovery', 'send', 'haDiscovery', true, 'The gateway announces a device to Home Assistant (on its first online since start, and when Home Assistant says `online`).');
  channel('deviceRemoveRequest', `${base}/bridge/request/device/remove`, 'deviceRemoveRequest', 'Forget a device: its discovery and retained topics are cleared.');
  op('receiveDeviceRemoveRequest', 'receive', 'deviceRemoveRequest', false, 'The platform asks the gateway to forget a device.', {
    reply: { channel: ref('#/channels/deviceRemoveResponse'), messages: [ref('#/channels/deviceRemoveResponse/messages/deviceRemoveResponse')] },
  });
  channel('deviceRemoveResponse', `${base}/bridge/response/device/remove`, 'deviceRemoveResponse', 'The outcome of a device removal.');
  op('sendDeviceRemoveResponse', 'send', 'deviceRemoveResponse', false, 'The gateway answers a device removal.');

  const topics = new Topics(base);
  for (const adapterId of API_ADAPTERS) {
    const file = commandsFile(adapterId);
    const natives = file.commands ?? {};
    const entries: Array<[string, { description: string; data: Schema }]> = [];
    const hoisted = new Map<string, Schema>();
    for (const [command, spec] of Object.entries(natives)) {
      hoisted.set(command, hoist(spec.schema, `${adapterId}_${command}`, componentSchemas));
      entries.push([command, { description: spec.description ?? '', data: hoisted.get(command) as Schema }]);
    }
    for (const [alias, spec] of Object.entries(file.aliases ?? {})) {
      const native = hoisted.get(spec.command);
      if (!native) continue; // Mappings refuses such a file; the adapter does not start
      const defaults = spec.defaults && Object.keys(spec.defaults).length > 0 ? ` with ${JSON.stringify(spec.defaults)} under the caller's data` : '';
      const description = `${spec.description ?? ''} (alias of ${spec.command}${defaults})`.trim();
      entries.push([alias, { description, data: aliasData(native, spec.defaults, spec.command) }]);
    }
    for (const [command, { description, data }] of entries) {
      const id = `${adapterId}_${command}`;
      componentMessages[`${id}_command`] = message(`${id}_command`, `${adapterId} ${command}`, commandPayload(data), json, {
        description: `${description} Publish without the retain flag (a retained command is ignored); an empty payload is {}.`.trim(),
        bindings: {
          mqtt: {
            responseTopic: { type: 'string', description: 'MQTT 5: the reply goes here, with the correlation data, instead of .../reply.' },
            correlationData: { type: 'string', format: 'binary' },
            bindingVersion: BINDING,
          },
        },
      });
      const address = topics.commandReply(adapterId, '{deviceId}', command).replace(/\/reply$/, '');
      channels[`${id}_command`] = {
        address,
        description: description || `The ${adapterId} command ${command}.`,
        messages: { [`${id}_command`]: messageRef(`${id}_command`) },
        parameters: { deviceId },
      };
      channels[`${id}_reply`] = {
        address: `${address}/reply`,
        description: `The one reply of every ${command} command (unless an MQTT 5 command named a response topic).`,
        messages: { reply: messageRef('reply') },
        parameters: { deviceId },
      };
      op(`receive_${id}`, 'receive', `${id}_command`, false, `A client commands a ${adapterId} device: ${command}.`, {
        reply: { channel: ref(`#/channels/${id}_reply`), messages: [ref(`#/channels/${id}_reply/messages/reply`)] },
      });
    }
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'gate2mqtt',
      version: VERSION,
      description: `The MQTT API of gate2mqtt: device messages of ETC gantries (HTTP), QYZN face terminals (TCP) and two WebSocket devices as canonical topics under \`${base}\` (baseTopic), and commands back to the devices. Every publish is QoS 1. Command schemas give each protocol's own types; where one wants a number, the exact decimal string of it is taken too, and where it wants a numeric string, the number (README, Commands). Generated from src/topics.ts, the envelope and reply shapes and mappings/*/commands.json by \`npm run docs:asyncapi\`; do not edit by hand.`,
      license: { name: 'MIT' },
    },
    defaultContentType: json,
    servers: {
      embedded: {
        host: 'localhost:1883',
        protocol: 'mqtt',
        protocolVersion: '5',
        description: 'The embedded broker (broker.port; 3.1.1 clients are served too). With mqtt.url the gateway uses that broker instead.',
        bindings: {
          mqtt: {
            cleanSession: false,
            lastWill: { topic: at.bridgeState, qos: 1, message: 'offline', retain: true },
            bindingVersion: BINDING,
          },
        },
      },
      embeddedWebSocket: {
        host: 'localhost:9001',
        protocol: 'ws',
        description: 'The embedded broker over WebSocket (broker.wsPort).',
      },
    },
    channels,
    operations,
    components: { schemas: componentSchemas, messages: componentMessages },
  };
}

export function asyncApiYaml(): string {
  return `# Generated by \`npm run docs:asyncapi\` (src/asyncapi.ts); do not edit by hand.\n${dump(asyncApiDocument(), { lineWidth: 120, noRefs: true })}`;
}

export const ASYNCAPI_DOC = join(ROOT, 'docs', 'asyncapi.yaml');

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  mkdirSync(dirname(ASYNCAPI_DOC), { recursive: true });
  writeFileSync(ASYNCAPI_DOC, asyncApiYaml());
  process.stdout.write(`wrote ${ASYNCAPI_DOC}\n`);
}
