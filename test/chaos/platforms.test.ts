/**
 * The chaos suite's observer is not vacuous: on occitan's test dockerd, a container labelled for a run's
 * instance without its entity is an orphan, a stopped one under an entity claiming active is a ghost, and
 * an entity without any container is missing (scripts/services.sh start docker|libvirt|ovs).
 */
import { randomUUID } from 'node:crypto';
import { docker, requireDaemon } from '../backends/docker-observer';
import { requireDaemon as requireLibvirt } from '../backends/libvirt-observer';
import { requireOvs } from '../backends/ovs-observer';
import { INFRA, clean, look } from './platforms';

jest.setTimeout(120_000);

const run = randomUUID().slice(0, 8);
const inst = { docker: `chaos-probe-${run}`, libvirt: `chaos-probe-${run}`, ovs: `chaos-probe-${run}` };
const entity = randomUUID();
let container = '';

beforeAll(async () => {
  await requireDaemon();
  await requireOvs();
  await requireLibvirt();
  container = (await docker(['create', '--network', 'none', '--label', `dev.occitan.instance=${inst.docker}`, '--label', `dev.occitan.entity=${entity}`, 'occitan/busybox:test', 'sleep', '600'])).trim();
});

afterAll(async () => {
  if (container) await docker(['rm', '-f', container]).catch(() => undefined);
});

const doc = (state: string) => ({ _id: `e-${entity}`, uid: entity, location: `/compute/${entity}`, kind: INFRA + 'compute', provider: 'docker', status: 'ready', attributes: { 'occi.compute.state': state } });

test('an orphan, a ghost and a missing object are each seen', async () => {
  const orphan = await look([], inst);
  expect(orphan.orphans).toEqual([expect.stringContaining(`entity ${entity}`)]);
  const ghost = await look([doc('active')], inst);
  expect([ghost.orphans, ghost.missing, ghost.ghosts.length]).toEqual([[], [], 1]);
  expect(clean(await look([doc('inactive')], inst))).toBe(true);
  await docker(['rm', '-f', container]);
  container = '';
  const missing = await look([doc('inactive')], inst);
  expect(missing.missing).toEqual([`/compute/${entity} (docker) has no container`]);
  expect(clean(await look([{ ...doc('inactive'), status: 'creating' }], inst))).toBe(false);
});
