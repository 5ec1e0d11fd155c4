/**
 * Golden tests for text/occi, written by hand from GFD.229 §6.1 and the GFD.185 §3.4 requests
 * (occi-spec.md §4.5–4.7) and the 1.1 compliance test (test_occi_11.py).
 */
import type { EntityView, Mixin } from '../../../src/model/types';
import type { RequestInput } from '../../../src/rendering/rendering';
import { textOcci } from '../../../src/rendering/text-occi';

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const headers = (h: RequestInput['headers']): RequestInput => ({ headers: h, body: '' });

const computeView: EntityView = {
  location: '/users/foo/compute/b9ff813e-fee5-4a9d-b839-673f39746096',
  kind: INFRA + 'compute',
  mixins: [],
  actions: [
    {
      href: '/users/foo/compute/b9ff813e-fee5-4a9d-b839-673f39746096?action=start',
      action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#start',
    },
  ],
  attributes: {
    'occi.core.id': 'urn:uuid:b9ff813e-fee5-4a9d-b839-673f39746096',
    'occi.core.title': 'My Dummy VM',
    'occi.compute.architecture': 'x86',
    'occi.compute.state': 'inactive',
    'occi.compute.speed': 1.33,
    'occi.compute.memory': 2.0,
    'occi.compute.cores': 2,
    'occi.compute.hostname': 'dummy',
  },
};

describe('text/occi: compute instance (GFD.229 §6.1)', () => {
  it('renders one header per name, values comma-joined, body OK', () => {
    expect(textOcci.renderEntity(computeView)).toEqual({
      headers: [
        ['Category', 'compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"'],
        [
          'Link',
          '</users/foo/compute/b9ff813e-fee5-4a9d-b839-673f39746096?action=start>; ' +
            'rel="http://schemas.ogf.org/occi/infrastructure/compute/action#start"',
        ],
        [
          'X-OCCI-Attribute',
          'occi.core.id="urn:uuid:b9ff813e-fee5-4a9d-b839-673f39746096", occi.core.title="My Dummy VM", ' +
            'occi.compute.architecture="x86", occi.compute.state="inactive", occi.compute.speed=1.33, ' +
            'occi.compute.memory=2, occi.compute.cores=2, occi.compute.hostname="dummy"',
        ],
      ],
      body: 'OK',
    });
  });

  it('parses the example headers (the "\\" continuations are display only)', () => {
    const input = headers({
      category: 'compute; scheme="http://schemas.ogf.org/occi/infrastructure#" class="kind";',
      link:
        '</users/foo/compute/b9ff813e-fee5-4a9d-b839-673f39746096?action=start>; ' +
        'rel="http://schemas.ogf.org/occi/infrastructure/compute/action#start"',
      'x-occi-attribute':
        'occi.core.id="urn:uuid:b9ff813e-fee5-4a9d-b839-673f39746096", occi.core.title="My Dummy VM", ' +
        'occi.compute.architecture="x86", occi.compute.state="inactive", occi.compute.speed=1.33, ' +
        'occi.compute.memory=2.0, occi.compute.cores=2, occi.compute.hostname="dummy"',
      accept: 'text/occi',
    });
    expect(textOcci.parseEntities(input)).toEqual([
      {
        categories: [{ id: INFRA + 'compute', class: 'kind' }],
        attributes: {
          'occi.core.id': 'urn:uuid:b9ff813e-fee5-4a9d-b839-673f39746096',
          'occi.core.title': 'My Dummy VM',
          'occi.compute.architecture': 'x86',
          'occi.compute.state': 'inactive',
          'occi.compute.speed': 1.33,
          'occi.compute.memory': 2,
          'occi.compute.cores': 2,
          'occi.compute.hostname': 'dummy',
        },
        links: [],
      },
    ]);
  });

  it('accepts the unquoted hostname of the GFD.185 text/occi example', () => {
    const input = headers({ 'x-occi-attribute': 'occi.compute.cores=2, occi.compute.hostname=foobar' });
    expect(textOcci.parseEntities(input)[0].attributes).toEqual({ 'occi.compute.cores': 2, 'occi.compute.hostname': 'foobar' });
  });
});

