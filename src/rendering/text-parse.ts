/**
 * Parsing shared by text/plain and text/occi: both yield (header, value) lines; only where the lines
 * live differs. Lines are split into list elements here and turned into the request shapes of types.ts.
 */
import { ParseError } from '../errors';
import {
  CORE_ATTR,
  type ActionRequest,
  type AttributeDefs,
  type Attributes,
  type CategoryClass,
  type CategoryDefinition,
  type CategoryRef,
  type EntityRequest,
  type LinkRequest,
} from '../model/types';
import type { Parser, RequestInput } from './rendering';
import {
  ATTRIBUTE_NAME_RE,
  HEADER_VARIANTS,
  OCCI_HEADERS,
  TERM_RE,
  canonicalHeader,
  checkScheme,
  checkTypeId,
  checkUri,
  describe,
  fail,
  fromHeaderBytes,
  paramMap,
  parseAttribute,
  parseParams,
  splitList,
  typedValue,
  type OcciHeader,
  type Param,
} from './header-grammar';

/** One raw line: the header name as sent and its (possibly comma-joined) value. */
export type TextLine = readonly [name: string, value: string];

/** One list element of an OCCI header. */
export interface TextElement {
  header: OcciHeader;
  value: string;
}

const CLASSES: readonly CategoryClass[] = ['kind', 'mixin', 'action'];

/**
 * Splits lines into list elements. Other names are skipped for HTTP headers (`unknown: 'ignore'`)
 * and rejected in a text/plain body, where a misspelt `X-OCCI-Atribute` must not vanish silently.
 */
export function elementsOf(lines: Iterable<TextLine>, unknown: 'ignore' | 'error'): TextElement[] {
  const out: TextElement[] = [];
  for (const [name, value] of lines) {
    const header = canonicalHeader(name);
    if (header === undefined) {
      if (unknown === 'error') {
        throw new ParseError(
          `unknown line ${describe(name)}: expected Category, Link, X-OCCI-Attribute or X-OCCI-Location`,
        );
      }
      continue;
    }
    const parts = splitList(value, header, header === 'Link' || header === 'X-OCCI-Location');
    if (parts.length === 0) fail(header, 'empty value', value);
    for (const part of parts) out.push({ header, value: part });
  }
  return out;
}

/** The OCCI headers of a request as lines, in canonical order (lower-case keys, as Node gives them). */
export function headerLines(headers: RequestInput['headers']): TextLine[] {
  const lines: TextLine[] = [];
  for (const canonical of OCCI_HEADERS) {
    for (const variant of HEADER_VARIANTS[canonical]) {
      const raw = headers[variant];
      const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
      for (const v of values) lines.push([canonical, fromHeaderBytes(v)]);
    }
  }
  return lines;
}

/** A Category element with its parameters checked but not yet given a shape. */
export interface ParsedCategory {
  term: string;
  scheme: string;
  class?: CategoryClass;
  params: Map<string, Param>;
  whole: string;
}

export function parseCategory(value: string): ParsedCategory {
  const header = 'Category';
  const semi = value.indexOf(';');
  const term = (semi < 0 ? value : value.slice(0, semi)).trim();
  if (term === '') fail(header, 'missing term', value);
  if (!TERM_RE.test(term)) fail(header, `bad term '${term}'`, value);
  const params = paramMap(semi < 0 ? [] : parseParams(value.slice(semi + 1), header, value), header, value);
  const scheme = params.get('scheme');
  if (scheme === undefined) fail(header, `category '${term}' has no scheme`, value);
  checkScheme(scheme.value, header, value);
  const cls = params.get('class');
  if (cls !== undefined && !(CLASSES as readonly string[]).includes(cls.value)) {
    fail(header, `unknown class '${cls.value}' (expected kind, mixin or action)`, value);
  }
  const parsed: ParsedCategory = { term, scheme: scheme.value, params, whole: value };
  if (cls !== undefined) parsed.class = cls.value as CategoryClass;
  return parsed;
}

function toRef(c: ParsedCategory): CategoryRef {
  const ref: CategoryRef = { id: c.scheme + c.term };
  if (c.class !== undefined) ref.class = c.class;
  return ref;
}

/** Space-separated type identifiers (rel, actions, Link category). */
function typeIds(text: string, header: string, whole: string): string[] {
  return text
    .split(/\s+/)
    .filter((s) => s !== '')
    .map((id) => checkTypeId(id, header, whole));
}

/** `a b{immutable} c{required immutable}` → definitions; text knows no type, so every one is a string. */
export function parseAttributeList(text: string, header: string, whole: string): AttributeDefs {
  const defs: AttributeDefs = {};
  const re = /\s*([^\s{}]+)\s*(?:\{([^{}]*)\})?/y;
  let rest = text.trim();
  while (rest !== '') {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (m === null) fail(header, `bad attribute list '${text}'`, whole);
    const [all, name, props] = m;
    if (!ATTRIBUTE_NAME_RE.test(name)) fail(header, `bad attribute name '${name}'`, whole);
    let required = false;
    let immutable = false;
    for (const p of (props ?? '').split(/\s+/).filter((s) => s !== '')) {
      if (p === 'required') required = true;
      else if (p === 'immutable') immutable = true;
      else fail(header, `unknown attribute property '${p}' of '${name}'`, whole);
    }
    defs[name] = { type: 'string', mutable: !immutable, required };
    rest = rest.slice(all.length).trim();
  }
  return defs;
}

