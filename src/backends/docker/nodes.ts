/**
 * Docker Engines as entities of the kind https://occitan.dev/occi/docker#node (`/nodes/`), Siren's node
 * list: the nodes of backends.json are declared at start-up (so they exist as entities), admins create
 * and delete others at run time (the kind is admin-only in categories/docker.yaml).
 *
 * The node's name in the pool is its occi.core.id (`/nodes/edge1` has id `edge1`). Creating a node checks
 * its settings (endpoint: unix socket, or TCP with TLS; plain TCP only on loopback) and that the Engine
 * answers (503 otherwise; nothing is added). Memory total, reserved and available (GiB) are kept current
 * on the entity as reservations change. A node that still holds reservations cannot be deleted (409
 * naming them). The endpoint and TLS files cannot change (delete the node and create it again); the other
 * settings apply to what is placed from then on.
 */
import { BadRequest, Conflict } from '../../errors';
import type { Attributes } from '../../model/types';
import type { BackendContext, BackendEntity, Change, Realised } from '../backend';
import type { NodeOptions } from './client';
import { DockerNode, parseNode } from './client';
import type { NodePool } from './pool';
import { NODE_ATTR, usageAttributes } from './pool';

export const NODE_KIND = 'https://occitan.dev/occi/docker#node';

/** The node's id in the pool: its occi.core.id without a urn:uuid: prefix. */
export function nodeIdOf(entity: Pick<BackendEntity, 'attributes'>): string {
  const id = entity.attributes['occi.core.id'];
  return typeof id === 'string' ? id.replace(/^urn:uuid:/, '') : '';
}

/** A node entity's settings, checked (400 naming the attribute). */
export function nodeOptionsOf(entity: Pick<BackendEntity, 'attributes'>): NodeOptions {
  const a = entity.attributes;
  const raw: Record<string, unknown> = { id: nodeIdOf(entity), endpoint: a[NODE_ATTR.endpoint] };
  if (a[NODE_ATTR.tls] !== undefined) raw['tls'] = a[NODE_ATTR.tls];
  if (a[NODE_ATTR.networkMode] !== undefined) raw['networkMode'] = a[NODE_ATTR.networkMode];
  if (a[NODE_ATTR.publishIp] !== undefined) raw['publishIp'] = a[NODE_ATTR.publishIp];
  if (a[NODE_ATTR.total] !== undefined) raw['memory'] = a[NODE_ATTR.total];
  if (a[NODE_ATTR.arch] !== undefined) raw['arch'] = a[NODE_ATTR.arch];
  if (a[NODE_ATTR.location] !== undefined) raw['location'] = a[NODE_ATTR.location];
  try {
    return parseNode(raw, 'the node');
  } catch (e) {
    const names: Record<string, string> = {
      '.id': 'occi.core.id', '.endpoint': NODE_ATTR.endpoint, '.tls': NODE_ATTR.tls, '.networkMode': NODE_ATTR.networkMode,
      '.publishIp': NODE_ATTR.publishIp, '.memory': NODE_ATTR.total, '.arch': NODE_ATTR.arch, '.location': NODE_ATTR.location,
    };
    const msg = (e as Error).message.replace(/^the node(\.[A-Za-z]+)?/, (_m, k: string | undefined) => (k ? names[k] ?? `the node${k}` : 'the node'));
    throw new BadRequest(msg);
  }
}

/** The attributes a node entity declared from backends.json carries. */
export function nodeAttributes(o: NodeOptions): Attributes {
  return {
    'occi.core.id': o.id,
    'occi.core.title': `docker node ${o.id}`,
    [NODE_ATTR.endpoint]: o.endpoint,
    ...(o.tls ? { [NODE_ATTR.tls]: { ...o.tls } } : {}),
    [NODE_ATTR.networkMode]: o.networkMode,
    [NODE_ATTR.publishIp]: o.publishIp,
    ...(o.memory !== undefined ? { [NODE_ATTR.total]: o.memory } : {}),
    ...(o.arch !== undefined ? { [NODE_ATTR.arch]: o.arch } : {}),
    ...(o.location !== undefined ? { [NODE_ATTR.location]: o.location } : {}),
  };
}

