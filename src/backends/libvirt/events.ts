/**
 * Reconciliation while running: libvirt's lifecycle events tell the provider what happened to its
 * domains behind occitan's back (`virsh destroy`, a guest that shut down or crashed, `virsh start`,
 * `virsh undefine`). A compute's new state is reported through the context; a compute whose domain is
 * gone is reported in error with a message, as the start-up reconciliation does (reconcile.ts).
 *
 * The stream is a long-running `virsh event --event lifecycle --loop` child (virsh is how this provider
 * talks to libvirt; no Node binding exists). It ends when libvirtd goes away: it is opened again with a
 * capped backoff (1 s doubling to 30 s, for as long as the provider runs), and renewed every
 * RENEW_SECONDS so a stream that hangs silently cannot last. Each reopening is followed by a refresh pass
 * over every compute for what was missed meanwhile, and a pass also runs every `libvirtRefreshPeriod`
 * (60 s; 0: none) in case an event was lost. Where setpriv exists the child dies with occitan even when
 * occitan is killed (parent-death signal); close() ends it and waits for it.
 *
 * Events of occitan's own work are left to that request (`busy`); a refresh reports only what differs
 * from what the entity says.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { INFRA } from '../../model/types';
import type { BackendContext, BackendEntity, Realised } from '../backend';
import { BUSY_AFTER_MS, type BusyEntities } from '../busy-entities';
import { ATTR, domainName } from './domain-xml';
import type { Domains } from './domains';
import { domainRefOf } from './domains';
import { domainGoneMessage } from './reconcile';
import type { Virsh } from './virsh';

const COMPUTE = INFRA + 'compute';
/** Events of one domain within this window are handled once (Stopped then Undefined, Defined then Started). */
const SETTLE_MS = 300;
/** The stream is renewed this often (virsh --timeout), followed by a refresh pass. */
const RENEW_SECONDS = 300;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** A stream that lived this long was healthy: the next failure starts the backoff again from the minimum. */
const HEALTHY_MS = 10_000;
/** A pass after a reopening waits this long, so that the new stream has subscribed first. */
const PASS_DELAY_MS = 1000;
/** How long close() waits for the child after SIGTERM before SIGKILL. */
const KILL_AFTER_MS = 2000;
// "event 'lifecycle' for domain 'occitan-…': Stopped Destroyed" (older virsh: the name without quotes).
const EVENT_LINE = /^event '?lifecycle'? for domain '?([^':\s]+)'?:\s*(.*)$/;

export interface WatcherOptions {
  ctx: BackendContext;
  virsh: Virsh;
  domains: Domains;
  instance: string;
  periodMs: number;
  busy: BusyEntities;
}

interface Stream {
  child: ChildProcess;
  closed: Promise<void>;
}

