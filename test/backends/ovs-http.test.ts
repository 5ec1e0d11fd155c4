/**
 * The ovs provider through OCCI, the DataCentred way ("provisioning tagged VLAN ports in Openvswitch"): a
 * network is a VLAN on a named bridge, and a container (docker provider) is plugged into it by a
 * networkinterface link, which the service re-realises after the container restarts. Checked with
 * `ovs-vsctl` and `nsenter` (scripts/services.sh start ovs / start docker); bridges of the test's own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { SOCKET, docker, dockerLines, requireDaemon } from './docker-observer';
import { bridgeInfo, containerInterfaces, deleteBridges, hostLinks, portNamed, portsOnBridge, requireOvs, testBridge, vsctl } from './ovs-observer';

jest.setTimeout(60_000);

const J = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const OVS_MIXIN = 'https://occitan.dev/occi/ovs#network';
const IPNETWORK = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';
const IPNI = 'http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface';
const INSTANCE = `http-${randomUUID().slice(0, 8)}`;
const B1 = testBridge();
const B2 = testBridge();
let h: Harness;

function backendsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-ovs-backends-'));
  const file = path.join(dir, 'backends.json');
  fs.writeFileSync(file, JSON.stringify({
    providers: {
      dummy: { backend: 'dummy' },
      docker: { backend: 'docker', options: { nodes: [{ id: 'local', socketPath: SOCKET }], instance: INSTANCE } },
      ovs: { backend: 'ovs', options: { bridges: [B2, B1], instance: INSTANCE } },
    },
    kinds: {
      [INFRA + 'compute']: { providers: ['docker'] },
      [INFRA + 'storage']: { providers: ['dummy'] },
      [INFRA + 'storagelink']: { providers: ['dummy'] },
      [INFRA + 'network']: { providers: ['ovs'] },
      [INFRA + 'networkinterface']: { providers: ['ovs'] },
    },
  }));
  return file;
}

const ourPorts = async (): Promise<string[]> =>
  (await vsctl(['--format=csv', '--no-headings', '--columns=name', 'find', 'Port', `external_ids:occitan-instance=${INSTANCE}`])).split('\n').map((l) => l.trim()).filter(Boolean);
const containers = (): Promise<string[]> => dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.instance=${INSTANCE}`]);
const post = (loc: string, body: unknown) => h.http.post(loc).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));
const pathOf = (res: { headers: Record<string, string> }): string => new URL(res.headers['location']!, 'http://x').pathname;

beforeAll(async () => {
  await requireOvs();
  await requireDaemon();
  h = await startHarness({ backendsFile: backendsFile(), timers: { leaseSweep: 60_000, dockerStopTimeout: 1000, dockerReapGrace: 3_600_000 } });
});

afterAll(async () => {
  await h?.close();
  const ids = await containers().catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
  for (const p of await ourPorts().catch(() => [])) await vsctl(['--if-exists', 'del-port', p.replace(/"/g, '')]).catch(() => undefined);
  await deleteBridges([B1, B2]);
});

describe('DataCentred: a network is a VLAN on a named bridge', () => {
  let loc: string;

  it('POST creates it: the bridge, its port and the tag exist', async () => {
    const res = await post('/network/', { kind: INFRA + 'network', mixins: [OVS_MIXIN], attributes: { 'occi.core.id': 'management', 'occi.network.vlan': 10, 'occitan.ovs.bridge': B1 } });
    expect(res.status).toBe(201);
    loc = pathOf(res);
    expect(loc).toBe('/network/management');
    expect(res.body.attributes).toMatchObject({ 'occi.network.vlan': 10, 'occitan.ovs.bridge': B1, 'occi.network.state': 'active', 'occitan.provider': 'ovs' });
    expect(await bridgeInfo(B1)).toMatchObject({ datapathType: 'netdev', externalIds: { 'occitan-instance': INSTANCE } });
    const ports = await ourPorts();
    expect(ports).toHaveLength(1);
    const seen = (await vsctl(['--format=csv', '--no-headings', '--columns=tag', 'list', 'Port', ports[0]!.replace(/"/g, '')])).trim();
    expect(seen).toBe('10');
    expect((await vsctl(['port-to-br', ports[0]!.replace(/"/g, '')])).trim()).toBe(B1);
  });

  it('creating it again is refused and changes nothing: POST with the same id 409, PUT with If-None-Match: * 412', async () => {
    const again = await post('/network/', { kind: INFRA + 'network', mixins: [OVS_MIXIN], attributes: { 'occi.core.id': 'management', 'occi.network.vlan': 10, 'occitan.ovs.bridge': B1 } });
    expect(again.status).toBe(409);
    const put = await h.http.put(loc).set('Content-Type', J).set('Accept', J).set('If-None-Match', '*')
      .send(JSON.stringify({ kind: INFRA + 'network', mixins: [OVS_MIXIN], attributes: { 'occi.network.vlan': 10, 'occitan.ovs.bridge': B1 } }));
    expect(put.status).toBe(412);
    expect(await ourPorts()).toHaveLength(1);
  });

  it('GET answers 200 with the VLAN and bridge; an unknown network 404', async () => {
    const res = await h.http.get(loc).set('Accept', J);
    expect(res.status).toBe(200);
    expect(res.body.attributes).toMatchObject({ 'occi.network.vlan': 10, 'occitan.ovs.bridge': B1, 'occi.network.state': 'active' });
    expect((await h.http.get('/network/no-such-network').set('Accept', J)).status).toBe(404);
  });

  it('the same VLAN again on the same bridge is a 409; a bridge the provider may not use a 400', async () => {
    const taken = await post('/network/', { kind: INFRA + 'network', mixins: [OVS_MIXIN], attributes: { 'occi.network.vlan': 10, 'occitan.ovs.bridge': B1 } });
    expect(taken.status).toBe(409);
    expect(JSON.stringify(taken.body)).toContain('VLAN 10');
    const foreign = await post('/network/', { kind: INFRA + 'network', mixins: [OVS_MIXIN], attributes: { 'occi.network.vlan': 11, 'occitan.ovs.bridge': 'br-not-ours' } });
    expect(foreign.status).toBe(400);
    expect(JSON.stringify(foreign.body)).toContain('br-not-ours');
    expect(await ourPorts()).toHaveLength(1);
  });

  it('without the mixin a network goes on the default bridge; down and up reach its port', async () => {
    const res = await post('/network/', { kind: INFRA + 'network', attributes: { 'occi.network.vlan': 12 } });
    expect(res.status).toBe(201);
    expect(res.body.attributes).toMatchObject({ 'occi.network.vlan': 12, 'occi.network.state': 'active' });
    expect(res.body.attributes['occitan.ovs.bridge']).toBeUndefined(); // not declared without the mixin
    const [port] = await portsOnBridge(B2);
    expect(await portNamed(port!)).toMatchObject({ tag: 12, adminState: 'up', externalIds: { 'occitan-instance': INSTANCE } });
    const down = await h.http.post(`${pathOf(res)}?action=down`).set('Accept', J);
    expect(down.status).toBe(200);
    expect(down.body.attributes['occi.network.state']).toBe('inactive');
    expect((await portNamed(port!))?.adminState).toBe('down');
    const up = await h.http.post(`${pathOf(res)}?action=up`).set('Accept', J);
    expect([up.status, up.body.attributes['occi.network.state']]).toEqual([200, 'active']);
    expect((await portNamed(port!))?.adminState).toBe('up');
    expect((await h.http.delete(pathOf(res))).status).toBe(200);
    expect(await portsOnBridge(B2)).toEqual([]);
  });
});

describe('a container plugged into a network through a networkinterface link', () => {
  let compute: string;
  let network: string;
  let link: string;
  let created: Record<string, unknown>;

  const pid = async (): Promise<number> => Number((await docker(['inspect', '-f', '{{.State.Pid}}', (await containers())[0]!])).trim());
  const eth0 = async (): Promise<{ mac: string; cidr: string[] } | undefined> => {
    const i = (await containerInterfaces(await pid())).find((x) => x.ifname === 'eth0');
    return i && { mac: i.address, cidr: i.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`) };
  };

  beforeAll(async () => {
    const c = await post('/compute/', { kind: INFRA + 'compute', mixins: ['https://occitan.dev/occi/docker#container'], attributes: { 'occitan.docker.image': 'occitan/busybox:test', 'occitan.docker.command': ['sleep', '3600'] } });
    expect([c.status, c.body.attributes?.['occitan.provider']]).toEqual([201, 'docker']);
    compute = pathOf(c);
    const n = await post('/network/', { kind: INFRA + 'network', mixins: [IPNETWORK, OVS_MIXIN], attributes: { 'occi.network.vlan': 40, 'occitan.ovs.bridge': B1, 'occi.network.address': '10.85.0.0/24', 'occi.network.gateway': '10.85.0.1' } });
    expect(n.status).toBe(201);
    network = pathOf(n);
  });

  it('the link is the ovs provider\'s: eth0 in the container with the reported MAC and address, on a port tagged 40', async () => {
    const res = await post('/networkinterface/', { kind: INFRA + 'networkinterface', mixins: [IPNI], source: { location: compute }, target: { location: network }, attributes: {} });
    expect(res.status).toBe(201);
    link = pathOf(res);
    created = res.body.attributes as Record<string, unknown>;
    expect(created).toMatchObject({
      'occitan.provider': 'ovs',
      'occi.networkinterface.interface': 'eth0',
      'occi.networkinterface.mac': expect.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/),
      'occi.networkinterface.address': '10.85.0.2',
      'occi.networkinterface.gateway': '10.85.0.1',
      'occi.networkinterface.state': 'active',
    });
    expect(await eth0()).toEqual({ mac: created['occi.networkinterface.mac'], cidr: ['10.85.0.2/24'] });
    const tagged = (await Promise.all((await portsOnBridge(B1)).map((p) => portNamed(p)))).filter((p) => p?.name.startsWith('ov'));
    expect(tagged.map((p) => [p!.tag, p!.linkState])).toEqual([[40, 'up']]);
  });

  it('restart: the service re-realises the link in the new namespace with the same MAC and address', async () => {
    const before = await pid();
    const res = await h.http.post(`${compute}?action=restart`).set('Accept', J);
    expect(res.status).toBe(200);
    expect(await pid()).not.toBe(before);
    expect(await eth0()).toEqual({ mac: created['occi.networkinterface.mac'], cidr: ['10.85.0.2/24'] });
    const got = await h.http.get(link).set('Accept', J);
    expect(got.status).toBe(200);
    expect(got.body.attributes).toMatchObject({
      'occi.networkinterface.interface': 'eth0',
      'occi.networkinterface.mac': created['occi.networkinterface.mac'],
      'occi.networkinterface.address': '10.85.0.2',
      'occi.networkinterface.state': 'active',
    });
  });

  it('deleting the compute removes its link first: no port, no veth left', async () => {
    expect((await h.http.delete(compute)).status).toBe(200);
    expect((await h.http.get(link).set('Accept', J)).status).toBe(404);
    expect((await portsOnBridge(B1)).filter((p) => p.startsWith('ov'))).toEqual([]);
    expect((await hostLinks('veth')).filter((l) => l.ifalias?.startsWith(`occitan:${INSTANCE}:`))).toEqual([]);
    expect((await h.http.delete(network)).status).toBe(200);
  });
});
