/**
 * Start-up reconciliation of the switch with what occitan stored:
 * - a port carrying this instance's external_ids whose entity no longer exists is removed, with its veth;
 * - a veth in the host namespace whose alias names this instance and an entity that no longer exists (a
 *   create that died before its port was added) is removed;
 * - a network's port gets back the admin state asked for (vswitchd re-creates internal ports down);
 * - an interface realised earlier whose port is gone, and whose source is known, is made again: its
 *   source's runtime was replaced (a container restarted) and the re-realisation that tears the old port
 *   down and makes the new one was cut short by a crash. The service's create is idempotent, and this is
 *   what it was doing; only when that fails is the interface reported in error, with why;
 * - any other entity realised earlier whose port is gone is reported in error.
 * Ports and veths are listed before the entities: a create in flight in another process stores its document
 * before it makes anything, so it is never mistaken for an orphan. Nothing without this instance's marks is
 * touched: not libvirt's ports, not other bridges' or other instances' ports, never a bridge.
 */
import { INFRA } from '../../model/types';
import type { BackendEntity } from '../backend';
import type { OvsEnv } from './env';
import { NIC, createInterface } from './interface';
import { NET, restoreAdmin } from './network';
import { aliasEntity, hostEndName, networkPortName } from './names';
import { EXT, quoted } from './vsctl';

export interface ReconcileResult {
  removedPorts: string[];
  removedVeths: string[];
  vanished: string[];
  /** Interfaces made again (their port was gone). */
  rebuilt: string[];
}

export async function reconcile(env: OvsEnv): Promise<ReconcileResult> {
  const { vsctl, ip, ctx, options } = env;
  const ports = await vsctl.findPorts([`external_ids:${EXT.instance}=${quoted(options.instance)}`], 'list its ports');
  const veths = (await ip.links('list veth devices', undefined, 'veth')).filter((l) => aliasEntity(options.instance, l.ifalias) !== undefined);
  const owned = new Map<string, BackendEntity>();
  for await (const e of ctx.owned()) owned.set(e.id, e);

  const result: ReconcileResult = { removedPorts: [], removedVeths: [], vanished: [], rebuilt: [] };
  const withPort = new Set<string>();
  for (const p of ports) {
    const id = p.externalIds.get(EXT.entity);
    if (!id) continue;
    if (owned.has(id)) {
      withPort.add(id);
      const e = owned.get(id)!;
      if (e.kind === INFRA + 'network' && p.name === networkPortName(id)) {
        await restoreAdmin(env, e, p.externalIds.get(EXT.admin)).catch((err: unknown) =>
          ctx.log.warn('ovs provider could not restore a network port\'s admin state', { port: p.name, error: String(err) }),
        );
      }
      continue;
    }
    await vsctl.exec(['--if-exists', 'del-port', p.name], `remove orphaned port ${p.name}`);
    result.removedPorts.push(p.name);
    ctx.log.info('ovs provider removed a port no entity owns', { port: p.name, entity: id });
  }
  for (const v of veths) {
    const id = aliasEntity(options.instance, v.ifalias)!;
    if (owned.has(id)) continue;
    // The host end takes its peer with it; a parked peer listed too is then already gone (fine).
    await ip.deleteLink(v.ifname, `remove orphaned veth ${v.ifname}`);
    result.removedVeths.push(v.ifname);
    ctx.log.info('ovs provider removed a veth no entity owns', { device: v.ifname, entity: id });
  }
  for (const [id, e] of owned) {
    if (withPort.has(id) || e.ref === undefined) continue; // never realised: nothing to miss
    const isNetwork = e.kind === INFRA + 'network';
    let why = 'removed outside occitan';
    if (!isNetwork && e.source !== undefined) {
      try {
        await ctx.report(id, await createInterface(env, e));
        result.rebuilt.push(id);
        ctx.log.info('ovs provider made again an interface whose port was gone', { entity: id });
        continue;
      } catch (err) {
        why = `and could not be made again: ${(err as Error).message}`;
      }
    }
    const port = isNetwork ? networkPortName(id) : hostEndName(id);
    result.vanished.push(id);
    await ctx.report(id, {
      attributes: isNetwork
        ? { [NET.state]: 'error', [NET.message]: `its port ${port} is gone from Open vSwitch (removed outside occitan)` }
        : { [NIC.state]: 'error', [NIC.message]: `its port ${port} is gone from Open vSwitch (${why})` },
    });
  }
  return result;
}
