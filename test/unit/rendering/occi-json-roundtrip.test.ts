/**
 * Renderer checks: parse(render(x)) == x for categories and entities, every rendered body validates
 * against the project's schema, bodies are compact with the JSON Content-Type, streams give the same
 * bytes as the one-shot renderers.
 */
import type { Category, CategoryDefinition, EntityRequest, EntityView, Kind, Mixin } from '../../../src/model/types';
import { createEntityStream, occiJson } from '../../../src/rendering/occi-json';
import { checkRendered, type RenderedShape } from '../../../src/rendering/occi-json-schema';
import type { Rendered, StreamParts } from '../../../src/rendering/rendering';
import { CORE, INFRA, attr, computeKind, computeView, mediumMixin, nicView, req, stopAction } from './occi-json-fixtures';

/** What parseCategories should give back for a model category (origin/tenant are never rendered). */
function definitionOf(c: Category): CategoryDefinition {
  const d: CategoryDefinition = { class: c.class, scheme: c.scheme, term: c.term, attributes: c.attributes };
  if (c.title !== undefined) d.title = c.title;
  if (c.class === 'kind') {
    if (c.parent !== undefined) d.parent = c.parent;
    // Empty arrays are not rendered (rOCCI-core's minItems: 1), so they come back absent.
    if (c.actions.length > 0) d.actions = c.actions;
    if (c.location !== undefined) d.location = c.location;
  } else if (c.class === 'mixin') {
    if (c.depends.length > 0) d.depends = c.depends;
    if (c.applies.length > 0) d.applies = c.applies;
    if (c.actions.length > 0) d.actions = c.actions;
    d.location = c.location;
  }
  return d;
}

/** What parseEntities should give back for a view. */
function requestOf(v: EntityView): EntityRequest {
  const categories = [{ id: v.kind, class: 'kind' as const }, ...v.mixins.map((id) => ({ id, class: 'mixin' as const }))];
  const links = (v.links ?? []).map((l) => ({ categories: requestOf(l).categories, attributes: l.attributes }));
  return { categories, attributes: v.attributes, links };
}

const entityKind: Kind = {
  class: 'kind',
  scheme: CORE,
  term: 'entity',
  title: 'Entity',
  origin: 'builtin',
  attributes: {
    'occi.core.id': attr('string', false, true),
    'occi.core.title': attr('string', true, false),
  },
  actions: [],
};

const userTag: Mixin = {
  class: 'mixin',
  scheme: 'http://occitan.example/tenant/alice/tags#',
  term: 'blue',
  origin: 'user',
  tenant: 'alice',
  depends: [],
  applies: [],
  attributes: {
    'com.example.list': attr('array', true, false, { default: [1, 'two', { three: 3 }] }),
    'com.example.hash': attr('object', true, true, { default: { a: [null] }, description: 'a hash' }),
    'com.example.flag': attr('boolean', false, false, { default: true }),
    'com.example.count': attr('number', true, false, { pattern: { type: 'integer', minimum: 0 }, default: 3 }),
  },
  actions: [],
  location: '/tags/alice/blue/',
};

const storageView: EntityView = {
  location: '/storage/s1',
  kind: INFRA + 'storage',
  mixins: [],
  attributes: { 'occi.core.id': 's1', 'occi.core.title': 'disk', 'occi.core.summary': 'a disk', 'occi.storage.size': 10 },
  actions: [],
};

const storageLinkView: EntityView = {
  location: '/storagelink/l1',
  kind: INFRA + 'storagelink',
  mixins: [],
  attributes: {
    'occi.core.id': 'l1',
    'occi.core.title': 'root disk',
    'occi.core.source': '/compute/c1',
    'occi.core.target': 'http://elsewhere.example/storage/9',
    'occi.storagelink.deviceid': 'vda',
  },
  actions: [],
};

