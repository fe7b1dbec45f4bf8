// Home Assistant MQTT discovery (device-based: one retained `{prefix}/device/{id}/config` per
// device), generated from each adapter's mappings/ and the device's info and state; and forgetting
// a device on `{base}/bridge/request/device/remove`. Discovery is published on a device's first
// online since start (and when a gantry reports an entry it had not reported), never per event.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { JsonObject } from './adapter.js';
import type { HomeAssistantConfig } from './config.js';
import { DeviceRemoveError } from './errors.js';
import { isObject, parseJsonObject } from './json.js';
import type { Mappings } from './mappings.js';
import type { Link } from './mqtt.js';
import { VERSION } from './paths.js';
import { isValidTopicLevel, type Topics } from './topics.js';

/** What the core tells discovery; absent when there is none (tests of the core alone). */
export interface DiscoverySink {
  online(adapter: string, deviceId: string, info: JsonObject): void;
  state(adapter: string, deviceId: string, state: JsonObject): void;
}

/** `mappings/{adapter}/homeassistant.json`. */
interface AdapterSpec {
  manufacturer?: string;
  model?: string;
  /** HA device key (model, sw_version, hw_version) → key of the device's retained info. */
  info?: Record<string, string>;
  media?: string[];
  /** Event name → dotted paths in its `data` shown as the event's attributes. */
  events?: Record<string, string[]>;
  /** Retained state section (entries by id) → group of fields.json. */
  state?: Record<string, string>;
  buttons?: { exclude?: string[] };
}

interface HaField {
  device_class?: string;
  state_class?: string;
  unit?: string;
  /** For a status code: the code that means on (a binary_sensor). */
  on?: string;
}

interface FieldSpec {
  type: string;
  of?: string;
  unit?: string;
  ha?: HaField;
  doc?: string;
}

interface Prepared {
  spec: AdapterSpec;
  buttons: string[];
  groups: Record<string, Record<string, FieldSpec>>;
}

interface Known {
  adapter: string;
  deviceId: string;
  info: JsonObject;
  state: JsonObject | undefined;
  shape: string;
}

type Component = JsonObject & { platform: string };

/** The largest removal request read; it names one device. */
const MAX_REQUEST_BYTES = 4096;
/** Nesting followed into a gantry state; fields.json groups are three deep. */
const MAX_DEPTH = 6;

/** A level of a discovery topic and an HA id: `[a-zA-Z0-9_-]` only; any other identity is
 *  replaced character by character and suffixed with a hash, so two identities never meet. */
export function haId(text: string): string {
  const safe = text.replace(/[^a-zA-Z0-9_-]/g, '_');
  return safe === text ? safe : `${safe}_${createHash('sha1').update(text).digest('hex').slice(0, 8)}`;
}

/** A Jinja expression that walks `path` in `root` and yields `none` (HA: unknown) where a level is
 *  missing or null: a cabinet that has not reported, a NoData value. */
function walk(root: string, path: Array<string | number>): string {
  return (
    `{% set ns = namespace(v=${root}) %}{% for k in ${JSON.stringify(path)} %}` +
    `{% if ns.v is mapping and k in ns.v %}{% set ns.v = ns.v[k] %}` +
    `{% elif ns.v is sequence and ns.v is not string and k is number and k < ns.v | length %}{% set ns.v = ns.v[k] %}` +
    `{% else %}{% set ns.v = none %}{% endif %}{% endfor %}`
  );
}

/** `data.a.b` read from an event envelope (whose `data` is always an object) without failing on a
 *  missing level. */
function attribute(path: string): string {
  const levels = path.split('.');
  let expr = 'value_json.data';
  for (const level of levels.slice(0, -1)) expr = `(${expr}.get(${JSON.stringify(level)}) if ${expr} is mapping else {})`;
  const last = JSON.stringify(levels[levels.length - 1]);
  return levels.length === 1 ? `${expr}.get(${last})` : `(${expr}.get(${last}) if ${expr} is mapping else none)`;
}

/** `frontDoorClosed` → `front door closed`, `open_door` → `open door`: names HA shows. */
function words(text: string): string {
  return text.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
}