const same = (a: NodeOptions, b: NodeOptions): boolean => a.endpoint === b.endpoint && JSON.stringify(a.tls ?? null) === JSON.stringify(b.tls ?? null);

export class Nodes {
  constructor(
    private readonly ctx: BackendContext,
    private readonly pool: NodePool,
    private readonly timeoutMs: number,
  ) {}

  private async realised(node: DockerNode): Promise<Realised> {
    let up = true;
    try {
      await node.probe();
    } catch {
      up = false;
    }
    return {
      attributes: {
        ...usageAttributes(await this.pool.usage(node)),
        ...(node.arch !== undefined ? { [NODE_ATTR.arch]: node.arch } : {}),
        [NODE_ATTR.state]: up ? 'up' : 'down',
        [NODE_ATTR.message]: up ? `the Engine answers on ${node.options.endpoint}` : (node.down ?? 'the Engine does not answer'),
      },
      ref: { node: node.id },
    };
  }

  async create(entity: BackendEntity): Promise<Realised> {
    const opts = nodeOptionsOf(entity);
    const existing = this.pool.get(opts.id);
    if (existing) {
      if (!same(existing.options, opts)) throw new Conflict(`docker node ${opts.id} already exists with endpoint ${existing.options.endpoint}`);
      if (existing.entityId && existing.entityId !== entity.id) throw new Conflict(`docker node ${opts.id} already has an entity`);
      existing.entityId = entity.id; // a node of backends.json gets its entity, or a create is retried
      return this.realised(existing);
    }
    const node = new DockerNode(opts, this.timeoutMs);
    await node.probe(); // 503 (nothing added) when the Engine does not answer
    node.entityId = entity.id;
    this.pool.add(node);
    this.ctx.log.info('docker provider added a node', { node: node.id, endpoint: opts.endpoint });
    return this.realised(node);
  }

  /** A node entity stored earlier joins the pool at start-up, answering or not (placement skips it while it is down). */
  adopt(entity: BackendEntity): void {
    const opts = nodeOptionsOf(entity);
    if (this.pool.get(opts.id)) return;
    const node = new DockerNode(opts, this.timeoutMs);
    node.entityId = entity.id;
    node.down = 'not reached yet';
    this.pool.add(node);
    void node.probe().catch(() => undefined);
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    return this.realised(this.pool.mustGet(nodeIdOf(entity)));
  }

  async update(entity: BackendEntity, change: Change): Promise<Realised> {
    const node = this.pool.mustGet(nodeIdOf(entity));
    const opts = nodeOptionsOf(entity);
    if (!same(node.options, opts)) {
      throw new Conflict(`the endpoint and TLS files of docker node ${node.id} cannot change: delete the node and create it again`);
    }
    void change;
    const next = new DockerNode(opts, this.timeoutMs);
    next.entityId = node.entityId;
    await next.probe().catch(() => undefined);
    this.pool.add(next);
    return this.realised(next);
  }

  async delete(entity: BackendEntity): Promise<void> {
    const id = nodeIdOf(entity);
    const node = this.pool.get(id);
    if (!node || (node.entityId && node.entityId !== entity.id)) return;
    const holds = Object.entries(await this.pool.holds(id));
    if (holds.length) {
      const shown = [...new Set(holds.map(([, h]) => h.entity))].slice(0, 5).join(', ');
      throw new Conflict(`docker node ${id} still holds ${holds.length} reservation${holds.length > 1 ? 's' : ''} (entities ${shown}); delete what runs there first`);
    }
    this.pool.remove(id);
    this.ctx.log.info('docker provider removed a node', { node: id });
  }
}
