/**
 * Compares two V8 heap snapshots (the soak's SOAK_HEAP_SNAPSHOTS start/end): objects and self sizes per
 * constructor name (node type + name), sorted by the growth of the self size. A diagnostic, not a test:
 *   node -r ts-node/register/transpile-only test/soak/heap-diff.ts start.heapsnapshot end.heapsnapshot [top]
 */
import * as fs from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Tally {
  count: number;
  bytes: number;
}

/** Count and self size per `type:name` (strings and code are grouped by type only). */
export function tally(file: string): Map<string, Tally> {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byName = new Map<string, Tally>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? '?';
    const named = type === 'object' || type === 'closure' || type === 'native' || type === 'synthetic';
    const name = named ? snap.strings[snap.nodes[i + nameAt]!]! : type === 'array' || type === 'hidden' ? `${type}:${snap.strings[snap.nodes[i + nameAt]!]!.slice(0, 60)}` : type;
    const key = named ? `${type}:${name}` : name;
    const t = byName.get(key) ?? { count: 0, bytes: 0 };
    t.count++;
    t.bytes += snap.nodes[i + sizeAt]!;
    byName.set(key, t);
  }
  return byName;
}

function main(): void {
  const [startFile, endFile, topRaw] = process.argv.slice(2);
  if (!startFile || !endFile) throw new Error('usage: heap-diff.ts start.heapsnapshot end.heapsnapshot [top]');
  const top = Number(topRaw ?? 25);
  const start = tally(startFile);
  const end = tally(endFile);
  const rows = [...new Set([...start.keys(), ...end.keys()])].map((key) => {
    const a = start.get(key) ?? { count: 0, bytes: 0 };
    const b = end.get(key) ?? { count: 0, bytes: 0 };
    return { key, count: b.count - a.count, bytes: b.bytes - a.bytes, endCount: b.count };
  });
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  process.stdout.write(`total self-size growth ${(total / 1048576).toFixed(1)} MiB\n`);
  for (const r of rows.slice(0, top)) {
    process.stdout.write(`${(r.bytes / 1048576).toFixed(2).padStart(8)} MiB  ${String(r.count).padStart(9)} objs (end ${r.endCount})  ${r.key}\n`);
  }
}

if (require.main === module) main();
