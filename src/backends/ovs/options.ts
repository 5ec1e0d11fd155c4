/**
 * The ovs provider's entry in backends.json:
 *
 *   "ovs": { "backend": "ovs", "optional": true,
 *            "options": { "bridges": ["br-occi"], "datapathType": "netdev", "instance": "default",
 *                         "vlans": { "min": 2, "max": 4094 }, "db": "unix:/var/run/openvswitch/db.sock" } }
 *
 * bridges       the bridges networks may use; the first is the default. occitan creates one that is missing
 *               (with datapathType and its external_ids) and never removes a bridge.
 * datapathType  of the bridges occitan creates: netdev (userspace, no kernel module; the default) or system.
 * instance      written into external_ids and interface aliases; reconciliation touches only its own.
 * vlans         the range a network without occi.network.vlan gets its VLAN from.
 * db            ovs-vsctl's --db (default: ovs-vsctl's own default socket).
 */
import { BRIDGE_NAME, INSTANCE_NAME } from './names';

export interface OvsOptions {
  bridges: string[];
  datapathType: string;
  instance: string;
  vlans: { min: number; max: number };
  db?: string;
}

export const DEFAULT_INSTANCE = 'default';

/** Checks `options`; throws (leaving the provider out) with what is wrong. */
export function parseOptions(options: Readonly<Record<string, unknown>>): OvsOptions {
  const bridges = options['bridges'];
  if (!Array.isArray(bridges) || bridges.length === 0 || !bridges.every((b) => typeof b === 'string' && BRIDGE_NAME.test(b))) {
    throw new Error('ovs provider: options.bridges must list at least one bridge name (1 to 15 of [A-Za-z0-9_.-]), e.g. ["br-occi"]');
  }
  if (new Set(bridges).size !== bridges.length) throw new Error('ovs provider: options.bridges lists a bridge twice');
  const datapathType = options['datapathType'] ?? 'netdev';
  if (typeof datapathType !== 'string' || !/^[a-z][a-z0-9_-]{0,31}$/.test(datapathType)) {
    throw new Error('ovs provider: options.datapathType must be a datapath type such as netdev or system');
  }
  const instance = options['instance'] ?? DEFAULT_INSTANCE;
  if (typeof instance !== 'string' || !INSTANCE_NAME.test(instance)) throw new Error('ovs provider: options.instance must be a name ([A-Za-z0-9_.-], at most 64)');
  const vlans = (options['vlans'] ?? { min: 2, max: 4094 }) as { min?: unknown; max?: unknown };
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 4095;
  if (typeof vlans !== 'object' || vlans === null || !ok(vlans.min) || !ok(vlans.max) || vlans.min > vlans.max) {
    throw new Error('ovs provider: options.vlans must be { "min": m, "max": n } with 0 ≤ m ≤ n ≤ 4095');
  }
  const db = options['db'];
  if (db !== undefined && (typeof db !== 'string' || !/^(unix|tcp|ssl):\S+$/.test(db))) {
    throw new Error('ovs provider: options.db must be an OVSDB remote such as unix:/var/run/openvswitch/db.sock');
  }
  return { bridges: bridges as string[], datapathType, instance, vlans: { min: vlans.min, max: vlans.max }, ...(typeof db === 'string' ? { db } : {}) };
}
