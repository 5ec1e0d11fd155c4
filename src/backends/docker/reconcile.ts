/**
 * Start-up reconciliation of one node with what occitan stored (issue: adopt, mark, reap):
 * - a labelled container whose entity occitan still has is adopted: nothing to do, lookups go by label;
 * - an entity whose container is gone (removed behind occitan's back) is reported in error;
 * - a container labelled for this instance whose entity no longer exists is removed, once it is older
 *   than the grace period (a create in flight in another process has its document stored before its
 *   container exists, and the containers are listed before the documents, so it is never mistaken).
 * Containers without this instance's labels are never touched. Live reconciliation (the event stream)
 * comes with the node pool.
 */
import type { BackendContext, BackendEntity } from '../backend';
import type { DockerNode } from './client';
import { translateDockerError } from './client';
import { remove } from './containers';
import { ATTR, LABEL } from './spec';
import { refOf } from './state';

export interface ReconcileOptions {
  ctx: BackendContext;
  node: DockerNode;
  instance: string;
  graceMs: number;
}

export interface ReconcileResult {
  reaped: string[];
  vanished: string[];
}

export async function reconcile({ ctx, node, instance, graceMs }: ReconcileOptions): Promise<ReconcileResult> {
  let containers;
  try {
    containers = await node.docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`, LABEL.entity] } });
  } catch (e) {
    throw translateDockerError(e, node, 'list its occitan containers');
  }
  const owned = new Map<string, BackendEntity>();
  for await (const e of ctx.owned()) owned.set(e.id, e);

  const result: ReconcileResult = { reaped: [], vanished: [] };
  const now = ctx.clock.now();
  const withContainer = new Set<string>();
  for (const c of containers) {
    const entityId = c.Labels?.[LABEL.entity];
    if (!entityId || c.Labels?.[LABEL.instance] !== instance) continue;
    withContainer.add(entityId);
    if (owned.has(entityId)) continue;
    if (now - c.Created * 1000 < graceMs) continue;
    await remove(node, c.Id, `remove orphaned container ${c.Id}`);
    result.reaped.push(c.Id);
    ctx.log.info('docker provider removed a container no entity owns', { node: node.id, container: c.Id, entity: entityId });
  }
  for (const [id, e] of owned) {
    const ref = refOf(e.ref);
    // Only entities that were realised on this node; one without a ref never got a container.
    if (!ref || ref.node !== node.id || withContainer.has(id)) continue;
    result.vanished.push(id);
    await ctx.report(id, {
      attributes: { [ATTR.state]: 'error', [ATTR.message]: `its container ${ref.containerId.slice(0, 12)} is gone from docker node ${node.id} (removed outside occitan)` },
    });
  }
  return result;
}
