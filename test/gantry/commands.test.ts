import t from 'tap';
import { Mappings } from '../../src/mappings.js';
import { schemaProblems } from '../../src/commands.js';
import { seedJson } from './fixtures/seeds.js';

const mappings = new Mappings('gantry');

function valid(name: string, data: Record<string, unknown>): boolean {
  const command = mappings.command(name);
  if (!command) throw new Error(`no command ${name}`);
  // As the core does: alias defaults under the caller's data (the caller's values win), numbers
  // to the strings the schema wants, then the schema.
  return command.validate(command.convert({ ...(command.defaults ?? {}), ...data })) as boolean;
}

t.test('commands.json compiles under Ajv strict mode with the native names', async (t) => {
  for (const name of ['computerControl', 'cabinetControl', 'getCabinetImageVedio']) {
    t.equal(mappings.command(name)?.name, name);
  }
  t.equal(mappings.command('unknownCommand'), undefined);
});

t.test('the seeds’ command examples validate', async (t) => {
  for (const edition of ['v037', 'v103'] as const) {
    for (const example of ['computerControl', 'cabinetControl-updateNow', 'cabinetControl-powerMode']) {
      const body = seedJson(edition, example);
      const method = String(body.method);
      t.ok(valid(method, body[method] as Record<string, unknown>), `${edition} ${example}`);
    }
  }
});

t.test('each cmd takes its own fields', async (t) => {
  const good: [string, Record<string, unknown>][] = [
    ['updateNow', { updateNow: '1' }],
    ['setServer', { setServer: '192.168.1.1/monitor.do' }],
    ['setFrequency', { setFrequency: '300' }],
    ['updateNow and setFrequency', { updateNow: 1, setFrequency: 600 }],
    ['cmd 1', { cmd: '1', rebootIp: '192.168.1.20', rebootPort: '502' }],
    ['cmd 1 bare', { cmd: 1 }],
    ['cmd 2', { cmd: '2', cabinetId: '1', unlockDoorId: '2' }],
    ['cmd 3', { cmd: '3', cabinetId: '2', airId: '0', airOperate: '1' }],
    ['cmd 4', { cmd: '4', airId: '1', autoRefrigerationTemp: '30', autoHeatingTemp: '-5.5' }],
    ['cmd 5', { cmd: '5', mode: '3' }],
    ['cmd 6', { cmd: '6', isDoorDefend: '1' }],
    ['cmd 7', { cmd: '7', cardInfos: [{ cardId: '1234567', expireDate: '2029-11-29' }, { cardId: '2234567' }] }],
    ['cmd 8', { cmd: '8', cabinetId: '1', onOff: '0' }],
    ['cmd 9', { cmd: '9', testStartStop: '1' }],
    ['cmd 10', { cmd: '10', cabinetId: '1' }],
    ['numbers instead of strings', { cmd: 5, mode: 1 }],
  ];
  for (const [what, data] of good) t.ok(valid('cabinetControl', data), what);
  const bad: [string, Record<string, unknown>][] = [
    ['nothing', {}],
    ['unknown field', { updateNow: '1', reboot: '1' }],
    ['updateNow not 1', { updateNow: '2' }],
    ['cmd 11', { cmd: '11' }],
    ['cmd 2 with a cmd 5 field', { cmd: '2', unlockDoorId: '1', mode: '1' }],
    ['cmd 2 without the door', { cmd: '2' }],
    ['cmd 2 door 3', { cmd: '2', unlockDoorId: '3' }],
    ['cmd 1 with a door', { cmd: '1', unlockDoorId: '1' }],
    ['cmd 3 with temperatures', { cmd: '3', airId: '0', airOperate: '1', autoHeatingTemp: '5' }],
    ['cmd 3 operate 0', { cmd: '3', airId: '0', airOperate: '0' }],
    ['cmd 4 without a temperature', { cmd: '4', airId: '0' }],
    ['cmd 4 temperature text', { cmd: '4', airId: '0', autoHeatingTemp: 'warm' }],
    ['cmd 5 mode 4', { cmd: '5', mode: '4' }],
    ['cmd 5 with cabinetId', { cmd: '5', mode: '1', cabinetId: '1' }],
    ['cmd 6 without isDoorDefend', { cmd: '6' }],
    ['cmd 7 without cards', { cmd: '7' }],
    ['cmd 7 card without id', { cmd: '7', cardInfos: [{ expireDate: '2029-11-29' }] }],
    ['cmd 7 card with validTime', { cmd: '7', cardInfos: [{ cardId: '1', validTime: '2019-11-29 13:58:50' }] }],
    ['cmd 7 with onOff', { cmd: '7', cardInfos: [], onOff: '1' }],
    ['cmd 8 onOff 2', { cmd: '8', onOff: '2' }],
    ['cmd 9 with mode', { cmd: '9', testStartStop: '1', mode: '1' }],
    ['cmd 10 with testStartStop', { cmd: '10', testStartStop: '1' }],
    ['cabinetId 0', { cmd: '10', cabinetId: '0' }],
    ['cmd with updateNow', { cmd: '5', mode: '1', updateNow: '1' }],
  ];
  for (const [what, data] of bad) t.notOk(valid('cabinetControl', data), what);
  t.ok(valid('computerControl', { setFrequency: '600' }));
  t.notOk(valid('computerControl', { cmd: '5', mode: '1' }), 'computers take no cmd');
  t.notOk(valid('computerControl', {}));
  t.ok(valid('getCabinetImageVedio', { doorOpenTime: '2019-08-28 01:15:01.321' }), 'v1.03: doorOpenTime only');
  t.ok(valid('getCabinetImageVedio', { cabinetId: '2', doorOpenTime: '2019-08-28 01:15:01' }), 'v0.37: with cabinetId');
  t.ok(valid('getCabinetImageVedio', { doorOpenTime: '2019-08-28T01:15:01.321+08:00' }), 'an ISO time from an event');
  t.notOk(valid('getCabinetImageVedio', { cabinetId: '1' }), 'doorOpenTime is required');
  t.notOk(valid('getCabinetImageVedio', { doorOpenTime: 'yesterday' }));
});

