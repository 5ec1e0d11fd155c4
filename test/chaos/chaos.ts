/**
 * Crash consistency (issue 8, deliverable 4): a real `occitan serve` over the standalone store (which
 * survives), with the docker (occitan's test dockerd), libvirt (qemu:///system) and ovs providers, each on
 * instance labels, a pool and a bridge of this run's own. Each round sends a seeded mix of operations —
 * creates of containers, VMs, networks and network interfaces (links), actions on containers and VMs,
 * deletes — four at a time, and SIGKILLs occitan after a seeded number of answers (at least one, never
 * all: operations are still queued and in flight). A new process starts on the same store; once its
 * recovery grace has passed, store and platforms must agree (bounded poll):
 *   lost     acknowledged writes not reflected: an acknowledged create gone (unless a delete of it or of a
 *            link end was sent), an acknowledged delete back, an acknowledged action's state not kept
 *   orphans  labelled containers, domains, ports or veths without their entity
 *   missing  entities without their container, domain or port
 *   ghosts   entities claiming active whose container or domain does not run
 *   5xx      answers of 500 or more received before the kill (connections the kill cut are not answers)
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SOCKET, requireDaemon as requireDocker } from '../backends/docker-observer';
import { cleanup as libvirtCleanup, requireDaemon as requireLibvirt } from '../backends/libvirt-observer';
import { requireOvs, testBridge } from '../backends/ovs-observer';
import { INFRA, clean, look, removeEverything, type Instances, type Look } from './platforms';
import { field, occiCall, type OcciAnswer } from '../support/occi-call';
import { prng } from '../support/prng';
import { serveEnv } from '../support/occitan-process';
import { compile, freePort, killProcess, startProcess, stopProcess, storeDocs, type Proc, type StoreDoc } from './processes';

const TPL = 'https://example.org/occi/os_tpl#';
const DB = 'chaos';
const WORKERS = 4;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The seeded generator of the operations and kill points (test/support/prng.ts). */
export { prng };

export interface ChaosOptions {
  rounds: number;
  seed: number;
  /** Operations per round (default 12). */
  ops?: number;
  /** The restarted process's recovery grace, ms (default 10000): longer than any create takes here. */
  recoveryGraceMs?: number;
  /** Bound of the wait for agreement after each restart, ms (default 150000). */
  settleBoundMs?: number;
  log?: (line: string) => void;
}

export interface RoundReport {
  round: number;
  /** Operations planned; `answeredAtKill` is always below it (the kill comes before all are acknowledged). */
  planned: number;
  sent: number;
  answeredAtKill: number;
  statuses: Record<string, number>;
  fiveXX: number;
  lost: string[];
  look: Look;
}

export interface ChaosResult {
  cases: number;
  fiveXX: number;
  lost: number;
  orphans: number;
  missing: number;
  ghosts: number;
  rounds: RoundReport[];
  summary: string;
}

type Ref = 'docker' | 'vm' | 'network' | 'nic';
interface Known { location: string; ref: Ref; source?: string; target?: string }
interface Op { verb: 'create' | 'action' | 'delete'; ref: Ref; location?: string; term?: string; source?: string; target?: string }
interface Answer { op: Op; status?: number; location?: string; state?: string; detail?: string }

const bodies: Record<Ref, (op: Op) => unknown> = {
  docker: () => ({ kind: INFRA + 'compute', mixins: [TPL + 'busybox'], attributes: { 'occitan.docker.command': ['sleep', '3600'], 'occi.compute.memory': 0.0625 } }),
  vm: () => ({ kind: INFRA + 'compute', attributes: { 'occi.compute.memory': 0.03125, 'occi.compute.cores': 1 } }),
  network: () => ({ kind: INFRA + 'network', mixins: ['https://occitan.dev/occi/ovs#network'], attributes: {} }),
  nic: (op) => ({ kind: INFRA + 'networkinterface', source: { location: op.source }, target: { location: op.target }, attributes: {} }),
};
const collection: Record<Ref, string> = { docker: '/compute/', vm: '/compute/', network: '/network/', nic: '/networkinterface/' };
const stateAttr: Record<Ref, string> = { docker: 'occi.compute.state', vm: 'occi.compute.state', network: 'occi.network.state', nic: 'occi.networkinterface.state' };

export class Chaos {
  private readonly inst: Instances;
  private readonly bridge = testBridge('occc');
  private readonly pool: string;
  private work = '';
  private cli = '';
  private store?: Proc;
  private server?: Proc;
  private base = '';
  private readonly procs: Proc[] = [];
  private readonly log: (line: string) => void;

  constructor(private readonly o: ChaosOptions) {
    const run = randomUUID().slice(0, 8);
    this.inst = { docker: `chaos-${run}`, libvirt: `chaos-${run}`, ovs: `chaos-${run}` };
    this.pool = `occitan-chaos-${run}`;
    this.log = o.log ?? ((line) => process.stdout.write(`${line}\n`));
  }

