/**
 * Open vSwitch through `ovs-vsctl` (10–30 ms a call here): every write is one transaction (`--` between
 * commands), every read asks for JSON and decodes the OVSDB encodings (`["set",[]]`, `["map",[[k,v]]]`,
 * `["uuid","…"]`). Ports occitan makes carry external_ids:
 *   occitan-instance  the occitan instance (options.instance): reconciliation touches only its own
 *   occitan-entity    the entity's internal id
 *   occitan-network   (interface ports) the network entity whose VLAN they carry
 *   occitan-admin     (network ports) the admin state asked for, re-applied after a vswitchd restart
 */
import { run, translate } from './exec';

export const EXT = {
  instance: 'occitan-instance',
  entity: 'occitan-entity',
  network: 'occitan-network',
  admin: 'occitan-admin',
} as const;

export type OvsValue = string | number | boolean | OvsValue[] | Map<string, OvsValue> | { uuid: string };

/** Decodes one OVSDB-encoded value (RFC 7047 §5.1). Sets become arrays, maps Maps. */
export function decode(v: unknown): OvsValue {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string') {
    const [tag, body] = v as [string, unknown];
    if (tag === 'set') return (body as unknown[]).map(decode);
    if (tag === 'map') return new Map((body as Array<[unknown, unknown]>).map(([k, val]) => [String(decode(k)), decode(val)]));
    if (tag === 'uuid' || tag === 'named-uuid') return { uuid: String(body) };
  }
  return v as OvsValue;
}

export type Row = Record<string, OvsValue>;

/** A single optional value (`["set",[]]` is absent). */
export function optional<T extends OvsValue>(v: OvsValue | undefined): T | undefined {
  if (Array.isArray(v)) return v.length ? (v[0] as T) : undefined;
  return v as T | undefined;
}

export function mapOf(v: OvsValue | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (v instanceof Map) for (const [k, val] of v) out.set(k, String(val));
  return out;
}

export function uuidOf(v: OvsValue | undefined): string | undefined {
  return v && typeof v === 'object' && 'uuid' in v ? v.uuid : undefined;
}

export interface PortRow {
  uuid: string;
  name: string;
  tag: number | undefined;
  externalIds: Map<string, string>;
}

export interface InterfaceRow {
  name: string;
  type: string;
  adminState: string | undefined;
  linkState: string | undefined;
  error: string | undefined;
}

/** Quotes a value for an ovs-vsctl argument (`key=value` with a string value). */
export function quoted(value: string): string {
  return JSON.stringify(value);
}

export class Vsctl {
  constructor(
    private readonly timeoutMs: number,
    private readonly db?: string,
  ) {}

  private prefix(): string[] {
    return [`--timeout=${Math.max(1, Math.ceil(this.timeoutMs / 1000))}`, ...(this.db ? [`--db=${this.db}`] : [])];
  }

  /** One ovs-vsctl invocation (one transaction); `what` is for messages. */
  async exec(args: readonly string[], what: string): Promise<string> {
    try {
      return await run('ovs-vsctl', [...this.prefix(), ...args], this.timeoutMs + 2000);
    } catch (e) {
      throw translate(e, 'ovs-vsctl', what);
    }
  }

  /** Exit status 2 means "no": br-exists. */
  async bridgeExists(name: string): Promise<boolean> {
    try {
      await run('ovs-vsctl', [...this.prefix(), 'br-exists', name], this.timeoutMs + 2000);
      return true;
    } catch (e) {
      if ((e as { code?: unknown }).code === 2) return false;
      throw translate(e, 'ovs-vsctl', `look for bridge ${name}`);
    }
  }

  async rows(args: readonly string[], what: string): Promise<Row[]> {
    const out = await this.exec(['--format=json', ...args], what);
    const parsed = JSON.parse(out || '{"data":[],"headings":[]}') as { data: unknown[][]; headings: string[] };
    return parsed.data.map((r) => Object.fromEntries(parsed.headings.map((h, i) => [h, decode(r[i])])));
  }

  /** Ports matching `conditions` (ovs-vsctl find syntax, e.g. `external_ids:occitan-entity=…`). */
  async findPorts(conditions: readonly string[], what: string): Promise<PortRow[]> {
    const rows = await this.rows(['--columns=_uuid,name,tag,external_ids', 'find', 'Port', ...conditions], what);
    return rows.map((r) => ({
      uuid: uuidOf(r['_uuid']) ?? '',
      name: String(r['name']),
      tag: optional<number>(r['tag']),
      externalIds: mapOf(r['external_ids']),
    }));
  }

  async port(name: string, what: string): Promise<PortRow | undefined> {
    return (await this.findPorts([`name=${quoted(name)}`], what))[0];
  }

  async iface(name: string, what: string): Promise<InterfaceRow | undefined> {
    const rows = await this.rows(['--columns=name,type,admin_state,link_state,error', 'find', 'Interface', `name=${quoted(name)}`], what);
    const r = rows[0];
    if (!r) return undefined;
    return {
      name: String(r['name']),
      type: String(r['type'] ?? ''),
      adminState: optional<string>(r['admin_state']),
      linkState: optional<string>(r['link_state']),
      error: optional<string>(r['error']),
    };
  }

  async portBridge(port: string, what: string): Promise<string> {
    return (await this.exec(['port-to-br', port], what)).trim();
  }

  async bridges(what: string): Promise<Array<{ name: string; externalIds: Map<string, string> }>> {
    const rows = await this.rows(['--columns=name,external_ids', 'list', 'Bridge'], what);
    return rows.map((r) => ({ name: String(r['name']), externalIds: mapOf(r['external_ids']) }));
  }
}
