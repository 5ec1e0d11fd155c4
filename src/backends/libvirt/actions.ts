/**
 * The GFD.224 compute actions on a domain. An unknown method is 400; then an action the state forbids
 * is 409; repeating an action that is already done is a no-op. `T` is `libvirtStopTimeout` (10 s).
 *
 * | action  | method                      | libvirt                                                        | accepted in        |
 * |---------|-----------------------------|----------------------------------------------------------------|--------------------|
 * | start   | —                           | start (restores a managed save), resume when paused, wake      | any state          |
 * | stop    | graceful (default), acpioff | shutdown (acpioff: --mode acpi), destroy if still up after T   | any state          |
 * | stop    | poweroff                    | destroy; a hibernated domain's saved memory is dropped         | any state          |
 * | restart | graceful (default)          | reboot, reset when no reboot event came within T               | active, error      |
 * | restart | warm, cold                  | reset                                                          | active, error      |
 * | suspend | suspend (default)           | suspend (pause the virtual CPUs)                                | active, suspended  |
 * | suspend | hibernate                   | managedsave --running (memory to disk, start restores it)      | active, suspended  |
 *
 * A guest with no OS never answers ACPI: the timeout path is what makes stop and restart finish. A
 * graceful restart watches libvirt's reboot event: the watcher (`virsh event`) proves it is listening by
 * seeing a metadata-change event occitan makes, and only then is the reboot asked for.
 */
import { spawn } from 'node:child_process';
import { BadRequest, Conflict, NotImplemented } from '../../errors';
import type { Attributes, TypeId } from '../../model/types';
import { splitTypeId } from '../../model/types';
import type { BackendEntity, Realised } from '../backend';
import type { Domains, LiveDomain } from './domains';
import { computeState } from './state';
import type { Virsh } from './virsh';
import { VirshError, translateVirshError } from './virsh';

export const COMPUTE_ACTIONS = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
export const ACTIONS: readonly TypeId[] = ['start', 'stop', 'restart', 'suspend'].map((t) => COMPUTE_ACTIONS + t);

const METHODS: Record<string, { allowed: readonly string[]; fallback: string }> = {
  stop: { allowed: ['graceful', 'acpioff', 'poweroff'], fallback: 'graceful' },
  restart: { allowed: ['graceful', 'warm', 'cold'], fallback: 'graceful' },
  suspend: { allowed: ['suspend', 'hibernate'], fallback: 'suspend' },
};

function methodOf(term: string, params: Attributes): string | undefined {
  const rule = METHODS[term];
  if (!rule) return undefined;
  const given = params['method'];
  if (given === undefined) return rule.fallback;
  if (typeof given !== 'string' || !rule.allowed.includes(given)) {
    throw new BadRequest(`unknown method ${JSON.stringify(given)} for ${term} (one of ${rule.allowed.join(', ')})`);
  }
  return given;
}