  private backendsFile(): string {
    const file = path.join(this.work, 'backends.json');
    const run = this.pool.slice('occitan-chaos-'.length);
    fs.writeFileSync(file, JSON.stringify({
      providers: {
        dummy: { backend: 'dummy' },
        docker: { backend: 'docker', options: { nodes: [{ id: 'local', endpoint: `unix://${SOCKET}` }], instance: this.inst.docker } },
        libvirt: { backend: 'libvirt', options: { uri: 'qemu:///system', pool: this.pool, poolPath: `/var/lib/occitan-test/libvirt/chaos-${run}`, instance: this.inst.libvirt } },
        ovs: { backend: 'ovs', options: { bridges: [this.bridge], instance: this.inst.ovs } },
      },
      kinds: {
        [INFRA + 'compute']: { providers: ['libvirt', 'docker'] },
        [INFRA + 'storage']: { providers: ['dummy'] },
        [INFRA + 'storagelink']: { providers: ['dummy'] },
        [INFRA + 'network']: { providers: ['ovs'] },
        [INFRA + 'networkinterface']: { providers: ['ovs'] },
      },
    }));
    return file;
  }

  private async serve(name: string): Promise<void> {
    const port = await freePort();
    const t = (ms: number): string => String(ms);
    this.server = await startProcess(name, this.cli, ['serve'], this.work, {
      ...serveEnv({ port, storeUrl: this.store!.announced, database: DB, dataDir: path.join(this.work, 'data'), backendsFile: path.join(this.work, 'backends.json') }),
      OCCITAN_TIMERS_LEASE_SWEEP: t(500),
      OCCITAN_TIMERS_RECOVERY_GRACE: t(this.o.recoveryGraceMs ?? 10_000),
      OCCITAN_TIMERS_DOCKER_STOP_TIMEOUT: t(1000),
      OCCITAN_TIMERS_DOCKER_REAP_GRACE: t(5000),
      OCCITAN_TIMERS_DOCKER_RECONCILE_PERIOD: t(1000),
      OCCITAN_TIMERS_LIBVIRT_STOP_TIMEOUT: t(1500),
      OCCITAN_TIMERS_LIBVIRT_REAP_GRACE: t(0),
    }, /occitan listening on (http:\/\/\S+)\n/);
    this.procs.push(this.server);
    this.base = this.server.announced;
  }

  private async call(method: string, url: string, body?: unknown): Promise<{ status: number; json: OcciAnswer['json']; location?: string }> {
    const res = await occiCall(this.base, method, url, body);
    const loc = res.headers.get('location');
    return { status: res.status, json: res.json, ...(loc ? { location: new URL(loc, this.base).pathname } : {}) };
  }

  async setup(): Promise<void> {
    await requireDocker();
    await requireOvs();
    await requireLibvirt();
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-chaos-'));
    const c = compile();
    this.cli = c.cli;
    this.backendsFile();
    this.store = await startProcess('store', this.cli, ['store', '--data-dir', path.join(this.work, 'store'), '--port', '0'], this.work, {}, /occitan store listening on (http:\/\/\S+)\n/);
    this.procs.push(this.store);
    await this.serve('serve-0');
    const tpl = await this.call('POST', '/-/', { mixins: [{
      term: 'busybox', scheme: TPL, title: 'busybox image', location: '/templates/os/busybox/',
      depends: [INFRA + 'os_tpl', 'https://occitan.dev/occi/docker#container'], applies: [INFRA + 'compute'],
      attributes: {
        'occitan.docker.image': { type: 'string', mutable: true, required: false, default: 'occitan/busybox:test' },
        'occitan.provider': { type: 'string', mutable: false, required: false, default: 'docker' },
      },
    }] });
    if (tpl.status !== 200) throw new Error(`the template was refused: ${tpl.status} ${JSON.stringify(tpl.json)}`);
    // The base every round starts from: one of each platform object.
    for (const ref of ['network', 'docker', 'docker', 'vm'] as const) {
      const r = await this.call('POST', collection[ref], bodies[ref]({ verb: 'create', ref }));
      if (r.status !== 201) throw new Error(`base ${ref} create answered ${r.status}: ${JSON.stringify(r.json)}`);
    }
  }

  /** Entities as the store has them now (settled ones), for the next round's operations. */
  private async known(): Promise<Known[]> {
    const docs = await storeDocs(this.store!.announced, DB);
    const out: Known[] = [];
    for (const d of docs) {
      if (d.status !== 'ready' || !d.location) continue;
      if (d.kind === INFRA + 'compute') out.push({ location: d.location, ref: d.provider === 'docker' ? 'docker' : 'vm' });
      else if (d.kind === INFRA + 'network') out.push({ location: d.location, ref: 'network' });
      else if (d.kind === INFRA + 'networkinterface') out.push({ location: d.location, ref: 'nic', source: d.source!, target: d.target! });
    }
    return out;
  }

