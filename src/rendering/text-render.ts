/**
 * Rendering shared by text/plain and text/occi: shapes become (header, value) lines, one value each;
 * text/plain writes them as body lines, text/occi folds them into comma-joined headers.
 */
import {
  CORE_ATTR,
  RESOURCE_KIND,
  type ActionLink,
  type AttributeDefs,
  type AttributeValue,
  type Category,
  type CategoryClass,
  type CategoryCollection,
  type EntityView,
  type TypeId,
} from '../model/types';
import { quote, renderAttribute, sanitize, type OcciHeader } from './header-grammar';

export type OutLine = readonly [header: OcciHeader, value: string];

/** `a b{immutable} c{required immutable}`: no properties means mutable and optional (GFD.185). */
export function attributeList(defs: AttributeDefs): string {
  return Object.entries(defs)
    .map(([name, d]) => {
      const props = [d.required ? 'required' : '', d.mutable ? '' : 'immutable'].filter((p) => p !== '');
      return props.length > 0 ? `${name}{${props.join(' ')}}` : name;
    })
    .join(' ');
}

/**
 * The full Category rendering of the query interface, parameters in ABNF order (erocci #15). A kind's
 * rel is its parent; a mixin's rel is only its first `depends` and `applies` is never rendered (GFD.229,
 * erocci #30). Empty parameters are left out.
 */
export function fullCategory(c: Category): string {
  const parts = [sanitize(c.term), `scheme=${quote(c.scheme)}`, `class="${c.class}"`];
  if (c.title) parts.push(`title=${quote(c.title)}`);
  const rel = c.class === 'kind' ? c.parent : c.class === 'mixin' ? c.depends[0] : undefined;
  if (rel) parts.push(`rel=${quote(rel)}`);
  const location = c.class === 'action' ? undefined : c.location;
  if (location) parts.push(`location=${quote(location)}`);
  const attributes = attributeList(c.attributes);
  if (attributes) parts.push(`attributes=${quote(attributes)}`);
  const actions = c.class === 'action' ? [] : c.actions;
  if (actions.length > 0) parts.push(`actions=${quote(actions.join(' '))}`);
  return parts.join('; ');
}

/** The short form used inside instance renderings: term, scheme and class only (spec §6.15). */
export function shortCategory(id: TypeId, cls: CategoryClass): string {
  const hash = id.lastIndexOf('#');
  return `${sanitize(id.slice(hash + 1))}; scheme=${quote(id.slice(0, hash + 1))}; class="${cls}"`;
}

/** Kinds, then mixins, then actions, one Category line each. */
export function categoryLines(collection: CategoryCollection): OutLine[] {
  return [...collection.kinds, ...collection.mixins, ...collection.actions].map((c) => ['Category', fullCategory(c)]);
}

const text = (v: AttributeValue | undefined): string => (typeof v === 'string' ? v : v === undefined ? '' : String(v));

/** An inline link of a resource: `<target>; rel; self; category` then the link's own (non-core) attributes. */
export function linkValue(link: EntityView): string {
  const target = text(link.attributes[CORE_ATTR.target]);
  const rel = text(link.attributes[CORE_ATTR.targetKind]) || RESOURCE_KIND;
  const parts = [`<${sanitize(target)}>`, `rel=${quote(rel)}`];
  if (link.location) parts.push(`self=${quote(link.location)}`);
  parts.push(`category=${quote([link.kind, ...link.mixins].join(' '))}`);
  for (const [name, value] of Object.entries(link.attributes)) {
    if (name.startsWith('occi.core.') || value === undefined || value === null) continue;
    parts.push(renderAttribute(name, value));
  }
  return parts.join('; ');
}

export function actionLinkValue(a: ActionLink): string {
  return `<${sanitize(a.href)}>; rel=${quote(a.action)}`;
}

/** `occi.core.id` first (readers look for it there), then the rest in the order given. */
export function orderedAttributes(attributes: EntityView['attributes']): Array<[string, AttributeValue]> {
  const entries = Object.entries(attributes).filter(([, v]) => v !== undefined && v !== null);
  const id = entries.filter(([k]) => k === CORE_ATTR.id);
  return [...id, ...entries.filter(([k]) => k !== CORE_ATTR.id)];
}

/**
 * resource_rendering = Category+ Link* Attribute*; link_rendering = Category+ ActionLink* Attribute*
 * (GFD.229 §Renderings). A link entity is recognised by its `occi.core.source`.
 */
export function entityLines(e: EntityView): OutLine[] {
  const lines: OutLine[] = [['Category', shortCategory(e.kind, 'kind')]];
  for (const m of e.mixins) lines.push(['Category', shortCategory(m, 'mixin')]);
  const isLink = Object.prototype.hasOwnProperty.call(e.attributes, CORE_ATTR.source);
  if (!isLink) for (const link of e.links ?? []) lines.push(['Link', linkValue(link)]);
  for (const a of e.actions) lines.push(['Link', actionLinkValue(a)]);
  for (const [name, value] of orderedAttributes(e.attributes)) lines.push(['X-OCCI-Attribute', renderAttribute(name, value)]);
  return lines;
}

/**
 * An X-OCCI-Location value. Readers split values on ',' (text/plain lines too), so a location holding
 * one is sent as `<…>`, which our parsers (and rOCCI's) strip again.
 */
export function locationValue(location: string): string {
  const l = sanitize(location);
  return l.includes(',') ? `<${l}>` : l;
}

export function locationLines(locations: readonly string[]): OutLine[] {
  return locations.map((l) => ['X-OCCI-Location', locationValue(l)]);
}
