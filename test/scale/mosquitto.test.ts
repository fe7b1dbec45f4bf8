// Issue 13's broker (c): a single Mosquitto with its queue limits raised (a Mosquitto of the test's
// own on a free port, whatever broker the rest of the run uses), three instances, one SIGKILLed
// (test/helpers/kill-scenario.ts says what is checked).
import t from 'tap';
import { killScenario } from '../helpers/kill-scenario.js';
import { ownMosquitto } from '../helpers/mosquitto.js';

t.test('own Mosquitto, queue limits raised: an instance SIGKILLed, its devices offline, back on the others, nothing accepted lost', async (t) => {
  const broker = await ownMosquitto(t);
  await killScenario(t, [broker.url]);
});
