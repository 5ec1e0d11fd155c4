/**
 * Reconciliation while occitan runs, on the real libvirtd (bash scripts/services.sh start libvirt): one
 * tiny VM made through OCCI, then changed behind occitan's back with virsh. libvirt's lifecycle events
 * must bring its occi.compute.state along (`virsh destroy` → inactive, `virsh start` → active, `virsh
 * undefine` → error with a message), within a bounded poll; the periodic refresh is set far out so only
 * the event stream can pass. A lost stream (its child killed, as when libvirtd goes away) is opened again.
 * Closing occitan leaves no `virsh event` child behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { libvirtFixture } from './libvirt-fixture';
import { domainOf, observedComputeState, virsh } from './libvirt-observer';

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const J = 'application/occi+json';
const fx = libvirtFixture();
let h: Harness | undefined;

function backendsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-backends-'));
  const file = path.join(dir, 'backends.json');
  fs.writeFileSync(file, JSON.stringify({
    providers: { libvirt: { backend: 'libvirt', options: fx.options } },
    kinds: { [INFRA + 'compute']: { providers: ['libvirt'] } },
  }));
  return file;
}

/** This process's children that run `virsh … event … lifecycle` (pids, from /proc). */
function eventChildren(): number[] {
  const found: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state, ppid, …
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (/virsh/.test(cmd) && / event /.test(cmd) && /lifecycle/.test(cmd)) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Polls GET `location` until `ok` holds on its attributes (bounded: 20 s); answers the last attributes. */
async function eventually(location: string, ok: (a: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let attributes: Record<string, unknown> = {};
  for (let i = 0; i < 200; i++) {
    attributes = (await h!.http.get(location).set('Accept', J)).body.attributes as Record<string, unknown>;
    if (ok(attributes)) return attributes;
    await new Promise((r) => setTimeout(r, 100));
  }
  return attributes;
}

beforeAll(async () => {
  await fx.setup();
  h = await startHarness({ backendsFile: backendsFile(), timers: { leaseSweep: 5000, libvirtStopTimeout: 1500, libvirtReapGrace: 60000, libvirtRefreshPeriod: 3_600_000 } });
});
afterAll(async () => {
  await h?.close();
  await fx.teardown();
});

describe('libvirt: compute state follows the domain while occitan runs', () => {
  it('virsh destroy → inactive, (stream lost and reopened) virsh start → active, virsh undefine → error; close leaves no virsh event child', async () => {
    const res = await h!.http.post('/compute/').set('Content-Type', J).set('Accept', J)
      .send(JSON.stringify({ kind: INFRA + 'compute', attributes: { 'occi.compute.memory': 0.03125, 'occi.compute.cores': 1 } }));
    expect(res.status).toBe(201);
    expect(res.body.attributes['occi.compute.state']).toBe('active');
    const location = new URL(res.headers.location as string).pathname;
    const domain = domainOf((await h!.occitan.service.get('default', location)).uid);
    expect(await observedComputeState(domain)).toBe('active');
    expect(eventChildren()).toHaveLength(1);

    await virsh(['destroy', domain]);
    expect(await eventually(location, (a) => a['occi.compute.state'] === 'inactive')).toEqual(expect.objectContaining({
      'occi.compute.state': 'inactive',
      'occi.compute.state.message': 'shut off (destroyed)',
    }));

    // The stream lost: a new child takes over, and follows what happened meanwhile.
    const [first] = eventChildren();
    process.kill(first!, 'SIGKILL');
    for (let i = 0; i < 100 && (eventChildren().length !== 1 || eventChildren()[0] === first); i++) await new Promise((r) => setTimeout(r, 100));
    expect(eventChildren()).toHaveLength(1);
    expect(eventChildren()).not.toContain(first);
    await virsh(['start', domain]);
    expect(await eventually(location, (a) => a['occi.compute.state'] === 'active')).toEqual(expect.objectContaining({ 'occi.compute.state': 'active' }));

    await virsh(['destroy', domain]);
    await virsh(['undefine', domain]);
    expect(await eventually(location, (a) => a['occi.compute.state'] === 'error')).toEqual(expect.objectContaining({
      'occi.compute.state': 'error',
      'occi.compute.state.message': expect.stringContaining(`its domain ${domain} is gone from libvirt at qemu:///system (removed outside occitan)`),
    }));

    await h!.close();
    h = undefined;
    expect(eventChildren()).toEqual([]);
  });
});
