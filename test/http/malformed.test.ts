/**
 * Malformed and invalid requests (occi-spec.md §3.10, §4.1, §5; DESIGN.md error table): each answers its
 * exact status with a message naming the offending header, field or value, and changes nothing (CouchDB's
 * update_seq is the same before and after).
 *
 * Status choices (DESIGN.md): bad syntax, unknown attribute/action, wrong type and missing required are 400
 * (GFD.221: "the provider MUST notify the client it has issued a bad request"); an unknown kind or mixin is
 * 404 and a mixin that does not apply is 403 (OCCI 1.1 HTTP return codes); changing an immutable value is
 * 403; an unknown request target is 404; a duplicate id 409.
 */
import type { Test } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { COMPUTE_CATEGORY, INFRA, startHarness, type Harness } from '../support/harness';

const JSON_TYPE = 'application/occi+json';
const STORAGE = `storage; scheme="${INFRA}"; class="kind"`;
const NETWORK = `network; scheme="${INFRA}"; class="kind"`;
const NETIF = `networkinterface; scheme="${INFRA}"; class="kind"`;
const STORAGELINK = `storagelink; scheme="${INFRA}"; class="kind"`;
const IPNETWORK = 'ipnetwork; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; class="mixin"';
const STOP = 'stop; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"';
const START = 'start; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"';

let h: Harness;
/** Fixtures made before any case runs: a compute, a network, a storage and a user mixin. */
const VM_UUID = '0b9a6c1e-5d43-4c1f-9a51-6f0d3c2a7e10';
const fx = { vm: `/compute/${VM_UUID}`, net: '', disk: '' };

beforeAll(async () => {
  h = await startHarness();
  const vm = await h.http.post('/compute/').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY).set('X-OCCI-Attribute', `occi.core.id="urn:uuid:${VM_UUID}"`);
  const net = await h.http.post('/network/').set('Content-Type', 'text/occi').set('Category', NETWORK);
  const disk = await h.http.post('/storage/').set('Content-Type', 'text/occi').set('Category', STORAGE).set('X-OCCI-Attribute', 'occi.storage.size=1');
  const tag = await h.http.post('/-/').set('Content-Type', 'text/occi').set('Category', 'malformed; scheme="http://example.com/tags#"; class="mixin"; location="/tags/malformed/"');
  expect([vm.status, net.status, disk.status, tag.status]).toEqual([201, 201, 201, 200]);
  expect(new URL(vm.headers.location as string).pathname).toBe(fx.vm);
  fx.net = new URL(net.headers.location as string).pathname;
  fx.disk = new URL(disk.headers.location as string).pathname;
});
afterAll(async () => h.close());

type Case = readonly [name: string, send: (http: TestAgent) => Test, status: number, message: string];

/** POST /compute/ in text/occi with the given Category and X-OCCI-Attribute headers. */
function occi(path: string, category: string | undefined, attributes?: string, extra: Record<string, string> = {}) {
  return (http: TestAgent): Test => {
    const r = http.post(path).set('Content-Type', 'text/occi');
    if (category !== undefined) r.set('Category', category);
    if (attributes !== undefined) r.set('X-OCCI-Attribute', attributes);
    for (const [k, v] of Object.entries(extra)) r.set(k, v);
    return r;
  };
}
const compute = (attributes: string) => occi('/compute/', COMPUTE_CATEGORY, attributes);
const plain = (path: string, body: string, method: 'post' | 'put' = 'post') => (http: TestAgent): Test => http[method](path).set('Content-Type', 'text/plain').send(body);
const json = (path: string, body: string, method: 'post' | 'put' = 'post') => (http: TestAgent): Test => http[method](path).set('Content-Type', JSON_TYPE).send(body);
const jsonCompute = (fields: string) => json('/compute/', `{"kind": "${INFRA}compute"${fields}}`);
const action = (path: () => string, term: string, category?: string, attributes?: string) => (http: TestAgent): Test => occi(`${path()}?action=${term}`, category, attributes)(http);
const nested = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