/** A full Category rendering (POST/DELETE `/-/`, or a `/-/` filter) as a definition. */
export function toDefinition(c: ParsedCategory): CategoryDefinition {
  const header = 'Category';
  const def: CategoryDefinition = { term: c.term, scheme: c.scheme };
  if (c.class !== undefined) def.class = c.class;
  const p = (key: string): string | undefined => c.params.get(key)?.value;
  const title = p('title');
  if (title !== undefined) def.title = title;
  const rel = p('rel');
  if (rel !== undefined) {
    const ids = typeIds(rel, header, c.whole);
    if (c.class === 'action') fail(header, 'an action category has no rel', c.whole);
    if (c.class === 'kind') {
      if (ids.length !== 1) fail(header, 'a kind has exactly one parent in rel', c.whole);
      def.parent = ids[0];
    } else if (ids.length > 0) {
      // A mixin's rel lists what it depends on; without a class we cannot tell, and depends is the list form.
      def.depends = ids;
    }
  }
  const location = p('location');
  if (location !== undefined) {
    if (c.class === 'action') fail(header, 'an action category has no location', c.whole);
    def.location = checkUri(location, header, c.whole);
  }
  const attributes = p('attributes');
  if (attributes !== undefined) def.attributes = parseAttributeList(attributes, header, c.whole);
  const actions = p('actions');
  if (actions !== undefined) {
    if (c.class === 'action') fail(header, 'an action category has no actions', c.whole);
    def.actions = typeIds(actions, header, c.whole);
  }
  return def;
}

/** A Link element; undefined for an action link, which describes the server and means nothing in a request. */
export function parseLink(value: string): LinkRequest | undefined {
  const header = 'Link';
  if (!value.startsWith('<')) fail(header, 'target must be enclosed in <…>', value);
  const close = value.indexOf('>');
  if (close < 0) fail(header, "unterminated '<'", value);
  const target = checkUri(value.slice(1, close).trim(), header, value, 'target');
  if (target.includes('?action=')) return undefined;
  const params = paramMap(parseParams(value.slice(close + 1), header, value), header, value);
  const rel = params.get('rel');
  if (rel === undefined) fail(header, 'link has no rel', value);
  const relIds = typeIds(rel.value, header, value);
  if (relIds.length === 0) fail(header, 'empty rel', value);
  const link: LinkRequest = { categories: [], attributes: {} };
  const attributes: Attributes = {};
  for (const [key, p] of params) {
    if (key === 'rel') continue;
    if (key === 'self') link.location = checkUri(p.value, header, value);
    else if (key === 'category') {
      link.categories = typeIds(p.value, header, value).map((id, i) => ({ id, class: i === 0 ? 'kind' : 'mixin' }));
    } else {
      if (!ATTRIBUTE_NAME_RE.test(key)) fail(header, `bad attribute name '${key}'`, value);
      attributes[key] = typedValue(p.value, p.quoted);
    }
  }
  attributes[CORE_ATTR.target] = target;
  attributes[CORE_ATTR.targetKind] = relIds[0];
  link.attributes = attributes;
  return link;
}

function attributesOf(elements: readonly TextElement[]): Attributes {
  const attributes: Attributes = {};
  for (const e of elements) {
    if (e.header !== 'X-OCCI-Attribute') continue;
    const [name, value] = parseAttribute(e.value);
    if (Object.prototype.hasOwnProperty.call(attributes, name)) {
      fail('X-OCCI-Attribute', `attribute '${name}' given twice`, e.value);
    }
    attributes[name] = value;
  }
  return attributes;
}

const categoriesOf = (elements: readonly TextElement[]): ParsedCategory[] =>
  elements.filter((e) => e.header === 'Category').map((e) => parseCategory(e.value));

/** A text body describes one entity, so this is always a one-element list (empty input: an empty request). */
export function entityRequestOf(elements: readonly TextElement[]): EntityRequest[] {
  const links: LinkRequest[] = [];
  for (const e of elements) {
    if (e.header !== 'Link') continue;
    const link = parseLink(e.value);
    if (link !== undefined) links.push(link);
  }
  return [{ categories: categoriesOf(elements).map(toRef), attributes: attributesOf(elements), links }];
}

export function actionRequestOf(elements: readonly TextElement[]): ActionRequest {
  const categories = categoriesOf(elements);
  const request: ActionRequest = { attributes: attributesOf(elements) };
  if (categories.length > 1) {
    fail('Category', 'an action invocation names one action', categories.map((c) => c.whole).join(', '));
  }
  const [c] = categories;
  if (c !== undefined) {
    if (c.class !== undefined && c.class !== 'action') fail('Category', `expected class "action", got "${c.class}"`, c.whole);
    request.action = c.scheme + c.term;
  }
  return request;
}

export function locationsOf(elements: readonly TextElement[]): string[] {
  return elements
    .filter((e) => e.header === 'X-OCCI-Location')
    .map((e) => {
      const loc = e.value.startsWith('<') && e.value.endsWith('>') ? e.value.slice(1, -1).trim() : e.value;
      return checkUri(loc, 'X-OCCI-Location', e.value);
    });
}

/** A Parser over any source of text lines: text/plain reads its body, text/occi its headers. */
export function textParser(read: (input: RequestInput) => TextElement[]): Parser {
  return {
    parseEntities: (input) => entityRequestOf(read(input)),
    parseCategories: (input) => categoriesOf(read(input)).map(toDefinition),
    parseCategoryRefs: (input) => categoriesOf(read(input)).map(toRef),
    parseAction: (input) => actionRequestOf(read(input)),
    parseLocations: (input) => locationsOf(read(input)),
  };
}
