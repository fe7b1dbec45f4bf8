import t from 'tap';
import fc from 'fast-check';
import { Mappings } from '../../src/mappings.js';
import { FieldTyper, FIELD_TYPES, INVALID, checkFields, type FieldsFile } from '../../adapters/gantry/typing.js';
import { trimKeys } from '../../src/json.js';
import { ProtocolError } from '../../src/errors.js';

const unsafeKey = (err: unknown): boolean => err instanceof ProtocolError && err.reason === 'unsafe_key';
import { deviceTimeToIso, toDeviceTime } from '../../src/clock.js';
import { SEED_TYPED, UPLOAD_EXAMPLES, seedJson, seedText } from './fixtures/seeds.js';

const fields = new Mappings('gantry').read<FieldsFile>('fields');
const typer = new FieldTyper(fields, 'Asia/Shanghai');

t.test('fields.json is a valid declaration', async (t) => {
  t.doesNotThrow(() => checkFields(fields));
  t.throws(() => checkFields({ ...fields, groups: { ...fields.groups, ups: { x: { type: 'bogus' } } } }), /ups\.x: type must be one of/);
  t.throws(() => checkFields({ ...fields, messages: { m: { fields: { a: { type: 'array', of: 'nothing' } } } } }), /"of" must name a group/);
  for (const [name, group] of Object.entries(fields.groups)) {
    for (const [field, spec] of Object.entries(group)) {
      t.ok(FIELD_TYPES.includes(spec.type), `${name}.${field} has a known type`);
      t.type(spec.doc, 'string', `${name}.${field} is documented`);
    }
  }
});

// Every field of the seeds' tables (both editions) with the type and unit it must be declared with.
const DECLARED: Record<string, Record<string, string>> = {
  computerStatusUpdate: {
    'computerStatus[].id': 'id',
    'computerStatus[].isMonitorComputer': 'status',
    'computerStatus[].isMainComputer': 'status',
    'computerStatus[].sysDiskUsage': 'number %',
    'computerStatus[].sysDiskSize': 'number KB',
    'computerStatus[].dataDiskUsage': 'number %',
    'computerStatus[].dataDiskSize': 'number KB',
    'computerStatus[].memoryUsage': 'number %',
    'computerStatus[].memorySize': 'number KB',
    'computerStatus[].netUsage': 'number %',
    'computerStatus[].cpuUsage': 'number %',
    'computerStatus[].cpuTemperature': 'number °C',
    'computerStatus[].ip': 'id',
  },
  cabinetStatusUpdate: {
    'cabinetStatus.id': 'id',
    'cabinetStatus.elec[].id': 'id',
    'cabinetStatus.elec[].status': 'status',
    'cabinetStatus.elec[].voltage': 'number V',
    'cabinetStatus.elec[].current': 'number A',
    'cabinetStatus.elec[].power': 'number kW',
    'cabinetStatus.elec[].frequency': 'number Hz',
    'cabinetStatus.elec[].elecConsumption': 'number kWh',
    'cabinetStatus.elec[].warningMsg': 'warnings',
    'cabinetStatus.rectifier[].id': 'id',
    'cabinetStatus.rectifier[].status': 'status',
    'cabinetStatus.rectifier[].currentLimiting': 'status',
    'cabinetStatus.rectifier[].outputVoltage': 'number V',
    'cabinetStatus.rectifier[].outputCurrent': 'number A',
    'cabinetStatus.rectifier[].outputPower': 'number kW',
    'cabinetStatus.rectifier[].warningMsg': 'warnings',
    'cabinetStatus.ups[].id': 'id',
    'cabinetStatus.ups[].status': 'status',
    'cabinetStatus.ups[].runningState': 'enum',
    'cabinetStatus.ups[].inputVoltage': 'number V',
    'cabinetStatus.ups[].inputCurrent': 'number A',
    'cabinetStatus.ups[].outputVoltage': 'number V',
    'cabinetStatus.ups[].outputCurrent': 'number A',
    'cabinetStatus.ups[].powerRate': 'number %',
    'cabinetStatus.ups[].surplusTime': 'number min',
    'cabinetStatus.ups[].remainCapacity': 'number Ah',
    'cabinetStatus.ups[].temperature': 'number °C',
    'cabinetStatus.ups[].warningMsg': 'warnings',
    'cabinetStatus.airConditioners[].id': 'id',
    'cabinetStatus.airConditioners[].status': 'status',
    'cabinetStatus.airConditioners[].errorMsg': 'passthrough',
    'cabinetStatus.airConditioners[].isWorking': 'status',
    'cabinetStatus.airConditioners[].workMode': 'enum',
    'cabinetStatus.airConditioners[].systemWarning': 'status',
    'cabinetStatus.airConditioners[].temperatureWarning': 'status',
    'cabinetStatus.thermohygrometer.status': 'status',
    'cabinetStatus.thermohygrometer.temperature': 'number °C',
    'cabinetStatus.thermohygrometer.humidity': 'number %RH',
    'cabinetStatus.waterloggingSensor.status': 'status',
    'cabinetStatus.waterloggingSensor.isWarning': 'status',
    'cabinetStatus.waterloggingSensor.warningChangeTime': 'time',
    'cabinetStatus.doors[].status': 'status',
    'cabinetStatus.doors[].defendMode': 'status',
    'cabinetStatus.doors[].frontDoorClosed': 'status',
    'cabinetStatus.doors[].frontDoorLocked': 'status',
    'cabinetStatus.doors[].frontDoorUnlockType': 'enum',
    'cabinetStatus.doors[].frontDoorUnlockCardId': 'id',
    'cabinetStatus.doors[].frontDoorOpenIllegally': 'status',
    'cabinetStatus.doors[].frontDoorChangeTime': 'time',
    'cabinetStatus.doors[].backDoorClosed': 'status',
    'cabinetStatus.doors[].backDoorLocked': 'status',
    'cabinetStatus.doors[].backDoorUnlockType': 'enum',
    'cabinetStatus.doors[].backDoorUnlockCardId': 'id',
    'cabinetStatus.doors[].backDoorOpenIllegally': 'status',
    'cabinetStatus.doors[].backDoorChangeTime': 'time',
    'cabinetStatus.smokeSensor.status': 'status',
    'cabinetStatus.smokeSensor.isWarning': 'status',
    'cabinetStatus.smokeSensor.warningChangeTime': 'time',
    'cabinetStatus.thunderSpd[].id': 'id',
    'cabinetStatus.thunderSpd[].status': 'status',
    'cabinetStatus.thunderSpd[].lightningCount': 'count',
  },
  queryAndGetCardInfo: { 'data.curVersion': 'id' },
};

