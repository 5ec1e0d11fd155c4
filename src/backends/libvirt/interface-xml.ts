/**
 * From a networkinterface link to a virtual machine's interface XML, and back from libvirt's XML: pure
 * functions, no I/O (test/unit/backends/libvirt-xml.test.ts). Kept apart from domain-xml.ts, whose
 * generator does not know about interfaces: every interface is attached as a device of its own.
 *
 * | OCCI / occitan                             | <interface type='bridge'>                                 |
 * |--------------------------------------------|-----------------------------------------------------------|
 * | the target network's bridge (its ovs ref)  | <source bridge='…'/>                                      |
 * | the target network's VLAN                  | <vlan><tag id='N'/></vlan> (libvirt sets the port's tag)  |
 * | the link's internal id                     | <virtualport type='openvswitch'> interfaceid: a UUID v5 of it (OVS Interface external_ids:iface-id) |
 * | occi.networkinterface.mac (else derived)   | <mac address='…'/>                                        |
 * | occi.networkinterface.interface (reported) | <target dev='ol…'/>: the host's tap, the OVS port's name  |
 * | the link's internal id                     | <alias name='ua-occitan-…'/> (what detach goes by)        |
 *
 * The model is virtio. Names derive from occitan's internal ids (never a client's path), so a port on
 * the switch is recognisable as a libvirt interface of occitan's (`ol` + 11 hex digits, 13 characters:
 * the kernel allows 15; libvirt keeps a target dev that does not start with vnet/vif/macvtap/macvlan).
 */
import { createHash } from 'node:crypto';
import { BadRequest } from '../../errors';
import { diskAlias, escapeXml, unescapeXml } from './domain-xml';

export const NIC_ATTR = {
  interface: 'occi.networkinterface.interface',
  mac: 'occi.networkinterface.mac',
  state: 'occi.networkinterface.state',
  message: 'occi.networkinterface.state.message',
} as const;

/** The tap / OVS port of a link: `ol<11 hex>` (the ovs provider's own are on/ov/oc). */
export const TAP_NAME = /^ol[0-9a-f]{11}$/;

/** A kernel interface name (bridges are interface names too). */
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;

export function tapName(linkId: string): string {
  return `ol${createHash('sha256').update(linkId).digest('hex').slice(0, 11)}`;
}

/** The user alias of a link's interface (the same form as a disk's: both are `ua-occitan-<link>`). */
export function interfaceAlias(linkId: string): string {
  return diskAlias(linkId);
}

