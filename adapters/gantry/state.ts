// The retained `state` of each gantry: the latest status of each of its computers and cabinets,
// by id, and the card-list version it last asked with; merged from every upload, published whole.
import type { DeviceHandle, JsonObject } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import type { Upload } from './decode.js';
import type { Quality, Typed } from './typing.js';

interface GantryState {
  version: string;
  updatedAt: string;
  computers: Record<string, JsonObject>;
  cabinets: Record<string, JsonObject>;
  cardVersion?: string;
}

type Section = 'computers' | 'cabinets';

/** Each entry of a state as JSON, kept from its upload on: a gantry's state is published whole
 *  after every upload, which replaces one or a few of its entries. */
type EntryJson = Record<Section, Map<string, string>>;

/** The quality entries of one entry of a status array, re-rooted at that entry. */
function qualityUnder(quality: Quality, prefix: string): Quality | undefined {
  const out: Quality = {};
  const below = `${prefix}.`;
  for (const [path, word] of Object.entries(quality)) {
    if (path.startsWith(below)) out[path.slice(below.length)] = word;
    else if (path === prefix) out[''] = word;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export class GantryStates {
  private readonly states = new Map<string, GantryState>();
  private readonly json = new Map<string, EntryJson>();

  /** Merges the entries of a status upload (one object or an array of them) by id, and publishes. */
  async status(
    handle: DeviceHandle,
    upload: Upload,
    typed: Typed,
    field: 'computerStatus' | 'cabinetStatus',
    section: Section,
  ): Promise<void> {
    const state = this.stateOf(upload);
    const json = this.jsonOf(upload.gantryId);
    const entries = typed.data[field];
    const list = Array.isArray(entries) ? entries : [entries];
    list.forEach((entry, i) => {
      if (!isObject(entry)) return;
      const prefix = Array.isArray(entries) ? `${field}[${i}]` : field;
      const quality = qualityUnder(typed.quality, prefix);
      const id = typeof entry.id === 'string' && entry.id !== '' ? entry.id : String(i + 1);
      const merged = { ...entry, ...(quality ? { quality } : {}), updatedAt: state.updatedAt };
      state[section][id] = merged;
      json[section].set(id, JSON.stringify(merged));
    });
    await publishState(handle, state, serialised(state, json));
  }

  /** Notes the card-list version a queryAndGetCardInfo asked with, and publishes. */
  async cardVersion(handle: DeviceHandle, upload: Upload, curVersion: string): Promise<void> {
    const state = this.stateOf(upload);
    state.cardVersion = curVersion;
    await publishState(handle, state, serialised(state, this.jsonOf(upload.gantryId)));
  }

  private jsonOf(gantryId: string): EntryJson {
    let json = this.json.get(gantryId);
    if (!json) {
      json = { computers: new Map(), cabinets: new Map() };
      this.json.set(gantryId, json);
    }
    return json;
  }

  private stateOf(upload: Upload): GantryState {
    let state = this.states.get(upload.gantryId);
    if (!state) {
      state = { version: upload.version, updatedAt: '', computers: {}, cabinets: {} };
      this.states.set(upload.gantryId, state);
    }
    state.version = upload.version;
    state.updatedAt = new Date().toISOString();
    return state;
  }
}

/** What JSON.stringify(state) writes, key order included (a section's ids in the object's own
 *  order), from the entries' kept JSON. */
function serialised(state: GantryState, json: EntryJson): string {
  const section = (name: Section): string => {
    const parts: string[] = [];
    for (const id in state[name]) parts.push(`${JSON.stringify(id)}:${json[name].get(id) ?? JSON.stringify(state[name][id])}`);
    return `{${parts.join(',')}}`;
  };
  const card = state.cardVersion === undefined ? '' : `,"cardVersion":${JSON.stringify(state.cardVersion)}`;
  return `{"version":${JSON.stringify(state.version)},"updatedAt":${JSON.stringify(state.updatedAt)},"computers":${section('computers')},"cabinets":${section('cabinets')}${card}}`;
}

/** The event already went out; a state that fails to go is refreshed by the next upload. */
async function publishState(handle: DeviceHandle, state: GantryState, json: string): Promise<void> {
  try {
    await handle.setState({ ...state }, json);
  } catch (err) {
    handle.logger.warn({ err }, 'gantry state not published');
  }
}
