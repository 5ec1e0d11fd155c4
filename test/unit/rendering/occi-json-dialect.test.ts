/**
 * The pyOCNI normalisation rules (json-dialect.ts) and the parsers' smaller choices: empty bodies,
 * dispatch between single entities and collections, link extras, purity of the normalisers.
 */
import {
  flattenAttributeDescriptions,
  flattenEntityAttributes,
  normaliseActionInvocation,
  normaliseDescription,
  normaliseEntity,
  normaliseTypeId,
} from '../../../src/rendering/json-dialect';
import { locateJsonError, parseJsonBody } from '../../../src/rendering/json-body';
import { occiJson } from '../../../src/rendering/occi-json';
import { INFRA, req } from './occi-json-fixtures';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe('type ids', () => {
  test('whitespace is removed; other values untouched', () => {
    expect(normaliseTypeId('http: //schemas.ogf.org/occi/infrastructure#compute')).toBe(INFRA + 'compute');
    expect(normaliseTypeId(' http://a#b\n')).toBe('http://a#b');
    expect(normaliseTypeId(5)).toBe(5);
  });

  test('attribute values that look like ids keep their spaces', () => {
    const [e] = occiJson.parseEntities(req('{"attributes":{"occi.storagelink.deviceid":"ide: 0: 1"}}'));
    expect(e.attributes['occi.storagelink.deviceid']).toBe('ide: 0: 1');
  });
});

describe('entity attribute flattening', () => {
  test('a dotted key keeps an object value (GFD.226 §5.8)', () => {
    expect(flattenEntityAttributes({ 'com.example.occi.templates.myosmixin': { mykey: 'myvalue' } }, '/attributes')).toEqual({
      'com.example.occi.templates.myosmixin': { mykey: 'myvalue' },
    });
  });

  test('a dot-less key with a scalar is kept (action parameters)', () => {
    expect(flattenEntityAttributes({ method: 'graceful' }, '/attributes')).toEqual({ method: 'graceful' });
  });

  test('nesting is flattened down to scalars, arrays and empty objects', () => {
    expect(
      flattenEntityAttributes({ occi: { compute: { cores: 2, tags: ['a'], extra: {} } }, org: { x: { 'y.z': 1 } } }, '/attributes'),
    ).toEqual({ 'occi.compute.cores': 2, 'occi.compute.tags': ['a'], 'occi.compute.extra': {}, 'org.x.y.z': 1 });
  });

  test('a dot-less key with an empty object is a value', () => {
    expect(flattenEntityAttributes({ empty: {} }, '/attributes')).toEqual({ empty: {} });
  });

  test('the same attribute nested and flat with the same value is accepted', () => {
    expect(flattenEntityAttributes({ occi: { compute: { cores: 2 } }, 'occi.compute.cores': 2 }, '/attributes')).toEqual({
      'occi.compute.cores': 2,
    });
  });

  test('non-objects are left for the schema to report', () => {
    expect(flattenEntityAttributes([1], '/attributes')).toEqual([1]);
  });
});

describe('attribute description flattening', () => {
  test('flat GFD.226 names and pyOCNI nesting give the same names', () => {
    const nested = flattenAttributeDescriptions({ occi: { compute: { cores: { type: 'number' } } } }, '/attributes');
    const flat = flattenAttributeDescriptions({ 'occi.compute.cores': { type: 'number' } }, '/attributes');
    expect(nested).toEqual({ 'occi.compute.cores': { type: 'number' } });
    expect(flat).toEqual(nested);
  });

  test('an empty object, or one with only scalar members, is a description (unknown keys dropped)', () => {
    expect(flattenAttributeDescriptions({ occi: { a: {}, b: { minimum: '1', maximum: '255' } } }, '/attributes')).toEqual({
      'occi.a': {},
      'occi.b': {},
    });
  });

  test('a nesting level may hold attributes named like description keys', () => {
    expect(
      flattenAttributeDescriptions({ occi: { net: { type: { type: 'string' }, name: { mutable: true } } } }, '/attributes'),
    ).toEqual({ 'occi.net.type': { type: 'string' }, 'occi.net.name': { mutable: true } });
  });

  test('a description with an object pattern or default is not descended into', () => {
    const d = { type: 'object', default: { k: { v: 1 } }, pattern: { type: 'object' } };
    expect(flattenAttributeDescriptions({ 'x.y': d }, '/attributes')).toEqual({ 'x.y': d });
  });

  test('parameters named like description keys are fine in the flat form', () => {
    const [c] = occiJson.parseCategories(req('{"actions":[{"term":"a","scheme":"s#","attributes":{"default":{"type":"boolean"},"pattern":{}}}]}'));
    expect(c.attributes).toEqual({
      default: { type: 'boolean', mutable: false, required: false },
      pattern: { type: 'string', mutable: false, required: false },
    });
  });
});