function body(r: Rendered): unknown {
  expect(r.headers).toEqual([['Content-Type', 'application/occi+json; charset=utf-8']]);
  const parsed: unknown = JSON.parse(r.body);
  expect(r.body).toBe(JSON.stringify(parsed)); // compact, nothing pretty-printed
  return parsed;
}

function expectValid(shape: RenderedShape, r: Rendered): void {
  expect(checkRendered(shape, body(r))).toBeUndefined();
}

describe('round trips', () => {
  const all: Category[] = [entityKind, computeKind, mediumMixin, userTag, stopAction];

  test('categories: parseCategories(renderCategories(x)) == x', () => {
    const r = occiJson.renderCategories({ kinds: [entityKind, computeKind], mixins: [mediumMixin, userTag], actions: [stopAction] });
    expect(occiJson.parseCategories(req(r.body))).toEqual(all.map(definitionOf));
  });

  test('category references from a rendering', () => {
    const r = occiJson.renderCategories({ kinds: [computeKind], mixins: [userTag], actions: [stopAction] });
    expect(occiJson.parseCategoryRefs(req(r.body))).toEqual([
      { id: INFRA + 'compute', class: 'kind' },
      { id: userTag.scheme + 'blue', class: 'mixin' },
      { id: stopAction.scheme + 'stop', class: 'action' },
    ]);
  });

  test('a resource with a link', () => {
    expect(occiJson.parseEntities(req(occiJson.renderEntity(computeView).body))).toEqual([requestOf(computeView)]);
  });

  test('a resource with title and summary', () => {
    expect(occiJson.parseEntities(req(occiJson.renderEntity(storageView).body))).toEqual([requestOf(storageView)]);
  });

  test('a link', () => {
    expect(occiJson.parseEntities(req(occiJson.renderEntity(storageLinkView).body))).toEqual([requestOf(storageLinkView)]);
    expect(occiJson.parseEntities(req(occiJson.renderEntity(nicView).body))).toEqual([requestOf(nicView)]);
  });

  test('a collection of resources and links', () => {
    const views = [computeView, storageView, nicView, storageLinkView];
    expect(occiJson.parseEntities(req(occiJson.renderEntities(views).body))).toEqual(views.map(requestOf));
  });

  test('locations', () => {
    const locations = ['/compute/1', 'http://h.example/compute/2'];
    expect(occiJson.parseLocations(req(occiJson.renderLocations(locations).body))).toEqual(locations);
  });
});

