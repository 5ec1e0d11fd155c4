/**
 * The ovs provider: a network is a VLAN on an Open vSwitch bridge (network.ts), a container's network
 * interface a veth pair plugged into it (interface.ts). It talks to the switch with `ovs-vsctl` and to the
 * kernel with `ip`/`nsenter`, always through execFile with argument arrays. backends.json (options.ts):
 *
 *   "ovs": { "backend": "ovs", "optional": true, "options": { "bridges": ["br-occi"] } }
 *
 * A virtual machine's interface is not this provider's: a link is realised by its source's provider when
 * that provider serves the link's kind (libvirt plugs its own OVS virtualports), so this provider only ever
 * sees containers as sources, and never touches ports without its own external_ids.
 *
 * Named waits (`clock.duration`): ovsCommandTimeout (one ovs-vsctl / ip call, 10 s), ovsSettle (bound on
 * waiting for vswitchd to show a change it accepted, 5 s).
 */
import { BadRequest, Internal, NotImplemented } from '../../errors';
import type { Attributes, TypeId } from '../../model/types';
import { INFRA } from '../../model/types';
import type { Backend, BackendContext, BackendEntity, Change, Realised } from '../backend';
import type { OvsEnv } from './env';
import { Ip } from './iproute';
import { createInterface, deleteInterface, retrieveInterface, updateInterface } from './interface';
import { NETWORK_ACTIONS, createNetwork, deleteNetwork, networkAction, retrieveNetwork, updateNetwork } from './network';
import { parseOptions } from './options';
import { reconcile } from './reconcile';
import { Vsctl } from './vsctl';

const NETWORK = INFRA + 'network';
const NETWORKINTERFACE = INFRA + 'networkinterface';

class OvsBackend implements Backend {
  readonly kinds: readonly TypeId[] = [NETWORK, NETWORKINTERFACE];
  readonly actions: readonly TypeId[] = [NETWORK_ACTIONS + 'up', NETWORK_ACTIONS + 'down'];
  private env: OvsEnv | undefined;

  constructor(readonly name: string) {}

  async init(ctx: BackendContext): Promise<void> {
    const options = parseOptions(ctx.options);
    const timeoutMs = ctx.clock.duration('ovsCommandTimeout', 10_000);
    const vsctl = new Vsctl(timeoutMs, options.db);
    const ip = new Ip(timeoutMs);
    // The switch must answer, and the kernel tools must be there, before the provider counts as available.
    const version = (await vsctl.exec(['get', 'Open_vSwitch', '.', 'ovs_version'], 'ask Open vSwitch its version')).trim().replace(/"/g, '');
    await ip.must(['-V'], 'run ip');
    const env: OvsEnv = { ctx, vsctl, ip, options, settleMs: ctx.clock.duration('ovsSettle', 5_000) };
    const result = await reconcile(env);
    this.env = env;
    ctx.log.info(`ovs provider ${this.name} ready`, { ovs: version, bridges: options.bridges, instance: options.instance, ...result });
  }

  async close(): Promise<void> {
    this.env = undefined;
  }

  private need(): OvsEnv {
    if (!this.env) throw new Internal(`provider ${this.name} used before init or after close`);
    return this.env;
  }

  private kindOf(entity: BackendEntity): 'network' | 'interface' {
    if (entity.kind === NETWORK) return 'network';
    if (entity.kind === NETWORKINTERFACE) return 'interface';
    throw new BadRequest(`the ovs provider realises networks and network interfaces, not ${entity.kind}`);
  }

  async create(entity: BackendEntity): Promise<Realised> {
    const env = this.need();
    return this.kindOf(entity) === 'network' ? createNetwork(env, entity) : createInterface(env, entity);
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    const env = this.need();
    return this.kindOf(entity) === 'network' ? retrieveNetwork(env, entity) : retrieveInterface(env, entity);
  }

  async update(current: BackendEntity, change: Change): Promise<Realised> {
    const env = this.need();
    // The entity as it is to be (the service already merged the change; a caller that did not is served too).
    const mixins = [...current.mixins.filter((m) => !change.mixinsRemoved.includes(m)), ...change.mixinsAdded.filter((m) => !current.mixins.includes(m))];
    const entity: BackendEntity = { ...current, mixins, attributes: { ...current.attributes, ...change.attributes } };
    return this.kindOf(entity) === 'network' ? updateNetwork(env, entity) : updateInterface(env, entity);
  }

  async delete(entity: BackendEntity): Promise<void> {
    const env = this.need();
    if (this.kindOf(entity) === 'network') await deleteNetwork(env, entity);
    else await deleteInterface(env, entity);
  }

  async action(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
    const env = this.need();
    void params;
    if (this.kindOf(entity) !== 'network' || !this.actions.includes(action)) {
      throw new NotImplemented(`the ovs provider cannot perform ${action} on ${entity.location}`);
    }
    return networkAction(env, entity, action);
  }
}

/** The registry's factory: `name` is the provider key from backends.json. */
export function createBackend(name: string): Backend {
  return new OvsBackend(name);
}

export type { InterfaceRef, NetworkRef } from './env';
export { macFor, hostEndName, networkPortName, peerTempName } from './names';
