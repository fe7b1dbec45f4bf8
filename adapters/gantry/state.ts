// The retained `state` of each gantry: the latest status of each of its computers and cabinets,
// by id, and the card-list version it last asked with; merged from every upload, published whole.
import type { DeviceHandle, JsonObject } from '../../src/adapter.js';
import { isoNow } from '../../src/clock.js';
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
  let out: Quality | undefined;
  const below = `${prefix}.`;
  for (const path in quality) {
    if (path.startsWith(below)) (out ??= {})[path.slice(below.length)] = quality[path] as string;
    else if (path === prefix) (out ??= {})[''] = quality[path] as string;
  }
  return out;
}

/** One entry of a status upload, serialised once: its JSON goes into the event and, merged, into
 *  the retained state. */
interface StatusEntry {
  id: string;
  entry: JsonObject;
  json: string;
  quality: Quality | undefined;
}

/** A status upload's entries and the event `data` written from their JSON. */
export interface StatusUpload {
  /** JSON.stringify(typed.data), byte for byte. */
  dataJson: string;
  entries: StatusEntry[];
}

/** Serialises the typed data of a status upload once: each entry of `field` (one object or an
 *  array of them) is written alone and the event's `data` is put together from those strings, in
 *  the order and form JSON.stringify(typed.data) would write. */
export function statusUpload(typed: Typed, field: 'computerStatus' | 'cabinetStatus'): StatusUpload {
  const entries: StatusEntry[] = [];
  const { data, quality } = typed;
  const value = data[field];
  const list = Array.isArray(value) ? value : [value];
  const written: string[] = [];
  list.forEach((entry, i) => {
    // JSON.stringify writes undefined items of an array as null (typing makes none; said anyway).
    const json = JSON.stringify(entry) ?? 'null';
    written.push(json);
    if (!isObject(entry)) return;
    const id = typeof entry.id === 'string' && entry.id !== '' ? entry.id : String(i + 1);
    entries.push({ id, entry, json, quality: qualityUnder(quality, Array.isArray(value) ? `${field}[${i}]` : field) });
  });
  const fieldJson = Array.isArray(value) ? `[${written.join(',')}]` : written[0];
  const parts: string[] = [];
  for (const key in data) {
    const json = key === field ? fieldJson : JSON.stringify(data[key]);
    // A key JSON.stringify leaves out (undefined value; typing makes none) is left out here too.
    if (json !== undefined) parts.push(`${JSON.stringify(key)}:${json}`);
  }
  return { dataJson: `{${parts.join(',')}}`, entries };
}

/** `{...entry, quality?, updatedAt}` as JSON.stringify writes it, from the entry's own JSON: the two
 *  keys go last unless the entry has them already (then the object is written whole). */
function mergedJson(merged: JsonObject, { entry, json, quality }: StatusEntry, updatedAt: string): string {
  if (Object.hasOwn(entry, 'quality') || Object.hasOwn(entry, 'updatedAt')) return JSON.stringify(merged);
  const tail = `${quality ? `"quality":${JSON.stringify(quality)},` : ''}"updatedAt":${JSON.stringify(updatedAt)}}`;
  return json === '{}' ? `{${tail}` : `${json.slice(0, -1)},${tail}`;
}

export class GantryStates {
  private readonly states = new Map<string, GantryState>();
  private readonly json = new Map<string, EntryJson>();

  /** Merges the entries of a status upload by id, and publishes. */
  async status(handle: DeviceHandle, upload: Upload, status: StatusUpload, section: Section): Promise<void> {
    const state = this.stateOf(upload);
    const json = this.jsonOf(upload.gantryId);
    for (const entry of status.entries) {
      const merged: JsonObject = { ...entry.entry, ...(entry.quality ? { quality: entry.quality } : {}), updatedAt: state.updatedAt };
      state[section][entry.id] = merged;
      json[section].set(entry.id, mergedJson(merged, entry, state.updatedAt));
    }
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
    // The envelope's own clock: one Date and ISO text per millisecond, not per upload.
    state.updatedAt = isoNow();
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
