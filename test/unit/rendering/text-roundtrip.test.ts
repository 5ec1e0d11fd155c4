/** parse(render(x)) == x for categories and entities, through both text renderings. */
import type {
  Action,
  CategoryCollection,
  CategoryDefinition,
  EntityRequest,
  EntityView,
  Kind,
  Mixin,
} from '../../../src/model/types';
import type { Parser, Rendered, Renderer, RequestInput } from '../../../src/rendering/rendering';
import { textOcci } from '../../../src/rendering/text-occi';
import { textPlain } from '../../../src/rendering/text-plain';

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';

/** What a client sends back: text/plain echoes the body, text/occi the headers (lower-cased, as Node gives them). */
function asInput(r: Rendered): RequestInput {
  const headers: Record<string, string> = {};
  for (const [name, value] of r.headers) headers[name.toLowerCase()] = value;
  return { headers, body: r.headers.length > 0 ? '' : r.body };
}

const renderings: Array<[string, Parser & Renderer]> = [
  ['text/plain', textPlain],
  ['text/occi', textOcci],
];

const kind: Kind = {
  class: 'kind',
  scheme: INFRA,
  term: 'compute',
  title: 'Compute "Resource", with; separators \\ and Ünïcödé ☕',
  parent: 'http://schemas.ogf.org/occi/core#resource',
  location: 'http://example.com/compute/',
  origin: 'builtin',
  attributes: {
    'occi.compute.hostname': { type: 'string', mutable: true, required: false },
    'occi.compute.state': { type: 'string', mutable: false, required: true },
    'occi.compute.arch': { type: 'string', mutable: true, required: true },
    'occi.compute.id': { type: 'string', mutable: false, required: false },
  },
  actions: [
    'http://schemas.ogf.org/occi/infrastructure/compute/action#start',
    'http://schemas.ogf.org/occi/infrastructure/compute/action#stop',
  ],
};
const mixin: Mixin = {
  class: 'mixin',
  scheme: 'http://example.com/occi/my_stuff#',
  term: 'my_stuff',
  depends: ['http://schemas.ogf.org/occi/infrastructure#os_tpl'],
  applies: [INFRA + 'compute'],
  actions: [],
  location: '/my_stuff/',
  attributes: {},
  origin: 'user',
  tenant: 'alice',
};
const action: Action = {
  class: 'action',
  scheme: 'http://schemas.ogf.org/occi/infrastructure/compute/action#',
  term: 'stop',
  title: 'Stop',
  attributes: { method: { type: 'string', mutable: true, required: false } },
  origin: 'builtin',
};

describe.each(renderings)('%s round trips', (_name, r) => {
  it('categories', () => {
    const collection: CategoryCollection = { kinds: [kind], mixins: [mixin], actions: [action] };
    const expected: CategoryDefinition[] = [
      {
        class: 'kind',
        scheme: kind.scheme,
        term: kind.term,
        title: kind.title,
        parent: kind.parent,
        location: kind.location,
        attributes: kind.attributes,
        actions: kind.actions,
      },
      { class: 'mixin', scheme: mixin.scheme, term: mixin.term, depends: mixin.depends, location: mixin.location },
      { class: 'action', scheme: action.scheme, term: action.term, title: action.title, attributes: action.attributes },
    ];
    const input = asInput(r.renderCategories(collection));
    expect(r.parseCategories(input)).toEqual(expected);
    expect(r.parseCategoryRefs(input)).toEqual([
      { id: INFRA + 'compute', class: 'kind' },
      { id: 'http://example.com/occi/my_stuff#my_stuff', class: 'mixin' },
      { id: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop', class: 'action' },
    ]);
  });

  it('a resource with links, mixins and typed attributes', () => {
    const view: EntityView = {
      location: '/compute/1',
      kind: INFRA + 'compute',
      mixins: ['http://example.com/occi/my_stuff#my_stuff', 'http://example.com/os#ubuntu'],
      actions: [{ href: '/compute/1?action=stop', action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop' }],
      attributes: {
        'occi.core.title': 'web, "front"; end',
        'occi.core.id': '1',
        'occi.compute.cores': 4,
        'occi.compute.memory': 1.5,
        'occi.compute.hostname': 'web1',
        'x.flag': false,
        'x.numeric.string': '42',
      },
      links: [
        {
          location: '/link/networkinterface/1',
          kind: INFRA + 'networkinterface',
          mixins: [INFRA + 'ipnetworkinterface'],
          actions: [],
          attributes: {
            'occi.core.id': 'l1',
            'occi.core.source': '/compute/1',
            'occi.core.target': '/network/a,b',
            'occi.core.target.kind': INFRA + 'network',
            'occi.networkinterface.interface': 'eth0',
            'occi.networkinterface.address': '10.0.0.2',
            'x.mtu': 1500,
          },
        },
      ],
    };
    const expected: EntityRequest[] = [
      {
        categories: [
          { id: INFRA + 'compute', class: 'kind' },
          { id: 'http://example.com/occi/my_stuff#my_stuff', class: 'mixin' },
          { id: 'http://example.com/os#ubuntu', class: 'mixin' },
        ],
        attributes: view.attributes,
        links: [
          {
            location: '/link/networkinterface/1',
            categories: [
              { id: INFRA + 'networkinterface', class: 'kind' },
              { id: INFRA + 'ipnetworkinterface', class: 'mixin' },
            ],
            attributes: {
              'occi.core.target': '/network/a,b',
              'occi.core.target.kind': INFRA + 'network',
              'occi.networkinterface.interface': 'eth0',
              'occi.networkinterface.address': '10.0.0.2',
              'x.mtu': 1500,
            },
          },
        ],
      },
    ];
    expect(r.parseEntities(asInput(r.renderEntity(view)))).toEqual(expected);
  });

  it('a link entity', () => {
    const view: EntityView = {
      location: '/link/storagelink/1',
      kind: INFRA + 'storagelink',
      mixins: [],
      actions: [],
      attributes: {
        'occi.core.id': 's1',
        'occi.core.source': '/compute/1',
        'occi.core.target': '/storage/1',
        'occi.storagelink.deviceid': 'vdb',
      },
    };
    expect(r.parseEntities(asInput(r.renderEntity(view)))).toEqual([
      { categories: [{ id: INFRA + 'storagelink', class: 'kind' }], attributes: view.attributes, links: [] },
    ]);
  });

  it('locations', () => {
    const locs = ['/compute/1', 'http://example.com/compute/2', '/compute/a,b'];
    expect(r.parseLocations(asInput(r.renderLocations(locs)))).toEqual(locs);
    expect(r.parseLocations(asInput(r.renderCreated(locs)))).toEqual(locs);
  });
});
