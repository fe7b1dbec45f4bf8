// The committed AsyncAPI document as the AsyncAPI project's own parser reads it, and what a topic
// published by the gateway matches in it: shared by the document's tests and its end-to-end check.
import { readFileSync } from 'node:fs';
import { Parser, type AsyncAPIDocumentInterface, type ChannelInterface, type Diagnostic } from '@asyncapi/parser';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { ASYNCAPI_DOC } from '../../src/asyncapi.js';

export interface Parsed {
  document: AsyncAPIDocumentInterface | undefined;
  diagnostics: Diagnostic[];
}

/** Severities of the parser's diagnostics: 0 error, 1 warning, 2 information, 3 hint. */
export const ERROR = 0;
export const WARNING = 1;

let committed: Promise<Parsed> | undefined;

/** The document given, or the committed one (parsed once per test file: a parse takes seconds). */
export function parseAsyncApi(text?: string): Promise<Parsed> {
  if (text !== undefined) return parse(text);
  committed ??= parse(readFileSync(ASYNCAPI_DOC, 'utf8'));
  return committed;
}

async function parse(text: string): Promise<Parsed> {
  const { document, diagnostics } = await new Parser().parse(text);
  return { document, diagnostics };
}

/** Validators of the dereferenced payload schemas; the parser marks each schema with
 *  `x-parser-*` keys, which ajv's strict mode would refuse. */
export function payloadValidator(): (schema: unknown) => ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const compiled = new WeakMap<object, ValidateFunction>();
  return (schema) => {
    const key = schema as object;
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile(schema as object);
      compiled.set(key, validate);
    }
    return validate;
  };
}

/** The channels whose address (with its parameters' enums) a concrete topic is. */
export function channelsOf(document: AsyncAPIDocumentInterface, topic: string): ChannelInterface[] {
  return document
    .channels()
    .all()
    .filter((channel) => addressPattern(channel).test(topic));
}

function addressPattern(channel: ChannelInterface): RegExp {
  const address = channel.address() ?? '';
  const parameters = new Map(channel.parameters().all().map((p) => [p.id(), p.json() as { enum?: string[] }]));
  const source = address
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const name = /^\{([^}]+)\}$/.exec(part)?.[1];
      if (name === undefined) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      const values = parameters.get(name)?.enum;
      return values ? `(?:${values.map((v) => v.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('|')})` : '[^/]+';
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/** A payload as its content type says it is read: JSON parsed, text as UTF-8, bytes as a string
 *  of them (the schema of raw bytes is a string of format binary). */
export function decode(contentType: string, payload: Buffer): unknown {
  if (contentType === 'application/json') return JSON.parse(payload.toString('utf8'));
  if (contentType === 'text/plain') return payload.toString('utf8');
  return payload.toString('latin1');
}
