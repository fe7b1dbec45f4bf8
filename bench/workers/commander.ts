// T7's platform side: publishes commands on the open-loop schedule (QoS 1, one device after the
// other), and times each reply from the command's scheduled instant (and, apart, from the instant it
// was published, which leaves the commander's own timer lag out). Every command id must get
// exactly one reply.
import type { MqttClient } from 'mqtt';
import { connectMqtt } from '../lib/mqtt-client.js';
import { nowUs } from '../lib/clock.js';
import { serve } from '../lib/ipc.js';
import { settle } from '../lib/outcomes.js';
import type { CommanderProtocol, CommandReport } from '../lib/protocols.js';
import { openLoop } from '../lib/schedule.js';
import { Samples } from '../lib/stats.js';
import { selfStats } from './self.js';

interface Sent {
  scheduledUs: number;
  sentUs: number;
  replies: number;
  /** The device's group, when the run named groups. */
  group?: string;
}

let client: MqttClient | undefined;
let sent = new Map<string, Sent>();
let latency = new Samples();
let fromSend = new Samples();
let groups = new Map<string, { reply: Samples; fromSend: Samples }>();
let failed: Record<string, number> = {};
let measureFromUs = 0;
let strayReplies = 0;

function onReply(payload: Buffer): void {
  const at = nowUs();
  let reply: { id?: unknown; ok?: unknown; error?: { type?: unknown } | null };
  try {
    reply = JSON.parse(payload.toString('utf8')) as typeof reply;
  } catch {
    strayReplies += 1;
    return;
  }
  const entry = typeof reply.id === 'string' ? sent.get(reply.id) : undefined;
  if (!entry) {
    strayReplies += 1;
    return;
  }
  entry.replies += 1;
  if (entry.replies > 1) return;
  if (reply.ok !== true) {
    const type = typeof reply.error?.type === 'string' ? reply.error.type : 'unknown';
    failed[type] = (failed[type] ?? 0) + 1;
  }
  if (entry.scheduledUs >= measureFromUs) {
    latency.add(at - entry.scheduledUs);
    fromSend.add(at - entry.sentUs);
    if (entry.group !== undefined) {
      let g = groups.get(entry.group);
      if (!g) groups.set(entry.group, (g = { reply: new Samples(), fromSend: new Samples() }));
      g.reply.add(at - entry.scheduledUs);
      g.fromSend.add(at - entry.sentUs);
    }
  }
}

serve<CommanderProtocol>(
  {
    async connect({ url, clientId, replyFilters }) {
      client = await connectMqtt(url, { clientId, protocolVersion: 5, clean: true, reconnectPeriod: 1000 });
      client.on('message', (_topic, payload) => onReply(payload));
      await client.subscribeAsync(replyFilters, { qos: 1 });
      return null;
    },
    async run(args) {
      const mq = client;
      if (!mq) throw new Error('not connected');
      sent = new Map();
      latency = new Samples();
      fromSend = new Samples();
      groups = new Map();
      failed = {};
      measureFromUs = args.startAtUs + args.warmupMs * 1000;
      const payloadOf = (id: string): string => JSON.stringify({ id, timeoutMs: 5000, data: {} });
      const loop = await openLoop(args, (i, scheduledUs) => {
        const serial = args.serials[i % args.serials.length] as string;
        const id = `${args.tag}-${i}`;
        const group = args.groups?.[serial];
        sent.set(id, { scheduledUs, sentUs: nowUs(), replies: 0, ...(group !== undefined ? { group } : {}) });
        mq.publish(`${args.base}/qyzn/${serial}/command/${args.command}`, payloadOf(id), { qos: 1 });
      });
      const unanswered = (): number => {
        let n = 0;
        for (const entry of sent.values()) if (entry.replies === 0) n += 1;
        return n;
      };
      await settle(() => unanswered() === 0, args.settleMs);
      // A short extra wait, so that a second reply to an answered command would be seen.
      await new Promise((resolve) => setTimeout(resolve, 300));
      let okOnce = 0;
      let duplicates = 0;
      for (const entry of sent.values()) {
        if (entry.replies > 1) duplicates += entry.replies - 1;
      }
      const failedTotal = Object.values(failed).reduce((a, b) => a + b, 0);
      for (const entry of sent.values()) if (entry.replies === 1) okOnce += 1;
      okOnce -= failedTotal;
      const report: CommandReport = {
        loop: { ...loop },
        sent: sent.size,
        okOnce,
        failed,
        unanswered: unanswered(),
        duplicates,
        replyUs: latency.summary(),
        replyFromSendUs: fromSend.summary(),
      };
      if (args.groups) report.byGroup = Object.fromEntries([...groups].map(([name, g]) => [name, { replyUs: g.reply.summary(), replyFromSendUs: g.fromSend.summary() }]));
      return report;
    },
    stats() {
      return selfStats({ online: client?.connected ? 1 : 0, commands: sent.size, heartbeats: strayReplies });
    },
  },
  async () => {
    await client?.endAsync(true);
  },
);
