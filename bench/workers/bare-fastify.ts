// T3's gantry baseline: a bare fastify route on POST /monitor.do that parses the JSON body and
// answers the seeds' success, 1000, without checking or publishing anything.
import Fastify from 'fastify';
import { serve } from '../lib/ipc.js';
import type { BareHttpProtocol } from '../lib/protocols.js';
import { selfStats } from './self.js';

const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });
let answered = 0;
app.post('/monitor.do', async () => {
  answered += 1;
  return { code: '1000', msg: '成功' };
});

serve<BareHttpProtocol>(
  {
    async listen() {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      return { port: typeof address === 'object' && address ? address.port : 0 };
    },
    stats() {
      return selfStats({ online: 1, commands: answered, heartbeats: 0 });
    },
  },
  async () => {
    await app.close();
  },
);