describe('rendered output validates against the schema', () => {
  test('categories, including empty ones', () => {
    expectValid('model', occiJson.renderCategories({ kinds: [entityKind, computeKind], mixins: [mediumMixin, userTag], actions: [stopAction] }));
    expect(body(occiJson.renderCategories({ kinds: [], mixins: [], actions: [] }))).toEqual({});
    expectValid('model', occiJson.renderCategories({ kinds: [], mixins: [], actions: [] }));
  });

  test('a kind without title, parent or location renders none of them', () => {
    const bare: Kind = { class: 'kind', scheme: 'http://e.com/s#', term: 'k', origin: 'admin', attributes: {}, actions: [] };
    expect(body(occiJson.renderCategories({ kinds: [bare], mixins: [], actions: [] }))).toEqual({
      kinds: [{ term: 'k', scheme: 'http://e.com/s#', attributes: {} }],
    });
  });

  test('origin and tenant are never rendered', () => {
    const text = occiJson.renderCategories({ kinds: [computeKind], mixins: [userTag], actions: [] }).body;
    expect(text).not.toContain('"origin"');
    expect(text).not.toContain('"tenant"');
    expect(text).not.toContain('"alice"');
    expect(text).not.toContain('"builtin"');
  });

  test('entities', () => {
    expectValid('resource', occiJson.renderEntity(computeView));
    expectValid('resource', occiJson.renderEntity(storageView));
    expectValid('link', occiJson.renderEntity(storageLinkView));
    expectValid('entity_collection', occiJson.renderEntities([computeView, storageLinkView]));
    expectValid('entity_collection', occiJson.renderEntities([]));
  });

  test('a resource without mixins, links or actions renders none of those arrays', () => {
    expect(body(occiJson.renderEntity(storageView))).toEqual({
      kind: INFRA + 'storage',
      attributes: storageView.attributes,
      id: 's1',
      title: 'disk',
      summary: 'a disk',
    });
  });

  test('a link with an external target and no kinds', () => {
    expect(body(occiJson.renderEntity(storageLinkView))).toEqual({
      kind: INFRA + 'storagelink',
      attributes: storageLinkView.attributes,
      id: 'l1',
      title: 'root disk',
      source: { location: '/compute/c1' },
      target: { location: 'http://elsewhere.example/storage/9' },
    });
  });

  test('an inline link without occi.core.source takes its resource as source; a view without id uses its location', () => {
    const { 'occi.core.source': _s, 'occi.core.id': _i, ...attributes } = storageLinkView.attributes;
    const link: EntityView = { ...storageLinkView, attributes: { ...attributes, 'occi.core.target': '/storage/s1' } };
    // Without occi.core.source the view is a resource by the collection rule, so render it inline.
    const r = body(occiJson.renderEntity({ ...storageView, links: [link] })) as { links: Array<Record<string, unknown>> };
    expect(r.links[0].source).toEqual({ location: '/storage/s1' });
    expect(r.links[0].id).toBe('/storagelink/l1');
  });

  test('empty collection, locations, created, ok, error', () => {
    expect(body(occiJson.renderEntities([]))).toEqual({ resources: [] });
    expectValid('locations', occiJson.renderLocations(['/a', '/b']));
    expect(body(occiJson.renderLocations([]))).toEqual({ 'X-OCCI-Location': [] });
    expect(body(occiJson.renderCreated(['http://h/compute/1']))).toEqual({ Location: ['http://h/compute/1'] });
    expectValid('created', occiJson.renderCreated(['http://h/compute/1']));
    expect(body(occiJson.renderOk())).toEqual({});
    expectValid('empty', occiJson.renderOk());
    expect(body(occiJson.renderError(404, 'no entity at /compute/9'))).toEqual({ status: 404, error: 'no entity at /compute/9' });
    expectValid('error', occiJson.renderError(400, 'x'));
  });

  test('the schema does reject what it should (a link without target)', () => {
    expect(checkRendered('link', { kind: 'k', id: 'i', source: { location: '/a' } })).toBe('/: must have the member "target"');
  });
});

function streamed<T>(parts: StreamParts<T>, items: readonly T[]): string {
  return parts.open() + items.map((x, i) => parts.item(x, i)).join('') + parts.close();
}

describe('streams give the same bytes as the one-shot renderers', () => {
  test.each([[[]], [['/a']], [['/a', '/b', 'http://h/c?x="1"']]])('locationStream %j', (locations: string[]) => {
    expect(streamed(occiJson.locationStream!, locations)).toBe(occiJson.renderLocations(locations).body);
  });

  test.each([
    ['empty', []],
    ['resources', [computeView, storageView]],
    ['links', [nicView, storageLinkView]],
  ])('entityStream (a fresh stream on each read): %s', (_name, views: EntityView[]) => {
    expect(streamed(occiJson.entityStream!, views)).toBe(occiJson.renderEntities(views).body);
  });

  test.each([
    ['empty', []],
    ['resources', [computeView, storageView]],
    ['links', [nicView, storageLinkView]],
    ['mixed, links first', [nicView, computeView, storageLinkView, storageView]],
  ])('createEntityStream (one per request): %s', (_name, views: EntityView[]) => {
    const stream = createEntityStream();
    expect(streamed(stream, views)).toBe(occiJson.renderEntities(views).body);
    expect(streamed(stream, views)).toBe(occiJson.renderEntities(views).body); // reusable after open()
  });
});
