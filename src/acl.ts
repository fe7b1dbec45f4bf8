// Topic ACLs of the embedded broker's users: MQTT topic filters (`+`, `#`), with `{base}` standing
// for the configured baseTopic so one file serves any base.

export const BASE_PLACEHOLDER = '{base}';

/** Why `filter` is not an MQTT topic filter (after `{base}` is put in), or undefined. */
export function filterProblem(filter: unknown): string | undefined {
  if (typeof filter !== 'string' || filter === '') return 'must be a non-empty MQTT topic filter';
  const text = filter.split(BASE_PLACEHOLDER).join('base');
  if (/[\u0000-\u001f\u007f]/.test(text)) return 'must not hold control characters';
  const levels = text.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '"#" must be a whole level, and the last one';
    if (level.includes('+') && level !== '+') return '"+" must be a whole level';
  }
  return undefined;
}

export function expandBase(filter: string, baseTopic: string): string {
  return filter.split(BASE_PLACEHOLDER).join(baseTopic);
}

/** Whether `topic` (a topic name, no wildcards) matches `filter`. A topic starting with `$` is
 *  matched only by a filter whose first level says so (MQTT 4.7.2). */
export function topicMatches(filter: string, topic: string): boolean {
  const parts = filter.split('/');
  const levels = topic.split('/');
  if (topic.startsWith('$') && (parts[0] === '+' || parts[0] === '#')) return false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === '#') return true;
    if (i >= levels.length || (part !== '+' && part !== levels[i])) return false;
  }
  return parts.length === levels.length;
}

/** Whether every topic that `filter` matches is also matched by `pattern`: a subscription is
 *  allowed only whole, since a broker cannot narrow what a filter delivers. So `#` is not covered
 *  by `{base}/#`, and `a/+` is not covered by `a/b`. */
export function filterCovered(pattern: string, filter: string): boolean {
  const p = pattern.split('/');
  const f = filter.split('/');
  // A `$` topic is matched only by a filter naming that first level, never by `+` or `#`.
  if ((f[0] as string).startsWith('$') && p[0] !== f[0]) return false;
  for (let i = 0; i < f.length; i++) {
    const pp = p[i];
    const ff = f[i] as string;
    if (pp === undefined) return false;
    if (pp === '#') return true;
    if (ff === '#') return false;
    if (ff === '+' ? pp !== '+' : pp !== '+' && pp !== ff) return false;
  }
  // `a/#` also matches `a` itself: a filter ending where the pattern has one `#` left is covered.
  return p.length === f.length || (p.length === f.length + 1 && p[f.length] === '#');
}

/** What one broker user may do. */
export class TopicAcl {
  private readonly publish: readonly string[];
  private readonly subscribe: readonly string[];

  constructor(rules: { publish?: readonly string[] | undefined; subscribe?: readonly string[] | undefined }, baseTopic: string) {
    this.publish = (rules.publish ?? []).map((f) => expandBase(f, baseTopic));
    this.subscribe = (rules.subscribe ?? []).map((f) => expandBase(f, baseTopic));
  }

  mayPublish(topic: string): boolean {
    return this.publish.some((filter) => topicMatches(filter, topic));
  }

  maySubscribe(filter: string): boolean {
    return this.subscribe.some((pattern) => filterCovered(pattern, filter));
  }
}
