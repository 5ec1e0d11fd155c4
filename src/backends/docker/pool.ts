/**
 * The pool of Docker Engines (Siren's nodes) and what is reserved on each, kept in the context's
 * conflict-safe state so several occitan processes on one CouchDB never hand out the same memory or host
 * port twice.
 *
 * Each node has one book, `book:<node id>`: `{ holds: { <holder>: { memory, ports, entity, tenant,
 * location, since } } }`. A holder is a compute's entity id, or `<service entity id>#<replica index>` for
 * a service replica (whose location is the replica entity's). Every change is a compare-and-set on the
 * book's revision, retried (bounded) when another writer won.
 *
 * A node entity shows its usage and what is placed there (`occitan.docker.node.containers`: one
 * `{ location, tenant, memory }` per hold, memory in GiB); that attribute is per-tenant (categories/
 * docker.yaml), so renderings show a caller who is not a global admin only its own tenant's items.
 *
 * Placement (`place`): the nodes that fit the constraints (a node named by the client; architecture;
 * location; a network that publishes ports when ports are asked for), that answer and have the image, and
 * that have the memory and host ports free; of those, the best fit (the least memory left afterwards).
 * Nothing fits → 409 naming what ran out; nothing is held then. The caller releases a hold when what it
 * made fails, and on delete.
 */
import { BadRequest, Conflict, NotFound, ServiceUnavailable } from '../../errors';
import type { Attributes } from '../../model/types';
import type { BackendContext } from '../backend';
import type { DockerNode } from './client';
import { statusOf, translateDockerError } from './client';

export interface Hold {
  /** Bytes. */
  memory: number;
  /** Host ports as `8080/tcp`. */
  ports: string[];
  /** The entity holding it (for reconciliation). */
  entity: string;
  /** The tenant and location of what holds it (a compute, a service's replica), for the node's listing. */
  tenant?: string;
  location?: string;
  since: number;
}

interface Book {
  holds: Record<string, Hold>;
}

export interface PlacementRequest {
  holder: string;
  entity: string;
  /** The tenant and location of what is placed, shown in the node's listing of what it holds. */
  owner?: { tenant: string; location: string };
  memory: number;
  ports: string[];
  image: string;
  /** A node the client named (placement mixin); no other is considered. */
  node?: string;
  arch?: string;
  location?: string;
  /** What is being placed, for messages ("the container of /compute/x"). */
  what: string;
}

export interface Usage {
  total: number;
  reserved: number;
  available: number;
  /** What holds memory there, in location order. */
  holds: Hold[];
}

const GIB = 1024 ** 3;
const ATTEMPTS = 60;

/** Memory for people: MiB below a GiB, else GiB (two decimals at most). */
export function gib(bytes: number): string {
  if (bytes < GIB) return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
  return `${Math.round((bytes / GIB) * 100) / 100} GiB`;
}

function bookKey(node: string): string {
  return `book:${node}`;
}

function reserved(book: Book, except?: string): number {
  let sum = 0;
  for (const [holder, h] of Object.entries(book.holds)) if (holder !== except) sum += h.memory;
  return sum;
}

function portsTaken(book: Book, ports: readonly string[], except?: string): string[] {
  const taken = new Set<string>();
  for (const [holder, h] of Object.entries(book.holds)) if (holder !== except) for (const p of h.ports) taken.add(p);
  return ports.filter((p) => taken.has(p));
}

function pause(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(50, 2 + attempt * 3) * Math.random()));
}

export class NodePool {
  private readonly nodes = new Map<string, DockerNode>();
  /** Node ids whose entity needs its usage attributes reported again. */
  private readonly dirty = new Set<string>();
  private reporting?: Promise<void>;

  constructor(private readonly ctx: BackendContext) {}

  add(node: DockerNode): void {
    this.nodes.set(node.id, node);
  }

  remove(id: string): void {
    this.nodes.delete(id);
  }

  get(id: string): DockerNode | undefined {
    return this.nodes.get(id);
  }

  all(): DockerNode[] {
    return [...this.nodes.values()];
  }

  /** The node of a ref; 503 when this process does not know it (an admin removed it, or another process added it). */
  need(id: string): DockerNode {
    const n = this.nodes.get(id);
    if (!n) throw new ServiceUnavailable(`docker node ${id} is not in this occitan's node pool`);
    return n;
  }

  private async read(node: string): Promise<{ book: Book; rev?: string }> {
    const got = await this.ctx.state.get<Book>(bookKey(node));
    return got ? { book: { holds: { ...(got.value.holds ?? {}) } }, rev: got.rev } : { book: { holds: {} } };
  }

  async usage(node: DockerNode): Promise<Usage> {
    const { book } = await this.read(node.id);
    const r = reserved(book);
    const holds = Object.values(book.holds).sort((a, b) => `${a.tenant}\u0000${a.location}`.localeCompare(`${b.tenant}\u0000${b.location}`));
    return { total: node.totalMemory, reserved: r, available: Math.max(0, node.totalMemory - r), holds };
  }

