// T7: commands, 2,000 a second spread over 10,000 connected QYZN terminals (each answers at once):
// reply p99 from the command's scheduled instant, and exactly one reply per command. The baseline,
// in interleaved rounds, is the same commander against a responder that answers on the broker
// itself: the MQTT round trip without gateway and terminal.
import { randomBytes } from 'node:crypto';
import { check, verdict, type Check, type GeneratorLine, type Scenario } from '../lib/context.js';
import { nowUs } from '../lib/clock.js';
import { GatewayProcess } from '../lib/gateway.js';
import { WorkerProcess } from '../lib/ipc.js';
import type { CommanderProtocol, CommandReport, EchoProtocol } from '../lib/protocols.js';
import { median, round } from '../lib/stats.js';
import { TerminalFleet } from '../lib/terminals.js';

const COMMAND = 'open_door';

export const t7: Scenario = {
  id: 'T7',
  title: 'commands: 2,000/s over 10,000 devices, reply p99 and exactly one reply',
  async run(ctx) {
    const devices = ctx.smoke ? 100 : 10_000;
    const rate = ctx.smoke ? 200 : 2000;
    const durationMs = ctx.smoke ? 1000 : 10_000;
    const warmupMs = ctx.smoke ? 200 : 1000;
    const rounds = ctx.smoke ? 1 : 3;
    const gateway = await GatewayProcess.start({ name: 'T7', adapters: ['qyzn'], logDir: ctx.rawDir, openFiles: devices + 2000 });
    let fleet: TerminalFleet | undefined;
    let commander: WorkerProcess<CommanderProtocol> | undefined;
    let echo: WorkerProcess<EchoProtocol> | undefined;
    const runs: Array<CommandReport & { arm: 'gateway' | 'baseline'; commandsSeen?: number }> = [];
    const generators: GeneratorLine[] = [];
    try {
      fleet = await TerminalFleet.start(devices, 'C');
      [commander, echo] = await Promise.all([
        WorkerProcess.start<CommanderProtocol>('commander', 'commander'),
        WorkerProcess.start<EchoProtocol>('echo', 'echo'),
        fleet.login(gateway.ports.qyzn, gateway.secret, { heartbeatMs: 25_000, concurrency: 200 }),
      ]);
      ctx.log(`  ${fleet.online} qyzn terminals logged in in ${round(fleet.loginMs / 1000, 1)} s`);
      const baselineBase = `${gateway.base}-baseline`;
      const id = randomBytes(3).toString('hex');
      await commander.call('connect', {
        url: gateway.mqttUrl,
        clientId: `g2m-bench-cmd-${id}`,
        replyFilters: [`${gateway.base}/qyzn/+/command/+/reply`, `${baselineBase}/qyzn/+/command/+/reply`],
      });
      await echo.call('connect', { url: gateway.mqttUrl, clientId: `g2m-bench-echo-${id}`, filter: `${baselineBase}/qyzn/+/command/+` });
      for (let r = 0; r < rounds; r++) {
        for (const arm of ['baseline', 'gateway'] as const) {
          const before = arm === 'gateway' ? (await fleet.stats()).commands : 0;
          const report = await commander.call('run', {
            tag: `${arm}-${r}-${randomBytes(2).toString('hex')}`,
            base: arm === 'gateway' ? gateway.base : baselineBase,
            serials: fleet.serials,
            command: COMMAND,
            ratePerSec: rate,
            durationMs,
            startAtUs: nowUs() + 300_000,
            settleMs: 10_000,
            warmupMs,
          });
          const seen = arm === 'gateway' ? (await fleet.stats()).commands - before : undefined;
          runs.push({ ...report, arm, ...(seen !== undefined ? { commandsSeen: seen } : {}) });
          ctx.log(`  round ${r + 1} ${arm}: ${report.sent} commands, p50 ${round(report.replyUs.p50 / 1000, 2)} ms p99 ${round(report.replyUs.p99 / 1000, 2)} ms (from publishing ${round(report.replyFromSendUs.p99 / 1000, 2)} ms), unanswered ${report.unanswered}, duplicates ${report.duplicates}`);
          generators.push({
            scenario: 'T7',
            name: `MQTT commander (${arm})`,
            askedPerSec: rate,
            sentPerSec: round(report.loop.sent / (durationMs / 1000), 0),
            lagP99Ms: round(report.loop.lagUs.p99 / 1000, 2),
            cpuPercent: round(report.loop.cpuPercent, 0),
            headroom: round(100 / Math.max(1, report.loop.cpuPercent), 1),
          });
        }
      }
    } finally {
      await Promise.all([commander?.stop(), echo?.stop(), fleet?.stop()]);
      await gateway.stop();
    }
    const gw = runs.filter((x) => x.arm === 'gateway');
    const bl = runs.filter((x) => x.arm === 'baseline');
    const p99 = round(median(gw.map((x) => x.replyUs.p99 / 1000)), 2);
    const p99Base = round(median(bl.map((x) => x.replyUs.p99 / 1000)), 2);
    const p99Sent = round(median(gw.map((x) => x.replyFromSendUs.p99 / 1000)), 2);
    const p99BaseSent = round(median(bl.map((x) => x.replyFromSendUs.p99 / 1000)), 2);
    const sent = gw.reduce((n, x) => n + x.sent, 0);
    const unanswered = gw.reduce((n, x) => n + x.unanswered, 0);
    const duplicates = gw.reduce((n, x) => n + x.duplicates, 0);
    const failed = gw.reduce((n, x) => n + Object.values(x.failed).reduce((a, b) => a + b, 0), 0);
    const seen = gw.reduce((n, x) => n + (x.commandsSeen ?? 0), 0);
    const checks: Check[] = [
      check('gateway reply p99', p99, 'ms', '<= 5 ms', p99 <= 5, ctx),
      check('commands without a reply', unanswered, '', '0', unanswered === 0, ctx),
      check('extra replies', duplicates, '', '0', duplicates === 0, ctx),
      check('replies ok: false', failed, '', '0', failed === 0, ctx),
      check('commands the terminals received', seen, '', `${sent} (one per command)`, seen === sent, ctx),
    ];
    return {
      status: verdict(checks, ctx),
      summary: `${rate}/s over ${devices} devices: reply p99 ${p99} ms (baseline round trip ${p99Base} ms), p50 ${round(median(gw.map((x) => x.replyUs.p50 / 1000)), 2)} ms; from the instant of publishing (the commander's timer lag left out) p99 ${p99Sent} ms (baseline ${p99BaseSent} ms); ${sent} commands, ${unanswered} unanswered, ${duplicates} extra replies, ${failed} failed`,
      checks,
      generators,
      notes: [],
      details: { devices, ratePerSec: rate, rounds: runs },
    };
  },
};
