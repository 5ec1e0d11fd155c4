import { BadRequest, ParseError } from '../../../src/errors';
import type { EntityView } from '../../../src/model/types';
import { uriList } from '../../../src/rendering/uri-list';

const view = (location: string): EntityView => ({
  location,
  kind: 'http://schemas.ogf.org/occi/infrastructure#compute',
  mixins: [],
  actions: [],
  attributes: {},
});

describe('text/uri-list', () => {
  it('renders one URI per line, CRLF-terminated (RFC 2483; GFD.185 GET /vms/ example)', () => {
    expect(uriList.mediaType).toBe('text/uri-list');
    expect(uriList.renderLocations(['http://example.com/vms/vm3', 'http://example.com/vms/foo/'])).toEqual({
      headers: [],
      body: 'http://example.com/vms/vm3\r\nhttp://example.com/vms/foo/\r\n',
    });
    expect(uriList.renderLocations([])).toEqual({ headers: [], body: '' });
  });

  it('renders an entity collection as its locations', () => {
    expect(uriList.renderEntities([view('/compute/1'), view('/compute/2')]).body).toBe('/compute/1\r\n/compute/2\r\n');
    expect(uriList.renderCreated(['/compute/1']).body).toBe('/compute/1\r\n');
  });

  it('refuses what is not a listing with 400', () => {
    const message = 'text/uri-list can only render a listing of locations; ask for text/plain, text/occi or application/occi+json';
    expect(() => uriList.renderEntity(view('/compute/1'))).toThrow(BadRequest);
    expect(() => uriList.renderEntity(view('/compute/1'))).toThrow(message);
    expect(() => uriList.renderCategories({ kinds: [], mixins: [], actions: [] })).toThrow(message);
    try {
      uriList.renderCategories({ kinds: [], mixins: [], actions: [] });
    } catch (e) {
      expect((e as BadRequest).status).toBe(400);
    }
  });

  it('ok is an empty list; an error is a comment line without CR/LF inside', () => {
    expect(uriList.renderOk()).toEqual({ headers: [], body: '' });
    expect(uriList.renderError(404, 'no such\r\nthing')).toEqual({ headers: [], body: '# 404 no such thing\r\n' });
  });

  it('a location cannot break into two lines', () => {
    expect(uriList.renderLocations(['/a\r\n/b']).body).toBe('/a /b\r\n');
  });

  it('streams give the same bytes as the one-shot renderings', () => {
    const locs = ['/compute/1', '/compute/2'];
    const ls = uriList.locationStream!;
    expect(ls.open() + locs.map((l, i) => ls.item(l, i)).join('') + ls.close()).toBe(uriList.renderLocations(locs).body);
    const es = uriList.entityStream!;
    const views = locs.map(view);
    expect(es.open() + views.map((v, i) => es.item(v, i)).join('') + es.close()).toBe(uriList.renderEntities(views).body);
  });

  it('parses locations, skipping comments and blank lines, CRLF or LF', () => {
    const body = '# associate these\r\nhttp://example.com/vms/foo/vm1\r\n\r\n  /compute/2  \n#/compute/3\n/compute/4';
    expect(uriList.parseLocations({ headers: {}, body })).toEqual(['http://example.com/vms/foo/vm1', '/compute/2', '/compute/4']);
    expect(uriList.parseLocations({ headers: {}, body: '' })).toEqual([]);
  });

  it('rejects a line that is not one URI', () => {
    expect(() => uriList.parseLocations({ headers: {}, body: '/compute/1 /compute/2\r\n' })).toThrow(ParseError);
    expect(() => uriList.parseLocations({ headers: {}, body: '<compute/1>\r\n' })).toThrow('text/uri-list: bad URI "<compute/1>"');
  });
});
