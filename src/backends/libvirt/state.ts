/**
 * What libvirt says about a domain, as OCCI compute state (GFD.224) with a message a person can read.
 * Pure: `virsh domstate --reason` and dominfo's "Managed save" in, state out.
 *
 * | virsh domstate (reason)              | managed save | occi.compute.state | message                                   |
 * |--------------------------------------|--------------|--------------------|-------------------------------------------|
 * | running, blocked, idle               |              | active             | running (reason)                          |
 * | in shutdown                          |              | active             | shutting down                             |
 * | paused, pmsuspended                  |              | suspended          | paused (reason): start resumes it         |
 * | shut off                             | yes          | suspended          | hibernated: start restores it             |
 * | shut off (crashed), crashed          |              | error              | the guest crashed …                       |
 * | shut off (other reasons)             | no           | inactive           | shut off (reason)                         |
 * | anything else                        |              | error              | what libvirt says                         |
 */
export type ComputeState = 'active' | 'inactive' | 'suspended' | 'error';

export interface DomainStatus {
  /** libvirt's state word(s): running, paused, shut off, crashed, pmsuspended, in shutdown, blocked, idle. */
  state: string;
  reason: string;
  managedSave: boolean;
}

/** Parses `virsh domstate --reason` output: "shut off (destroyed)". */
export function parseDomstate(out: string, managedSave = false): DomainStatus {
  const line = out.trim().split('\n')[0]?.trim() ?? '';
  const m = /^(.*?)\s*\(([^)]*)\)\s*$/.exec(line);
  return { state: (m ? m[1]! : line).toLowerCase(), reason: (m ? m[2]! : '').toLowerCase(), managedSave };
}

/** Parses `virsh dominfo` into its "Key: value" pairs. */
export function parseDominfo(out: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) info[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return info;
}

export function computeState(s: DomainStatus): { state: ComputeState; message: string } {
  const why = s.reason && s.reason !== 'unknown' ? ` (${s.reason})` : '';
  switch (s.state) {
    case 'running':
    case 'blocked':
    case 'idle':
      return { state: 'active', message: `running${why}` };
    case 'in shutdown':
      return { state: 'active', message: 'shutting down' };
    case 'paused':
      return { state: 'suspended', message: `paused${why}: its virtual CPUs are stopped; start resumes it` };
    case 'pmsuspended':
      return { state: 'suspended', message: 'suspended by its guest (power management); start wakes it' };
    case 'shut off':
      if (s.managedSave) return { state: 'suspended', message: 'hibernated: its memory is saved to disk; start restores it' };
      if (s.reason === 'crashed') return { state: 'error', message: 'the guest crashed and its domain was stopped; start boots it again' };
      if (s.reason === 'failed') return { state: 'error', message: 'the domain failed to start; see the libvirt log of its domain' };
      return { state: 'inactive', message: `shut off${why}` };
    case 'crashed':
      return { state: 'error', message: `the guest crashed${why}; start boots it again` };
    default:
      return { state: 'error', message: `libvirt reports the domain as ${JSON.stringify(s.state + why)}` };
  }
}
