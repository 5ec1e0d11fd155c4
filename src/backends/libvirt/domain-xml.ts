/**
 * From a compute entity to its libvirt domain XML, and from a storagelink to its disk XML: pure
 * functions, no I/O (test/unit/backends/libvirt-xml.test.ts). Everything that comes from a client is
 * XML-escaped (and stripped of characters XML 1.0 cannot carry); names come from occitan's internal ids.
 *
 * | OCCI                              | domain                                                         |
 * |-----------------------------------|----------------------------------------------------------------|
 * | occi.compute.memory (GiB)         | <memory unit='MiB'> (rounded to whole MiB, at least 1)         |
 * | occi.compute.cores                | <vcpu>                                                         |
 * | occi.compute.share (0 = default)  | <cputune><shares>                                              |
 * | occi.compute.architecture x64/x86 | <os><type arch='x86_64'/'i686'>                                 |
 * | occi.compute.hostname             | metadata only (the guest names itself)                         |
 * | occi.core.title                   | <title> (one line)                                             |
 * | mixin libvirt#console             | a pty serial port and its console                              |
 *
 * Every domain carries a virtio-scsi controller (disks appear as sdX, as DataCentred requires), no
 * graphics element (libvirt then runs QEMU with `-display none`; `type='none'` is rejected), and an
 * occitan metadata element naming its entity and occitan instance.
 */
import { BadRequest } from '../../errors';
import type { AttributeValue, Attributes } from '../../model/types';

export const LIBVIRT_SCHEME = 'https://occitan.dev/occi/libvirt#';
export const CONSOLE_MIXIN = LIBVIRT_SCHEME + 'console';
/** The namespace of occitan's metadata element in a domain (`virsh metadata <domain> METADATA_URI`). */
export const METADATA_URI = 'https://occitan.dev/occi/libvirt';
export const METADATA_KEY = 'occitan';

export const ATTR = {
  memory: 'occi.compute.memory',
  cores: 'occi.compute.cores',
  share: 'occi.compute.share',
  architecture: 'occi.compute.architecture',
  hostname: 'occi.compute.hostname',
  title: 'occi.core.title',
  state: 'occi.compute.state',
  message: 'occi.compute.state.message',
  console: 'occitan.libvirt.console',
} as const;

/** Memory of a compute that does not say (DataCentred's smallest machine). */
export const DEFAULT_MEMORY_MIB = 512;
const MAX_VCPUS = 255;

/** What occitan writes into a domain's metadata, and reads back at reconciliation. */
export interface DomainMetadata {
  id: string;
  instance: string;
  tenant: string;
  location: string;
  hostname?: string;
  /** When occitan defined the domain (ms since the epoch): young orphans are left to their creator. */
  created: number;
}

export interface DomainSpec {
  name: string;
  type: 'kvm' | 'qemu';
  arch: 'x86_64' | 'i686';
  memoryMiB: number;
  vcpus: number;
  shares?: number;
  title?: string;
  console: boolean;
  metadata: DomainMetadata;
  /** The install mixin's boot (osXml); absent: the domain boots from its first disk. */
  boot?: InstallBoot;
}