export interface ActionDeps {
  virsh: Virsh;
  domains: Domains;
  stopTimeoutMs: number;
  /** Polling interval while waiting for a state. */
  pollMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function performAction(deps: ActionDeps, entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
  const { scheme, term } = splitTypeId(action);
  if (scheme !== COMPUTE_ACTIONS || (!METHODS[term] && term !== 'start')) throw new NotImplemented(`the libvirt provider cannot perform ${action}`);
  const method = methodOf(term, params);
  const { virsh, domains } = deps;
  const live = await domains.mustLive(entity);
  const name = live.name;
  const s = live.status;
  const before = computeState(s).state;
  const run = (args: string[], verb: string): Promise<string> => virsh.call(args, `${verb} the domain of ${entity.location}`);

  switch (term) {
    case 'start':
      if (s.state === 'paused') await run(['resume', name], 'resume');
      else if (s.state === 'pmsuspended') await run(['dompmwakeup', name], 'wake');
      else if (s.state === 'crashed') {
        await run(['destroy', name], 'clear');
        await run(['start', name], 'start');
      } else if (s.state === 'shut off') await run(['start', name], 'start');
      break;
    case 'stop':
      if (s.state === 'shut off') {
        // A hibernated compute stops for good: its saved memory is dropped.
        if (s.managedSave) await run(['managedsave-remove', name], 'drop the saved memory of');
        break;
      }
      if (method === 'poweroff' || s.state === 'crashed') await destroy(deps, name, entity);
      else await gracefulStop(deps, live, method === 'acpioff', entity);
      break;
    case 'restart':
      if (before !== 'active' && before !== 'error') {
        throw new Conflict(`${entity.location} is ${before}: only an active (or failed) compute restarts; ${before === 'suspended' ? 'start resumes it' : 'start it'}`);
      }
      if (s.state === 'crashed' || s.state === 'shut off') {
        if (s.state === 'crashed') await destroy(deps, name, entity);
        await run(['start', name], 'start');
      } else if (method === 'graceful') await gracefulReboot(deps, name, entity);
      else await run(['reset', name], 'reset');
      break;
    case 'suspend':
      if (before === 'suspended' && (method === 'suspend' || s.state === 'shut off')) break;
      if (before !== 'active' && before !== 'suspended') throw new Conflict(`${entity.location} is ${before}: only an active compute can be suspended`);
      if (method === 'hibernate') await run(['managedsave', name, '--running'], 'hibernate');
      else await run(['suspend', name], 'suspend');
      break;
  }
  return domains.realised(entity, await domains.mustLive(entity));
}

async function destroy(deps: ActionDeps, name: string, entity: BackendEntity): Promise<void> {
  try {
    await deps.virsh.run(['destroy', name]);
  } catch (e) {
    if (e instanceof VirshError && /not running|not active/i.test(e.message)) return; // it went down on its own
    throw translateVirshError(e, deps.virsh, `power off the domain of ${entity.location}`);
  }
}

/** Waits until the domain is shut off, at most `ms`; true when it is. */
async function waitShutOff(deps: ActionDeps, name: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    const live = await deps.domains.live(name);
    if (!live || live.status.state === 'shut off') return true;
    if (Date.now() >= end) return false;
    await sleep(Math.min(deps.pollMs ?? 100, Math.max(1, end - Date.now())));
  }
}

async function gracefulStop(deps: ActionDeps, live: LiveDomain, acpi: boolean, entity: BackendEntity): Promise<void> {
  const name = live.name;
  // A paused guest cannot hear the request: it runs again first.
  if (live.status.state === 'paused') await deps.virsh.call(['resume', name], `resume the domain of ${entity.location}`);
  try {
    await deps.virsh.run(['shutdown', name, ...(acpi ? ['--mode', 'acpi'] : [])]);
  } catch (e) {
    if (!(e instanceof VirshError && /not running|not active/i.test(e.message))) throw translateVirshError(e, deps.virsh, `shut down the domain of ${entity.location}`);
  }
  if (await waitShutOff(deps, name, deps.stopTimeoutMs)) return;
  await destroy(deps, name, entity);
}

/** Reboot through the guest; reset when the guest did not reboot within the stop timeout. */
async function gracefulReboot(deps: ActionDeps, name: string, entity: BackendEntity): Promise<void> {
  const { virsh } = deps;
  const what = `restart the domain of ${entity.location}`;
  const seconds = Math.ceil(deps.stopTimeoutMs / 1000) + 10;
  const watcher = spawn('virsh', ['-c', virsh.uri, 'event', '--domain', name, '--all', '--loop', '--timeout', String(seconds)], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  let seen = '';
  let exited = false;
  watcher.stdout.on('data', (d: Buffer) => (seen += d.toString('utf8')));
  watcher.on('exit', () => (exited = true));
  watcher.on('error', () => (exited = true));
  const probe = ['metadata', name, 'https://occitan.dev/occi/libvirt/probe', '--key', 'occitanprobe', '--live'];
  try {
    // 1. Until the watcher sees a change occitan makes, it may not be listening yet.
    const ready = Date.now() + 5000;
    let listening = false;
    for (let n = 0; !exited && Date.now() < ready; n++) {
      await virsh.call([...probe, '--set', `<probe n="${n}"/>`], what);
      await sleep(50);
      if (seen.includes("event 'metadata-change'")) {
        listening = true;
        break;
      }
    }
    await virsh.run([...probe, '--remove']).catch(() => undefined);
    await virsh.call(['reboot', name], what);
    // 2. The guest reboots, or the timeout passes (a guest with no OS never does).
    const end = Date.now() + deps.stopTimeoutMs;
    while (listening && !exited && !seen.includes("event 'reboot'") && Date.now() < end) await sleep(Math.min(deps.pollMs ?? 100, Math.max(1, end - Date.now())));
    if (listening && seen.includes("event 'reboot'")) return;
    if (!listening) await sleep(deps.stopTimeoutMs); // no watcher: give the guest its time, then reset
    await virsh.call(['reset', name], `reset the domain of ${entity.location}`);
  } finally {
    if (!exited) watcher.kill('SIGTERM');
  }
}
