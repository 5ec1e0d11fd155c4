/**
 * The rules every attribute definition of a category obeys (a bad one is a CategoryGraphError): its name's
 * charset, its pattern a usable JSON Schema, its default of its type and fitting its pattern, and one
 * attribute name keeping one type wherever it is defined. Also the `occi.` attribute namespace and the OGF
 * scheme base that only the OCCI specifications may use (manager.ts refuses them in user mixins). Pure.
 */
import Ajv from 'ajv';
import { checkDefault } from '../model/attributes';
import type { AttributeDef, Category, TypeId } from '../model/types';
import { categoryId } from '../model/types';
import { CategoryGraphError } from './graph-error';

/** Attribute names follow the OCCI 1.2 term syntax (GFD.229 ABNF `term`; builtin.ts's TERM_RE). */
const ATTRIBUTE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** GFD.221 §Category: this scheme base belongs to the OCCI specifications; providers MUST NOT use it. */
export const RESERVED_SCHEME_BASE = 'http://schemas.ogf.org/occi/';
/** GFD.221 §Attribute: the `occi.` attribute namespace belongs to the OCCI specifications. */
export const RESERVED_ATTRIBUTE_PREFIX = 'occi.';

export function isReservedScheme(scheme: string): boolean {
  // The host is case-insensitive, and https names the same base.
  return /^https?:\/\/schemas\.ogf\.org\/occi\//i.test(scheme);
}

export function isReservedAttribute(name: string): boolean {
  return name.toLowerCase().startsWith(RESERVED_ATTRIBUTE_PREFIX);
}

function matchesType(value: unknown, type: AttributeDef['type']): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

/** Only checks patterns against the JSON Schema meta-schema (validateSchema compiles and caches nothing). */
const metaAjv = new Ajv({ strict: false, validateFormats: false });

/** Why a pattern is not a usable JSON Schema, or undefined. `$schema` (draft-04, as the spec suggests) is ignored. */
function patternProblem(pattern: NonNullable<AttributeDef['pattern']>): string | undefined {
  const { $schema: _ignored, ...schema } = pattern;
  if (!metaAjv.validateSchema(schema)) return metaAjv.errorsText(metaAjv.errors, { dataVar: 'pattern' });
  const walk = (s: unknown): string | undefined => {
    if (Array.isArray(s)) return s.map(walk).find((x) => x !== undefined);
    if (typeof s !== 'object' || s === null) return undefined;
    for (const [key, value] of Object.entries(s)) {
      if (key === 'pattern' && typeof value === 'string') {
        try {
          new RegExp(value, 'u');
        } catch (e) {
          return `invalid regular expression ${JSON.stringify(value)}: ${e instanceof Error ? e.message : String(e)}`;
        }
      } else if (key !== 'enum' && key !== 'const' && key !== 'default') {
        const problem = walk(value);
        if (problem !== undefined) return problem;
      }
    }
    return undefined;
  };
  return walk(schema);
}

/** Checks the attribute definitions of one category alone: names, patterns, defaults. */
export function checkAttributes(c: Category): void {
  const id = categoryId(c);
  for (const [name, def] of Object.entries(c.attributes)) {
    if (!ATTRIBUTE_NAME_RE.test(name)) {
      throw new CategoryGraphError('attribute-name', id, `attribute name "${name}" breaks the charset [A-Za-z0-9][A-Za-z0-9._-]*`);
    }
    const problem = def.pattern === undefined ? undefined : patternProblem(def.pattern);
    if (problem !== undefined) throw new CategoryGraphError('attribute-pattern', id, `attribute ${name}: pattern is not a valid JSON Schema: ${problem}`);
    if (def.default === undefined) continue;
    if (!matchesType(def.default, def.type)) {
      throw new CategoryGraphError('attribute-default', id, `attribute ${name}: default ${JSON.stringify(def.default)} is not of type ${def.type}`);
    }
    try {
      checkDefault(name, def);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new CategoryGraphError('attribute-default', id, `default does not fit its pattern: ${why}`);
    }
  }
}

/**
 * Attributes of one name agree wherever they are defined: entities of different kinds and mixins share
 * the flat attribute namespace, and a mixin redefining an attribute contributes only its default
 * (CategoryIndex.attributeDefs). So each of `added`'s definitions must have the type of every other
 * definition in `added` ∪ `others`, and its default must fit each of them (type and pattern). Action
 * parameters are exempt (GFD.221: namespace rules do not apply to actions).
 */
export function checkAttributeAgreement(added: readonly Category[], others: readonly Category[]): void {
  const defined = new Map<string, Array<{ by: TypeId; def: AttributeDef }>>();
  for (const c of [...others, ...added]) {
    if (c.class === 'action') continue;
    for (const [name, def] of Object.entries(c.attributes)) {
      const list = defined.get(name) ?? [];
      if (!list.some((d) => d.def === def)) list.push({ by: categoryId(c), def });
      defined.set(name, list);
    }
  }
  for (const c of added) {
    if (c.class === 'action') continue;
    const id = categoryId(c);
    for (const [name, def] of Object.entries(c.attributes)) {
      for (const other of defined.get(name) ?? []) {
        if (other.def === def) continue;
        if (other.def.type !== def.type) {
          throw new CategoryGraphError('attribute-type', id, `attribute ${name} is of type ${def.type}, but ${other.by} defines it as ${other.def.type}`);
        }
        if (def.default === undefined) continue;
        try {
          checkDefault(name, { ...other.def, default: def.default });
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          throw new CategoryGraphError('attribute-default', id, `default of attribute ${name} does not fit ${other.by}'s definition: ${why}`);
        }
      }
    }
  }
}

/** Checks the attribute definitions of `added` alone (names, patterns, defaults) and their agreement with `others`. */
export function checkCategoryAttributes(added: readonly Category[], others: readonly Category[]): void {
  for (const c of added) checkAttributes(c);
  checkAttributeAgreement(added, others);
}
