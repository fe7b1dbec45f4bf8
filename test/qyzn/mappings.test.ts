import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { load as loadYaml } from 'js-yaml';
import { CONFIG_GROUPS, READ_ONLY_GROUPS, isMessageName, MESSAGES, messagesTowards } from '../../adapters/qyzn/constants.js';
import { loadConfig } from '../../src/config.js';
import { Mappings } from '../../src/mappings.js';
import { ROOT } from '../../src/paths.js';
import { SEED_COMMAND_EXAMPLES } from './fixtures/seed-examples.js';

const mappings = new Mappings('qyzn');

function errors(name: string, data: unknown): string {
  const command = mappings.command(name);
  if (!command) return `no command ${name}`;
  return command.validate(data) ? '' : JSON.stringify(command.validate.errors);
}

t.test('every platform-to-device message of the seed is a command, and nothing else is', async (t) => {
  const native = mappings.commandNames().filter((name) => mappings.command(name)?.name === name);
  t.same(native.sort(), messagesTowards('platform_to_device').sort());
  t.equal(mappings.command('online_openDoor')?.name, 'online_open_door', 'the heading spelling is an alias');
});

t.test('every seed example validates', async (t) => {
  for (const [name, examples] of Object.entries(SEED_COMMAND_EXAMPLES)) {
    examples.forEach((data, i) => t.equal(errors(name, data), '', `${name} example ${i + 1}`));
  }
  t.same(Object.keys(SEED_COMMAND_EXAMPLES).sort(), messagesTowards('platform_to_device').sort(), 'an example for each command');
});

t.test('config_system has all fifteen settable groups, get_configs all seventeen', async (t) => {
  const settable = CONFIG_GROUPS.filter((g) => !READ_ONLY_GROUPS.includes(g));
  t.equal(settable.length, 15);
  const examples = SEED_COMMAND_EXAMPLES.config_system ?? [];
  t.same(examples.map((e) => Object.keys(e)[0]).sort(), [...settable].sort());
  t.equal(errors('get_configs', { groupKey: [...CONFIG_GROUPS] }), '');
});

t.test('schemas refuse what the seed refuses', async (t) => {
  const bad: Array<[string, string, unknown]> = [
    ['add_person without name', 'add_person', { personId: '1', personCode: '1', type: 1 }],
    ['add_person with empty personId', 'add_person', { personId: '', personCode: '1', name: 'a', type: 1 }],
    ['add_person type as string', 'add_person', { personId: '1', personCode: '1', name: 'a', type: '1' }],
    ['add_person passMode 6', 'add_person', { personId: '1', personCode: '1', name: 'a', type: 1, passMode: 6 }],
    ['add_person bad startTime', 'add_person', { personId: '1', personCode: '1', name: 'a', type: 1, startTime: '2019/01/01' }],
    ['update_person type 4', 'update_person', { personId: '1', personCode: '1', type: 4 }],
    ['delete_person two ids', 'delete_person', { idSet: ['1', '2'] }],
    ['delete_person no ids', 'delete_person', { idSet: [] }],
    ['snapshot_picture no timeout', 'snapshot_picture', {}],
    ['add_person_face without extPassRule', 'add_person_face', { personId: '1', personCode: '1', name: 'a', type: 1, passNum: 1, faces: [] }],
    ['delete_face with neither id', 'delete_face', {}],
    ['serial_output lower-case hex', 'serial_output', { index: 0, content: '12ab' }],
    ['weigand_output 5 bytes', 'weigand_output', { content: '0102030405' }],
    ['online_open_door mode 3', 'online_open_door', { online: 1, mode: 3 }],
    ['config_device_pass_rule mode 2 without periods', 'config_device_pass_rule', { weekly: { mon: { mode: 2 } } }],
    ['config_device_pass_rule unknown day', 'config_device_pass_rule', { weekly: { monday: { mode: 1 } } }],
    ['get_configs unknown group', 'get_configs', { groupKey: ['wifi'] }],
    ['get_configs no group', 'get_configs', { groupKey: [] }],
    ['config_system nothing', 'config_system', {}],
    ['config_system unknown group', 'config_system', { wifi: {} }],
    ['config_system read-only group', 'config_system', { version: {} }],
    ['config_system audio level 16', 'config_system', { audioctl: { level: 16 } }],
    ['OpenDoorModeSet 1 without card fields', 'config_system', { OpenDoorModeSet: { OpenDoor: 1 } }],
    ['OpenDoorModeSet 3 without ID card fields', 'config_system', { OpenDoorModeSet: { OpenDoor: 3, CardVerify: 0 } }],
    ['HttpPush without any appSecret', 'config_system', {
      HttpPush: { httpPushEnable: true, httpServerAddr: 'a', httpServerAddrStandby: 'b', httpServerPort: 80, timeout: 5, charcode: 0, heartbeat_interval: 0, private_protocol: 0, sslenable: false, sslport: 443, appid: '1', AuthSn: 'x' },
    }],
    ['reSend_record_set recordType 3', 'reSend_record_set', { recordType: 3, snapStartTime: '2021-01-01 08:30:20', snapEndTime: '2021-01-02 08:30:20' }],
  ];
  for (const [why, name, data] of bad) t.not(errors(name, data), '', why);
  t.equal(errors('config_system', { OpenDoorModeSet: { OpenDoor: 0 } }), '', 'face mode needs no extra fields');
  t.equal(errors('config_system', { OpenDoorModeSet: { OpenDoor: 3, IdCardVerify: 1, SwipeIdCardTip: true, SwipeFaceTip: false } }), '');
});

