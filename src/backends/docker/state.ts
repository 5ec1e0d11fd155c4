/**
 * What a live container says about its compute: the OCCI state (GFD.224 compute states), a message a
 * person can read, and the private ref. Pure.
 *
 * | Docker State.Status          | occi.compute.state | message                                    |
 * |------------------------------|--------------------|--------------------------------------------|
 * | running, restarting          | active             | running since …                            |
 * | paused                       | suspended          | paused (frozen)                            |
 * | created                      | inactive           | created, not started (or why start failed) |
 * | exited                       | inactive           | exited with code N at …                    |
 * | exited after OOM kill        | error              | killed: out of memory (limit …)            |
 * | dead, removing               | error              | what Docker says                           |
 *
 * The message is always set, so a stale one (an old error) never outlives the state it explained.
 */
import type Dockerode from 'dockerode';
import type { Attributes } from '../../model/types';
import type { Realised } from '../backend';
import { ATTR } from './spec';

/** The private handle of a compute on Docker: the network interface backend enters `netns`. */
export interface DockerRef {
  node: string;
  containerId: string;
  /** `/proc/<pid>/ns/net` of the container's init while it runs (as seen from the node's host). */
  netns?: string;
}

export type ComputeState = 'active' | 'inactive' | 'suspended' | 'error';

type InspectState = Pick<Dockerode.ContainerInspectInfo['State'], 'Status' | 'Running' | 'Paused' | 'OOMKilled' | 'Dead' | 'Pid' | 'ExitCode' | 'Error' | 'StartedAt' | 'FinishedAt'>;

/** Docker's zero time ("0001-01-01T00:00:00Z") means "never". */
function when(t: string | undefined): string | undefined {
  return t && !t.startsWith('0001-') ? t : undefined;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MiB`;
}

export function computeState(s: InspectState, memoryLimit?: number): { state: ComputeState; message: string } {
  switch (s.Status) {
    case 'running':
    case 'restarting': {
      const since = when(s.StartedAt);
      return { state: 'active', message: since ? `running since ${since}` : 'running' };
    }
    case 'paused':
      return { state: 'suspended', message: 'paused: its processes are frozen; start resumes it' };
    case 'created':
      return s.Error
        ? { state: 'error', message: `the container could not start: ${s.Error}` }
        : { state: 'inactive', message: 'created, not started' };
    case 'exited': {
      if (s.OOMKilled) {
        return { state: 'error', message: `killed: out of memory${memoryLimit ? ` (limit ${mib(memoryLimit)})` : ''}` };
      }
      if (s.Error) return { state: 'error', message: `the container stopped with an error: ${s.Error}` };
      const at = when(s.FinishedAt);
      return { state: 'inactive', message: `exited with code ${s.ExitCode}${at ? ` at ${at}` : ''}` };
    }
    case 'dead':
      return { state: 'error', message: `the container is dead (Docker could not remove or stop it cleanly)${s.Error ? `: ${s.Error}` : ''}` };
    case 'removing':
      return { state: 'error', message: 'the container is being removed' };
    default:
      return { state: 'error', message: `unknown container status ${JSON.stringify(s.Status)}` };
  }
}

/** The compute's runtime attributes and ref from `docker inspect` of its container. */
export function realisedFrom(node: string, info: Pick<Dockerode.ContainerInspectInfo, 'Id' | 'State' | 'HostConfig'>): Realised {
  const { state, message } = computeState(info.State, info.HostConfig?.Memory || undefined);
  const attributes: Attributes = { [ATTR.state]: state, [ATTR.message]: message };
  const ref: DockerRef = { node, containerId: info.Id };
  if (info.State.Running && info.State.Pid > 0) ref.netns = `/proc/${info.State.Pid}/ns/net`;
  return { attributes, ref };
}

/** A ref stored earlier, if it is one of ours. */
export function refOf(value: unknown): DockerRef | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<DockerRef>;
  return typeof r.node === 'string' && typeof r.containerId === 'string' ? (r as DockerRef) : undefined;
}
