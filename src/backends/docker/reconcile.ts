/**
 * Reconciliation of the node pool with what occitan stored (adopt, mark, reap), at start-up and then
 * every `dockerReconcilePeriod`:
 * - a labelled container whose entity occitan still has is adopted: lookups go by label, and a compute's
 *   state is refreshed from its container when it differs from what is stored (a container stopped, paused
 *   or restarted while occitan was down, or while an event stream was broken: those events are never seen);
 *   computes occitan is working on right now (`busy`) are left to that request;
 * - a compute whose container is gone (removed behind occitan's back) is reported in error, once;
 * - a container labelled for this instance whose entity no longer exists is removed, once it is older
 *   than the grace period (a create in flight in another process has its document stored before its
 *   container exists, and the containers are listed before the documents, so it is never mistaken);
 * - a reservation whose entity no longer exists is released after the same grace period.
 * Containers without this instance's labels are never touched. A node that does not answer is skipped
 * (and said so in the log).
 */
import type Dockerode from 'dockerode';
import { INFRA } from '../../model/types';
import type { BackendContext, BackendEntity } from '../backend';
import type { DockerNode } from './client';
import { translateDockerError } from './client';
import { inspect, isOwn, remove } from './containers';
import type { NodePool } from './pool';
import { ATTR, LABEL, containerName } from './spec';
import { realisedFrom, refOf } from './state';

const COMPUTE = INFRA + 'compute';

export interface ReconcileOptions {
  ctx: BackendContext;
  pool: NodePool;
  instance: string;
  graceMs: number;
  /** Whether occitan is working on the entity right now (its request reports its state then). */
  busy?(id: string): boolean;
}

export interface ReconcileResult {
  reaped: string[];
  vanished: string[];
  released: string[];
  /** Computes whose stored state or ref was refreshed from their container. */
  refreshed: string[];
}

export function vanishedMessage(containerId: string, node: string): string {
  return `its container ${containerId.slice(0, 12)} is gone from docker node ${node} (removed outside occitan)`;
}

export async function reconcile({ ctx, pool, instance, graceMs, busy }: ReconcileOptions): Promise<ReconcileResult> {
  const listed = new Map<DockerNode, Dockerode.ContainerInfo[]>();
  for (const node of pool.all()) {
    try {
      listed.set(node, await node.docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`, LABEL.entity] } }));
    } catch (e) {
      ctx.log.warn('docker provider could not reconcile a node', { node: node.id, error: translateDockerError(e, node, 'list its occitan containers').message });
    }
  }
  const owned = new Map<string, BackendEntity>();
  for await (const e of ctx.owned()) owned.set(e.id, e);

  const result: ReconcileResult = { reaped: [], vanished: [], released: [], refreshed: [] };
  const now = ctx.clock.now();
  const withContainer = new Set<string>();
  for (const [node, containers] of listed) {
    const adopted = new Map<string, Dockerode.ContainerInfo[]>();
    for (const c of containers) {
      const entityId = c.Labels?.[LABEL.entity];
      if (!entityId || c.Labels?.[LABEL.instance] !== instance) continue;
      withContainer.add(entityId);
      if (owned.has(entityId)) {
        adopted.set(entityId, [...(adopted.get(entityId) ?? []), c]);
        continue;
      }
      if (now - c.Created * 1000 < graceMs) continue;
      await remove(node, c.Id, `remove orphaned container ${c.Id}`);
      result.reaped.push(c.Id);
      ctx.log.info('docker provider removed a container no entity owns', { node: node.id, container: c.Id, entity: entityId });
    }
    for (const [id, cs] of adopted) {
      const e = owned.get(id)!;
      if (e.kind !== COMPUTE || busy?.(id)) continue;
      if (await refresh(ctx, node, e, cs)) result.refreshed.push(id);
    }
  }
  for (const [id, e] of owned) {
    const ref = refOf(e.ref);
    // Only computes realised on a node that answered; one without a ref never got a container.
    if (!ref || withContainer.has(id)) continue;
    const node = [...listed.keys()].find((n) => n.id === ref.node);
    if (!node) continue;
    const message = vanishedMessage(ref.containerId, node.id);
    if (e.attributes[ATTR.state] === 'error' && e.attributes[ATTR.message] === message) continue;
    // Made since the listing (a create in flight)? Then it is there now.
    const info = await inspect(node, ref.containerId).catch(() => undefined);
    if (info && isOwn(info.Config.Labels, id, instance)) continue;
    result.vanished.push(id);
    await ctx.report(id, { attributes: { [ATTR.state]: 'error', [ATTR.message]: message } });
  }
  for (const node of listed.keys()) {
    for (const [holder, h] of Object.entries(await pool.holds(node.id))) {
      if (owned.has(h.entity) || now - h.since < graceMs) continue;
      await pool.release(node.id, holder);
      result.released.push(holder);
      ctx.log.info('docker provider released a reservation no entity owns', { node: node.id, holder });
    }
  }
  return result;
}

/**
 * Reports a compute's state and ref from its container when they differ from what is stored. The
 * container is the ref's, else the one bearing the entity's name (not a replacement in the middle of an
 * update). A container gone since the listing is left to the next pass.
 */
async function refresh(ctx: BackendContext, node: DockerNode, e: BackendEntity, containers: Dockerode.ContainerInfo[]): Promise<boolean> {
  const ref = refOf(e.ref);
  const name = `/${containerName(e.id)}`;
  const chosen = containers.find((c) => ref?.node === node.id && c.Id === ref.containerId) ?? containers.find((c) => c.Names.includes(name)) ?? containers[0]!;
  const info = await inspect(node, chosen.Id);
  if (!info) return false;
  const realised = realisedFrom(node.id, info);
  const changed = Object.entries(realised.attributes).some(([k, v]) => JSON.stringify(e.attributes[k]) !== JSON.stringify(v));
  if (!changed && JSON.stringify(realised.ref) === JSON.stringify(e.ref)) return false;
  await ctx.report(e.id, realised);
  ctx.log.info('docker provider refreshed a compute from its container', { node: node.id, entity: e.id, state: realised.attributes[ATTR.state] });
  return true;
}
