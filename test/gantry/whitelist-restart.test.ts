// Fault: the gateway, and with it its embedded broker, restarted. With broker.persistence disk the
// whitelist the platform published retained before is still the broker's, so a gantry's
// queryAndGetCardInfo after the restart is answered from it; with memory it is gone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { GantrySimulator } from '../../sim/gantry/simulator.js';
import { connectClient, startGateway, uniqueBase, type Started } from '../helpers/harness.js';

const WHITELIST = { latestVersion: '20191201000000', cardInfos: [{ cardId: '1234567', validTime: '2019-11-29 13:58:50', invalidTime: '2029-11-29 13:58:50' }] };

async function gateway(t: Test, base: string, persistence: 'memory' | 'disk', dataDir: string, sim: GantrySimulator): Promise<Started> {
  const g = await startGateway(t, { config: { baseTopic: base, mqtt: { url: '' }, broker: { persistence, dataDir } } });
  sim.setUploadUrl(`${g.httpUrl}/monitor.do`);
  return g;
}

async function restartWithWhitelist(t: Test, persistence: 'memory' | 'disk'): Promise<{ sim: GantrySimulator; gantryId: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'g2m-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sim = new GantrySimulator({ controlPort: 0, gantries: 1, errorRate: 0, alarmRate: 0 });
  await sim.start();
  t.teardown(() => sim.stop());
  const gantryId = sim.gantries[0]!.gantryId;
  const base = uniqueBase();

  const first = await gateway(t, base, persistence, dir, sim);
  const platform = await connectClient(t, first.mqttUrl);
  // QoS 2: aedes completes the handshake only once the message is stored.
  await platform.client.publishAsync(`${base}/gantry/${gantryId}/whitelist`, JSON.stringify(WHITELIST), { qos: 2, retain: true });
  await platform.client.endAsync();
  await first.gateway.stop();

  await gateway(t, base, persistence, dir, sim);
  return { sim, gantryId };
}

t.test('disk: after the restart, queryAndGetCardInfo is answered from the whitelist published before it', async (t) => {
  const { sim, gantryId } = await restartWithWhitelist(t, 'disk');
  const answer = await sim.upload(gantryId, 'queryAndGetCardInfo');
  t.same(answer.answer, { code: '1000', msg: '成功', data: { isExistLatestVersion: 1, ...WHITELIST } });
});

t.test('memory: after the restart, the gateway has no whitelist to answer from', async (t) => {
  const { sim, gantryId } = await restartWithWhitelist(t, 'memory');
  const answer = await sim.upload(gantryId, 'queryAndGetCardInfo');
  t.same(answer.answer, { code: '1000', msg: '成功', data: { isExistLatestVersion: 0 } });
});