t.test('friendly aliases stand for native commands', async (t) => {
  const cases: [string, Record<string, unknown>, string, Record<string, unknown>][] = [
    ['unlockDoor', {}, 'cabinetControl', { cmd: '2', unlockDoorId: '1' }],
    ['unlockDoor', { unlockDoorId: '2', cabinetId: '2' }, 'cabinetControl', { cmd: '2', unlockDoorId: '2', cabinetId: '2' }],
    ['unlockBackDoor', {}, 'cabinetControl', { cmd: '2', unlockDoorId: '2' }],
    ['airConditionerOn', {}, 'cabinetControl', { cmd: '3', airId: '0', airOperate: '1' }],
    ['airConditionerStandby', { airId: '2' }, 'cabinetControl', { cmd: '3', airId: '2', airOperate: '2' }],
    ['setAirConditionerTemperature', { autoRefrigerationTemp: 28 }, 'cabinetControl', { cmd: '4', airId: '0', autoRefrigerationTemp: 28 }],
    ['setPowerMode', { mode: '1' }, 'cabinetControl', { cmd: '5', mode: '1' }],
    ['armDoors', {}, 'cabinetControl', { cmd: '6', isDoorDefend: '1' }],
    ['startBatteryTest', {}, 'cabinetControl', { cmd: '9', testStartStop: '1' }],
    ['getBatteryTestResult', {}, 'cabinetControl', { cmd: '10' }],
    ['rectifierOff', {}, 'cabinetControl', { cmd: '8', onOff: '0' }],
    ['sendCardList', { cardInfos: [{ cardId: '1' }] }, 'cabinetControl', { cmd: '7', cardInfos: [{ cardId: '1' }] }],
    ['updateNow', {}, 'cabinetControl', { updateNow: '1' }],
    ['computerUpdateNow', {}, 'computerControl', { updateNow: '1' }],
    ['getDoorImage', { doorOpenTime: '2019-08-28 01:15:01.321' }, 'getCabinetImageVedio', { doorOpenTime: '2019-08-28 01:15:01.321' }],
  ];
  for (const [alias, data, native, sent] of cases) {
    const command = mappings.command(alias);
    t.equal(command?.name, native, `${alias} is ${native}`);
    t.same({ ...(command?.defaults ?? {}), ...data }, sent, `${alias} data`);
    t.ok(valid(alias, data), `${alias} validates`);
  }
  t.notOk(valid('setPowerMode', {}), 'setPowerMode needs a mode');
  t.notOk(valid('unlockDoor', { mode: '1' }), 'an alias keeps its cmd’s own fields');
});

t.test('schema errors name the parameter and what it may be, without ajv summaries', async (t) => {
  const cabinet = mappings.command('cabinetControl');
  const problems = (data: Record<string, unknown>): string[] => {
    cabinet?.validate(cabinet.convert(data));
    return schemaProblems(cabinet?.validate.errors, 'cabinetControl');
  };
  t.same(problems({ cmd: 11 }), ['data.cmd must be one of "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"'], 'a number is read as its text; the protocol\'s strings are named');
  t.same(problems({ cmd: 2, doorNo: 'x' }), ['data.unlockDoorId is required', 'data.doorNo is not a parameter of cabinetControl']);
});