describe('description normalisation', () => {
  test('ERE string pattern → JSON schema', () => {
    expect(normaliseDescription({ type: 'string', pattern: 'a|b' }, '')).toEqual({ type: 'string', pattern: { type: 'string', pattern: 'a|b' } });
    expect(normaliseDescription({ pattern: 'a|b' }, '')).toEqual({ pattern: { type: 'string', pattern: 'a|b' } });
    expect(normaliseDescription({ type: 'number', pattern: '^[0-9]+$' }, '')).toEqual({ type: 'number', pattern: { pattern: '^[0-9]+$' } });
  });

  test('"integer" → number with an integer pattern, merged into an object pattern', () => {
    expect(normaliseDescription({ type: 'integer' }, '')).toEqual({ type: 'number', pattern: { type: 'integer' } });
    expect(normaliseDescription({ type: 'integer', pattern: { minimum: 0 } }, '')).toEqual({
      type: 'number',
      pattern: { minimum: 0, type: 'integer' },
    });
    const [c] = occiJson.parseCategories(req(`{"kinds":[{"attributes":{"occi.compute.cores":{"type":"integer","default":2}}}]}`));
    expect(c.attributes).toEqual({
      'occi.compute.cores': { type: 'number', mutable: false, required: false, default: 2, pattern: { type: 'integer' } },
    });
  });
});

describe('normalisers are pure', () => {
  test('inputs are not mutated', () => {
    const entity = deepFreeze({
      kind: 'http: //a#b',
      actions: [{ href: '/x' }],
      attributes: { occi: { compute: { cores: 1 } } },
      links: [{ target: '/n/1', kind: 'http: //a#l' }],
    });
    expect(normaliseEntity(entity, '')).toEqual({
      kind: 'http://a#b',
      attributes: { 'occi.compute.cores': 1 },
      links: [{ target: { location: '/n/1' }, kind: 'http://a#l' }],
    });
    const action = deepFreeze({ actions: ['http: //a#start'], attributes: { method: 'x' } });
    expect(normaliseActionInvocation(action)).toEqual({ action: 'http://a#start', attributes: { method: 'x' } });
  });
});

describe('empty bodies', () => {
  test.each(['', '  \n', '{}', '\ufeff{}'])('%j', (text) => {
    expect(occiJson.parseEntities(req(text))).toEqual([{ categories: [], attributes: {}, links: [] }]);
    expect(occiJson.parseCategories(req(text))).toEqual([]);
    expect(occiJson.parseCategoryRefs(req(text))).toEqual([]);
    expect(occiJson.parseAction(req(text))).toEqual({ attributes: {} });
    expect(occiJson.parseLocations(req(text))).toEqual([]);
  });

  test('an empty collection is no entity', () => {
    expect(occiJson.parseEntities(req('{"resources":[]}'))).toEqual([]);
  });
});