t.test('versions.json and media.json name seed messages', async (t) => {
  const versions = mappings.read<{ default: number; minimum: Record<string, number> }>('versions');
  t.same(versions.minimum, { add_person_face: 3, config_device_pass_rule: 4, device_call_param: 5, device_call_result: 5 });
  t.equal(versions.default, 2);
  const media = mappings.read<{ uplink: Record<string, string[]>; commands: Record<string, string[]> }>('media');
  for (const name of Object.keys(media.uplink)) t.equal(isMessageName(name) && MESSAGES[name].direction, 'device_to_platform', name);
  for (const name of Object.keys(media.commands)) t.equal(isMessageName(name) && MESSAGES[name].direction, 'platform_to_device', name);
  t.same(media.uplink.snapshot_face, ['snapPic', 'comparePic']);
  t.same(media.commands.snapshot_picture, ['image']);
});

t.test('docs/qyzn.md: a valid, pasteable example for every command, alias and config_system group', async (t) => {
  const page = readFileSync(join(ROOT, 'docs', 'qyzn.md'), 'utf8');
  const examples = [...page.matchAll(/^mosquitto_pub .*-t "\$T\/(\w+)" -m '(.+)'$/gm)].map((m) => ({ name: m[1] ?? '', body: JSON.parse(m[2] ?? '') as { data?: unknown } }));
  for (const { name, body } of examples) t.equal(errors(name, body.data ?? {}), '', `the ${name} example validates`);
  t.same([...new Set(examples.map((e) => e.name))].sort(), mappings.commandNames().sort(), 'every command and alias has one');
  const settable = CONFIG_GROUPS.filter((g) => !READ_ONLY_GROUPS.includes(g));
  const set = examples.filter((e) => e.name === 'config_system').flatMap((e) => Object.keys(e.body.data as object));
  t.same([...new Set(set)].sort(), [...settable].sort(), 'every config_system group has one');
  const read = examples.filter((e) => e.name === 'get_configs').flatMap((e) => (e.body.data as { groupKey: string[] }).groupKey);
  t.same([...new Set(read)].sort(), [...CONFIG_GROUPS].sort(), 'every get_configs group is shown');
  const replies = [...page.matchAll(/-t "\$D\/(\w+)\/reply" -m '(.+)'$/gm)].map((m) => m[1]);
  t.same([...new Set(replies)].sort(), ['device_call_param', 'device_sync_person', 'qrcode_data', 'snapshot_face'], 'every platform request has a reply example');
  for (const option of ['enabled', 'host', 'port', 'secret', 'maxFrameBytesBeforeLogin', 'maxFrameBytes', 'loginTimeoutMs', 'heartbeatS', 'resendAfterMs', 'maxClockSkewS', 'allowList', 'answers']) {
    t.match(page, new RegExp(`\\n  ${option}:`), `the YAML example sets qyzn.${option}`);
  }
});

t.test('docs/qyzn.md: the configuration examples load as they are', async (t) => {
  const page = readFileSync(join(ROOT, 'docs', 'qyzn.md'), 'utf8');
  const yamlBlock = /```yaml\n(qyzn:[\s\S]*?)```/.exec(page)?.[1] ?? '';
  const fromFile = loadConfig({ env: {}, args: [], overrides: loadYaml(yamlBlock) as object }).config.qyzn;
  t.match(fromFile, { secret: 'change-me', allowList: ['0c16d06a45914b758ca226ef325422a3', '8C:EC:4B:91:04:0C'], answers: { device_call_param: { mode: 'mqtt' } } });
  const shell = /```sh\n(GATE2MQTT_QYZN_ENABLED[\s\S]*?) npm start\n/.exec(page)?.[1] ?? '';
  // "${GATE2MQTT_QYZN_PORT:-9000}" is its default in a shell where the variable is unset.
  const env = Object.fromEntries([...shell.replace(/"\$\{\w+:-([^}]*)\}"/g, '$1').matchAll(/(GATE2MQTT_\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  t.equal(Object.keys(env).length, 11, 'every variable');
  const fromEnv = loadConfig({ env, args: [] }).config.qyzn;
  t.match(fromEnv, { port: 9000, maxClockSkewS: 300, allowList: ['0c16d06a45914b758ca226ef325422a3', '8C:EC:4B:91:04:0C'] });
  t.equal(loadConfig({ env: {}, args: ['--qyzn-port', '9100'] }).config.qyzn.port, 9100);
});
