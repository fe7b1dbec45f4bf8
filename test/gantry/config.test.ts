// The gantry's configuration: defaults, environment names, and the per-gantry map.
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { checkGantryOverrides } from '../../adapters/gantry/config.js';

t.test('per-gantry overrides are checked', async (t) => {
  t.doesNotThrow(() => checkGantryOverrides({}));
  t.doesNotThrow(() => checkGantryOverrides({ G1: { auth: 'x', controlUrl: 'https://{ip}:3699/remotecontrol.do', reportIntervalS: 60 } }));
  const bad: [unknown, RegExp][] = [
    [[], /gantry\.gantries: must be an object/],
    [{ 'G/1': {} }, /is not a valid gantryId/],
    [{ G1: 'x' }, /gantry\.gantries\.G1: must be an object/],
    [{ G1: { password: 'x' } }, /G1\.password: not an option/],
    [{ G1: { auth: '' } }, /G1\.auth: must be a non-empty string/],
    [{ G1: { controlUrl: 'ftp://x' } }, /G1\.controlUrl: must be an http/],
    [{ G1: { reportIntervalS: 0 } }, /G1\.reportIntervalS: must be a positive integer/],
  ];
  for (const [value, message] of bad) t.throws(() => checkGantryOverrides(value), { constructor: ConfigError, message });
  t.throws(
    () => loadConfig({ env: {}, args: [], overrides: { gantry: { gantries: { G1: { auth: '' } } } } as never }),
    { constructor: ConfigError, message: /gantry\.gantries\.G1\.auth/ },
    'a bad override stops the start at configuration',
  );
});

t.test('configuration defaults and environment names', async (t) => {
  const { gantry } = loadConfig({ env: {}, args: [] }).config;
  t.match(gantry, {
    controlUrl: 'http://{ip}:3699/remotecontrol.do',
    auth: '123456',
    reportIntervalS: 300,
    maxClockSkewS: 300,
    maxRequestsPerMinute: 60,
    gantries: {},
    answers: { queryAndGetCardInfo: { mode: 'local', timeoutMs: 3000 } },
  });
  const env = {
    GATE2MQTT_GANTRY_REPORT_INTERVAL_S: '60',
    GATE2MQTT_GANTRY_MAX_CLOCK_SKEW_S: '0',
    GATE2MQTT_GANTRY_MAX_REQUESTS_PER_MINUTE: '10',
    GATE2MQTT_GANTRY_MAX_ANSWER_BYTES: '1000',
    GATE2MQTT_GANTRY_CONTROL_URL: 'https://{ip}/remotecontrol.do',
  };
  t.match(loadConfig({ env, args: [] }).config.gantry, { reportIntervalS: 60, maxClockSkewS: 0, maxRequestsPerMinute: 10, maxAnswerBytes: 1000, controlUrl: 'https://{ip}/remotecontrol.do' });
  t.throws(() => loadConfig({ env: { GATE2MQTT_GANTRY_CONTROL_URL: 'not a url' }, args: [] }), /gantry\.controlUrl/);
  const withMap = loadConfig({ env: {}, args: [], overrides: { gantry: { gantries: { G1: { auth: 'x' } } } } as never }).config.gantry;
  t.same(withMap.gantries, { G1: { auth: 'x' } });
  t.notMatch(loadConfig({ env: {}, args: [], overrides: { gantry: { gantries: { G1: { auth: 'secret-code' } } } } as never }).redacted, /secret-code/, 'overrides are redacted');
});
