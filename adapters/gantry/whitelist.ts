// The door-card whitelist of queryAndGetCardInfo: reading a whitelist (held retained on MQTT or
// answered by the platform), holding the retained ones, and the answer a gantry gets from either.
import type { JsonObject } from '../../src/adapter.js';
import { isObject, trimKeys } from '../../src/json.js';
import { numberFrom } from '../../src/leniency.js';
import { parseJson } from './decode.js';

interface CardInfo {
  cardId: string;
  validTime: string;
  invalidTime: string;
}
export interface Whitelist {
  latestVersion: string;
  cardInfos: CardInfo[];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Reads a whitelist as held on MQTT or answered by the platform; throws naming what is wrong. */
export function parseWhitelist(value: unknown): Whitelist {
  const t = trimKeys(value);
  if (!isObject(t)) throw new Error('a whitelist must be an object {latestVersion, cardInfos}');
  const latestVersion = text(t.latestVersion);
  if (!latestVersion) throw new Error('latestVersion is missing');
  if (!Array.isArray(t.cardInfos)) throw new Error('cardInfos must be an array');
  const cardInfos = t.cardInfos.map((card, i): CardInfo => {
    const c = isObject(card) ? card : {};
    const cardId = text(c.cardId);
    const validTime = text(c.validTime);
    const invalidTime = text(c.invalidTime);
    if (!cardId || validTime === undefined || invalidTime === undefined) {
      throw new Error(`cardInfos[${i}] needs cardId, validTime and invalidTime`);
    }
    return { cardId, validTime, invalidTime };
  });
  return { latestVersion, cardInfos };
}

/** The whitelists held retained on `{base}/gantry/{gantryId}/whitelist`, by gantry. */
export class Whitelists {
  private readonly held = new Map<string, Whitelist>();

  /** Holds (or, with an empty payload, drops) the card whitelist of a gantry. Throws when the
   *  payload is not a whitelist. */
  hold(gantryId: string, payload: unknown): void {
    const empty = payload === undefined || payload === null || payload === '' || (Buffer.isBuffer(payload) && payload.length === 0);
    if (empty) {
      this.held.delete(gantryId);
      return;
    }
    const value = typeof payload === 'string' || Buffer.isBuffer(payload) ? parseJson(payload) : payload;
    this.held.set(gantryId, parseWhitelist(value));
  }

  /** The whitelist held for a gantry, if any (what its next queryAndGetCardInfo is answered from). */
  get(gantryId: string): Readonly<Whitelist> | undefined {
    return this.held.get(gantryId);
  }
}

/** The device writes 0 when it has no list yet; an unreadable version is treated the same way. */
export function currentCardVersion(data: JsonObject): string {
  const v = text(data.curVersion);
  return v === undefined || v === '' ? '0' : v;
}

/** yyyyMMddHHmmss versions compare as strings (DESIGN.md "Device requests"). */
export function cardAnswer(curVersion: string, whitelist: Whitelist | undefined): JsonObject {
  if (whitelist && whitelist.latestVersion > curVersion) {
    return { isExistLatestVersion: 1, latestVersion: whitelist.latestVersion, cardInfos: whitelist.cardInfos };
  }
  return { isExistLatestVersion: 0 };
}

/** The platform may answer in the device's own shape (the seed's example, stray spaces and string
 *  flag included) or hand over a whitelist; either way the device gets clean keys and an integer. */
export function cardAnswerFromPlatform(reply: unknown, curVersion: string): JsonObject {
  const t = trimKeys(reply);
  if (!isObject(t)) return { isExistLatestVersion: 0 };
  if (t.isExistLatestVersion === undefined) {
    return t.latestVersion === undefined ? { isExistLatestVersion: 0 } : cardAnswer(curVersion, parseWhitelist(t));
  }
  // "1" (the seed's example) or 1, by the rule of commands (src/leniency.ts).
  if (numberFrom(t.isExistLatestVersion) !== 1) return { isExistLatestVersion: 0 };
  const list = parseWhitelist(t);
  return { isExistLatestVersion: 1, latestVersion: list.latestVersion, cardInfos: list.cardInfos };
}
