// An instance SIGKILLed among three, on one broker: the machine's Mosquitto in CI, else an aedes of
// the test's own (test/helpers/kill-scenario.ts says what is checked).
import t from 'tap';
import { externalBroker } from '../helpers/harness.js';
import { killScenario } from '../helpers/kill-scenario.js';

t.test('one broker: an instance SIGKILLed, its devices offline, back on the others, nothing accepted lost', async (t) => {
  await killScenario(t, [await externalBroker(t)]);
});