t.test('every field of both seeds is declared with its type and unit', async (t) => {
  for (const [method, expected] of Object.entries(DECLARED)) {
    const leaves = typer.leaves(method);
    const got = Object.fromEntries([...leaves].map(([path, spec]) => [path, spec.unit ? `${spec.type} ${spec.unit}` : spec.type]));
    t.same(got, expected, method);
  }
  const answer = fields.messages.queryAndGetCardInfo?.answer ?? {};
  t.same(Object.keys(answer), ['data']);
  t.same(Object.keys(fields.groups.cardAnswer ?? {}), ['isExistLatestVersion', 'latestVersion', 'cardInfos']);
  t.same(Object.keys(fields.groups.cardInfo ?? {}), ['cardId', 'validTime', 'invalidTime']);
  t.same(fields.groups.cardAnswer?.isExistLatestVersion?.type, 'status', 'isExistLatestVersion is an integer');
  t.same(Object.keys(fields.groups.batteryTestResult ?? {}), [
    'testStartTime',
    'testResult',
    'efficiency',
    'dischargeTime',
    'dischargeEndVoltage',
    'dischargeAvCurrent',
    'dischargeAhCurrent',
    'testTemperature',
    'testEndCourse',
  ]);
  t.same(fields.commandAnswers?.cabinetControl?.batterysTestResult?.of, 'batteryTestResult');
});