/** Characters XML 1.0 cannot carry at all (controls other than tab, newline, return; lone surrogates; U+FFFE/F). */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text or attribute content: the five markup characters escaped, characters XML cannot carry dropped. */
export function escapeXml(value: string): string {
  return value
    .replace(NOT_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** The inverse of escapeXml for the entities libvirt writes back (and numeric references). */
export function unescapeXml(value: string): string {
  return value.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'quot': return '"';
      case 'apos': return "'";
      case 'amp': return '&';
      default: return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

/** A short stable hash (FNV-1a, 32 bits, hex): names only, not security. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** An entity id as a name part: [A-Za-z0-9_.-] only, shortened with a hash of the whole when it would not fit. */
function namePart(entityId: string): string {
  const bare = entityId.replace(/^urn:uuid:/, '');
  const clean = bare.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '');
  if (clean === bare && clean.length > 0 && clean.length <= 80) return clean;
  return `${clean.slice(0, 60)}-${fnv1a(entityId)}`;
}

/** The domain of a compute: derived from occitan's internal id, never from the client's path. */
export function domainName(entityId: string): string {
  return `occitan-${namePart(entityId)}`;
}

/**
 * An occitan instance name as libvirt names carry it: separators single and inside, so that the first
 * `--` of a volume name ends the instance (volumeName) and no instance's prefix is another's.
 */
export const INSTANCE_PATTERN = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** The volume of a storage in the pool: `occitan-<instance>--<entity>.qcow2` (a volume has no metadata of its own). */
export function volumeName(entityId: string, instance: string): string {
  return `${volumePrefix(instance)}${namePart(entityId)}.qcow2`;
}

export function volumePrefix(instance: string): string {
  return `occitan-${instance}--`;
}

/** The user alias of a storagelink's disk (libvirt keeps `ua-` aliases; detach goes by it). */
export function diskAlias(linkId: string): string {
  return `ua-occitan-${namePart(linkId).replace(/\./g, '_')}`;
}

function numberOf(name: string, value: AttributeValue | undefined, check: (n: number) => boolean, rule: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new BadRequest(`${name} must be ${rule}; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** occi.compute.memory GiB → MiB (whole, at least 1). */
export function memoryMiB(attributes: Readonly<Attributes>): number {
  const gib = numberOf(ATTR.memory, attributes[ATTR.memory], (n) => n > 0, 'a number of GiB > 0');
  if (gib === undefined) return DEFAULT_MEMORY_MIB;
  const mib = Math.max(1, Math.round(gib * 1024));
  if (mib > 16 * 1024 * 1024) throw new BadRequest(`${ATTR.memory} ${gib} GiB is more than libvirt can describe (16 TiB)`);
  return mib;
}

export function vcpusOf(attributes: Readonly<Attributes>): number {
  return numberOf(ATTR.cores, attributes[ATTR.cores], (n) => Number.isInteger(n) && n >= 1 && n <= MAX_VCPUS, `an integer from 1 to ${MAX_VCPUS}`) ?? 1;
}

export function sharesOf(attributes: Readonly<Attributes>): number | undefined {
  const share = numberOf(ATTR.share, attributes[ATTR.share], (n) => Number.isInteger(n) && n >= 0 && n <= 262144, 'an integer from 0 to 262144');
  // 0 is "the default" to OCCI clients that send it.
  return share ? Math.max(2, share) : undefined;
}

export function archOf(attributes: Readonly<Attributes>): 'x86_64' | 'i686' {
  const a = attributes[ATTR.architecture];
  if (a === undefined || a === null || a === 'x64') return 'x86_64';
  if (a === 'x86') return 'i686';
  throw new BadRequest(`${ATTR.architecture} must be x64 or x86; got ${JSON.stringify(a)}`);
}

const HOSTNAME = /^(?=.{1,253}\.?$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function hostnameOf(attributes: Readonly<Attributes>): string | undefined {
  const h = attributes[ATTR.hostname];
  if (h === undefined || h === null || h === '') return undefined;
  if (typeof h !== 'string' || !HOSTNAME.test(h)) throw new BadRequest(`${ATTR.hostname} must be a DNS host name; got ${JSON.stringify(h)}`);
  return h;
}

/** A domain title is one line (libvirt refuses newlines); at most 256 characters of it. */
export function titleOf(attributes: Readonly<Attributes>): string | undefined {
  const t = attributes[ATTR.title];
  if (typeof t !== 'string') return undefined;
  const line = t.replace(NOT_XML, '').replace(/[\r\n\t]+/g, ' ').trim();
  return line ? Array.from(line).slice(0, 256).join('') : undefined;
}

export interface SpecInput {
  id: string;
  tenant: string;
  location: string;
  mixins: readonly string[];
  attributes: Readonly<Attributes>;
}

/** Validates the entity (400 naming the attribute) and gives the domain it becomes. */
export function domainSpec(entity: SpecInput, opts: { instance: string; type: 'kvm' | 'qemu'; created: number }): DomainSpec {
  const a = entity.attributes;
  const hostname = hostnameOf(a);
  const shares = sharesOf(a);
  const title = titleOf(a);
  return {
    name: domainName(entity.id),
    type: opts.type,
    arch: archOf(a),
    memoryMiB: memoryMiB(a),
    vcpus: vcpusOf(a),
    ...(shares !== undefined ? { shares } : {}),
    ...(title !== undefined ? { title } : {}),
    console: entity.mixins.includes(CONSOLE_MIXIN),
    metadata: {
      id: entity.id,
      instance: opts.instance,
      tenant: entity.tenant,
      location: entity.location,
      ...(hostname !== undefined ? { hostname } : {}),
      created: opts.created,
    },
  };
}

/** The body of occitan's metadata element (what `virsh metadata --set` takes, prefix added by libvirt). */
export function metadataElement(m: DomainMetadata, prefix = ''): string {
  const p = prefix ? `${prefix}:` : '';
  const field = (name: string, value: string | undefined): string => (value === undefined ? '' : `<${p}${name}>${escapeXml(value)}</${p}${name}>`);
  const ns = prefix ? ` xmlns:${prefix}="${METADATA_URI}"` : '';
  return (
    `<${p}entity${ns}>` +
    field('id', m.id) +
    field('instance', m.instance) +
    field('tenant', m.tenant) +
    field('location', m.location) +
    field('hostname', m.hostname) +
    field('created', new Date(m.created).toISOString()) +
    `</${p}entity>`
  );
}

/** Reads occitan's metadata element back (as `virsh metadata` or dumpxml prints it); undefined if absent or foreign. */
export function parseMetadata(xml: string): DomainMetadata | undefined {
  const field = (name: string): string | undefined => {
    const m = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}>([^<]*)</(?:[A-Za-z_][\\w.-]*:)?${name}>`).exec(xml);
    return m ? unescapeXml(m[1]!) : undefined;
  };
  const id = field('id');
  const instance = field('instance');
  if (!id || !instance) return undefined;
  const hostname = field('hostname');
  const created = Date.parse(field('created') ?? '');
  return {
    id,
    instance,
    tenant: field('tenant') ?? '',
    location: field('location') ?? '',
    ...(hostname ? { hostname } : {}),
    created: Number.isFinite(created) ? created : 0,
  };
}

/** The serial console device (a pty), as in the domain and for attach/detach-device. */
export const SERIAL_XML = "<serial type='pty'><target port='0'/></serial>";

export function domainXml(s: DomainSpec): string {
  const lines = [
    `<domain type='${s.type}'>`,
    `  <name>${escapeXml(s.name)}</name>`,
    ...(s.title !== undefined ? [`  <title>${escapeXml(s.title)}</title>`] : []),
    `  <metadata>${metadataElement(s.metadata, METADATA_KEY)}</metadata>`,
    `  <memory unit='MiB'>${s.memoryMiB}</memory>`,
    `  <currentMemory unit='MiB'>${s.memoryMiB}</currentMemory>`,
    `  <vcpu placement='static'>${s.vcpus}</vcpu>`,
    ...(s.shares !== undefined ? [`  <cputune><shares>${s.shares}</shares></cputune>`] : []),
    `  ${osXml(s.arch, s.boot)}`,
    `  <features><acpi/><apic/></features>`,
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>restart</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    `    <controller type='scsi' index='0' model='virtio-scsi'/>`,
    ...(s.console ? [`    ${SERIAL_XML}`, `    <console type='pty'><target type='serial' port='0'/></console>`] : []),
    `    <memballoon model='none'/>`,
    `  </devices>`,
    `</domain>`,
  ];
  return lines.join('\n') + '\n';
}

// --- the <os> element: plain, or the install mixin's boot (install.ts fetches what it names) ---------

/**
 * How a domain boots its installer (mixin libvirt#install). `kernel`: direct kernel boot from files in
 * occitan's pool (paths from `virsh vol-path`, never from a client), with the kernel command line.
 * `network`: the firmware PXE-boots from the domain's network interfaces first, then the first disk.
 */
export type InstallBoot =
  | { method: 'kernel'; kernel: string; initrd: string; cmdline: string }
  | { method: 'network' };

/** The domain's `<os>` element: `<boot dev='hd'/>` always last, so the installed system boots once the install boot is gone. */
export function osXml(arch: 'x86_64' | 'i686', boot?: InstallBoot): string {
  const parts = [`<type arch='${arch}'>hvm</type>`];
  if (boot?.method === 'kernel') {
    parts.push(`<kernel>${escapeXml(boot.kernel)}</kernel>`, `<initrd>${escapeXml(boot.initrd)}</initrd>`);
    if (boot.cmdline !== '') parts.push(`<cmdline>${escapeXml(boot.cmdline)}</cmdline>`);
  } else if (boot?.method === 'network') {
    parts.push(`<boot dev='network'/>`);
  }
  parts.push(`<boot dev='hd'/>`);
  return `<os>${parts.join('')}</os>`;
}

/** A storagelink's disk: an occitan volume (its path resolved from the pool, never given by a client) on the virtio-scsi bus. */
export function diskXml(d: { path: string; target: string; alias: string; format?: string }): string {
  if (!/^sd[a-z]{1,2}$/.test(d.target)) throw new BadRequest(`a disk target must be sdX (sda … sdzz); got ${JSON.stringify(d.target)}`);
  return (
    `<disk type='file' device='disk'>` +
    `<driver name='qemu' type='${escapeXml(d.format ?? 'qcow2')}'/>` +
    `<source file='${escapeXml(d.path)}'/>` +
    `<target dev='${d.target}' bus='scsi'/>` +
    `<alias name='${escapeXml(d.alias)}'/>` +
    `</disk>`
  );
}

/** sda, sdb, … sdz, sdaa, sdab, … (the Linux order). */
export function scsiTarget(index: number): string {
  let n = index;
  let s = '';
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return `sd${s}`;
}

/** The first sdX not in `used`. */
export function freeTarget(used: Iterable<string>): string {
  const taken = new Set(used);
  for (let i = 0; i < 702; i++) {
    const t = scsiTarget(i);
    if (!taken.has(t)) return t;
  }
  throw new BadRequest('no free disk target is left (sda … sdzz are all in use)');
}

/** A disk of a domain, as dumpxml shows it. */
export interface DiskInfo {
  target: string;
  source?: string;
  alias?: string;
}

/** The disks of a domain's XML (`virsh dumpxml [--inactive]`), in document order. */
export function parseDisks(xml: string): DiskInfo[] {
  const out: DiskInfo[] = [];
  for (const m of xml.matchAll(/<disk\b[^>]*>([\s\S]*?)<\/disk>/g)) {
    const body = m[1]!;
    const target = /<target\b[^>]*\bdev=(['"])([^'"]*)\1/.exec(body)?.[2];
    if (!target) continue;
    const source = /<source\b[^>]*\b(?:file|dev|volume)=(['"])([^'"]*)\1/.exec(body)?.[2];
    const alias = /<alias\b[^>]*\bname=(['"])([^'"]*)\1/.exec(body)?.[2];
    out.push({ target: unescapeXml(target), ...(source !== undefined ? { source: unescapeXml(source) } : {}), ...(alias !== undefined ? { alias: unescapeXml(alias) } : {}) });
  }
  return out;
}
