import t from 'tap';
import type { JsonObject } from '../../src/adapter.js';
import { Mappings } from '../../src/mappings.js';
import { COMMANDS } from '../../adapters/wsdoor/constants.js';
import { commands } from './fixtures/seed-examples.js';

const mappings = new Mappings('wsdoor');

function validates(name: string, data: unknown): boolean {
  const command = mappings.command(name);
  if (!command) throw new Error(`no command ${name}`);
  return command.validate(data);
}

t.test('every command has a schema that Ajv strict compiles, and no other command is declared', async (t) => {
  t.same(mappings.commandNames().sort(), [...COMMANDS].sort());
});

t.test("the seed's own command contents validate", async (t) => {
  for (const [name, text] of Object.entries(commands)) {
    const content = (JSON.parse(text) as JsonObject).content;
    t.ok(validates(name, content), `${name}: ${JSON.stringify(content)}`);
  }
});

t.test('what the seed allows besides its examples', async (t) => {
  t.ok(validates('selectUser', {}), 'selectUser without parameters lists every user');
  t.ok(validates('selectUser', { name: '李四' }));
  t.ok(validates('editUser', { userId: '12384865', pwd: '4321' }), 'editUser changes some fields');
  t.ok(validates('deleteUser', { userId: '12384865' }));
  t.ok(validates('addUser', { user: 'a', userId: '1', pwd: '', name: 'A', role: '1', img: 'x' }));
});

t.test('contents the seed does not allow are refused before anything is sent', async (t) => {
  const full = { user: 'lisi', userId: '12384865', pwd: '1234', name: '李四', role: '0', img: 'base64' };
  const cases: Array<[string, unknown]> = [
    ['addUser', { ...full, img: undefined }],
    ['addUser', { ...full, role: '2' }],
    ['addUser', { ...full, userId: 12384865 }],
    ['addUser', { ...full, extra: 1 }],
    ['deleteUser', { name: '李四' }],
    ['deleteUser', { userId: '' }],
    ['editUser', { name: 'x' }],
    ['selectUser', { userId: 1 }],
    ['compareUser', {}],
    ['compareUser', { img: 5 }],
    ['queryEvent', {}],
    ['queryEvent', { eventid: 20240115113644 }],
    ['queryEvent', 'x'],
  ];
  for (const [name, data] of cases) t.notOk(validates(name, data), `${name}: ${JSON.stringify(data)}`);
});
