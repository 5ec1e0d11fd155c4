/**
 * The service file (Genisys `service_file`, backends.json `options.serviceFile`): services declared in
 * YAML, created at start-up when absent and updated to the file's definition when present (a changed
 * definition rolls the replicas onto it). Each becomes the entity `/services/<name>`.
 *
 *   web:                                # the service's name (Genisys "name")
 *     image: occitan/busybox:test       # with its tag (mandatory)
 *     command: sleep 3600               # a string (split on spaces) or a list
 *     environment: { GREETING: hello }
 *     ports: ["8080", "8081:80/tcp"]
 *     memory: 0.0625                    # GiB per replica (optional)
 *     scale: 1                          # replicas (optional: a service the file does not scale keeps its scale)
 *     tenant: default                   # optional: options.tenant otherwise
 *
 * The file is checked as a whole when the provider starts: a mistake leaves the provider out (or stops
 * start-up when it is not optional), naming the service and the field.
 */
import * as fs from 'node:fs';
import { load } from 'js-yaml';
import type { Attributes } from '../../model/types';
import { NAME } from './client';
import { SVC, definitionOf } from './service-spec';

export interface FileService {
  name: string;
  tenant?: string;
  attributes: Attributes;
}

const FIELDS = new Set(['name', 'image', 'command', 'environment', 'ports', 'memory', 'scale', 'tenant']);

export function parseServiceFile(text: string, source: string): FileService[] {
  // An empty file (or comments only) declares nothing; js-yaml refuses an empty document.
  if (text.split('\n').every((l) => /^\s*(#.*)?$/.test(l))) return [];
  let doc: unknown;
  try {
    doc = load(text, { filename: source });
  } catch (e) {
    throw new Error(`docker provider: service file ${source}: invalid YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`docker provider: service file ${source} must map service names to definitions`);
  const out: FileService[] = [];
  for (const [name, raw] of Object.entries(doc as Record<string, unknown>)) {
    const where = `docker provider: service file ${source}: service ${name}`;
    if (!NAME.test(name) || name.length > 200) throw new Error(`${where}: the name must be [A-Za-z0-9][A-Za-z0-9_.-]*`);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${where}: the definition must be a mapping (image, command, environment, ports)`);
    const d = raw as Record<string, unknown>;
    for (const k of Object.keys(d)) if (!FIELDS.has(k)) throw new Error(`${where}: unknown field ${k} (known: ${[...FIELDS].join(', ')})`);
    if (d['name'] !== undefined && d['name'] !== name) throw new Error(`${where}: name ${JSON.stringify(d['name'])} differs from its key`);
    const attributes: Attributes = { 'occi.core.id': name, 'occi.core.title': name, [SVC.name]: name };
    if (d['image'] !== undefined) attributes[SVC.image] = d['image'] as string;
    const command = d['command'];
    if (typeof command === 'string') attributes[SVC.command] = command.trim().split(/\s+/).filter(Boolean);
    else if (command !== undefined && command !== null) attributes[SVC.command] = command as string[];
    if (d['environment'] !== undefined && d['environment'] !== null) {
      const env = d['environment'] as Record<string, unknown>;
      // YAML reads `PORT: 8080` as a number; an environment value is text.
      attributes[SVC.environment] = typeof env === 'object' && !Array.isArray(env)
        ? Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'number' || typeof v === 'boolean' ? String(v) : (v as string)]))
        : (env as never);
    }
    if (d['ports'] !== undefined && d['ports'] !== null) {
      attributes[SVC.ports] = Array.isArray(d['ports']) ? d['ports'].map((p) => (typeof p === 'number' ? String(p) : p)) : (d['ports'] as never);
    }
    if (d['memory'] !== undefined) attributes[SVC.memory] = d['memory'] as number;
    if (d['scale'] !== undefined) attributes[SVC.scale] = d['scale'] as number;
    try {
      definitionOf(attributes);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    const tenant = d['tenant'];
    if (tenant !== undefined && (typeof tenant !== 'string' || !NAME.test(tenant))) throw new Error(`${where}: tenant must be a tenant name`);
    out.push({ name, ...(typeof tenant === 'string' ? { tenant } : {}), attributes });
  }
  return out;
}

export function readServiceFile(file: string): FileService[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`docker provider: cannot read service file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseServiceFile(text, file);
}