describe('text/occi: the 1.1 compliance test requests', () => {
  it('keeps the whole escaped title and memory=3.6', () => {
    const input = headers({
      'x-occi-attribute':
        'occi.compute.memory=3.6, occi.core.title="How\'s your quotes escaping? \\", occi.compute.memory=1.0"',
    });
    expect(textOcci.parseEntities(input)[0].attributes).toEqual({
      'occi.compute.memory': 3.6,
      'occi.core.title': 'How\'s your quotes escaping? ", occi.compute.memory=1.0',
    });
  });

  it('a Category filter without class', () => {
    const input = headers({ category: 'compute;scheme="http://schemas.ogf.org/occi/infrastructure#"' });
    expect(textOcci.parseCategoryRefs(input)).toEqual([{ id: INFRA + 'compute' }]);
    expect(textOcci.parseCategories(input)).toEqual([{ term: 'compute', scheme: INFRA }]);
  });

  it('a user mixin definition and its removal with a trailing ";"', () => {
    const post = headers({
      category:
        'my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"; ' +
        'rel="http://example.com/occi/something_else#mixin"; location="/my_stuff/"',
    });
    expect(textOcci.parseCategories(post)).toEqual([
      {
        term: 'my_stuff',
        scheme: 'http://example.com/occi/my_stuff#',
        class: 'mixin',
        depends: ['http://example.com/occi/something_else#mixin'],
        location: '/my_stuff/',
      },
    ]);
    const del = headers({ category: 'my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin";' });
    expect(textOcci.parseCategoryRefs(del)).toEqual([{ id: 'http://example.com/occi/my_stuff#my_stuff', class: 'mixin' }]);
  });

  it('an action on a collection, class omitted', () => {
    const input = headers({ category: 'start; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"' });
    expect(textOcci.parseAction(input)).toEqual({
      action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#start',
      attributes: {},
    });
  });

  it('a link created by POST with source and target attributes', () => {
    const input = headers({
      category: 'networkinterface;scheme="http://schemas.ogf.org/occi/infrastructure#"',
      'x-occi-attribute': 'occi.core.source="/compute/1", occi.core.target="/network/2"',
    });
    expect(textOcci.parseEntities(input)).toEqual([
      {
        categories: [{ id: INFRA + 'networkinterface' }],
        attributes: { 'occi.core.source': '/compute/1', 'occi.core.target': '/network/2' },
        links: [],
      },
    ]);
  });

  it('X-OCCI-Location association and its ", "-joined listing', () => {
    expect(textOcci.parseLocations(headers({ 'x-occi-location': 'http://example.com/vms/foo/vm1' }))).toEqual([
      'http://example.com/vms/foo/vm1',
    ]);
    const listing = textOcci.renderLocations(['/compute/1', '/compute/2']);
    expect(listing).toEqual({ headers: [['X-OCCI-Location', '/compute/1, /compute/2']], body: 'OK' });
    expect(listing.headers[0][1].split(', ')).toEqual(['/compute/1', '/compute/2']);
  });
});

