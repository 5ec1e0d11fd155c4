/**
 * The libvirt provider's options (backends.json):
 *
 *   "libvirt": { "backend": "libvirt", "optional": true,
 *                "options": { "uri": "qemu:///system", "pool": "occitan", "poolPath": "/var/lib/occitan/images",
 *                             "instance": "default", "domainType": "auto" } }
 *
 * `pool` is a libvirt directory pool, defined (at `poolPath`) and started when missing. `instance` marks
 * what this occitan made (domain metadata, volume names): reconciliation touches only its own instance's.
 * `domainType` auto = `kvm` when the hypervisor offers it (a usable /dev/kvm), else `qemu` (TCG).
 */
import { INSTANCE_PATTERN } from './domain-xml';

export interface LibvirtOptions {
  uri: string;
  pool: string;
  poolPath: string;
  instance: string;
  domainType: 'auto' | 'kvm' | 'qemu';
}

export const DEFAULTS: LibvirtOptions = {
  uri: 'qemu:///system',
  pool: 'occitan',
  poolPath: '/var/lib/occitan/images',
  instance: 'default',
  domainType: 'auto',
};

/** Checks `options` from backends.json; throws (leaving the provider out) with what is wrong. */
export function parseOptions(options: Readonly<Record<string, unknown>>): LibvirtOptions {
  const known = Object.keys(DEFAULTS);
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new Error(`libvirt provider: unknown option ${k} (known: ${known.join(', ')})`);
  }
  const str = (k: keyof LibvirtOptions): string => {
    const v = options[k] ?? DEFAULTS[k];
    if (typeof v !== 'string' || v === '') throw new Error(`libvirt provider: options.${k} must be a non-empty string`);
    return v;
  };
  const uri = str('uri');
  if (!/^[a-z][a-z0-9+]*:\/\/[^\s]*$/.test(uri)) throw new Error(`libvirt provider: options.uri ${JSON.stringify(uri)} is not a libvirt URI (e.g. qemu:///system)`);
  const pool = str('pool');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(pool)) throw new Error('libvirt provider: options.pool must be a name ([A-Za-z0-9_.-])');
  const poolPath = str('poolPath');
  if (!poolPath.startsWith('/') || poolPath.split('/').includes('..')) throw new Error('libvirt provider: options.poolPath must be an absolute path');
  const instance = str('instance');
  if (!INSTANCE_PATTERN.test(instance) || instance.length > 40) {
    throw new Error('libvirt provider: options.instance must be a name of letters and digits, single . _ - inside (at most 40 characters)');
  }
  const domainType = str('domainType');
  if (domainType !== 'auto' && domainType !== 'kvm' && domainType !== 'qemu') throw new Error('libvirt provider: options.domainType must be auto, kvm or qemu');
  return { uri, pool, poolPath, instance, domainType };
}