function title(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export class HomeAssistant implements DiscoverySink {
  private readonly link: Link;
  private readonly topics: Topics;
  private readonly config: Readonly<HomeAssistantConfig>;
  private readonly logger: Logger;
  private readonly adapters = new Map<string, Prepared>();
  private readonly known = new Map<string, Known>();
  /** Forgotten while this gateway runs: removed by request, or deleted in HA. */
  private readonly removed = new Set<string>();
  private readonly byObjectId = new Map<string, string>();
  private readonly bridgeId: string;

  constructor(link: Link, topics: Topics, config: Readonly<HomeAssistantConfig>, logger: Logger) {
    this.link = link;
    this.topics = topics;
    this.config = config;
    this.logger = logger;
    this.bridgeId = `${haId(topics.base)}_bridge`;
  }

  get removeRequestTopic(): string {
    return `${this.topics.base}/bridge/request/device/remove`;
  }

  get removeResponseTopic(): string {
    return `${this.topics.base}/bridge/response/device/remove`;
  }

  /** Reads the adapter's discovery declarations; a broken file leaves the adapter undiscovered. */
  register(adapter: string, mappings: Mappings | undefined): void {
    if (!mappings) return;
    try {
      const spec = mappings.has('homeassistant') ? mappings.read<AdapterSpec>('homeassistant') : {};
      const exclude = new Set(spec.buttons?.exclude ?? []);
      // A command that needs no parameters: its schema takes the alias defaults (or nothing) alone.
      const buttons = mappings.commandNames().filter((name) => {
        const command = mappings.command(name);
        return command !== undefined && !exclude.has(name) && command.validate(command.defaults ?? {}) === true;
      });
      let groups: Prepared['groups'] = {};
      if (spec.state && mappings.has('fields')) {
        const fields = mappings.read<{ groups?: Prepared['groups'] }>('fields');
        groups = fields.groups ?? {};
      }
      this.adapters.set(adapter, { spec, buttons, groups });
    } catch (err) {
      this.logger.error({ adapter, err: (err as Error).message }, 'Home Assistant discovery declarations unreadable; the adapter is not discovered');
    }
  }

  /** Subscribes to HA's birth, its device deletions and the removal requests; publishes the bridge. */
  async start(): Promise<void> {
    const { prefix, enabled } = this.config;
    this.link.subscribe(this.removeRequestTopic, (_topic, payload) => void this.onRemove(payload));
    if (!enabled) return;
    this.link.subscribe(`${prefix}/status`, (_topic, payload) => {
      if (payload.toString() !== 'online') return;
      this.logger.info({ devices: this.known.size }, 'Home Assistant is online: discovery published again');
      void this.publishAll();
    });
    this.link.subscribe(`${prefix}/device/+/config`, (topic, payload) => {
      if (payload.length !== 0) return;
      const key = this.byObjectId.get(topic.split('/').at(-2) ?? '');
      if (key === undefined || this.removed.has(key)) return;
      // Deleted in HA: not discovered again while this gateway runs.
      this.removed.add(key);
      this.known.delete(key);
      // The link republishes its retained topics after a reconnect: it must hold the deletion, not
      // the discovery HA just deleted.
      void this.link.retain(topic, '');
      this.logger.info({ device: key }, 'device deleted in Home Assistant: not discovered again until restart');
    });
    await this.link.retain(this.configTopic(this.bridgeId), JSON.stringify(this.bridgePayload()));
  }

  online(adapter: string, deviceId: string, info: JsonObject): void {
    const key = `${adapter}/${deviceId}`;
    if (!this.config.enabled || this.known.has(key) || this.removed.has(key) || !this.adapters.has(adapter)) return;
    const known: Known = { adapter, deviceId, info, state: undefined, shape: '' };
    this.known.set(key, known);
    this.byObjectId.set(this.objectId(adapter, deviceId), key);
    void this.publish(known);
  }

  state(adapter: string, deviceId: string, state: JsonObject): void {
    const known = this.known.get(`${adapter}/${deviceId}`);
    const sections = this.adapters.get(adapter)?.spec.state;
    if (!known || !sections) return;
    const shape = shapeOf(state, Object.keys(sections));
    if (shape === known.shape) return;
    known.shape = shape;
    known.state = state;
    void this.publish(known);
  }

  private payload(known: Known): JsonObject {
    const { adapter, deviceId, info } = known;
    const prepared = this.adapters.get(adapter) as Prepared;
    const { spec } = prepared;
    const objectId = this.objectId(adapter, deviceId);
    const { topics } = this;
    const device: JsonObject = {
      identifiers: [objectId],
      name: `${adapter} ${deviceId}`,
      via_device: this.bridgeId,
    };
    if (spec.manufacturer) device.manufacturer = spec.manufacturer;
    if (spec.model) device.model = spec.model;
    for (const [haKey, infoKey] of Object.entries(spec.info ?? {})) {
      const value = info[infoKey];
      if (typeof value === 'string' || typeof value === 'number') device[haKey] = String(value);
    }
    if (typeof info.mac === 'string' && info.mac !== '') device.connections = [['mac', info.mac]];
    const components: Record<string, Component> = {};
    const add = (platform: string, id: string, component: JsonObject): void => {
      const key = `${platform}_${haId(id)}`;
      components[key] = { platform, unique_id: `${objectId}_${key}`, ...component, name: title(component.name as string) };
    };
    for (const name of prepared.buttons) {
      add('button', name, { name: words(name), command_topic: topics.command(adapter, deviceId, name), payload_press: JSON.stringify({ data: {} }), qos: 1, retain: false });
    }
    for (const field of spec.media ?? []) add('camera', field, { name: words(field), topic: topics.media(adapter, deviceId, field) });
    for (const [name, attributes] of Object.entries(spec.events ?? {})) {
      const pairs = [`'event_type': value_json.name`, ...attributes.map((path) => `${JSON.stringify(path)}: ${attribute(path)}`)];
      add('event', name, { name: words(name), state_topic: topics.event(adapter, deviceId, name), event_types: [name], value_template: `{{ {${pairs.join(', ')}} | tojson }}` });
    }
    add('sensor', 'last_command', {
      name: 'Last command',
      icon: 'mdi:console',
      state_topic: topics.commandReply(adapter, deviceId, '+'),
      value_template: "{{ 'ok' if value_json.ok else (value_json.error.type if value_json.error is mapping else 'error') }}",
      json_attributes_topic: topics.commandReply(adapter, deviceId, '+'),
      json_attributes_template: '{{ {"id": value_json.id, "code": value_json.code, "message": value_json.message, "error": value_json.error} | tojson }}',
      entity_category: 'diagnostic',
    });
    if (spec.state && known.state) {
      for (const [section, group] of Object.entries(spec.state)) {
        const entries = known.state[section];
        if (!isObject(entries)) continue;
        for (const [id, entry] of Object.entries(entries)) {
          this.fieldComponents(prepared, group, entry, [section, id], `${words(section).replace(/s$/, '')} ${id}`, topics.device(adapter, deviceId, 'state'), add, 0);
        }
      }
    }
    return {
      device,
      origin: { name: 'gate2mqtt', sw_version: VERSION },
      availability: [{ topic: this.topics.bridgeState }, { topic: topics.device(adapter, deviceId, 'availability') }],
      availability_mode: 'all',
      components,
      qos: 1,
    };
  }

  /** A sensor or binary_sensor per declared field of `value` (a state entry), as it is nested. */
  private fieldComponents(
    prepared: Prepared,
    group: string,
    value: unknown,
    path: Array<string | number>,
    label: string,
    stateTopic: string,
    add: (platform: string, id: string, component: JsonObject) => void,
    depth: number,
  ): void {
    const fields = prepared.groups[group];
    if (!fields || !isObject(value) || depth > MAX_DEPTH) return;
    for (const [name, field] of Object.entries(fields)) {
      if (!(name in value)) continue;
      const here = [...path, name];
      const id = here.join('_');
      const title = `${label} ${words(name)}`;
      const child = value[name];
      if (field.of) {
        if (Array.isArray(child)) {
          child.forEach((item, i) =>
            this.fieldComponents(prepared, field.of as string, item, [...here, i], child.length > 1 ? `${label} ${words(name)} ${i + 1}` : `${label} ${words(name)}`, stateTopic, add, depth + 1),
          );
        } else {
          this.fieldComponents(prepared, field.of, child, here, `${label} ${words(name)}`, stateTopic, add, depth + 1);
        }
        continue;
      }
      const ha = field.ha;
      if (!ha) continue;
      if (field.type === 'status' && ha.on !== undefined) {
        const off = ha.on === '1' ? '0' : '1';
        add('binary_sensor', id, {
          name: title,
          state_topic: stateTopic,
          value_template: `${walk('value_json', here)}{{ ns.v }}`,
          payload_on: ha.on,
          payload_off: off,
          ...(ha.device_class ? { device_class: ha.device_class } : {}),
        });
      } else if (field.type === 'number' || field.type === 'count') {
        const unit = ha.unit ?? field.unit;
        add('sensor', id, {
          name: title,
          state_topic: stateTopic,
          value_template: `${walk('value_json', here)}{{ ns.v }}`,
          ...(unit ? { unit_of_measurement: unit } : {}),
          ...(ha.device_class ? { device_class: ha.device_class } : {}),
          ...(ha.state_class ? { state_class: ha.state_class } : {}),
        });
      }
    }
  }

  private bridgePayload(): JsonObject {
    return {
      device: { identifiers: [this.bridgeId], name: `gate2mqtt ${this.topics.base}`, manufacturer: 'gate2mqtt', model: 'Bridge', sw_version: VERSION },
      origin: { name: 'gate2mqtt', sw_version: VERSION },
      components: {
        binary_sensor_connection_state: {
          platform: 'binary_sensor',
          unique_id: `${this.bridgeId}_connection_state`,
          name: 'Connection state',
          state_topic: this.topics.bridgeState,
          payload_on: 'online',
          payload_off: 'offline',
          device_class: 'connectivity',
          entity_category: 'diagnostic',
        },
      },
      qos: 1,
    };
  }

  private objectId(adapter: string, deviceId: string): string {
    return `${haId(this.topics.base)}_${adapter}_${haId(deviceId)}`;
  }

  private configTopic(objectId: string): string {
    return `${this.config.prefix}/device/${objectId}/config`;
  }

  private async publish(known: Known): Promise<void> {
    try {
      await this.link.retain(this.configTopic(this.objectId(known.adapter, known.deviceId)), JSON.stringify(this.payload(known)));
    } catch (err) {
      this.logger.warn({ adapter: known.adapter, deviceId: known.deviceId, err: (err as Error).message }, 'Home Assistant discovery not published');
    }
  }

  /** The bridge last: once its discovery is out, every device's is (one link, in order). */
  private async publishAll(): Promise<void> {
    for (const known of this.known.values()) await this.publish(known);
    await this.link.retain(this.configTopic(this.bridgeId), JSON.stringify(this.bridgePayload()));
  }

  private async onRemove(payload: Buffer): Promise<void> {
    let transaction: unknown;
    try {
      const request = parseJsonObject(payload, MAX_REQUEST_BYTES);
      transaction = request.transaction;
      const { adapter, deviceId } = this.target(request);
      const key = `${adapter}/${deviceId}`;
      this.removed.add(key);
      this.known.delete(key);
      const { topics } = this;
      const media = this.adapters.get(adapter)?.spec.media ?? [];
      const cleared = [this.configTopic(this.objectId(adapter, deviceId)), topics.device(adapter, deviceId, 'availability'), topics.device(adapter, deviceId, 'info'), topics.device(adapter, deviceId, 'state'), ...media.map((f) => topics.media(adapter, deviceId, f))];
      // An empty retained message deletes the broker's copy (MQTT 3.3.1.3); retain() keeps it empty
      // across reconnects too.
      await Promise.all(cleared.map((topic) => this.link.retain(topic, '')));
      this.logger.info({ adapter, deviceId }, 'device removed: retained topics and discovery cleared');
      this.respond({ status: 'ok', data: { id: key, adapter, deviceId, cleared }, ...(transaction !== undefined ? { transaction } : {}) });
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'device remove request refused');
      this.respond({ status: 'error', data: {}, error: (err as Error).message, ...(transaction !== undefined ? { transaction } : {}) });
    }
  }

  /** `{"id": "qyzn/SN1"}` or `{"adapter": "qyzn", "deviceId": "SN1"}`. */
  private target(request: JsonObject): { adapter: string; deviceId: string } {
    let adapter: unknown = request.adapter;
    let deviceId: unknown = request.deviceId;
    if (typeof request.id === 'string') {
      const slash = request.id.indexOf('/');
      if (slash < 0) throw new DeviceRemoveError(`id ${JSON.stringify(request.id)} must be "{adapter}/{deviceId}"`);
      adapter = request.id.slice(0, slash);
      deviceId = request.id.slice(slash + 1);
    }
    if (typeof adapter !== 'string' || !this.adapters.has(adapter)) {
      throw new DeviceRemoveError(`adapter must be one of ${[...this.adapters.keys()].join(', ')} (got ${JSON.stringify(adapter ?? null)})`);
    }
    if (!isValidTopicLevel(deviceId)) throw new DeviceRemoveError(`deviceId must be a device identity, one topic level (got ${JSON.stringify(deviceId ?? null)})`);
    return { adapter, deviceId };
  }

  private respond(body: JsonObject): void {
    this.link.publishQueued(this.removeResponseTopic, JSON.stringify(body));
  }
}

/** What decides a gantry's sensors: the entries by id, and how many of each array they hold. */
function shapeOf(state: JsonObject, sections: string[]): string {
  let shape = '';
  for (const section of sections) {
    const entries = state[section];
    if (!isObject(entries)) continue;
    for (const [id, entry] of Object.entries(entries)) {
      shape += `${section}:${id}:`;
      if (!isObject(entry)) continue;
      for (const [key, value] of Object.entries(entry)) if (Array.isArray(value)) shape += `${key}${value.length},`;
      shape += ';';
    }
  }
  return shape;
}