t.test('every upload example of both seeds comes out typed', async (t) => {
  const cases = (['v037', 'v103'] as const).flatMap((edition) => UPLOAD_EXAMPLES.map((name) => ({ edition, name, want: SEED_TYPED[edition][name] })));
  for (const c of cases) {
    const body = seedJson(c.edition, c.name);
    const method = String(body.method ?? body[' method']);
    t.equal(method, c.name, `${c.edition} ${c.name} names its method (stray space or not)`);
    const typed = typer.upload(method, body);
    t.same(typed.data, c.want, `${c.edition} ${c.name}`);
    t.strictSame(typed.undeclared, [], `${c.edition} ${c.name} has no undeclared field`);
    t.notOk('gantryId' in typed.data || 'method' in typed.data || 'timeStamp' in typed.data || 'version' in typed.data, 'envelope removed');
    t.notMatch(JSON.stringify(typed.data), /" |[^\\]" "/, 'no key keeps a stray space');
  }
  t.match(seedText('v037', 'cabinetStatusUpdate'), /" thunderSpd"/, 'the fixture keeps the seed stray spaces');
  t.match(seedText('v037', 'cabinetStatusUpdate'), /" lightningCount "/);
});

t.test('error words become null and are listed in quality by their path', async (t) => {
  const body = seedJson('v103', 'cabinetStatusUpdate');
  const cab = body.cabinetStatus as Record<string, unknown>;
  (cab.ups as Record<string, unknown>[])[0]!.surplusTime = 'NotSupport';
  (cab.elec as Record<string, unknown>[])[0]!.voltage = 'GetFailed';
  (cab.thunderSpd as Record<string, unknown>[])[0]!.lightningCount = 'NotSupport';
  (cab.thermohygrometer as Record<string, unknown>).humidity = 'NoData';
  (cab.rectifier as Record<string, unknown>[])[0]!.warningMsg = 'NoData';
  const { data } = typer.upload('cabinetStatusUpdate', body);
  const status = data.cabinetStatus as Record<string, Record<string, unknown>[]>;
  t.equal(status.ups?.[0]?.surplusTime, null);
  t.equal(status.elec?.[0]?.voltage, null);
  t.equal(status.rectifier?.[0]?.warningMsg, null);
  t.same(data.quality, {
    'cabinetStatus.elec[0].voltage': 'GetFailed',
    'cabinetStatus.rectifier[0].warningMsg': 'NoData',
    'cabinetStatus.ups[0].surplusTime': 'NotSupport',
    'cabinetStatus.thermohygrometer.humidity': 'NoData',
    'cabinetStatus.doors.frontDoorUnlockCardId': 'NoData',
    'cabinetStatus.doors.backDoorUnlockCardId': 'NoData',
    'cabinetStatus.thunderSpd[0].lightningCount': 'NotSupport',
  });
  const computers = typer.upload('computerStatusUpdate', { computerStatus: [{ id: '1', cpuUsage: 'GetFailed' }] });
  t.same(computers.data, { computerStatus: [{ id: '1', cpuUsage: null }], quality: { 'computerStatus[0].cpuUsage': 'GetFailed' } });
  t.notOk('quality' in typer.upload('queryAndGetCardInfo', { data: { curVersion: '0' } }).data, 'no quality when every value was read');
});

t.test('values that do not fit their declaration become null with quality Invalid', async (t) => {
  const { data } = typer.upload('cabinetStatusUpdate', {
    cabinetStatus: {
      id: 1,
      ups: [{ status: 'one', surplusTime: '', temperature: '40℃', inputVoltage: '220kV', remainCapacity: '12.5Ah', powerRate: '99%' }],
      thermohygrometer: { temperature: '38.5 °C', humidity: '45%RH' },
      waterloggingSensor: { warningChangeTime: '2019-02-30 10:00:00' },
      smokeSensor: 'NotSupport',
      elec: 'broken',
    },
  });
  t.same(data, {
    cabinetStatus: {
      id: '1',
      ups: [{ status: null, surplusTime: null, temperature: 40, inputVoltage: null, remainCapacity: 12.5, powerRate: 99 }],
      thermohygrometer: { temperature: 38.5, humidity: 45 },
      waterloggingSensor: { warningChangeTime: null },
      smokeSensor: null,
      elec: null,
    },
    quality: {
      'cabinetStatus.ups[0].status': INVALID,
      'cabinetStatus.ups[0].surplusTime': INVALID,
      'cabinetStatus.ups[0].inputVoltage': INVALID,
      'cabinetStatus.waterloggingSensor.warningChangeTime': INVALID,
      'cabinetStatus.smokeSensor': 'NotSupport',
      'cabinetStatus.elec': INVALID,
    },
  });
});

t.test('warningMsg lists, doors in either shape, identifiers as strings', async (t) => {
  const { data } = typer.upload('cabinetStatusUpdate', {
    ' cabinetStatus ': {
      ' id ': '2',
      elec: [{ warningMsg: '交流L1相缺相,交流L2相缺相' }],
      rectifier: [{ warningMsg: '整流模块故障, 输出电压欠压' }],
      ups: [{ warningMsg: '电池熔丝断 ' }],
      doors: [{ frontDoorClosed: '0', frontDoorUnlockType: '1', frontDoorUnlockCardId: '0012345678', frontDoorChangeTime: '2019-08-28 01:15:01' }],
      ' thunderSpd ': [{ ' lightningCount ': '7' }],
      extra: { ' note ': 'kept as sent' },
    },
  });
  t.same(data.cabinetStatus, {
    id: '2',
    elec: [{ warningMsg: ['交流L1相缺相', '交流L2相缺相'] }],
    rectifier: [{ warningMsg: ['整流模块故障', '输出电压欠压'] }],
    ups: [{ warningMsg: ['电池熔丝断'] }],
    doors: [{ frontDoorClosed: 0, frontDoorUnlockType: 1, frontDoorUnlockCardId: '0012345678', frontDoorChangeTime: '2019-08-28T01:15:01.000+08:00' }],
    thunderSpd: [{ lightningCount: 7 }],
    extra: { note: 'kept as sent' },
  });
  const typed = typer.upload('cabinetStatusUpdate', { cabinetStatus: { extra: 'x' } });
  t.same(typed.undeclared, ['cabinetStatus.extra'], 'undeclared fields are reported');
});

t.test('device times become ISO 8601 in the configured zone', async (t) => {
  const cases: [string, string, string | undefined][] = [
    ['2019-08-28 14:11:01.321', 'Asia/Shanghai', '2019-08-28T14:11:01.321+08:00'],
    ['2019-08-28 14:11:01', 'Asia/Shanghai', '2019-08-28T14:11:01.000+08:00'],
    ['2019-08-28 14:11:01.3', 'UTC', '2019-08-28T14:11:01.300+00:00'],
    ['2019-08-28 14:11:01.321', 'Europe/Berlin', '2019-08-28T14:11:01.321+02:00'],
    ['2019-12-28 14:11:01.321', 'Europe/Berlin', '2019-12-28T14:11:01.321+01:00'],
    ['2019-12-28 14:11:01', 'America/St_Johns', '2019-12-28T14:11:01.000-03:30'],
    ['2019-02-29 00:00:00', 'UTC', undefined],
    ['2019-08-28 24:00:00', 'UTC', undefined],
    ['28.08.2019 14:11', 'UTC', undefined],
  ];
  for (const [text, zone, want] of cases) t.equal(deviceTimeToIso(text, zone), want, `${text} in ${zone}`);
  t.equal(Date.parse(deviceTimeToIso('2019-08-28 14:11:01.321', 'Asia/Shanghai') as string), Date.UTC(2019, 7, 28, 6, 11, 1, 321));
  const berlin = new FieldTyper(fields, 'Europe/Berlin').upload('cabinetStatusUpdate', { cabinetStatus: { smokeSensor: { warningChangeTime: '2019-08-28 20:12:01.321' } } });
  t.equal((berlin.data.cabinetStatus as { smokeSensor: { warningChangeTime: string } }).smokeSensor.warningChangeTime, '2019-08-28T20:12:01.321+02:00');
  t.equal(toDeviceTime('2019-08-28T06:11:01.321Z', 'Asia/Shanghai'), '2019-08-28 14:11:01.321');
  t.equal(toDeviceTime('2019-08-28T14:11:01.321+08:00', 'Asia/Shanghai'), '2019-08-28 14:11:01.321');
  t.equal(toDeviceTime('yesterday', 'Asia/Shanghai'), undefined);
});

t.test('keys that trim to __proto__ or constructor are refused', async (t) => {
  t.throws(() => trimKeys(JSON.parse('{"a": {" __proto__ ": {"x": 1}}}')), { name: 'ProtocolError', reason: 'unsafe_key' });
  t.throws(() => trimKeys(JSON.parse('{"constructor ": {}}')), { name: 'ProtocolError', reason: 'unsafe_key' });
  t.throws(() => typer.upload('cabinetStatusUpdate', JSON.parse('{"cabinetStatus": [{" __proto__": {"polluted": true}}]}')), { name: 'ProtocolError', reason: 'unsafe_key' });
  t.equal(({} as Record<string, unknown>).polluted, undefined);
});

t.test('random strings in declared numeric fields never throw', async (t) => {
  const numeric = [...typer.leaves('cabinetStatusUpdate')].filter(([, s]) => ['number', 'count', 'status', 'enum'].includes(s.type));
  t.ok(numeric.length > 40, 'the numeric fields are there to try');
  // fc.assert throws with the shrunk counterexample when the property fails.
  t.doesNotThrow(() => fc.assert(
    fc.property(fc.constantFrom(...numeric.map(([p]) => p)), fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.double().map(String), fc.constantFrom('NoData', ' 1 ', '1e3', '-0', '0x10', 'Infinity')), (path, value) => {
      const [group, field] = path.replace('cabinetStatus.', '').split(/\[\]\.|\./) as [string, string];
      const inner = path.includes('[]') ? [{ [field]: value }] : { [field]: value };
      const { data, quality } = typer.upload('cabinetStatusUpdate', { cabinetStatus: { [group]: inner } });
      const cab = data.cabinetStatus as Record<string, unknown>;
      const holder = (Array.isArray(cab[group]) ? (cab[group] as unknown[])[0] : cab[group]) as Record<string, unknown>;
      const out = holder[field];
      if (out === null) return Object.keys(quality).length === 1;
      return typeof out === 'number' && Number.isFinite(out);
    }),
    { numRuns: 2000 },
  ), 'a finite number, or null named in quality');
});

t.test('random bodies never throw anything but an unsafe key', async (t) => {
  t.doesNotThrow(() => fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom('computerStatusUpdate', 'cabinetStatusUpdate', 'queryAndGetCardInfo', 'other'), (value, method) => {
      try {
        typer.upload(method, { cabinetStatus: value, computerStatus: value, data: value });
        return true;
      } catch (err) {
        return unsafeKey(err);
      }
    }),
    { numRuns: 1000 },
  ), 'typed, or refused as an unsafe key');
});
