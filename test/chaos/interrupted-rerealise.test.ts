/**
 * Regression test for what `npm run chaos` caught (seed 8, round 8): occitan was SIGKILLed while it
 * re-realised a network interface after its container restarted (an action with `runtimeChanged`). The ovs
 * backend had torn the old veth and port down and not yet made the new ones; the link's document stayed
 * `ready`, and at the next start reconciliation only marked it in error ("removed outside occitan"): an
 * entity without its port, for ever. Now start-up reconciliation makes such an interface again (the
 * service's create is idempotent: it is what the interrupted re-realisation was doing), into the
 * container's current namespace, and reports it active.
 * The crash's leftovers are made here directly: the container restarted (new namespace), the port and the
 * host end of the veth gone, the link's ref still naming the old namespace.
 */
import type { BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/ovs';
import { docker } from '../backends/docker-observer';
import { OvsFixture } from '../backends/ovs-fixture';
import { containerInterfaces, dockerRef, pidOf, portsOf, runContainer, testBridge, vsctl } from '../backends/ovs-observer';

jest.setTimeout(120_000);

const fx = new OvsFixture([testBridge()]);

beforeAll(async () => {
  await fx.setup({ docker: true });
});

afterAll(async () => {
  await fx.teardown();
});

test('an interface whose re-realisation a crash interrupted is made again at start-up, into the container\'s new namespace', async () => {
  const first = createBackend('ovs');
  await first.init(fx.context());
  const network = fx.network({ 'occi.network.vlan': 41, 'occi.network.address': '10.97.0.0/24', 'occi.network.gateway': '10.97.0.1' });
  network.ref = (await first.create(network)).ref;
  const container = await runContainer(fx.run);
  const link = fx.link(container, network);
  const made = await first.create(link);
  link.ref = made.ref;
  link.attributes = { ...link.attributes, ...made.attributes };
  await first.close();
  expect(await portsOf(link.id)).toHaveLength(1);

  // The crash's leftovers: the container restarted (a new namespace), the old port and veth torn down.
  await docker(['restart', '-t', '1', container.id]);
  const restarted = { id: container.id, pid: await pidOf(container.id) };
  const port = String((link.ref as { port: string }).port);
  await vsctl(['--if-exists', 'del-port', port]);
  // The source's ref as the docker provider's reconciliation has refreshed it (the new namespace).
  (link as { source?: BackendEntity['source'] }).source = { id: link.source!.id, kind: link.source!.kind, ref: dockerRef(restarted) };
  expect(await portsOf(link.id)).toEqual([]);

  // The restart: reconciliation makes the interface again and reports it.
  const ctx = fx.context();
  const b = createBackend('ovs');
  await b.init(ctx);
  expect((await portsOf(link.id)).map((p) => [p.tag, p.linkState])).toEqual([[41, 'up']]);
  const eth0 = (await containerInterfaces(restarted.pid)).find((i) => i.ifname === made.attributes['occi.networkinterface.interface']);
  expect(eth0?.address).toBe(made.attributes['occi.networkinterface.mac']);
  expect(ctx.reports.filter((r) => r.id === link.id).map((r) => r.realised.attributes['occi.networkinterface.state'])).toEqual(['active']);
  await b.close();
});