/** setpriv (util-linux) on the PATH: the event child then gets SIGKILL when occitan dies. */
function hasSetpriv(): boolean {
  return (process.env['PATH'] ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, 'setpriv'), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export class LifecycleWatcher {
  private running = false;
  private stream?: Stream;
  private failures = 0;
  private reopen?: NodeJS.Timeout;
  private periodic?: NodeJS.Timeout;
  private delayedPass?: NodeJS.Timeout;
  private pass?: Promise<void>;
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Domain name → its entity, remembered from metadata: an undefined domain has none to read. */
  private readonly known = new Map<string, { id: string; tenant: string }>();
  private readonly setpriv = hasSetpriv();

  constructor(private readonly o: WatcherOptions) {}

  /** Opens the event stream (before the start-up reconciliation, so nothing falls between them). */
  open(): void {
    this.running = true;
    this.openStream();
  }

  /** Starts the periodic refresh (after the start-up reconciliation). */
  startPeriodic(): void {
    if (!this.running || this.o.periodMs <= 0) return;
    const tick = (): void => {
      if (!this.running) return;
      void this.refreshAll().finally(() => {
        if (this.running) this.periodic = setTimeout(tick, this.o.periodMs).unref();
      });
    };
    this.periodic = setTimeout(tick, this.o.periodMs).unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.reopen);
    clearTimeout(this.periodic);
    clearTimeout(this.delayedPass);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    const s = this.stream;
    if (s) {
      s.child.kill('SIGTERM');
      const hard = setTimeout(() => s.child.kill('SIGKILL'), KILL_AFTER_MS);
      await s.closed;
      clearTimeout(hard);
    }
    await this.pass?.catch(() => undefined);
    await Promise.all([...this.inFlight]);
  }

  /** The pid of the event child while it runs (tests look for it among occitan's children). */
  get childPid(): number | undefined {
    return this.stream?.child.pid;
  }

  private openStream(): void {
    if (!this.running) return;
    const args = ['-q', '-c', this.o.virsh.uri, 'event', '--event', 'lifecycle', '--loop', '--timeout', String(RENEW_SECONDS)];
    const child = this.setpriv
      ? spawn('setpriv', ['--pdeathsig', 'KILL', 'virsh', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } })
      : spawn('virsh', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const opened = Date.now();
    let stderr = '';
    let buffer = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        const m = EVENT_LINE.exec(line);
        if (m) this.onEvent(m[1]!);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    const closed = new Promise<void>((resolve) => {
      child.once('close', (code: number | null) => {
        if (this.stream?.child === child) this.stream = undefined;
        resolve();
        this.ended(code, Date.now() - opened, (spawnError?.message ?? stderr).trim());
      });
    });
    this.stream = { child, closed };
  }

  /**
   * The child ended: it timed out as asked, or libvirtd went away (virsh then ends its event loop, and
   * exits 0 too, saying so on stderr), or it could not connect. After a healthy stream it is opened again
   * at once; a stream that failed early waits a backoff.
   */
  private ended(code: number | null, livedMs: number, why: string): void {
    if (!this.running) return;
    if (livedMs >= HEALTHY_MS) this.failures = 0;
    if (code === 0 && this.failures === 0) {
      if (why) this.o.ctx.log.warn(`libvirt provider lost its event stream from ${this.o.virsh.describe()}; opening it again`, { error: why });
      this.failures = livedMs >= HEALTHY_MS ? 0 : 1;
      this.openStream();
      this.passSoon();
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.failures);
    const log = this.failures === 0 ? this.o.ctx.log.warn : this.o.ctx.log.debug;
    log.call(this.o.ctx.log, `libvirt provider lost its event stream from ${this.o.virsh.describe()}; opening it again in ${delay} ms`, { code, error: why || undefined });
    this.failures++;
    this.reopen = setTimeout(() => {
      this.reopen = undefined;
      this.openStream();
      this.passSoon();
    }, delay);
  }

  /** A refresh pass once a reopened stream has had time to subscribe: what happened meanwhile. */
  private passSoon(): void {
    clearTimeout(this.delayedPass);
    this.delayedPass = setTimeout(() => void this.refreshAll(), PASS_DELAY_MS);
  }

  private onEvent(domain: string): void {
    if (!this.running || !domain.startsWith('occitan-')) return;
    clearTimeout(this.pending.get(domain));
    this.pending.set(domain, setTimeout(() => {
      this.pending.delete(domain);
      this.track(this.refreshDomain(domain));
    }, SETTLE_MS));
  }

  private track(work: Promise<void>): void {
    const p = work
      .catch((e: unknown) => this.o.ctx.log.warn('libvirt provider could not follow a domain event', { error: String(e) }))
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** The entity of a domain of this instance: from its metadata, or remembered, or (undefined domain) looked up. */
  private async refreshDomain(domain: string): Promise<void> {
    const m = await this.o.domains.metadata(domain);
    let who = m ? (m.instance === this.o.instance ? { id: m.id, tenant: m.tenant } : undefined) : this.known.get(domain);
    if (m && who) this.known.set(domain, who);
    if (!m && !who) {
      for await (const e of this.o.ctx.owned()) {
        if (e.kind === COMPUTE && domainName(e.id) === domain) who = { id: e.id, tenant: e.tenant };
      }
    }
    if (!m) this.known.delete(domain); // undefined: nothing more to remember it for
    if (who) await this.refresh(who.tenant, who.id);
  }

  /** Every realised compute of this provider, one at a time; one pass at a time. */
  refreshAll(): Promise<void> {
    const run = (this.pass ?? Promise.resolve()).then(async () => {
      if (!this.running) return;
      const computes: BackendEntity[] = [];
      for await (const e of this.o.ctx.owned()) if (e.kind === COMPUTE && e.ref !== undefined) computes.push(e);
      for (const e of computes) {
        if (!this.running) return;
        await this.refresh(e.tenant, e.id);
      }
    }).catch((e: unknown) => this.o.ctx.log.warn('libvirt provider could not refresh its computes from libvirt', { error: String(e) }));
    this.pass = run;
    return run;
  }

  /** Looks at the entity's domain now and reports what changed. */
  private async refresh(tenant: string, id: string): Promise<void> {
    if (!this.running) return;
    if (this.o.busy.has(id)) {
      // occitan's own request answers for the entity; look again once it is done.
      const key = `busy:${id}`;
      clearTimeout(this.pending.get(key));
      this.pending.set(key, setTimeout(() => {
        this.pending.delete(key);
        this.track(this.refresh(tenant, id));
      }, BUSY_AFTER_MS));
      return;
    }
    const entity = await this.o.ctx.resolve(tenant, id);
    // Deleted, not this provider's compute, or being created (that request reports).
    if (!entity || entity.kind !== COMPUTE || entity.ref === undefined) return;
    const realised = await this.observe(entity);
    const changed = Object.entries(realised.attributes).some(([k, v]) => JSON.stringify(entity.attributes[k]) !== JSON.stringify(v));
    const refChanged = realised.ref !== undefined && JSON.stringify(realised.ref) !== JSON.stringify(entity.ref);
    if (!changed && !refChanged) return;
    // Still there, and still not in occitan's hands?
    if (this.o.busy.has(id) || !(await this.o.ctx.resolve(tenant, id))) return;
    await this.o.ctx.report(id, realised);
    this.o.ctx.log.info('libvirt provider followed a change of a domain made outside occitan', { entity: id, location: entity.location, attributes: realised.attributes });
  }

  private async observe(entity: BackendEntity): Promise<Realised> {
    const name = domainName(entity.id);
    const live = await this.o.domains.live(name);
    // The same uuid is the domain occitan made; another one must carry this entity's metadata.
    const mine = live !== undefined && (live.uuid === domainRefOf(entity.ref)?.uuid || (await this.o.domains.owns(name, entity.id)) === 'mine');
    if (!live || !mine) return { attributes: { [ATTR.state]: 'error', [ATTR.message]: domainGoneMessage(this.o.virsh, entity) } };
    return this.o.domains.realised(entity, live);
  }
}
