import t from 'tap';
import type { JsonObject } from '../../src/adapter.js';
import { Mappings } from '../../src/mappings.js';
import { COMMANDS, ENVELOPE_KEYS } from '../../adapters/wscam/constants.js';
import { omit } from '../../adapters/wscam/decode.js';
import { cmdData, commands } from './fixtures/seed-examples.js';

const mappings = new Mappings('wscam');

function validates(name: string, data: unknown): boolean {
  const command = mappings.command(name);
  if (!command) throw new Error(`no command ${name}`);
  return command.validate(data);
}

t.test('every command has a schema that Ajv strict compiles, and no other command is declared', async (t) => {
  t.same(mappings.commandNames().filter((n) => n !== 'take_snapshot').sort(), [...COMMANDS].sort());
  t.match(mappings.command('take_snapshot'), { name: 'control_cmd', defaults: { cmd_data: { type: 'take_snapshot' } } }, 'take_snapshot is an alias of control_cmd');
  t.ok(validates('take_snapshot', mappings.command('take_snapshot')?.defaults ?? {}), 'its defaults alone make a command: no parameters needed (a Home Assistant button)');
});

t.test("the seed's own commands validate (their fields beside the envelope)", async (t) => {
  for (const [name, text] of Object.entries(commands)) {
    // set_dev_config's example sets hb_interval 10, below the seed's own 15-360: still accepted.
    const data = omit(JSON.parse(text) as JsonObject, ENVELOPE_KEYS);
    t.ok(validates(name, data), `${name}: ${JSON.stringify(data)}`);
  }
  for (const [type, text] of Object.entries(cmdData)) t.ok(validates('control_cmd', { cmd_data: JSON.parse(text) }), type);
});

t.test('data the seed does not allow is refused before anything is sent', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['get_dev_config', { sn: 'x' }],
    ['set_dev_config', {}],
    ['set_dev_config', { upload_type: 2 }],
    ['set_dev_config', { upload_type: '0' }],
    ['set_dev_config', { hb_interval: 361 }],
    ['set_dev_config', { hb_interval: 0 }],
    ['set_dev_config', { hb_interval: 60.5 }],
    ['set_dev_config', { upload_addr: 5 }],
    ['set_dev_config', { hb_interval: 60, operate: 'reboot' }],
    ['upgrade_dev', {}],
    ['upgrade_dev', { package_url: '' }],
    ['control_cmd', {}],
    ['control_cmd', { cmd_data: { type: 'reboot' } }],
    ['control_cmd', { cmd_data: { type: 'io_control' } }],
    ['control_cmd', { cmd_data: { type: 'io_control', io0: '1' } }],
    ['control_cmd', { cmd_data: { type: 'take_snapshot', io0: 1 } }],
  ];
  for (const [name, data] of cases) t.notOk(validates(name, data), `${name}: ${JSON.stringify(data)}`);
  t.ok(validates('set_dev_config', { hb_interval: 360 }));
  t.ok(validates('control_cmd', { cmd_data: { type: 'io_control', io1: 0 } }));
});