describe('text/occi: header forms', () => {
  it('reads repeated headers given as arrays and the X-OCCI-* variants', () => {
    const input = headers({
      'x-occi-category': ['compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"'],
      category: 'my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"',
      'x-occi-link': '</network/1>; rel="http://schemas.ogf.org/occi/infrastructure#network"',
      'x-occi-attribute': ['a.b=1', 'c.d="x, y"'],
    });
    const [request] = textOcci.parseEntities(input);
    expect(request.categories).toEqual([
      { id: 'http://example.com/occi/my_stuff#my_stuff', class: 'mixin' },
      { id: INFRA + 'compute', class: 'kind' },
    ]);
    expect(request.attributes).toEqual({ 'a.b': 1, 'c.d': 'x, y' });
    expect(request.links).toEqual([
      { categories: [], attributes: { 'occi.core.target': '/network/1', 'occi.core.target.kind': INFRA + 'network' } },
    ]);
  });

  it('ignores other headers and a Location request header', () => {
    const input = headers({ location: '/compute/1', host: 'example.com', 'content-type': 'text/occi' });
    expect(textOcci.parseLocations(input)).toEqual([]);
    expect(textOcci.parseEntities(input)).toEqual([{ categories: [], attributes: {}, links: [] }]);
  });

  it('decodes UTF-8 header bytes and sends UTF-8 back', () => {
    const wire = Buffer.from('occi.core.title="Café ☕"', 'utf8').toString('latin1');
    expect(textOcci.parseEntities(headers({ 'x-occi-attribute': wire }))[0].attributes).toEqual({ 'occi.core.title': 'Café ☕' });
    const out = textOcci.renderEntity({ ...computeView, actions: [], attributes: { 'occi.core.title': 'Café ☕' } });
    expect(out.headers[1]).toEqual(['X-OCCI-Attribute', wire]);
  });
});

describe('text/occi: other renderings', () => {
  it('a category listing is one comma-joined Category header (kinds, mixins, actions)', () => {
    const tpl: Mixin = {
      class: 'mixin',
      scheme: 'http://example.com/occi/os_tpl#',
      term: 'ubuntu',
      title: 'Ubuntu, LTS',
      depends: ['http://schemas.ogf.org/occi/infrastructure#os_tpl', 'http://example.com/x#y'],
      applies: [INFRA + 'compute'],
      actions: [],
      location: '/os_tpl/ubuntu/',
      attributes: {},
      origin: 'admin',
    };
    expect(
      textOcci.renderCategories({
        kinds: [],
        mixins: [tpl],
        actions: [{ class: 'action', scheme: 'http://x/action#', term: 'go', attributes: {}, origin: 'builtin' }],
      }),
    ).toEqual({
      headers: [
        [
          'Category',
          'ubuntu; scheme="http://example.com/occi/os_tpl#"; class="mixin"; title="Ubuntu, LTS"; ' +
            'rel="http://schemas.ogf.org/occi/infrastructure#os_tpl"; location="/os_tpl/ubuntu/", ' +
            'go; scheme="http://x/action#"; class="action"',
        ],
      ],
      body: 'OK',
    });
  });

  it('an empty listing has no X-OCCI-Location header and body OK', () => {
    expect(textOcci.renderEntities([])).toEqual({ headers: [], body: 'OK' });
    expect(textOcci.renderOk()).toEqual({ headers: [], body: 'OK' });
  });

  it('a location holding a comma is sent in <…>', () => {
    expect(textOcci.renderCreated(['/compute/a,b', '/compute/c']).headers).toEqual([
      ['X-OCCI-Location', '</compute/a,b>, /compute/c'],
    ]);
    expect(textOcci.parseLocations(headers({ 'x-occi-location': '</compute/a,b>, /compute/c' }))).toEqual([
      '/compute/a,b',
      '/compute/c',
    ]);
  });

  it('errors go in X-OCCI-Error without CR/LF, the body is the message', () => {
    expect(textOcci.renderError(400, 'bad\r\nSet-Cookie: x=1')).toEqual({
      headers: [['X-OCCI-Error', 'bad Set-Cookie: x=1']],
      body: 'bad\r\nSet-Cookie: x=1',
    });
  });

  it('no header value carries CR or LF, whatever the attributes hold', () => {
    const out = textOcci.renderEntity({
      ...computeView,
      mixins: ['http://x#m'],
      attributes: { 'occi.core.title': 'a\r\nX-Evil: 1', 'x.list': ['a\nb'], 'x.obj': { k: 'v\r' } },
    });
    for (const [, v] of out.headers) expect(v).not.toMatch(/[\r\n]/);
  });

  it('has no streams', () => {
    expect(textOcci.locationStream).toBeUndefined();
    expect(textOcci.entityStream).toBeUndefined();
  });
});