  async holds(node: string): Promise<Record<string, Hold>> {
    return (await this.read(node)).book.holds;
  }

  /**
   * Sets `holder`'s hold on `node` to `hold` (undefined: removes it), when it fits. Answers undefined on
   * success, else what ran out.
   */
  private async write(node: DockerNode, holder: string, hold: Hold | undefined, check: boolean): Promise<string | undefined> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { book, rev } = await this.read(node.id);
      if (hold) {
        if (check) {
          const short = this.shortage(node, book, hold, holder);
          if (short) return short;
        }
        // An adjusted hold keeps saying whose it is.
        const before = book.holds[holder];
        book.holds[holder] = { ...(before?.tenant !== undefined ? { tenant: before.tenant } : {}), ...(before?.location !== undefined ? { location: before.location } : {}), ...hold };
      } else {
        if (!(holder in book.holds)) return undefined;
        delete book.holds[holder];
      }
      if (await this.ctx.state.put(bookKey(node.id), book, rev)) {
        this.changed(node.id);
        return undefined;
      }
      await pause(attempt);
    }
    throw new ServiceUnavailable(`the reservations of docker node ${node.id} keep changing; retry`);
  }

  /** What `hold` would lack on `node` (memory, ports), or undefined when it fits. */
  private shortage(node: DockerNode, book: Book, hold: Hold, holder: string): string | undefined {
    const free = node.totalMemory - reserved(book, holder);
    if (hold.memory > free) return `memory: ${gib(hold.memory)} asked, ${gib(Math.max(0, free))} available of ${gib(node.totalMemory)}`;
    const taken = portsTaken(book, hold.ports, holder);
    if (taken.length) return `host port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} already published there`;
    return undefined;
  }

  /** Changes an existing hold in place (an update of memory or ports); 409 naming what ran out. */
  async adjust(nodeId: string, holder: string, hold: Hold): Promise<void> {
    const node = this.need(nodeId);
    const short = await this.write(node, holder, hold, true);
    if (short) throw new Conflict(`no capacity on docker node ${nodeId}: ${short}`);
  }

  /** Puts a hold back as it was (undoing `adjust`), without checking. */
  async restore(nodeId: string, holder: string, hold: Hold | undefined): Promise<void> {
    const node = this.nodes.get(nodeId);
    if (node) await this.write(node, holder, hold, false);
  }

  async release(nodeId: string, holder: string): Promise<void> {
    const node = this.nodes.get(nodeId);
    if (node) await this.write(node, holder, undefined, false);
  }

  /** Releases every hold of `entity` (a compute, or all replicas of a service) on every node. */
  async releaseEntity(entity: string): Promise<void> {
    for (const node of this.nodes.values()) {
      const { book } = await this.read(node.id);
      for (const [holder, h] of Object.entries(book.holds)) if (h.entity === entity) await this.write(node, holder, undefined, false);
    }
  }

  async holdOf(nodeId: string, holder: string): Promise<Hold | undefined> {
    return (await this.read(nodeId)).book.holds[holder];
  }

  /** Whether the node has the image; undefined when it does not answer (the reason is kept on the node). */
  private async hasImage(node: DockerNode, image: string): Promise<boolean | undefined> {
    try {
      await node.docker.getImage(image).inspect();
      node.down = undefined;
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      node.down = translateDockerError(e, node, `inspect image ${image}`).message;
      return undefined;
    }
  }

  /**
   * The nodes that could take `req` (constraints, network, answering, image present), before memory and
   * ports are looked at; throws 400/409/503 saying why none.
   */
  async candidates(req: PlacementRequest): Promise<DockerNode[]> {
    let candidates = this.all();
    if (req.node !== undefined) {
      const named = this.nodes.get(req.node);
      if (!named) throw new BadRequest(`no docker node named ${req.node} (nodes: ${this.all().map((n) => n.id).join(', ') || 'none'})`);
      candidates = [named];
    }
    if (req.arch !== undefined) {
      candidates = candidates.filter((n) => n.arch === req.arch);
      if (!candidates.length) throw new Conflict(`no capacity for ${req.what}: no docker node${req.node ? ` ${req.node}` : ''} has architecture ${req.arch}`);
    }
    if (req.location !== undefined) {
      candidates = candidates.filter((n) => n.options.location === req.location);
      if (!candidates.length) throw new Conflict(`no capacity for ${req.what}: no docker node${req.node ? ` ${req.node}` : ''} at location ${req.location}`);
    }
    if (req.ports.length) {
      const none = candidates.filter((n) => n.options.networkMode === 'none');
      candidates = candidates.filter((n) => n.options.networkMode !== 'none');
      if (!candidates.length) {
        throw new BadRequest(
          `${req.what} publishes ports (${req.ports.join(', ')}), but docker node${none.length > 1 ? 's' : ''} ${none.map((n) => n.id).join(', ')} ` +
            `${none.length > 1 ? 'are' : 'is'} in network mode none: no port can be published there`,
        );
      }
    }
    const checks = await Promise.all(candidates.map(async (n) => [n, await this.hasImage(n, req.image)] as const));
    const reachable = checks.filter(([, has]) => has !== undefined);
    if (!reachable.length) {
      throw new ServiceUnavailable(`no docker node can take ${req.what}: ${checks.map(([n]) => n.down ?? `${n.id} does not answer`).join('; ')}`);
    }
    candidates = reachable.filter(([, has]) => has).map(([n]) => n);
    if (!candidates.length) {
      throw new BadRequest(
        `image ${req.image} is not on docker node${reachable.length > 1 ? 's' : ''} ${reachable.map(([n]) => n.id).join(', ')}: occitan never pulls images; ` +
          'an administrator loads it on the node (docker load, docker import) first',
      );
    }
    return candidates;
  }

  /** Chooses a node for `req` and holds its memory and ports there; throws 400/409/503 saying why none. */
  async place(req: PlacementRequest): Promise<DockerNode> {
    const candidates = await this.candidates(req);
    const hold: Hold = {
      memory: req.memory, ports: req.ports, entity: req.entity,
      ...(req.owner ? { tenant: req.owner.tenant, location: req.owner.location } : {}),
      since: this.ctx.clock.now(),
    };
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const books = await Promise.all(candidates.map(async (n) => ({ node: n, ...(await this.read(n.id)) })));
      const fits: Array<{ node: DockerNode; rev?: string; book: Book; left: number }> = [];
      const short: string[] = [];
      for (const b of books) {
        if (b.book.holds[req.holder]) return b.node; // already held here (a retried create)
        const s = this.shortage(b.node, b.book, hold, req.holder);
        if (s) short.push(`${b.node.id}: ${s}`);
        else fits.push({ node: b.node, rev: b.rev, book: b.book, left: b.node.totalMemory - reserved(b.book) - hold.memory });
      }
      if (!fits.length) throw new Conflict(`no capacity for ${req.what} on any docker node (${short.join('; ')})`);
      fits.sort((a, b) => a.left - b.left);
      const best = fits[0]!;
      best.book.holds[req.holder] = hold;
      if (await this.ctx.state.put(bookKey(best.node.id), best.book, best.rev)) {
        this.changed(best.node.id);
        return best.node;
      }
      await pause(attempt);
    }
    throw new ServiceUnavailable(`the reservations of the docker nodes keep changing while placing ${req.what}; retry`);
  }

  /** Reports the usage of nodes whose books changed to their entities (latest value wins). */
  private changed(nodeId: string): void {
    if (!this.nodes.get(nodeId)?.entityId) return;
    this.dirty.add(nodeId);
    this.reporting ??= this.drain().finally(() => {
      this.reporting = undefined;
      if (this.dirty.size) this.changed([...this.dirty][0]!);
    });
  }

  private async drain(): Promise<void> {
    while (this.dirty.size) {
      const id = [...this.dirty][0]!;
      this.dirty.delete(id);
      const node = this.nodes.get(id);
      if (!node?.entityId) continue;
      try {
        await this.ctx.report(node.entityId, { attributes: usageAttributes(await this.usage(node)) });
      } catch (e) {
        this.ctx.log.warn('docker provider could not report a node\'s reservations', { node: id, error: String(e) });
      }
    }
  }

  /** Waits until the usage reports in flight are written (tests, close). */
  async settled(): Promise<void> {
    while (this.reporting) await this.reporting;
  }

  /** A node for `id` or 404 (node entities). */
  mustGet(id: string): DockerNode {
    const n = this.nodes.get(id);
    if (!n) throw new NotFound(`docker node ${id} is not in the pool`);
    return n;
  }
}

export const NODE_ATTR = {
  endpoint: 'occitan.docker.node.endpoint',
  tls: 'occitan.docker.node.tls',
  total: 'occitan.docker.node.memory.total',
  reserved: 'occitan.docker.node.memory.reserved',
  available: 'occitan.docker.node.memory.available',
  containers: 'occitan.docker.node.containers',
  arch: 'occitan.docker.node.arch',
  location: 'occitan.docker.node.location',
  networkMode: 'occitan.docker.node.networkMode',
  publishIp: 'occitan.docker.node.publishIp',
  state: 'occitan.docker.node.state',
  message: 'occitan.docker.node.state.message',
} as const;

/** GiB with a precision that survives the round trip (bytes are whole numbers). */
function toGib(bytes: number): number {
  return Math.round((bytes / GIB) * 1e9) / 1e9;
}

export function usageAttributes(u: Usage): Attributes {
  const containers = u.holds.map((h) => ({ location: h.location ?? h.entity, tenant: h.tenant ?? '', memory: toGib(h.memory) }));
  return { [NODE_ATTR.total]: toGib(u.total), [NODE_ATTR.reserved]: toGib(u.reserved), [NODE_ATTR.available]: toGib(u.available), [NODE_ATTR.containers]: containers };
}
