/**
 * The chaos suite's independent look at every platform (docker CLI, virsh, ovs-vsctl, ip; never occitan's
 * own calls) against the store's entity documents:
 * - missing: an entity (settled, `ready`) without its platform object;
 * - orphans: a platform object labelled for this run's instances without its entity (containers, domains,
 *   ports, marked veths);
 * - ghosts: an entity claiming active while its container or domain does not run;
 * - unsettled: documents still `creating`/`deleting` (recovery has not finished yet).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dockerLines } from '../backends/docker-observer';
import { domainsOfInstance, domstate } from '../backends/libvirt-observer';
import { markedVeths, vsctl } from '../backends/ovs-observer';
import type { StoreDoc } from './processes';

const exec = promisify(execFile);
export const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';

export interface Instances {
  docker: string;
  libvirt: string;
  ovs: string;
}

export interface Look {
  missing: string[];
  orphans: string[];
  ghosts: string[];
  unsettled: string[];
}

export const clean = (l: Look): boolean => l.missing.length + l.orphans.length + l.ghosts.length + l.unsettled.length === 0;

/** This run's OVS ports (name and the entity in their external_ids). */
export async function ovsPorts(instance: string): Promise<Array<{ name: string; entity: string }>> {
  const out = JSON.parse(await vsctl(['--format=json', '--columns=name,external_ids', 'find', 'Port', `external_ids:occitan-instance=${instance}`])) as { data: Array<[string, ['map', Array<[string, string]>]]> };
  return out.data.map(([name, ids]) => ({ name, entity: new Map(ids[1]).get('occitan-entity') ?? '' }));
}

export async function look(docs: readonly StoreDoc[], inst: Instances): Promise<Look> {
  const entities = docs.filter((d) => typeof d.uid === 'string' && typeof d.location === 'string' && typeof d.kind === 'string');
  const uids = new Set(entities.map((d) => d.uid!));
  const result: Look = { missing: [], orphans: [], ghosts: [], unsettled: entities.filter((d) => d.status !== 'ready').map((d) => `${d.location} ${d.status}`) };

  const containers = (await dockerLines(['ps', '-a', '--filter', `label=dev.occitan.instance=${inst.docker}`, '--format', '{{.ID}} {{.Label "dev.occitan.entity"}} {{.State}}']))
    .map((l) => l.split(' ')).map(([id, entity, state]) => ({ id: id!, entity: entity!, state: state! }));
  const domains = await domainsOfInstance(inst.libvirt);
  const ports = await ovsPorts(inst.ovs);
  const veths = await markedVeths(inst.ovs);

  for (const c of containers) if (!uids.has(c.entity)) result.orphans.push(`container ${c.id} (entity ${c.entity}, ${c.state})`);
  for (const d of domains) if (!uids.has(d.replace(/^occitan-/, ''))) result.orphans.push(`domain ${d}`);
  for (const p of ports) if (!uids.has(p.entity)) result.orphans.push(`port ${p.name} (entity ${p.entity})`);
  for (const v of veths) {
    const entity = v.ifalias!.split(':')[2] ?? '';
    if (!uids.has(entity)) result.orphans.push(`veth ${v.ifname} (entity ${entity})`);
  }

  for (const d of entities.filter((x) => x.status === 'ready')) {
    const state = d.attributes?.[d.kind === INFRA + 'compute' ? 'occi.compute.state' : d.kind === INFRA + 'network' ? 'occi.network.state' : 'occi.networkinterface.state'];
    if (d.kind === INFRA + 'compute' && d.provider === 'docker') {
      const mine = containers.filter((c) => c.entity === d.uid);
      if (mine.length === 0) result.missing.push(`${d.location} (docker) has no container`);
      else if (state === 'active' && !mine.some((c) => c.state === 'running')) result.ghosts.push(`${d.location} claims active; container ${mine.map((c) => c.state).join(', ')}`);
    } else if (d.kind === INFRA + 'compute' && d.provider === 'libvirt') {
      const name = `occitan-${d.uid}`;
      if (!domains.includes(name)) result.missing.push(`${d.location} (libvirt) has no domain`);
      else if (state === 'active') {
        const st = await domstate(name);
        if (!st?.startsWith('running')) result.ghosts.push(`${d.location} claims active; domain ${st ?? 'gone'}`);
      }
    } else if (d.kind === INFRA + 'network' || d.kind === INFRA + 'networkinterface') {
      if (!ports.some((p) => p.entity === d.uid)) result.missing.push(`${d.location} (ovs) has no port`);
    }
  }
  return result;
}

/** Removes everything labelled for this run's instances (teardown; errors ignored). */
export async function removeEverything(inst: Instances, bridge: string, libvirtCleanup: () => Promise<void>): Promise<void> {
  const ids = await dockerLines(['ps', '-aq', '--filter', `label=dev.occitan.instance=${inst.docker}`]).catch(() => []);
  if (ids.length) await dockerLines(['rm', '-f', ...ids]).catch(() => undefined);
  for (const p of await ovsPorts(inst.ovs).catch(() => [])) await vsctl(['--if-exists', 'del-port', p.name]).catch(() => undefined);
  for (const v of await markedVeths(inst.ovs).catch(() => [])) await exec('ip', ['link', 'del', 'dev', v.ifname]).catch(() => undefined);
  await vsctl(['--if-exists', 'del-br', bridge]).catch(() => undefined);
  await libvirtCleanup().catch(() => undefined);
}
