/**
 * Golden tests for text/plain, written by hand from GFD.185/GFD.229 examples (occi-spec.md §4.4–4.7),
 * corrected where the checklist says the examples are wrong.
 */
import type { EntityView, Kind } from '../../../src/model/types';
import type { RequestInput } from '../../../src/rendering/rendering';
import { textPlain } from '../../../src/rendering/text-plain';

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const body = (text: string): RequestInput => ({ headers: {}, body: text });

/** The compute instance of §4.4. */
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
    'occi.core.title': 'My Dummy VM',
    'occi.core.id': 'urn:uuid:b9ff813e-fee5-4a9d-b839-673f39746096',
    'occi.compute.architecture': 'x86',
    'occi.compute.state': 'inactive',
    'occi.compute.speed': 1.33,
    'occi.compute.memory': 2.0,
    'occi.compute.cores': 2,
    'occi.compute.hostname': 'dummy',
  },
};

describe('text/plain: compute instance (§4.4)', () => {
  it('renders the canonical one-line form (the example misses the ";" after scheme)', () => {
    // memory is the number 2.0, which the ABNF's int rule renders as 2; occi.core.id comes first.
    expect(textPlain.renderEntity(computeView)).toEqual({
      headers: [],
      body:
        'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n' +
        'Link: </users/foo/compute/b9ff813e-fee5-4a9d-b839-673f39746096?action=start>; ' +
        'rel="http://schemas.ogf.org/occi/infrastructure/compute/action#start"\n' +
        'X-OCCI-Attribute: occi.core.id="urn:uuid:b9ff813e-fee5-4a9d-b839-673f39746096"\n' +
        'X-OCCI-Attribute: occi.core.title="My Dummy VM"\n' +
        'X-OCCI-Attribute: occi.compute.architecture="x86"\n' +
        'X-OCCI-Attribute: occi.compute.state="inactive"\n' +
        'X-OCCI-Attribute: occi.compute.speed=1.33\n' +
        'X-OCCI-Attribute: occi.compute.memory=2\n' +
        'X-OCCI-Attribute: occi.compute.cores=2\n' +
        'X-OCCI-Attribute: occi.compute.hostname="dummy"\n',
    });
  });

  it('parses the example as printed: folded lines, missing ";", action link ignored', () => {
    const printed = [
      'Category: compute;',
      '    scheme="http://schemas.ogf.org/occi/infrastructure#"',
      '    class="kind";',
      'Link: </users/foo/compute/b9ff813e-fee5-4a9d-b839-673f39746096?action=start>;',
      '    rel="http://schemas.ogf.org/occi/infrastructure/compute/action#start"',
      'X-OCCI-Attribute: occi.core.id="urn:uuid:b9ff813e-fee5-4a9d-b839-673f39746096"',
      'X-OCCI-Attribute: occi.core.title="My Dummy VM"',
      'X-OCCI-Attribute: occi.compute.architecture="x86"',
      'X-OCCI-Attribute: occi.compute.state="inactive"',
      'X-OCCI-Attribute: occi.compute.speed=1.33',
      'X-OCCI-Attribute: occi.compute.memory=2.0',
      'X-OCCI-Attribute: occi.compute.cores=2',
      'X-OCCI-Attribute: occi.compute.hostname="dummy"',
    ].join('\r\n');
    expect(textPlain.parseEntities(body(printed))).toEqual([
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
});

describe('text/plain: resource with a mixin and a networkinterface link (§4.5, GFD.185 §3.4.5)', () => {
  const printed = [
    'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind";',
    'Category: my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin";',
    'X-OCCI-Attribute: occi.compute.cores=2',
    'X-OCCI-Attribute: occi.compute.hostname="foobar"',
    'Link: </network/123>;',
    '        rel="http://schemas.ogf.org/occi/infrastructure#network";',
    '        self="/link/networkinterface/456";',
    '        category="http://schemas.ogf.org/occi/infrastructure#networkinterface";',
    '        occi.networkinterface.interface="eth0";',
    '        occi.networkinterface.mac="00:11:22:33:44:55";',
    '        occi.networkinterface.state="active";',
  ].join('\n');

  it('parses the request', () => {
    expect(textPlain.parseEntities(body(printed))).toEqual([
      {
        categories: [
          { id: INFRA + 'compute', class: 'kind' },
          { id: 'http://example.com/occi/my_stuff#my_stuff', class: 'mixin' },
        ],
        attributes: { 'occi.compute.cores': 2, 'occi.compute.hostname': 'foobar' },
        links: [
          {
            categories: [{ id: INFRA + 'networkinterface', class: 'kind' }],
            location: '/link/networkinterface/456',
            attributes: {
              'occi.networkinterface.interface': 'eth0',
              'occi.networkinterface.mac': '00:11:22:33:44:55',
              'occi.networkinterface.state': 'active',
              'occi.core.target': '/network/123',
              'occi.core.target.kind': INFRA + 'network',
            },
          },
        ],
      },
    ]);
  });

  it('renders the resource: Categories, Links, then attributes (the example lists Link last)', () => {
    const view: EntityView = {
      location: '/vms/foo/vm1',
      kind: INFRA + 'compute',
      mixins: ['http://example.com/occi/my_stuff#my_stuff'],
      actions: [],
      attributes: { 'occi.compute.cores': 2, 'occi.compute.hostname': 'foobar' },
      links: [
        {
          location: '/link/networkinterface/456',
          kind: INFRA + 'networkinterface',
          mixins: [],
          actions: [],
          attributes: {
            'occi.core.id': 'urn:uuid:456',
            'occi.core.source': '/vms/foo/vm1',
            'occi.core.target': '/network/123',
            'occi.core.target.kind': INFRA + 'network',
            'occi.networkinterface.interface': 'eth0',
            'occi.networkinterface.mac': '00:11:22:33:44:55',
            'occi.networkinterface.state': 'active',
          },
        },
      ],
    };
    expect(textPlain.renderEntity(view).body).toBe(
      'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n' +
        'Category: my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"\n' +
        'Link: </network/123>; rel="http://schemas.ogf.org/occi/infrastructure#network"; ' +
        'self="/link/networkinterface/456"; category="http://schemas.ogf.org/occi/infrastructure#networkinterface"; ' +
        'occi.networkinterface.interface="eth0"; occi.networkinterface.mac="00:11:22:33:44:55"; ' +
        'occi.networkinterface.state="active"\n' +
        'X-OCCI-Attribute: occi.compute.cores=2\n' +
        'X-OCCI-Attribute: occi.compute.hostname="foobar"\n',
    );
  });

  it('renders a link instance: no Link lines but its action links, source and target as attributes', () => {
    const link: EntityView = {
      location: '/link/networkinterface/456',
      kind: INFRA + 'networkinterface',
      mixins: [],
      actions: [],
      attributes: { 'occi.core.source': '/vms/foo/vm1', 'occi.core.target': '/network/123' },
      links: [],
    };
    expect(textPlain.renderEntity(link).body).toBe(
      'Category: networkinterface; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n' +
        'X-OCCI-Attribute: occi.core.source="/vms/foo/vm1"\n' +
        'X-OCCI-Attribute: occi.core.target="/network/123"\n',
    );
  });
});

describe('text/plain: query interface (§4.6)', () => {
  it('renders a kind in full, parameters in ABNF order (the example puts location last)', () => {
    const compute: Kind = {
      class: 'kind',
      scheme: INFRA,
      term: 'compute',
      title: 'Compute Resource type',
      parent: 'http://schemas.ogf.org/occi/core#resource',
      location: 'http://example.com/compute/',
      origin: 'builtin',
      attributes: {
        'occi.compute.cores': { type: 'number', mutable: true, required: false },
        'occi.compute.state': { type: 'string', mutable: false, required: true },
      },
      actions: ['http://schemas.ogf.org/occi/infrastructure/compute/action#stop'],
    };
    expect(textPlain.renderCategories({ kinds: [compute], mixins: [], actions: [] }).body).toBe(
      'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"; ' +
        'title="Compute Resource type"; rel="http://schemas.ogf.org/occi/core#resource"; ' +
        'location="http://example.com/compute/"; attributes="occi.compute.cores occi.compute.state{required immutable}"; ' +
        'actions="http://schemas.ogf.org/occi/infrastructure/compute/action#stop"\n',
    );
  });

  it('parses the listing as printed (the "..." placeholders filled in)', () => {
    const printed = [
      'Category: compute;',
      '          scheme="http://schemas.ogf.org/occi/infrastructure#";',
      '          class="kind";',
      '          title="Compute Resource type";',
      '          rel="http://schemas.ogf.org/occi/core#resource";',
      '          attributes="occi.compute.cores occi.compute.state{immutable}";',
      '          actions="http://schemas.ogf.org/occi/infrastructure/compute/action#stop";',
      '          location="http://example.com/compute/"',
      'Category: storage; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind";',
      '          title="Storage Resource type"; rel="http://schemas.ogf.org/occi/core#resource";',
      '          attributes="occi.storage.size{required} occi.storage.state{immutable}";',
      '          location="http://example.com/storage/"',
      'Category: start; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#";',
      '          class="action"; title="Start Compute Resource"; attributes="method"',
      'Category: my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin";',
      '          location="http://example.com/my_stuff/"',
    ].join('\n');
    expect(textPlain.parseCategories(body(printed))).toEqual([
      {
        term: 'compute',
        scheme: INFRA,
        class: 'kind',
        title: 'Compute Resource type',
        parent: 'http://schemas.ogf.org/occi/core#resource',
        attributes: {
          'occi.compute.cores': { type: 'string', mutable: true, required: false },
          'occi.compute.state': { type: 'string', mutable: false, required: false },
        },
        actions: ['http://schemas.ogf.org/occi/infrastructure/compute/action#stop'],
        location: 'http://example.com/compute/',
      },
      {
        term: 'storage',
        scheme: INFRA,
        class: 'kind',
        title: 'Storage Resource type',
        parent: 'http://schemas.ogf.org/occi/core#resource',
        attributes: {
          'occi.storage.size': { type: 'string', mutable: true, required: true },
          'occi.storage.state': { type: 'string', mutable: false, required: false },
        },
        location: 'http://example.com/storage/',
      },
      {
        term: 'start',
        scheme: 'http://schemas.ogf.org/occi/infrastructure/compute/action#',
        class: 'action',
        title: 'Start Compute Resource',
        attributes: { method: { type: 'string', mutable: true, required: false } },
      },
      {
        term: 'my_stuff',
        scheme: 'http://example.com/occi/my_stuff#',
        class: 'mixin',
        location: 'http://example.com/my_stuff/',
      },
    ]);
  });
});

describe('text/plain: request examples (§4.7)', () => {
  it('POST /compute/ (create)', () => {
    const req = body(
      'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind";\n' +
        'X-OCCI-Attribute: occi.compute.cores=2\n' +
        'X-OCCI-Attribute: occi.compute.hostname="foobar"\n',
    );
    expect(textPlain.parseEntities(req)).toEqual([
      {
        categories: [{ id: INFRA + 'compute', class: 'kind' }],
        attributes: { 'occi.compute.cores': 2, 'occi.compute.hostname': 'foobar' },
        links: [],
      },
    ]);
  });

  it('POST ?action=stop', () => {
    const req = body(
      'Category: stop; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action";\n' +
        'X-OCCI-Attribute: method="poweroff"\n',
    );
    expect(textPlain.parseAction(req)).toEqual({
      action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop',
      attributes: { method: 'poweroff' },
    });
    expect(textPlain.parseAction(body(''))).toEqual({ attributes: {} });
  });

  it('POST /-/ (user-defined mixin; the example rel has a single slash, still a scheme#term)', () => {
    const req = body(
      'Category: my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin";\n' +
        '          rel="http:/example.com/occi/something_else#mixin"; location="/my_stuff/"\n',
    );
    expect(textPlain.parseCategories(req)).toEqual([
      {
        term: 'my_stuff',
        scheme: 'http://example.com/occi/my_stuff#',
        class: 'mixin',
        depends: ['http:/example.com/occi/something_else#mixin'],
        location: '/my_stuff/',
      },
    ]);
  });

  it('DELETE /-/ with a category reference', () => {
    const req = body('Category: my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin";\n');
    expect(textPlain.parseCategoryRefs(req)).toEqual([{ id: 'http://example.com/occi/my_stuff#my_stuff', class: 'mixin' }]);
  });

  it('POST /my_stuff/ (association): one or several locations, comma-joined too', () => {
    const req = body('X-OCCI-Location: http://example.com/vms/foo/vm1\nX-OCCI-Location: /compute/1, </compute/a,b>\n');
    expect(textPlain.parseLocations(req)).toEqual(['http://example.com/vms/foo/vm1', '/compute/1', '/compute/a,b']);
  });

  it('GET /compute/ renders one X-OCCI-Location line per entity', () => {
    expect(textPlain.renderLocations(['http://example.com/vms/foo/vm1', 'http://example.com/vms/foo/vm2']).body).toBe(
      'X-OCCI-Location: http://example.com/vms/foo/vm1\nX-OCCI-Location: http://example.com/vms/foo/vm2\n',
    );
    expect(textPlain.renderEntities([computeView]).body).toBe(`X-OCCI-Location: ${computeView.location}\n`);
    expect(textPlain.renderLocations([])).toEqual({ headers: [], body: '' });
  });
});

describe('text/plain: input forms', () => {
  it('accepts comma-joined values on one line, CRLF or LF, blank lines and a BOM', () => {
    const req = body(
      '\uFEFFCategory: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class=kind\r\n\r\n' +
        'X-OCCI-Attribute: occi.compute.memory=3.6, occi.core.title="How\'s your quotes escaping? \\", occi.compute.memory=1.0"\n',
    );
    expect(textPlain.parseEntities(req)[0].attributes).toEqual({
      'occi.compute.memory': 3.6,
      'occi.core.title': 'How\'s your quotes escaping? ", occi.compute.memory=1.0',
    });
  });

  it('accepts header name variants and any case', () => {
    const req = body('x-occi-category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"\n');
    expect(textPlain.parseCategoryRefs(req)).toEqual([{ id: INFRA + 'compute' }]);
  });

  it('falls back to the OCCI request headers when the body is empty', () => {
    const req: RequestInput = { headers: { category: 'compute; scheme="http://schemas.ogf.org/occi/infrastructure#"' }, body: '' };
    expect(textPlain.parseCategoryRefs(req)).toEqual([{ id: INFRA + 'compute' }]);
  });

  it('an empty input is one empty entity request', () => {
    expect(textPlain.parseEntities(body(''))).toEqual([{ categories: [], attributes: {}, links: [] }]);
  });
});

describe('text/plain: other renderings', () => {
  it('ok, created and error', () => {
    expect(textPlain.renderOk()).toEqual({ headers: [], body: '' });
    expect(textPlain.renderCreated(['/compute/1'])).toEqual({ headers: [], body: 'X-OCCI-Location: /compute/1\n' });
    expect(textPlain.renderError(404, 'no such entity\r\nX-Evil: 1')).toEqual({
      headers: [],
      body: 'no such entity X-Evil: 1\n',
    });
  });

  it('a title with a newline cannot add a line', () => {
    const rendered = textPlain.renderEntity({ ...computeView, actions: [], attributes: { 'occi.core.title': 'a\r\nCategory: evil' } });
    expect(rendered.body.split('\n').filter((l) => l !== '')).toHaveLength(2);
    expect(rendered.body).toContain('X-OCCI-Attribute: occi.core.title="a Category: evil"\n');
  });

  it('streams give the same bytes as the one-shot renderings', () => {
    const locs = ['/compute/1', '/compute/2'];
    const ls = textPlain.locationStream!;
    expect(ls.open() + locs.map((l, i) => ls.item(l, i)).join('') + ls.close()).toBe(textPlain.renderLocations(locs).body);
    const es = textPlain.entityStream!;
    const views = [computeView, { ...computeView, location: '/compute/2' }];
    expect(es.open() + views.map((v, i) => es.item(v, i)).join('') + es.close()).toBe(textPlain.renderEntities(views).body);
  });
});
