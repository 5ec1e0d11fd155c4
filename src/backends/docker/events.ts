/**
 * Reconciliation while running. Each node's event stream (containers labelled for this instance) tells
 * the provider what happened behind occitan's back: a compute's container that died, was paused or was
 * removed (`docker rm -f`) is reported through the context (its state, or error when it is gone); a
 * service whose replica died or went reports its new `occitan.docker.replicas`. Events of occitan's own
 * work are reported too when they change what the entity says (otherwise nothing is written).
 *
 * Every `dockerReconcilePeriod` (and after a stream reconnects) a reconcile pass runs (reconcile.ts):
 * orphans older than `dockerReapGrace` are removed, reservations nobody owns released.
 */
import type { BackendContext, BackendEntity, Realised } from '../backend';
import type { DockerNode } from './client';
import { locate } from './containers';
import type { NodePool } from './pool';
import { reconcile, vanishedMessage } from './reconcile';
import type { ReconcileResult } from './reconcile';
import { SERVICE_KIND, SVC } from './service-spec';
import type { Services } from './services';
import { runningReplicas } from './services';
import { LABEL } from './spec';
import { realisedFrom } from './state';

export interface WatcherOptions {
  ctx: BackendContext;
  pool: NodePool;
  instance: string;
  graceMs: number;
  periodMs: number;
  services: Services;
  /** Whether occitan itself is working on the entity right now (or just finished): its request reports then. */
  busy(id: string): boolean;
}

interface DockerEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

const WATCHED = ['die', 'destroy', 'start', 'pause', 'unpause', 'oom', 'stop', 'kill'];
/** Events of one entity within this window are handled once. */
const SETTLE_MS = 200;

export class Watcher {
  private running = false;
  private timer?: NodeJS.Timeout;
  private pass?: Promise<unknown>;
  private readonly streams = new Map<string, NodeJS.ReadableStream & { destroy?: () => void }>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Map<string, { tenant: string; timer: NodeJS.Timeout }>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly o: WatcherOptions) {}

  /** One reconcile pass over the whole pool (one at a time). */
  reconcileAll(): Promise<ReconcileResult> {
    const run = (this.pass ?? Promise.resolve()).catch(() => undefined).then(() => reconcile(this.o));
    this.pass = run;
    return run;
  }

  start(): void {
    this.running = true;
    for (const node of this.o.pool.all()) this.watch(node);
    const tick = (): void => {
      if (!this.running) return;
      // Nodes added at run time get their stream here.
      for (const node of this.o.pool.all()) if (!this.streams.has(node.id) && !this.retries.has(node.id)) this.watch(node);
      this.reconcileAll()
        .catch((e: unknown) => this.o.ctx.log.warn(`docker provider reconciliation: ${String(e)}`))
        .finally(() => {
          if (this.running) this.timer = setTimeout(tick, this.o.periodMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.o.periodMs).unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    for (const s of this.streams.values()) s.destroy?.();
    this.streams.clear();
    await this.pass?.catch(() => undefined);
    await Promise.all([...this.inFlight]);
  }

  private watch(node: DockerNode): void {
    if (!this.running) return;
    node.docker
      .getEvents({ filters: { type: ['container'], label: [`${LABEL.instance}=${this.o.instance}`], event: WATCHED } })
      .then((stream) => {
        const s = stream as NodeJS.ReadableStream & { destroy?: () => void };
        if (!this.running) {
          s.destroy?.();
          return;
        }
        this.streams.set(node.id, s);
        let buffer = '';
        s.on('data', (chunk: Buffer | string) => {
          buffer += chunk.toString();
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line) this.onEvent(line);
          }
        });
        const again = (): void => {
          if (this.streams.get(node.id) === s) this.streams.delete(node.id);
          this.retry(node);
        };
        s.on('end', again);
        s.on('error', again);
      })
      .catch(() => this.retry(node));
  }

  /** A stream that ended or never opened: again in a moment, then a reconcile pass for what was missed. */
  private retry(node: DockerNode): void {
    if (!this.running || this.retries.has(node.id)) return;
    this.retries.set(
      node.id,
      setTimeout(() => {
        this.retries.delete(node.id);
        if (!this.running) return;
        this.watch(node);
        void this.reconcileAll().catch(() => undefined);
      }, 1000),
    );
  }

  private onEvent(line: string): void {
    let ev: DockerEvent;
    try {
      ev = JSON.parse(line) as DockerEvent;
    } catch {
      return;
    }
    const labels = ev.Actor?.Attributes ?? {};
    const entity = labels[LABEL.entity];
    if (ev.Type !== 'container' || !entity || labels[LABEL.instance] !== this.o.instance) return;
    const tenant = labels[LABEL.tenant] ?? '';
    // Several events of one change (kill, die, stop, destroy) are handled once, after they settle.
    const before = this.pending.get(entity);
    if (before) clearTimeout(before.timer);
    const timer = setTimeout(() => {
      this.pending.delete(entity);
      const p = this.refresh(tenant, entity)
        .catch((e: unknown) => this.o.ctx.log.warn('docker provider could not report an event', { entity, error: String(e) }))
        .finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }, SETTLE_MS);
    this.pending.set(entity, { tenant, timer });
  }

  /** Looks at the entity's containers now and reports what changed. */
  private async refresh(tenant: string, id: string): Promise<void> {
    if (!this.running) return;
    if (this.o.busy(id)) {
      // occitan's own request answers for the entity; look again once it is done.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        const p = this.refresh(tenant, id).catch(() => undefined).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }, SETTLE_MS * 2);
      this.pending.set(id, { tenant, timer });
      return;
    }
    const entity = await this.o.ctx.resolve(tenant, id);
    if (!entity) return; // deleted (or being deleted by occitan itself)
    let realised: Realised;
    if (entity.kind === SERVICE_KIND) {
      const replicas = await this.o.services.replicas(entity, true);
      realised = { attributes: { [SVC.replicas]: runningReplicas(replicas) } };
    } else {
      const found = await this.locate(entity);
      if (found) realised = realisedFrom(found.node.id, found.info);
      else {
        const ref = entity.ref as { node?: string; containerId?: string } | undefined;
        if (!ref?.containerId) return; // never realised yet (a create in flight)
        realised = { attributes: { 'occi.compute.state': 'error', 'occi.compute.state.message': vanishedMessage(ref.containerId, ref.node ?? '?') } };
      }
    }
    const changed = Object.entries(realised.attributes).some(([k, v]) => JSON.stringify(entity.attributes[k]) !== JSON.stringify(v));
    const refChanged = realised.ref !== undefined && JSON.stringify(realised.ref) !== JSON.stringify(entity.ref);
    if (!changed && !refChanged) return;
    // Still there? (occitan may have deleted it meanwhile.)
    if (!(await this.o.ctx.resolve(tenant, id))) return;
    await this.o.ctx.report(id, realised);
  }

  private async locate(entity: BackendEntity) {
    for (const node of this.o.pool.all()) {
      const found = await locate(node, entity.id, this.o.instance).catch(() => undefined);
      if (found) return found;
    }
    return undefined;
  }
}