describe('entity dispatch and extras', () => {
  test('{"links":[…]} alone is a link collection; with other members it is a resource', () => {
    expect(occiJson.parseEntities(req('{"links":[{"kind":"http://a#l","target":"/n/1"}]}'))).toEqual([
      { categories: [{ id: 'http://a#l', class: 'kind' }], attributes: { 'occi.core.target': '/n/1' }, links: [] },
    ]);
    const [r] = occiJson.parseEntities(req('{"kind":"http://a#r","links":[{"target":"/n/1"}]}'));
    expect(r.links).toEqual([{ categories: [], attributes: { 'occi.core.target': '/n/1' } }]);
  });

  test("a link's location member (MartServer) and rel (GFD.226 link) are kept", () => {
    const [r] = occiJson.parseEntities(
      req('{"kind":"http://a#r","links":[{"location":"/link/1","rel":"http: //a#network","target":{"location":"/n/1"}}]}'),
    );
    expect(r.links).toEqual([
      { categories: [], location: '/link/1', attributes: { 'occi.core.target': '/n/1', 'occi.core.target.kind': 'http://a#network' } },
    ]);
  });

  test('target.kind wins over rel', () => {
    const [l] = occiJson.parseEntities(req('{"source":"/c/1","target":{"location":"/n/1","kind":"http://a#n"},"rel":"http://a#x"}'));
    expect(l.attributes['occi.core.target.kind']).toBe('http://a#n');
    expect(l.attributes['occi.core.source']).toBe('/c/1');
  });

  test('occi.core.* given both top-level and in attributes with equal values is accepted', () => {
    const [e] = occiJson.parseEntities(req('{"title":"t","attributes":{"occi.core.title":"t"}}'));
    expect(e.attributes).toEqual({ 'occi.core.title': 't' });
  });

  test('MartServer wraps single entities in resources; its location members name entities for association', () => {
    const body = '{"resources":[{"kind":"http://a#r","id":"1","location":"/compute/1"}],"links":[{"location":"/link/2"}]}';
    expect(occiJson.parseEntities(req(body))).toHaveLength(2);
    expect(occiJson.parseLocations(req(body))).toEqual(['/compute/1', '/link/2']);
  });
});

describe('category dispatch', () => {
  test('rOCCI category identifiers', () => {
    expect(occiJson.parseCategoryRefs(req('{"mixins":["http: //e.com/tpl#small"]}'))).toEqual([
      { id: 'http://e.com/tpl#small', class: 'mixin' },
    ]);
  });

  test('a bare {term, scheme} reference has no class; with a location it is a mixin', () => {
    expect(occiJson.parseCategoryRefs(req('{"term":"small","scheme":"http://e.com/tpl#"}'))).toEqual([{ id: 'http://e.com/tpl#small' }]);
    expect(occiJson.parseCategoryRefs(req('{"term":"small","scheme":"http://e.com/tpl#","location":"/tpl/small/"}'))).toEqual([
      { id: 'http://e.com/tpl#small', class: 'mixin' },
    ]);
  });

  test('a single kind with actions is not mistaken for a collection', () => {
    const [k] = occiJson.parseCategories(req('{"term":"k","scheme":"http://e.com/s#","parent":"http://e.com/s#p","actions":["http://e.com/a#go"]}'));
    expect(k).toEqual({ class: 'kind', term: 'k', scheme: 'http://e.com/s#', parent: 'http://e.com/s#p', actions: ['http://e.com/a#go'] });
  });

  test('a bare mixin with related (pyOCNI) → depends', () => {
    expect(occiJson.parseCategories(req('{"term":"m","scheme":"s#","related":"http: //e.com/s#os_tpl"}'))).toEqual([
      { class: 'mixin', term: 'm', scheme: 's#', depends: ['http://e.com/s#os_tpl'] },
    ]);
  });
});

describe('JSON text', () => {
  test('positions of syntax errors', () => {
    expect(locateJsonError('{"a":1,}')).toEqual({ position: 7, reason: 'expected a member name in double quotes, found "}"' });
    expect(locateJsonError('[1 2]')).toEqual({ position: 3, reason: `expected ',' or ']' in an array, found "2"` });
    expect(locateJsonError('"abc')).toEqual({ position: 0, reason: 'unterminated string' });
    expect(locateJsonError('01')).toEqual({ position: 1, reason: 'unexpected "1" after the end of the JSON value' });
  });

  test('brackets inside strings do not count as nesting', () => {
    const text = JSON.stringify({ attributes: { 'x.y': '['.repeat(100) + '\\"{'.repeat(50) } });
    expect(parseJsonBody(text)).toEqual(JSON.parse(text));
  });
});