const CASES: Case[] = [
  // --- text header grammar (400) ---
  ['unterminated quoted-string in Category', occi('/compute/', `compute; scheme="${INFRA}"; class="kind`), 400, 'unterminated quoted-string'],
  ['garbage after a closing quote', occi('/compute/', `compute; scheme="${INFRA}"x; class="kind"`), 400, "parameter 'x' has no '='"],
  ['unknown class', occi('/compute/', `compute; scheme="${INFRA}"; class="thing"`), 400, "unknown class 'thing'"],
  ['Category without scheme', occi('/compute/', 'compute; class="kind"'), 400, "category 'compute' has no scheme"],
  ['scheme without #', occi('/compute/', 'compute; scheme="http://schemas.ogf.org/occi/infrastructure"; class="kind"'), 400, "scheme 'http://schemas.ogf.org/occi/infrastructure' does not end with '#'"],
  ['bad term', occi('/compute/', `comp ute; scheme="${INFRA}"; class="kind"`), 400, "bad term 'comp ute'"],
  ['a Category parameter given twice', occi('/compute/', `compute; scheme="${INFRA}"; class="kind"; class="mixin"`), 400, "parameter 'class' given twice"],
  ['two kinds in one request', occi('/compute/', `${COMPUTE_CATEGORY}, ${STORAGE}`), 400, `exactly one kind; the request names ${INFRA}compute and ${INFRA}storage`],
  ['the same attribute twice', compute('occi.compute.cores=2, occi.compute.cores=4'), 400, "attribute 'occi.compute.cores' given twice"],
  ['X-OCCI-Attribute without =', compute('occi.compute.cores'), 400, 'occi.compute.cores'],
  ['X-OCCI-Attribute with a bad name', compute('-cores=2'), 400, "bad attribute name '-cores'"],
  ['X-OCCI-Attribute unterminated string', compute('occi.compute.hostname="web'), 400, 'unterminated quoted-string'],
  ['Link without <…>', occi('/compute/', COMPUTE_CATEGORY, undefined, { Link: `/network/x; rel="${INFRA}network"` }), 400, 'Link: target must be enclosed in <'],
  ['Link without rel', occi('/compute/', COMPUTE_CATEGORY, undefined, { Link: '</network/x>; category="http://schemas.ogf.org/occi/infrastructure#networkinterface"' }), 400, 'link has no rel'],
  ['an empty Category header', occi('/compute/', ' '), 400, 'Category: empty value'],
  ['text/plain line without a colon', plain('/compute/', `Category: ${COMPUTE_CATEGORY}\nnonsense\n`), 400, 'nonsense'],
  ['text/plain misspelt header', plain('/compute/', `Category: ${COMPUTE_CATEGORY}\nX-OCCI-Atribute: occi.compute.cores=2\n`), 400, 'X-OCCI-Atribute'],
  ['text/plain continuation with nothing to continue', plain('/compute/', `  Category: ${COMPUTE_CATEGORY}\n`), 400, 'continuation'],

  // --- the model (400 / 403) ---
  ['unknown kind', occi('/compute/', 'blob; scheme="http://example.com/x#"; class="kind"'), 404, 'http://example.com/x#blob'],
  ['unknown mixin', occi('/compute/', `${COMPUTE_CATEGORY}, nosuch; scheme="http://example.com/x#"; class="mixin"`), 404, 'http://example.com/x#nosuch'],
  ['mixin not applicable to the kind', occi('/compute/', `${COMPUTE_CATEGORY}, ${IPNETWORK}`), 403, 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork does not apply'],
  ['a mixin sent as a kind', occi('/compute/', 'ipnetwork; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; class="kind"'), 400, 'is a mixin, not a kind'],
  ['an action as an entity category', occi('/compute/', `${COMPUTE_CATEGORY}, ${START}`), 400, 'is an action'],
  ['another kind POSTed to /compute/', occi('/compute/', STORAGE, 'occi.storage.size=1'), 400, `the request names ${INFRA}storage`],
  ['unknown attribute', compute('occi.compute.colour="red"'), 400, 'occi.compute.colour'],
  ['wrong type: cores="many"', compute('occi.compute.cores="many"'), 400, 'occi.compute.cores: "many"'],
  ['wrong type: cores=true', compute('occi.compute.cores=true'), 400, 'occi.compute.cores'],
  ['not an integer: cores=2.5', compute('occi.compute.cores=2.5'), 400, 'occi.compute.cores'],
  ['below the minimum: cores=0', compute('occi.compute.cores=0'), 400, 'occi.compute.cores: 0'],
  ['number with a unit: memory=2GB', compute('occi.compute.memory=2GB'), 400, '2GB'],
  ['outside the enum: architecture="arm"', compute('occi.compute.architecture="arm"'), 400, 'arm'],
  ['pattern: hostname="-bad-"', compute('occi.compute.hostname="-bad-"'), 400, 'occi.compute.hostname: "-bad-"'],
  ['range: vlan=5000', occi('/network/', NETWORK, 'occi.network.vlan=5000'), 400, 'occi.network.vlan'],
  ['required missing: storage without size', occi('/storage/', STORAGE), 400, 'missing required attribute occi.storage.size'],
  ['immutable different on update: state="suspended"', (http) => occi(fx.vm, undefined, 'occi.compute.state="suspended"')(http), 403, 'occi.compute.state'],
  ['an id that cannot name a path', compute('occi.core.id="a/b"'), 400, 'a/b'],
  ['an id that exists', compute(`occi.core.id="urn:uuid:${VM_UUID}"`), 409, `urn:uuid:${VM_UUID} already exists`],
  ['changing the kind on update', (http) => occi(fx.vm, STORAGE)(http), 400, `cannot change to ${INFRA}storage`],
  ['PUT replacing an entity with a Link header', (http) => http.put(fx.vm).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY).set('Link', `<${fx.net}>; rel="${INFRA}network"`), 400, 'a full update (PUT) leaves links intact'],

  // --- JSON (400) ---
  ['bad JSON', json('/compute/', `{"kind": "${INFRA}compute",`), 400, 'invalid JSON at position'],
  ['JSON null', json('/compute/', 'null'), 400, 'must be a JSON object (got null)'],
  ['JSON array where an object is expected', json('/compute/', `[{"kind": "${INFRA}compute"}]`), 400, 'must be a JSON object (got array)'],
  ['JSON kind: 5', json('/compute/', '{"kind": 5}'), 400, '/kind'],
  ['JSON mixins: "x"', jsonCompute(', "mixins": "x"'), 400, '/mixins'],
  ['JSON mixins: ["nohash"]', jsonCompute(', "mixins": ["nohash"]'), 400, 'nohash'],
  ['JSON attributes: []', jsonCompute(', "attributes": []'), 400, '/attributes'],
  ['JSON attribute of the wrong type', jsonCompute(', "attributes": {"occi.compute.cores": "many"}'), 400, 'occi.compute.cores'],
  ['JSON object value for a number', jsonCompute(', "attributes": {"occi.compute.memory": {"x": 1}}'), 400, 'occi.compute.memory'],
  ['JSON unknown member', jsonCompute(', "colour": "red"'), 400, 'unknown member "colour"'],
  ['JSON deep nesting', json('/compute/', `{"kind": "${INFRA}compute", "attributes": ${nested(5000)}}`), 400, 'nested deeper than'],
  ['a body that is not UTF-8', (http) => http.post('/compute/').set('Content-Type', 'text/plain').send(Buffer.concat([Buffer.from(`Category: ${COMPUTE_CATEGORY}\nX-OCCI-Attribute: occi.core.title="`), Buffer.from([0xff, 0xfe]), Buffer.from('"\n')])), 400, 'UTF-8'],

  // --- query interface (400 / 404 / 409) ---
  ['POST /-/ mixin without location', occi('/-/', 'nowhere; scheme="http://example.com/tags#"; class="mixin"'), 400, 'http://example.com/tags#nowhere: a mixin needs a location'],
  ['POST /-/ mixin depending on an unknown mixin', occi('/-/', 'orphan; scheme="http://example.com/tags#"; class="mixin"; rel="http://example.com/none#thing"; location="/tags/orphan/"'), 400, 'http://example.com/none#thing'],
  ['POST /-/ attribute description with a bad type', json('/-/', '{"mixins": [{"term": "typed", "scheme": "http://example.com/tags#", "location": "/tags/typed/", "attributes": {"com.example.size": {"type": "float", "mutable": true, "required": false}}}]}'), 400, 'com.example.size/type: must be one of'],
  ['POST /-/ the same mixin twice in one request', occi('/-/', 'twin; scheme="http://example.com/tags#"; class="mixin"; location="/tags/twin1/", twin; scheme="http://example.com/tags#"; class="mixin"; location="/tags/twin2/"'), 400, 'defines http://example.com/tags#twin twice'],
  ['POST /-/ the same kind twice in one request', occi('/-/', 'robot; scheme="http://example.com/kinds#"; class="kind"; location="/robot1/", robot; scheme="http://example.com/kinds#"; class="kind"; location="/robot2/"'), 400, 'defines http://example.com/kinds#robot twice'],
  ['POST /-/ two mixins at one location', occi('/-/', 'one; scheme="http://example.com/tags#"; class="mixin"; location="/tags/same/", two; scheme="http://example.com/tags#"; class="mixin"; location="/tags/same/"'), 409, '/tags/same/'],
  ['POST /-/ a mixin at a kind\'s location', occi('/-/', 'clash; scheme="http://example.com/tags#"; class="mixin"; location="/compute/"'), 409, '/compute/'],
  ['DELETE /-/ naming nothing', (http) => http.delete('/-/').set('Content-Type', 'text/occi'), 400, 'name the category'],
  ['DELETE /-/ an unknown category', (http) => http.delete('/-/').set('Content-Type', 'text/occi').set('Category', 'ghost; scheme="http://example.com/tags#"; class="mixin"'), 404, 'http://example.com/tags#ghost'],
  ['PUT /-/ updating an unknown category', json('/-/', '{"mixins": [{"term": "ghost", "scheme": "http://example.com/tags#", "location": "/ghost/"}]}', 'put'), 404, 'http://example.com/tags#ghost'],

  // --- actions (400 / 404) ---
  ['unknown action term', action(() => fx.vm, 'fly'), 400, '"fly"'],
  ['unknown action term on a collection', action(() => '/compute/', 'fly'), 400, '"fly"'],
  ['unknown action parameter', action(() => fx.vm, 'stop', STOP, 'speed="fast"'), 400, 'speed'],
  ['action method outside its enum', action(() => fx.vm, 'stop', STOP, 'method="sideways"'), 400, 'sideways'],
  ['action body naming another action', action(() => fx.vm, 'stop', START), 400, 'the body names http://schemas.ogf.org/occi/infrastructure/compute/action#start'],
  ['JSON action invocation with action: 7', (http) => json(`${fx.vm}?action=start`, '{"action": 7}')(http), 400, '/action'],
  ['action on an unknown entity', action(() => '/compute/nope', 'start'), 404, '/compute/nope'],

  // --- links (400) ---
  ['link with neither source nor target', occi('/networkinterface/', NETIF), 400, 'occi.core.source'],
  ['link with a source but no target', (http) => occi('/networkinterface/', NETIF, `occi.core.source="${fx.vm}"`)(http), 400, 'occi.core.target'],
  ['link whose source does not exist', (http) => occi('/networkinterface/', NETIF, `occi.core.source="/compute/nope", occi.core.target="${fx.net}"`)(http), 400, '/compute/nope'],
  ['link whose local target does not exist', (http) => occi('/networkinterface/', NETIF, `occi.core.source="${fx.vm}", occi.core.target="/network/nope"`)(http), 400, '/network/nope'],
  ['storagelink with an external target', (http) => occi('/storagelink/', STORAGELINK, `occi.core.source="${fx.vm}", occi.core.target="http://198.51.100.7/storage/far"`)(http), 400, 'http://198.51.100.7/storage/far'],

  // --- paths, methods and paging ---
  ['POST to an unbound path', occi('/vms/', COMPUTE_CATEGORY), 405, 'POST is not allowed on /vms/'],
  ['PUT to a path ending in /', (http) => http.put('/vms/web1/').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY), 405, 'PUT is not allowed on /vms/web1/'],
  ['PUT to /-/x', (http) => http.put('/-/x').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY), 400, 'reserved for the query interface'],
  ['PUT to /.well-known/x', (http) => http.put('/.well-known/x').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY), 400, 'reserved for the query interface'],
  ['DELETE an unknown entity', (http) => http.delete('/compute/nope'), 404, '/compute/nope'],
  ['associating an unknown entity with a mixin', (http) => http.post('/tags/malformed/').set('Content-Type', 'text/occi').set('X-OCCI-Location', '/compute/nope'), 404, '/compute/nope'],
  ['If-Match that does not match', (http) => occi(fx.vm, undefined, 'occi.compute.cores=4', { 'If-Match': '"1-0000"' })(http), 412, '1-0000'],
  ['page=0', (http) => http.get('/compute/?page=0&number=10'), 400, 'page must be a whole number from 1; got 0'],
  ['page=abc', (http) => http.get('/compute/?page=abc&number=10'), 400, 'page must be a whole number from 1; got "abc"'],
  ['number=-5', (http) => http.get('/compute/?page=1&number=-5'), 400, 'number must be a whole number from 1; got "-5"'],
  ['page without number', (http) => http.get('/compute/?page=2'), 400, 'paging needs both page and number'],
  ['number above the largest page', (http) => http.get('/compute/?page=1&number=1001'), 413, '1001'],
  ['a text/uri-list body for a create', (http) => http.post('/compute/').set('Content-Type', 'text/uri-list').send('/compute/x\r\n'), 400, 'text/uri-list body (/compute/x) associate a mixin'],
  ['an unknown Content-Type', (http) => http.post('/compute/').set('Content-Type', 'application/xml').send('<compute/>'), 415, 'application/xml'],
];

