// results.json and the Markdown table beside it.
import type { Machine, Noise } from './machine.js';
import type { GeneratorLine, ScenarioResult } from './context.js';

export interface Results {
  kind: 'full' | 'smoke';
  startedAt: string;
  seconds: number;
  machine: Machine;
  scenarios: ScenarioResult[];
}

const esc = (s: string): string => s.replace(/\|/g, '\\|');

export function markdown(results: Results): string {
  const m = results.machine;
  const lines: string[] = [];
  lines.push(`# gate2mqtt benchmarks (${results.kind}), ${results.startedAt.slice(0, 10)}`);
  lines.push('');
  lines.push(
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, commit ${m.commit}${m.dirty ? ' (with uncommitted changes)' : ''}, ` +
      `open files ${m.openFiles}, Mosquitto ${m.mosquitto}, load average at start ${m.loadAverage.join(' ')}. Run took ${Math.round(results.seconds)} s.`,
  );
  if (m.noise) {
    const say = (n: Noise): string => `p99 ${n.timerLagP99Ms} ms, max ${n.timerLagMaxMs} ms`;
    lines.push('');
    lines.push(
      `Machine noise (a 1 ms timer in an idle process, how late it fired): at the start ${say(m.noise.start)}` +
        `${m.noise.end ? `; at the end ${say(m.noise.end)}` : ''}. A quiet machine stays well under 1 ms; every latency figure below carries this tail.`,
    );
  }
  lines.push('');
  lines.push('| target | scenario | result | verdict |');
  lines.push('| --- | --- | --- | --- |');
  for (const s of results.scenarios) lines.push(`| ${s.id} | ${esc(s.title)} | ${esc(s.summary)} | **${s.status}** |`);
  lines.push('');
  lines.push('## Checks');
  lines.push('');
  lines.push('| target | check | value | wanted | met |');
  lines.push('| --- | --- | --- | --- | --- |');
  for (const s of results.scenarios) {
    for (const c of s.checks) lines.push(`| ${s.id} | ${esc(c.name)} | ${c.value} ${c.unit} | ${esc(c.target)} | ${c.met === null ? '-' : c.met ? 'yes' : 'NO'} |`);
  }
  lines.push('');
  lines.push('## Load generators');
  lines.push('');
  lines.push('Each generator is asked for a rate; "sent/s" is what it sent on its fixed schedule, "lag p99" how late its sends were,');
  lines.push('"cpu" its own CPU while sending, and "headroom" how many times the asked rate one core of it could send (100 / cpu).');
  lines.push('');
  lines.push('| target | generator | asked/s | sent/s | lag p99 ms | cpu % | headroom |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const s of results.scenarios) for (const g of condense(s.generators)) lines.push(`| ${s.id} | ${esc(g.name)} | ${g.askedPerSec} | ${g.sentPerSec} | ${g.lagP99Ms} | ${g.cpuPercent} | ${g.headroom}x |`);
  const notes = results.scenarios.flatMap((s) => s.notes.map((n) => `- ${s.id}: ${n}`));
  if (notes.length > 0) {
    lines.push('');
    lines.push('## Notes');
    lines.push('');
    lines.push(...notes);
  }
  // A scenario's own table (medians per arm), as it wrote it.
  for (const s of results.scenarios) {
    const table = s.details.markdownTable;
    if (!Array.isArray(table)) continue;
    lines.push('');
    lines.push(`## ${s.id} by arm`);
    lines.push('');
    lines.push(...table.map(String));
  }
  const profiles = results.scenarios.filter((s) => s.details.profile !== undefined);
  for (const s of profiles) {
    const p = s.details.profile as { topFunctions?: Array<{ fn: string; where: string; selfPercent: number }>; byPackage?: Array<{ pkg: string; selfPercent: number }> };
    lines.push('');
    lines.push(`## ${s.id} gateway CPU profile (self time, share of busy samples)`);
    lines.push('');
    lines.push('| function | where | self % |');
    lines.push('| --- | --- | --- |');
    for (const f of p.topFunctions ?? []) lines.push(`| ${esc(f.fn)} | ${esc(f.where)} | ${f.selfPercent} |`);
    lines.push('');
    lines.push('| package / file | self % |');
    lines.push('| --- | --- |');
    for (const f of p.byPackage ?? []) lines.push(`| ${esc(f.pkg)} | ${f.selfPercent} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/** One line per generator kind and rate: rounds of the same arm are summarised by their worst lag. */
function condense(lines: readonly GeneratorLine[]): GeneratorLine[] {
  const byKey = new Map<string, GeneratorLine[]>();
  for (const g of lines) {
    const key = `${g.name.replace(/ qyzn-load\[.*$/, '')}|${g.askedPerSec}`;
    byKey.set(key, [...(byKey.get(key) ?? []), g]);
  }
  return [...byKey.values()].map((group) => {
    const worst = group.reduce((a, b) => (b.lagP99Ms > a.lagP99Ms ? b : a));
    const cpu = Math.max(...group.map((g) => g.cpuPercent));
    return { ...worst, cpuPercent: cpu, headroom: Math.round((100 / Math.max(1, cpu)) * 10) / 10, name: group.length > 1 ? `${worst.name} (x${group.length})` : worst.name };
  });
}
