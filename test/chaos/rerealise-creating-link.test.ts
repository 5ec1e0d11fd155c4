/**
 * Regression test for what `npm run chaos` caught (seed 8, round 9 of the second run): a restart of a
 * container answered 502 ("Cannot find device eth1") while a network interface of that container was
 * being created by another request. The restart re-realises the compute's links, and it took the link
 * still `creating` too: two creates of one interface ran at once, and one tore down the veth the other was
 * configuring. A link that is not settled belongs to the request working on it (as for reports), so
 * re-realisation now leaves it alone; settled links are re-realised as before.
 * Through the whole occitan (harness) on occitan's test dockerd and Open vSwitch; the create in flight is
 * made deterministic by marking a link `creating` in the store and removing its port, as a create that has
 * not made it yet would be.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SOCKET, docker, requireDaemon } from '../backends/docker-observer';
import { deleteBridges, markedVeths, portsOf, requireOvs, testBridge, vsctl } from '../backends/ovs-observer';
import { startHarness, type Harness } from '../support/harness';

jest.setTimeout(180_000);

const exec = promisify(execFile);

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const TPL = 'https://example.org/occi/os_tpl#';
const J = 'application/occi+json';
const INSTANCE = `rr-${randomUUID().slice(0, 8)}`;
const BRIDGE = testBridge('occr');
let h: Harness | undefined;
let work: string;

beforeAll(async () => {
  await requireDaemon();
  await requireOvs();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-rerealise-'));
  const file = path.join(work, 'backends.json');
  fs.writeFileSync(file, JSON.stringify({
    providers: {
      dummy: { backend: 'dummy' },
      docker: { backend: 'docker', options: { nodes: [{ id: 'local', endpoint: `unix://${SOCKET}` }], instance: INSTANCE } },
      ovs: { backend: 'ovs', options: { bridges: [BRIDGE], instance: INSTANCE } },
    },
    kinds: {
      [INFRA + 'compute']: { providers: ['docker'] },
      [INFRA + 'network']: { providers: ['ovs'] },
      [INFRA + 'networkinterface']: { providers: ['ovs'] },
    },
  }));
  h = await startHarness({ backendsFile: file, timers: { dockerStopTimeout: 1000 } });
  const tpl = await h.http.post('/-/').set('Content-Type', J).set('Accept', J).send(JSON.stringify({ mixins: [{
    term: 'busybox', scheme: TPL, title: 'busybox image', location: '/templates/os/busybox/',
    depends: [INFRA + 'os_tpl', 'https://occitan.dev/occi/docker#container'], applies: [INFRA + 'compute'],
    attributes: { 'occitan.docker.image': { type: 'string', mutable: true, required: false, default: 'occitan/busybox:test' } },
  }] }));
  expect(tpl.status).toBe(200);
});

afterAll(async () => {
  await h?.close();
  const ids = (await docker(['ps', '-aq', '--filter', `label=dev.occitan.instance=${INSTANCE}`]).catch(() => '')).split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
  const ports = await vsctl(['--format=csv', '--no-headings', '--columns=name', 'find', 'Port', `external_ids:occitan-instance=${INSTANCE}`]).catch(() => '');
  for (const p of ports.split('\n').map((l) => l.trim().replace(/"/g, '')).filter(Boolean)) await vsctl(['--if-exists', 'del-port', p]).catch(() => undefined);
  await deleteBridges([BRIDGE]);
  for (const v of await markedVeths(INSTANCE).catch(() => [])) await exec('ip', ['link', 'del', 'dev', v.ifname]).catch(() => undefined);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const post = (url: string, body: unknown) => h!.http.post(url).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));
const locationOf = (r: { headers: Record<string, string> }): string => new URL(r.headers['location']!).pathname;

test('a restart re-realises the settled links of its container and leaves a link still being created to its own request', async () => {
  const compute = await post('/compute/', { kind: INFRA + 'compute', mixins: [TPL + 'busybox'], attributes: { 'occitan.docker.command': ['sleep', '3600'] } });
  expect(compute.status).toBe(201);
  const network = await post('/network/', { kind: INFRA + 'network', mixins: ['https://occitan.dev/occi/ovs#network'], attributes: { 'occitan.ovs.bridge': BRIDGE } });
  expect(network.status).toBe(201);
  const link = (): unknown => ({ kind: INFRA + 'networkinterface', source: { location: locationOf(compute) }, target: { location: locationOf(network) }, attributes: {} });
  const settled = await post('/networkinterface/', link());
  const inFlight = await post('/networkinterface/', link());
  expect([settled.status, inFlight.status]).toEqual([201, 201]);

  // The second link as a create in flight has it: `creating` in the store, nothing on the switch yet.
  const entities = h!.occitan.service.entities;
  const pending = await entities.modify('default', locationOf(inFlight), (d) => ({ ...d, status: 'creating' }));
  await vsctl(['--if-exists', 'del-port', String((pending!.ref as { port: string }).port)]);
  expect(await portsOf(pending!.uid)).toEqual([]);

  const restarted = await h!.http.post(`${locationOf(compute)}?action=restart`).set('Accept', J);
  expect([restarted.status, restarted.body?.attributes?.['occi.compute.state']]).toEqual([200, 'active']);
  // The settled link follows the container into its new namespace; the pending one is not touched.
  const settledDoc = await entities.get('default', locationOf(settled));
  expect((await portsOf(settledDoc!.uid)).map((p) => p.linkState)).toEqual(['up']);
  expect(settledDoc!.attributes['occi.networkinterface.state']).toBe('active');
  expect(await portsOf(pending!.uid)).toEqual([]);
});
