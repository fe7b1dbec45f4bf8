// The embedded broker over TLS: mqtts:// and wss:// with broker.tls.cert/key, client certificates
// required with broker.tls.ca, and the gateway's own loopback client (broker.inProcess false)
// trusting the broker's certificate and logging in although it has no client certificate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';
import { connectClient } from '../helpers/harness.js';
import { BAD_LOGIN_V5, NOT_AUTHORIZED_V5, brokerUsers, loggedGateway, refused } from '../helpers/security.js';
import { TLS_CA, TLS_CERT, TLS_KEY } from '../helpers/tls/tls.js';

/** A CA and a client certificate it signed, made with openssl for this run. */
function clientCertificates(t: { teardown(fn: () => void): void }): { ca: string; cert: Buffer; key: Buffer; stranger: { cert: Buffer; key: Buffer } } {
  const dir = mkdtempSync(join(tmpdir(), 'g2m-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=gate2mqtt test CA');
  openssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=platform');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2');
  // Signed by nobody the broker trusts.
  openssl('req', '-x509', ...ec, '-keyout', 'stranger.key', '-out', 'stranger.pem', '-days', '2', '-subj', '/CN=stranger');
  const read = (name: string): Buffer => readFileSync(join(dir, name));
  return {
    ca: join(dir, 'ca.pem'),
    cert: read('client.pem'),
    key: read('client.key'),
    stranger: { cert: read('stranger.pem'), key: read('stranger.key') },
  };
}

t.test('with broker.tls.cert and key the broker speaks mqtts:// and wss:// only, and bridge/info says so', async (t) => {
  const { gateway, base } = await loggedGateway(t, { broker: { host: '', wsEnabled: true, tls: { cert: TLS_CERT, key: TLS_KEY } } });
  const { broker } = gateway.addresses();
  t.match(broker, { mqtt: /^mqtts:\/\/127\.0\.0\.1:\d+$/, ws: /^wss:\/\/127\.0\.0\.1:\d+$/ });
  const mqtts = await connectClient(t, broker?.mqtt as string, { ca: TLS_CA });
  await mqtts.subscribe(`${base}/bridge/info`);
  t.match(await mqtts.json(`${base}/bridge/info`), { broker: { mqtt: /^mqtts:\/\//, ws: /^wss:\/\// } });
  const wss = await connectClient(t, broker?.ws as string, { ca: TLS_CA });
  t.ok(wss.client.connected, 'wss:// with the CA');
  t.match(await refused((broker?.mqtt as string).replace('mqtts:', 'mqtt:'), { connectTimeout: 2000 }), { code: 'closed' }, 'plain MQTT on the TLS port: closed without a CONNACK');
  t.match(await refused(broker?.mqtt as string), { message: /self-signed certificate/ }, 'a client that does not trust the certificate does not connect');
});

t.test('with broker.tls.ca a client needs a certificate the CA signed', async (t) => {
  const certs = clientCertificates(t);
  const { gateway } = await loggedGateway(t, { broker: { host: '', tls: { cert: TLS_CERT, key: TLS_KEY, ca: certs.ca } } });
  const url = gateway.addresses().broker?.mqtt as string;
  const client = await connectClient(t, url, { ca: TLS_CA, cert: certs.cert, key: certs.key });
  t.ok(client.client.connected, 'with a certificate of the CA');
  t.match(await refused(url, { ca: TLS_CA }), { message: /alert certificate required/ }, 'without a certificate: the handshake fails');
  // TLS 1.3: the server judges a client certificate after the client's side of the handshake is
  // done, so that client sees its connection closed before any CONNACK.
  t.match(await refused(url, { ca: TLS_CA, ...certs.stranger }), { code: 'closed' }, 'with a certificate of another CA: closed before CONNACK');
});

t.test("TLS, a client CA and users with broker.inProcess false: the gateway's own client trusts the broker's certificate and logs in without a client certificate; nobody else does", async (t) => {
  const certs = clientCertificates(t);
  const users = await brokerUsers([{ username: 'platform', secret: 'pw', publish: ['{base}/+/+/command/+'], subscribe: ['{base}/#'] }]);
  const { gateway, base } = await loggedGateway(
    t,
    { broker: { host: '', inProcess: false, users, tls: { cert: TLS_CERT, key: TLS_KEY, ca: certs.ca } } },
    [echoAdapter()],
  );
  t.ok(gateway.ready, 'the gateway connected to its own broker over mqtts://');
  t.match(gateway.mqttUrl, /^mqtts:\/\/127\.0\.0\.1:/);
  const url = gateway.mqttUrl;
  const login = { username: 'platform', password: 'pw' };
  const platform = await connectClient(t, url, { ca: TLS_CA, cert: certs.cert, key: certs.key, ...login });
  await platform.subscribe(`${base}/#`);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'dev1');
  t.teardown(() => device.close());
  t.equal((await platform.take(`${base}/echo/dev1/availability`)).payload.toString(), 'online');
  await platform.client.publishAsync(`${base}/echo/dev1/command/ping`, JSON.stringify({ id: 'c1', data: { n: 1 } }), { qos: 1 });
  t.match(await platform.json(`${base}/echo/dev1/command/ping/reply`), { id: 'c1', ok: true }, 'a command round trip through the loopback client');
  // TLS lets a certificate-less client through here (the gateway's own has none); the login refuses it.
  t.match(await refused(url, { ca: TLS_CA, ...login }), { code: NOT_AUTHORIZED_V5 }, 'no client certificate: not authorized');
  t.match(await refused(url, { ca: TLS_CA, cert: certs.cert, key: certs.key }), { code: BAD_LOGIN_V5 }, 'a certificate but no user');
});