test('the table has at least 50 cases', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(50);
});

describe.each(CASES)('%s', (_name, send, status, message) => {
  test(`${status}, naming the problem, nothing changed`, async () => {
    const before = await h.seq();
    const r = await send(h.http);
    expect({ status: r.status, text: r.text }).toEqual({ status, text: expect.stringContaining(message) });
    expect(await h.seq()).toBe(before);
  });
});

describe('limits (a harness with small ones)', () => {
  let small: Harness;
  beforeAll(async () => {
    small = await startHarness({ limits: { bodyBytes: 2048, headerBytes: 65536, headerCount: 50, pageSizeMax: 100, pageSizeDefault: 100 } });
  });
  afterAll(async () => small.close());

  const LIMIT_CASES: Case[] = [
    ['a body over bodyBytes', (http) => http.post('/compute/').set('Content-Type', 'text/plain').send(`Category: ${COMPUTE_CATEGORY}\n` + `X-OCCI-Attribute: occi.core.title="${'x'.repeat(3000)}"\n`), 413, '2048'],
    ['a JSON body over bodyBytes', (http) => http.post('/-/').set('Content-Type', JSON_TYPE).send(JSON.stringify({ mixins: [{ term: 'big', scheme: 'http://example.com/x#', location: '/big/', title: 'y'.repeat(4000) }] })), 413, '2048'],
    [
      'more header lines than headerCount',
      (http) => {
        const r = http.post('/compute/').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
        for (let i = 0; i < 60; i++) r.set(`X-Filler-${i}`, 'x');
        return r;
      },
      431,
      'header lines',
    ],
    ['number above pageSizeMax', (http) => http.get('/compute/?page=1&number=101'), 413, '101'],
  ];

  test.each(LIMIT_CASES)('%s', async (_name, send, status, message) => {
    const before = await small.seq();
    const r = await send(small.http);
    expect({ status: r.status, text: r.text }).toEqual({ status, text: expect.stringContaining(message) });
    expect(await small.seq()).toBe(before);
  });

  test('a body of exactly bodyBytes is read', async () => {
    const head = `Category: ${COMPUTE_CATEGORY}\nX-OCCI-Attribute: occi.core.title="`;
    const body = head + 'x'.repeat(2048 - head.length - 2) + '"\n';
    expect(Buffer.byteLength(body)).toBe(2048);
    const r = await small.http.post('/compute/').set('Content-Type', 'text/plain').send(body);
    expect(r.status).toBe(201);
  });
});
