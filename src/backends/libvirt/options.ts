/**
 * The libvirt provider's options (backends.json):
 *
 *   "libvirt": { "backend": "libvirt", "optional": true,
 *                "options": { "uri": "qemu:///system", "pool": "occitan", "poolPath": "/var/lib/occitan/images",
 *                             "instance": "default", "domainType": "auto",
 *                             "installHosts": ["deb.debian.org"], "installMaxBytes": 536870912 } }
 *
 * `pool` is a libvirt directory pool, defined (at `poolPath`) and started when missing. `instance` marks
 * what this occitan made (domain metadata, volume names): reconciliation touches only its own instance's.
 * `domainType` auto = `kvm` when the hypervisor offers it (a usable /dev/kvm), else `qemu` (TCG).
 * `installHosts`: the hosts (names or IP literals, any port) the install mixin may fetch kernels and
 * initrds from, and nothing else (install.ts); none by default. `installMaxBytes`: the most one such file
 * may weigh (512 MiB).
 */
import { INSTANCE_PATTERN } from './domain-xml';
import { normalHost } from './install';

export interface LibvirtOptions {
  uri: string;
  pool: string;
  poolPath: string;
  instance: string;
  domainType: 'auto' | 'kvm' | 'qemu';
  installHosts: string[];
  installMaxBytes: number;
}

export const DEFAULTS: LibvirtOptions = {
  uri: 'qemu:///system',
  pool: 'occitan',
  poolPath: '/var/lib/occitan/images',
  instance: 'default',
  domainType: 'auto',
  installHosts: [],
  installMaxBytes: 512 * 1024 * 1024,
};

/** Checks `options` from backends.json; throws (leaving the provider out) with what is wrong. */
export function parseOptions(options: Readonly<Record<string, unknown>>): LibvirtOptions {
  const known = Object.keys(DEFAULTS);
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new Error(`libvirt provider: unknown option ${k} (known: ${known.join(', ')})`);
  }
  const str = (k: Exclude<keyof LibvirtOptions, 'installHosts' | 'installMaxBytes'>): string => {
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
  const { installHosts, installMaxBytes } = parseInstallOptions(options);
  return { uri, pool, poolPath, instance, domainType, installHosts, installMaxBytes };
}

/** installHosts: host names or IP literals (stored normalised: lower case, no brackets or trailing dot). */
function parseInstallOptions(options: Readonly<Record<string, unknown>>): Pick<LibvirtOptions, 'installHosts' | 'installMaxBytes'> {
  const hosts = options['installHosts'] ?? DEFAULTS.installHosts;
  const host = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[?[0-9A-Fa-f:.]+\]?)$/;
  if (!Array.isArray(hosts) || !hosts.every((h): h is string => typeof h === 'string' && host.test(h))) {
    throw new Error('libvirt provider: options.installHosts must be a list of host names or IP addresses (no scheme, port or path)');
  }
  const max = options['installMaxBytes'] ?? DEFAULTS.installMaxBytes;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw new Error('libvirt provider: options.installMaxBytes must be a whole number of bytes > 0');
  // As URLs spell them (127.1 is 127.0.0.1, IPv6 compressed), so that the comparison with a URL's host holds.
  const asUrlHost = (h: string): string => normalHost(new URL(`http://${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}/`).hostname);
  try {
    return { installHosts: hosts.map(asUrlHost), installMaxBytes: max };
  } catch {
    throw new Error('libvirt provider: options.installHosts must be a list of host names or IP addresses (no scheme, port or path)');
  }
}