  private plan(rand: () => number, known: readonly Known[], n: number): Op[] {
    const pick = <T>(xs: readonly T[]): T | undefined => (xs.length ? xs[Math.floor(rand() * xs.length)] : undefined);
    const of = (ref: Ref): Known[] => known.filter((k) => k.ref === ref);
    const ops: Op[] = [];
    const touched = new Set<string>();
    const free = (k: Known | undefined): k is Known => !!k && !touched.has(k.location);
    while (ops.length < n) {
      const r = rand();
      if (r < 0.2) ops.push({ verb: 'create', ref: 'docker' });
      else if (r < 0.32) ops.push({ verb: 'create', ref: 'vm' });
      else if (r < 0.4) ops.push({ verb: 'create', ref: 'network' });
      else if (r < 0.6) {
        const source = pick(of('docker'));
        const target = pick(of('network'));
        if (source && target) ops.push({ verb: 'create', ref: 'nic', source: source.location, target: target.location });
      } else if (r < 0.82) {
        // One action per entity and round: its acknowledged result is then the state to keep.
        const k = pick([...of('docker'), ...of('vm')]);
        if (free(k)) {
          touched.add(k.location);
          ops.push({ verb: 'action', ref: k.ref, location: k.location, term: pick(k.ref === 'docker' ? ['stop', 'start', 'restart'] : ['stop', 'start'])! });
        }
      } else {
        const k = pick(known.filter((x) => x.ref !== 'network' || of('network').length > 1));
        if (free(k)) {
          touched.add(k.location);
          ops.push({ verb: 'delete', ref: k.ref, location: k.location });
        }
      }
    }
    return ops;
  }

  private async send(op: Op): Promise<Answer> {
    const r = op.verb === 'create'
      ? await this.call('POST', collection[op.ref], bodies[op.ref](op))
      : op.verb === 'action' ? await this.call('POST', `${op.location}?action=${op.term}`) : await this.call('DELETE', op.location!);
    const a: Answer = { op, status: r.status };
    if (op.verb === 'create' && r.status === 201 && r.location) a.location = r.location;
    if (op.verb === 'action' && r.status === 200) a.state = field(r.json, 'attributes', stateAttr[op.ref]) as string;
    // A refusal is fine (409: the state forbids the action; 404: deleted meanwhile) but is shown.
    if (r.status >= 400) a.detail = `${op.verb} ${op.ref} ${op.location ?? ''} → ${r.status} ${String(field(r.json, 'error') ?? JSON.stringify(r.json)).slice(0, 200)}`;
    // A 5xx is a bug: show what the server logged for it (its stderr tail), so a run says why.
    if (r.status >= 500 && this.server) a.detail += `\n${this.server.output().split('\n').filter((l) => /error|Error|at /.test(l)).slice(-15).join('\n')}`;
    return a;
  }

  async round(i: number): Promise<RoundReport> {
    const rand = prng(this.o.seed * 1000 + i);
    const n = this.o.ops ?? 12;
    const ops = this.plan(rand, await this.known(), n);
    // After 1..n-WORKERS-1 answers (operations are still queued then), plus a seeded moment.
    const killAfter = 1 + Math.floor(rand() * Math.max(1, n - WORKERS - 1));
    const delay = Math.floor(rand() * 250);
    const answers: Answer[] = [];
    let killed = false;
    let next = 0;
    let answered = 0;
    let triggered: () => void = () => undefined;
    const trigger = new Promise<void>((resolve) => (triggered = resolve));
    const worker = async (): Promise<void> => {
      while (!killed && next < ops.length) {
        const op = ops[next++]!;
        try {
          const a = await this.send(op);
          if (!killed) {
            answers.push(a);
            if (++answered >= killAfter) triggered();
          } else answers.push({ op });
        } catch {
          answers.push({ op }); // the connection died with the process
        }
      }
      triggered();
    };
    const workers = Array.from({ length: WORKERS }, () => worker());
    await trigger;
    await sleep(delay);
    const answeredAtKill = answers.filter((a) => a.status !== undefined).length;
    killed = true;
    await killProcess(this.server!);
    await Promise.all(workers);
    const sent = answers.length;
    if (answeredAtKill >= ops.length) throw new Error(`round ${i}: every operation was answered before the kill (seed ${this.o.seed})`);

    await this.serve(`serve-${i + 1}`);
    const docs = await this.settle();
    const finalLook = await look(docs, this.inst);
    const statuses: Record<string, number> = {};
    for (const a of answers) statuses[String(a.status ?? 'cut')] = (statuses[String(a.status ?? 'cut')] ?? 0) + 1;
    const report: RoundReport = {
      round: i, planned: ops.length, sent, answeredAtKill, statuses,
      fiveXX: answers.filter((a) => (a.status ?? 0) >= 500).length,
      lost: this.lost(answers, docs), look: finalLook,
    };
    this.log(`chaos round ${i}: ${sent} sent, ${answeredAtKill} answered at the kill, statuses ${JSON.stringify(statuses)}; lost ${report.lost.length}, orphans ${finalLook.orphans.length}, missing ${finalLook.missing.length}, ghosts ${finalLook.ghosts.length}, unsettled ${finalLook.unsettled.length}`);
    for (const a of answers) if (a.detail) this.log(`  answered: ${a.detail}`);
    for (const line of [...report.lost, ...finalLook.orphans, ...finalLook.missing, ...finalLook.ghosts, ...finalLook.unsettled]) this.log(`  ${line}`);
    return report;
  }