/** RFC 4122 URL namespace: interface ids are UUID v5 of the link's URL-like name, stable across re-creates. */
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** The openvswitch virtualport's interfaceid of a link (OVS shows it as external_ids:iface-id). */
export function interfaceIdFor(linkId: string): string {
  const ns = Buffer.from(URL_NAMESPACE.replace(/-/g, ''), 'hex');
  const bytes = createHash('sha1').update(ns).update(`https://occitan.dev/occi/libvirt/interface/${linkId}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A locally administered unicast MAC derived from the link id: a re-created interface keeps it. */
export function vmMacFor(linkId: string): string {
  const bytes = createHash('sha256').update(`vm-mac:${linkId}`).digest().subarray(0, 6);
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** A unicast MAC, lower case; 400 naming the attribute otherwise. */
export function checkMac(value: unknown): string {
  if (typeof value !== 'string' || !MAC.test(value)) throw new BadRequest(`${NIC_ATTR.mac} must be a MAC address like 52:54:00:12:34:56; got ${JSON.stringify(value)}`);
  const mac = value.toLowerCase();
  if (parseInt(mac.slice(0, 2), 16) & 1) throw new BadRequest(`${NIC_ATTR.mac} ${value} is a multicast address; an interface needs a unicast one`);
  if (mac === '00:00:00:00:00:00') throw new BadRequest(`${NIC_ATTR.mac} cannot be 00:00:00:00:00:00`);
  return mac;
}

/** What a network realised by the ovs provider carries in its ref: the bridge, the VLAN and its own port. */
export interface OvsNetworkRef {
  bridge: string;
  vlan: number;
  port: string;
}

/** The ovs network ref of a link's target, checked; undefined when the target is not such a network. */
export function ovsNetworkOf(ref: unknown): OvsNetworkRef | undefined {
  if (typeof ref !== 'object' || ref === null) return undefined;
  const r = ref as Partial<OvsNetworkRef>;
  if (typeof r.bridge !== 'string' || !IFNAME.test(r.bridge)) return undefined;
  if (typeof r.vlan !== 'number' || !Number.isInteger(r.vlan) || r.vlan < 0 || r.vlan > 4095) return undefined;
  if (typeof r.port !== 'string' || !IFNAME.test(r.port)) return undefined;
  return { bridge: r.bridge, vlan: r.vlan, port: r.port };
}

export interface InterfaceSpec {
  mac: string;
  bridge: string;
  vlan: number;
  interfaceId: string;
  dev: string;
  alias: string;
}

export function interfaceXml(s: InterfaceSpec): string {
  if (!IFNAME.test(s.bridge)) throw new BadRequest(`a bridge name must be 1 to 15 of [A-Za-z0-9_.-]; got ${JSON.stringify(s.bridge)}`);
  if (!Number.isInteger(s.vlan) || s.vlan < 0 || s.vlan > 4095) throw new BadRequest(`a VLAN must be an integer from 0 to 4095; got ${JSON.stringify(s.vlan)}`);
  if (!TAP_NAME.test(s.dev)) throw new BadRequest(`an interface's tap must be named ol + 11 hex digits; got ${JSON.stringify(s.dev)}`);
  return (
    `<interface type='bridge'>` +
    `<mac address='${checkMac(s.mac)}'/>` +
    `<source bridge='${escapeXml(s.bridge)}'/>` +
    `<vlan><tag id='${s.vlan}'/></vlan>` +
    `<virtualport type='openvswitch'><parameters interfaceid='${escapeXml(s.interfaceId)}'/></virtualport>` +
    `<target dev='${s.dev}'/>` +
    `<model type='virtio'/>` +
    `<alias name='${escapeXml(s.alias)}'/>` +
    `</interface>`
  );
}

/** An interface of a domain, as dumpxml shows it. */
export interface InterfaceInfo {
  type: string;
  mac?: string;
  bridge?: string;
  vlan?: number;
  virtualport?: string;
  interfaceId?: string;
  dev?: string;
  alias?: string;
  /** From <link state='…'/>: absent means up. */
  link: 'up' | 'down';
}

/** The interfaces of a domain's XML (`virsh dumpxml [--inactive]`), in document order. */
export function parseInterfaces(xml: string): InterfaceInfo[] {
  const out: InterfaceInfo[] = [];
  const attr = (body: string, re: RegExp): string | undefined => {
    const m = re.exec(body);
    return m ? unescapeXml(m[2]!) : undefined;
  };
  for (const m of xml.matchAll(/<interface\b([^>]*)>([\s\S]*?)<\/interface>/g)) {
    const head = m[1]!;
    const body = m[2]!;
    const type = /\btype=(['"])([^'"]*)\1/.exec(head)?.[2] ?? '';
    const mac = attr(body, /<mac\b[^>]*\baddress=(['"])([^'"]*)\1/);
    const bridge = attr(body, /<source\b[^>]*\bbridge=(['"])([^'"]*)\1/);
    const tag = attr(body, /<vlan\b[^>]*>\s*<tag\b[^>]*\bid=(['"])([^'"]*)\1/);
    const virtualport = attr(body, /<virtualport\b[^>]*\btype=(['"])([^'"]*)\1/);
    const interfaceId = attr(body, /<parameters\b[^>]*\binterfaceid=(['"])([^'"]*)\1/);
    const dev = attr(body, /<target\b[^>]*\bdev=(['"])([^'"]*)\1/);
    const alias = attr(body, /<alias\b[^>]*\bname=(['"])([^'"]*)\1/);
    const link = attr(body, /<link\b[^>]*\bstate=(['"])([^'"]*)\1/) === 'down' ? 'down' : 'up';
    out.push({
      type,
      ...(mac !== undefined ? { mac: mac.toLowerCase() } : {}),
      ...(bridge !== undefined ? { bridge } : {}),
      ...(tag !== undefined && /^\d+$/.test(tag) ? { vlan: Number(tag) } : {}),
      ...(virtualport !== undefined ? { virtualport } : {}),
      ...(interfaceId !== undefined ? { interfaceId } : {}),
      ...(dev !== undefined ? { dev } : {}),
      ...(alias !== undefined ? { alias } : {}),
      link,
    });
  }
  return out;
}
