/**
 * The GFD.224 compute actions on a container. A method Docker has no meaning for is 501 whatever the
 * state; then an action the state forbids is 409; repeating an action that is already done is a no-op.
 *
 * | action  | method                      | Docker                                        | accepted in                 |
 * |---------|-----------------------------|-----------------------------------------------|-----------------------------|
 * | start   | —                           | start (unpause when paused)                   | any state                   |
 * | stop    | graceful (default), acpioff | SIGTERM, SIGKILL after `dockerStopTimeout`    | any state                   |
 * | stop    | poweroff                    | SIGKILL                                       | any state                   |
 * | restart | graceful (default)          | stop as graceful, then start                  | active, error               |
 * | restart | warm, cold                  | 501: a container has no reboot of its own     |                             |
 * | suspend | suspend (default)           | pause (cgroup freezer)                        | active, suspended           |
 * | suspend | hibernate                   | 501: nothing to suspend to disk               |                             |
 *
 * Starting a container that was not running gives it a new network namespace, so start (from
 * inactive/error) and restart answer `runtimeChanged`: the service then re-realises its links.
 */
import type Dockerode from 'dockerode';
import { BadRequest, Conflict, NotImplemented } from '../../errors';
import type { Attributes, TypeId } from '../../model/types';
import { splitTypeId } from '../../model/types';
import type { Realised } from '../backend';
import { translateDockerError } from './client';
import type { Located } from './containers';
import { inspect, start, stop } from './containers';
import { computeState, realisedFrom } from './state';

export const COMPUTE_ACTIONS = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
export const ACTIONS: readonly TypeId[] = ['start', 'stop', 'restart', 'suspend'].map((t) => COMPUTE_ACTIONS + t);

const METHODS: Record<string, { allowed: readonly string[]; unsupported: readonly string[]; fallback: string }> = {
  stop: { allowed: ['graceful', 'acpioff', 'poweroff'], unsupported: [], fallback: 'graceful' },
  restart: { allowed: ['graceful'], unsupported: ['warm', 'cold'], fallback: 'graceful' },
  suspend: { allowed: ['suspend'], unsupported: ['hibernate'], fallback: 'suspend' },
};

function methodOf(term: string, params: Attributes): string | undefined {
  const rule = METHODS[term];
  const given = params['method'];
  if (!rule) return undefined;
  if (given === undefined) return rule.fallback;
  if (typeof given !== 'string') throw new BadRequest(`the method of ${term} must be a string; got ${JSON.stringify(given)}`);
  if (rule.unsupported.includes(given)) {
    throw new NotImplemented(`the docker provider cannot ${term} with method ${given}: a container has no such thing (use ${rule.allowed.join(' or ')})`);
  }
  if (!rule.allowed.includes(given)) throw new BadRequest(`unknown method ${JSON.stringify(given)} for ${term} (one of ${[...rule.allowed, ...rule.unsupported].join(', ')})`);
  return given;
}

export interface ActionOptions {
  /** Seconds between SIGTERM and SIGKILL of a graceful stop. */
  stopSeconds: number;
  location: string;
}

/** Performs `action` on the located container and answers its state afterwards. */
export async function performAction(found: Located, action: TypeId, params: Attributes, opts: ActionOptions): Promise<Realised> {
  const { scheme, term } = splitTypeId(action);
  if (scheme !== COMPUTE_ACTIONS || (!METHODS[term] && term !== 'start')) {
    throw new NotImplemented(`the docker provider cannot perform ${action}`);
  }
  const method = methodOf(term, params);
  const { node, info } = found;
  const c = node.docker.getContainer(info.Id);
  const before = computeState(info.State, info.HostConfig?.Memory || undefined).state;
  const what = (verb: string): string => `${verb} the container of ${opts.location}`;
  let runtimeChanged = false;

  switch (term) {
    case 'start':
      if (info.State.Paused) await call(() => c.unpause(), found, what('resume'));
      else if (!info.State.Running) {
        await start(node, c, what('start'));
        runtimeChanged = true;
      }
      break;
    case 'stop':
      if (!info.State.Running) break; // created, exited, dead: already stopped
      if (method === 'poweroff') await kill(found, c, what('power off'));
      else await stop(node, c, opts.stopSeconds, what('stop'));
      break;
    case 'restart':
      if (before !== 'active' && before !== 'error') {
        throw new Conflict(`${opts.location} is ${before}: only an active (or failed) compute restarts; ${before === 'suspended' ? 'start resumes it' : 'start it'}`);
      }
      await call(() => c.restart({ t: opts.stopSeconds }), found, what('restart'));
      runtimeChanged = true;
      break;
    case 'suspend':
      if (info.State.Paused) break;
      if (!info.State.Running) throw new Conflict(`${opts.location} is ${before}: only an active compute can be suspended`);
      await call(() => c.pause(), found, what('suspend'));
      break;
  }
  const after = await inspect(node, info.Id);
  if (!after) throw translateDockerError({ statusCode: 404, json: { message: `container ${info.Id} vanished` } }, node, what(term));
  return { ...realisedFrom(node.id, after), ...(runtimeChanged ? { runtimeChanged } : {}) };
}

async function call(f: () => Promise<unknown>, found: Located, what: string): Promise<void> {
  try {
    await f();
  } catch (e) {
    throw translateDockerError(e, found.node, what);
  }
}

/** SIGKILL; a paused container is killed too (Docker thaws it to deliver the signal). Waits until it is down. */
async function kill(found: Located, c: Dockerode.Container, what: string): Promise<void> {
  try {
    await c.kill({ signal: 'SIGKILL' });
  } catch (e) {
    const after = await inspect(found.node, found.info.Id);
    if (after && !after.State.Running) return; // it exited on its own meanwhile
    throw translateDockerError(e, found.node, what);
  }
  await call(() => c.wait({ condition: 'not-running' }), found, what);
}