  /** Bounded: until recovery has settled every document and the platforms agree; returns the documents. */
  private async settle(): Promise<StoreDoc[]> {
    const until = Date.now() + (this.o.settleBoundMs ?? 150_000);
    for (;;) {
      const docs = await storeDocs(this.store!.announced, DB);
      if (clean(await look(docs, this.inst)) || Date.now() > until) return docs;
      await sleep(1000);
    }
  }

  /** Acknowledged writes the store no longer reflects. */
  private lost(answers: readonly Answer[], docs: readonly StoreDoc[]): string[] {
    const byLocation = new Map(docs.filter((d) => d.location && d.status === 'ready').map((d) => [d.location!, d]));
    // Anything a delete was sent for (answered or not) may be gone, and so may the links of a deleted end.
    const deleted = new Set(answers.filter((a) => a.op.verb === 'delete').map((a) => a.op.location!));
    const out: string[] = [];
    for (const a of answers) {
      if (a.op.verb === 'create' && a.status === 201 && a.location) {
        if (deleted.has(a.location) || (a.op.source && deleted.has(a.op.source)) || (a.op.target && deleted.has(a.op.target))) continue;
        if (!byLocation.has(a.location)) out.push(`acknowledged create of ${a.location} (${a.op.ref}) is gone`);
      } else if (a.op.verb === 'delete' && a.status === 200) {
        if (byLocation.has(a.op.location!)) out.push(`acknowledged delete of ${a.op.location} is undone`);
      } else if (a.op.verb === 'action' && a.status === 200 && a.state !== undefined) {
        const d = byLocation.get(a.op.location!);
        const now = d?.attributes?.[stateAttr[a.op.ref]];
        if (d && now !== a.state) out.push(`acknowledged ${a.op.term} of ${a.op.location} answered ${a.state}; the store says ${String(now)}`);
      }
    }
    return out;
  }

  async run(): Promise<ChaosResult> {
    const started = Date.now();
    const rounds: RoundReport[] = [];
    for (let i = 1; i <= this.o.rounds; i++) rounds.push(await this.round(i));
    const sum = (f: (r: RoundReport) => number): number => rounds.reduce((s, r) => s + f(r), 0);
    // A disagreement that outlives its round is seen again by the next ones: each is counted once.
    const distinct = (f: (r: RoundReport) => readonly string[]): number => new Set(rounds.flatMap(f)).size;
    const result = {
      cases: sum((r) => r.sent),
      fiveXX: sum((r) => r.fiveXX),
      lost: distinct((r) => r.lost),
      orphans: distinct((r) => r.look.orphans),
      missing: distinct((r) => r.look.missing),
      ghosts: distinct((r) => r.look.ghosts),
      rounds,
    };
    const summary = `chaos: seed ${this.o.seed}, rounds ${rounds.length}, kills ${rounds.length}, cases ${result.cases}, 5xx ${result.fiveXX}, lost ${result.lost}, orphans ${result.orphans}, missing ${result.missing}, ghosts ${result.ghosts}, ${Math.round((Date.now() - started) / 1000)} s`;
    return { ...result, summary };
  }

  /** Stops every process, removes every object labelled for this run and every directory it made. */
  async teardown(): Promise<void> {
    for (const p of this.procs.reverse()) await stopProcess(p).catch(() => undefined);
    await removeEverything(this.inst, this.bridge, () => libvirtCleanup(this.inst.libvirt, this.pool));
    if (this.work) fs.rmSync(this.work, { recursive: true, force: true });
  }
}

/** Sets up, runs the rounds, always tears down; the summary is the last line logged. */
export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const chaos = new Chaos(o);
  try {
    await chaos.setup();
    const result = await chaos.run();
    (o.log ?? ((line: string) => process.stdout.write(`${line}\n`)))(result.summary);
    return result;
  } finally {
    await chaos.teardown();
  }
}
