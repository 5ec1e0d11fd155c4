import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import {
  CategoryGraphError,
  type GraphRule,
  loadBuiltinCategories,
  parseCategoryYaml,
  validateCategoryGraph,
} from '../../../src/category-manager/builtin';
import type { Action, Category, Kind, Mixin } from '../../../src/model/types';
import { categoryId } from '../../../src/model/types';

const DIR = join(__dirname, '../../../categories');
const CORE = 'http://schemas.ogf.org/occi/core#';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const COMPUTE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const STORAGE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/storage/action#';
const EX = 'http://example.com/occi#';

const shipped = loadBuiltinCategories(DIR);
const byId = new Map(shipped.map((c) => [categoryId(c), c]));
const kind = (id: string): Kind => byId.get(id) as Kind;
const mixin = (id: string): Mixin => byId.get(id) as Mixin;
const action = (id: string): Action => byId.get(id) as Action;
const enumOf = (c: Category, attr: string): unknown => c.attributes[attr]?.pattern?.enum;

describe('the shipped categories', () => {
  it('hold the core and infrastructure kinds, the spec and occitan mixins, and the 1.2 + 1.1 actions', () => {
    // Backends ship their own files (categories/docker.yaml, …); count the spec's and occitan's core ones.
    const core = (c: Category): boolean => c.scheme.startsWith('http://schemas.ogf.org/') || c.scheme === 'https://occitan.dev/occi/occitan#';
    const ids = (cls: string) => shipped.filter((c) => c.class === cls && core(c)).map(categoryId).sort();
    expect(ids('kind')).toEqual(
      [`${CORE}entity`, `${CORE}link`, `${CORE}resource`, `${INFRA}compute`, `${INFRA}network`, `${INFRA}networkinterface`, `${INFRA}storage`, `${INFRA}storagelink`].sort(),
    );
    expect(ids('mixin')).toHaveLength(8);
    expect(ids('action')).toHaveLength(12); // compute 5, network 2, storage 2 + 1.1's backup/snapshot/resize
    expect(shipped.every((c) => c.origin === 'builtin')).toBe(true);
    expect(shipped.every((c) => c.scheme.endsWith('#'))).toBe(true);
  });

  it('read the files in name order (core.yaml first)', () => {
    expect(categoryId(shipped[0])).toBe(`${CORE}entity`);
  });

  it('define core#entity as abstract: no location, no parent; resource and link below it', () => {
    const entity = kind(`${CORE}entity`);
    expect(entity.location).toBeUndefined();
    expect(entity.parent).toBeUndefined();
    expect(entity.attributes['occi.core.id']).toMatchObject({ type: 'string', mutable: false, required: false });
    expect(entity.attributes['occi.core.title']).toMatchObject({ type: 'string', mutable: true, required: false });
    expect(kind(`${CORE}resource`)).toMatchObject({ parent: `${CORE}entity`, location: '/resource/' });
    expect(Object.keys(kind(`${CORE}resource`).attributes)).toEqual(['occi.core.summary']);
    const link = kind(`${CORE}link`);
    expect(link).toMatchObject({ parent: `${CORE}entity`, location: '/link/' });
    expect(link.attributes['occi.core.source']).toMatchObject({ mutable: true, required: true });
    expect(link.attributes['occi.core.target']).toMatchObject({ mutable: true, required: true });
    expect(link.attributes['occi.core.target.kind']).toMatchObject({ required: false });
  });

  it('define compute exactly as GFD.224 §3.1 (+ 1.1 speed)', () => {
    const compute = kind(`${INFRA}compute`);
    expect(compute).toMatchObject({ parent: `${CORE}resource`, location: '/compute/', title: 'Compute Resource' });
    // attribute -> [type, mutable], from the spec table by hand
    const expected: Record<string, [string, boolean]> = {
      'occi.compute.architecture': ['string', true],
      'occi.compute.cores': ['number', true],
      'occi.compute.hostname': ['string', true],
      'occi.compute.share': ['number', true],
      'occi.compute.memory': ['number', true],
      'occi.compute.speed': ['number', true],
      'occi.compute.state': ['string', false],
      'occi.compute.state.message': ['string', false],
    };
    expect(Object.keys(compute.attributes).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, [type, mutable]] of Object.entries(expected)) {
      expect([name, compute.attributes[name].type, compute.attributes[name].mutable]).toEqual([name, type, mutable]);
      expect([name, compute.attributes[name].required]).toEqual([name, false]);
    }
    expect(enumOf(compute, 'occi.compute.architecture')).toEqual(['x86', 'x64']);
    expect(compute.attributes['occi.compute.cores'].pattern).toMatchObject({ type: 'integer' });
    expect(compute.attributes['occi.compute.share'].pattern).toMatchObject({ type: 'integer' });
    expect(compute.attributes['occi.compute.state'].default).toBe('inactive');
    expect(enumOf(compute, 'occi.compute.state')).toEqual(['active', 'inactive', 'suspended', 'error']);
    expect(compute.actions).toEqual(['start', 'stop', 'restart', 'suspend', 'save'].map((t) => COMPUTE_ACTION + t));
  });

  it('define the compute actions with the spec parameters', () => {
    expect(enumOf(action(`${COMPUTE_ACTION}stop`), 'method')).toEqual(['graceful', 'acpioff', 'poweroff']);
    expect(enumOf(action(`${COMPUTE_ACTION}restart`), 'method')).toEqual(['graceful', 'warm', 'cold']);
    expect(enumOf(action(`${COMPUTE_ACTION}suspend`), 'method')).toEqual(['hibernate', 'suspend']);
    expect(enumOf(action(`${COMPUTE_ACTION}save`), 'method')).toEqual(['hot', 'deferred']);
    expect(action(`${COMPUTE_ACTION}save`).attributes.name).toMatchObject({ type: 'string', required: false });
    expect(action(`${COMPUTE_ACTION}start`).attributes).toEqual({});
  });

  it('define storage (size required) with 1.2 and 1.1 actions', () => {
    const storage = kind(`${INFRA}storage`);
    expect(storage.attributes['occi.storage.size']).toMatchObject({ type: 'number', mutable: true, required: true });
    expect(storage.attributes['occi.storage.state']).toMatchObject({ mutable: false, required: false, default: 'offline' });
    expect(enumOf(storage, 'occi.storage.state')).toEqual(['online', 'offline', 'error']);
    expect(storage.actions).toEqual(['online', 'offline', 'backup', 'snapshot', 'resize'].map((t) => STORAGE_ACTION + t));
    expect(action(`${STORAGE_ACTION}resize`).attributes.size).toMatchObject({ type: 'number', required: true });
  });

  it('define network and the two link kinds', () => {
    const network = kind(`${INFRA}network`);
    expect(Object.keys(network.attributes).sort()).toEqual(['occi.network.label', 'occi.network.state', 'occi.network.state.message', 'occi.network.vlan']);
    expect(network.attributes['occi.network.vlan'].pattern).toEqual({ type: 'integer', minimum: 0, maximum: 4095 });
    expect(network.actions).toEqual(['up', 'down'].map((t) => `http://schemas.ogf.org/occi/infrastructure/network/action#${t}`));
    const ni = kind(`${INFRA}networkinterface`);
    expect(ni).toMatchObject({ parent: `${CORE}link`, location: '/networkinterface/', actions: [] });
    expect(ni.attributes['occi.networkinterface.interface']).toMatchObject({ mutable: false });
    expect(ni.attributes['occi.networkinterface.mac']).toMatchObject({ mutable: true });
    const sl = kind(`${INFRA}storagelink`);
    expect(sl).toMatchObject({ parent: `${CORE}link`, location: '/storagelink/' });
    expect(Object.keys(sl.attributes).sort()).toEqual(['occi.storagelink.deviceid', 'occi.storagelink.mountpoint', 'occi.storagelink.state', 'occi.storagelink.state.message']);
  });

  it('define the infrastructure mixins', () => {
    const ipnetwork = mixin('http://schemas.ogf.org/occi/infrastructure/network#ipnetwork');
    expect(ipnetwork.applies).toEqual([`${INFRA}network`]);
    expect(Object.keys(ipnetwork.attributes).sort()).toEqual(['occi.network.address', 'occi.network.allocation', 'occi.network.gateway']);
    const ipni = mixin('http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface');
    expect(ipni.applies).toEqual([`${INFRA}networkinterface`]);
    const ssh = mixin('http://schemas.ogf.org/occi/infrastructure/credentials#ssh_key');
    expect(ssh).toMatchObject({ term: 'ssh_key', scheme: 'http://schemas.ogf.org/occi/infrastructure/credentials#', applies: [`${INFRA}compute`] });
    expect(ssh.attributes['occi.credentials.ssh.publickey']).toMatchObject({ type: 'string', mutable: true, required: true });
    const ud = mixin('http://schemas.ogf.org/occi/infrastructure/compute#user_data');
    expect(ud.attributes['occi.compute.userdata']).toMatchObject({ type: 'string', required: true });
    expect(mixin(`${INFRA}os_tpl`)).toMatchObject({ location: '/os_tpl/', attributes: {} });
    expect(mixin(`${INFRA}resource_tpl`)).toMatchObject({ location: '/resource_tpl/', attributes: {} });
  });

  it('define occitan mixins under a provider scheme', () => {
    const provider = mixin('https://occitan.dev/occi/occitan#provider');
    expect(provider.attributes['occitan.provider']).toMatchObject({ type: 'string', mutable: false, required: false });
    const lease = mixin('https://occitan.dev/occi/occitan#lease');
    // Exactly one of seconds and hours (checked when the lease is applied), so neither is required alone.
    expect(lease.attributes['occitan.lease.duration']).toMatchObject({ type: 'number', mutable: true, required: false });
    expect(lease.attributes['occitan.lease.hours']).toMatchObject({ type: 'number', mutable: true, required: false });
    expect(lease.attributes['occitan.lease.expires']).toMatchObject({ mutable: false });
    // occitan's own kinds (the docker provider's service and node, issue 5) are resources under occitan's scheme;
    // everything else occitan ships there is a mixin or an action of those kinds.
    const own = shipped.filter((c) => c.scheme.startsWith('https://occitan.dev/'));
    for (const k of own.filter((c) => c.class === 'kind')) expect([k.term, (k as { parent?: string }).parent]).toEqual([k.term, 'http://schemas.ogf.org/occi/core#resource']);
    expect(own.filter((c) => c.class === 'kind').map((c) => c.scheme + c.term).sort()).toEqual(['https://occitan.dev/occi/docker#node', 'https://occitan.dev/occi/docker#service']);
    expect(own.every((c) => c.class === 'mixin' || c.class === 'action' || c.scheme === 'https://occitan.dev/occi/docker#')).toBe(true);
  });

  it('give IP attributes correct IPv4/IPv6 address and CIDR patterns, not shared between categories', () => {
    const ipnetwork = mixin('http://schemas.ogf.org/occi/infrastructure/network#ipnetwork');
    const cidr = new RegExp(String(ipnetwork.attributes['occi.network.address'].pattern?.pattern), 'u');
    const addr = new RegExp(String(ipnetwork.attributes['occi.network.gateway'].pattern?.pattern), 'u');
    for (const ok of ['10.0.0.0/8', '192.168.1.0/24', '0.0.0.0/0', 'fc00::/7', '2001:db8::/32', '::/0', '::ffff:10.0.0.0/104']) expect([ok, cidr.test(ok)]).toEqual([ok, true]);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '256.0.0.0/8', '01.2.3.4/8', 'fc00::/129', '1:2:3:4:5:6:7:8:9/64', 'x/8']) expect([bad, cidr.test(bad)]).toEqual([bad, false]);
    for (const ok of ['192.168.0.1', '::1', '::', 'fe80::1', '1:2:3:4:5:6:7:8', '1::8', '::ffff:1.2.3.4', '1:2:3:4:5:6:1.2.3.4']) expect([ok, addr.test(ok)]).toEqual([ok, true]);
    for (const bad of ['192.168.0.1/24', '1.2.3', '1.2.3.4.5', ':::', '1::2::3', '12345::', 'fe80::1%eth0', ' ::1']) expect([bad, addr.test(bad)]).toEqual([bad, false]);
    const ipni = mixin('http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface');
    expect(ipni.attributes['occi.networkinterface.address'].pattern).toEqual(ipnetwork.attributes['occi.network.gateway'].pattern);
    expect(ipni.attributes['occi.networkinterface.address'].pattern).not.toBe(ipnetwork.attributes['occi.network.gateway'].pattern);
  });
});

describe('parseCategoryYaml', () => {
  it('parses the GFD.226 shape', () => {
    const cs = parseCategoryYaml(
      `kinds:\n  - { term: vm, scheme: '${EX}', parent: '${CORE}resource', location: /vm/, attributes: { com.example.x: { type: number, mutable: true, required: false, default: 2 } } }\n`,
      'x.yaml',
    );
    expect(cs).toEqual([
      { class: 'kind', term: 'vm', scheme: EX, parent: `${CORE}resource`, location: '/vm/', actions: [], origin: 'builtin', attributes: { 'com.example.x': { type: 'number', mutable: true, required: false, default: 2 } } },
    ]);
  });

  it('treats a file of comments as empty', () => {
    expect(parseCategoryYaml('# nothing yet\n\n', 'empty.yaml')).toEqual([]);
  });

  it.each([
    ['an attribute without mutable', `actions:\n  - { term: a, scheme: '${EX}', attributes: { x: { type: string, required: false } } }`, /x\.yaml: .*\/actions\/0\/attributes\/x must have required property 'mutable'/],
    ['an unknown member', `kinds:\n  - { term: a, scheme: '${EX}', rel: '${CORE}resource' }`, /x\.yaml: .*\/kinds\/0 must NOT have additional properties \(rel\)/],
    ['a bad attribute type', `actions:\n  - { term: a, scheme: '${EX}', attributes: { x: { type: integer, mutable: true, required: false } } }`, /\/actions\/0\/attributes\/x\/type/],
    ['a mixin without location', `mixins:\n  - { term: a, scheme: '${EX}' }`, /\/mixins\/0 must have required property 'location'/],
    ['an unknown top-level key', `categories: []`, /must NOT have additional properties \(categories\)/],
    ['invalid YAML', `kinds: [ {`, /x\.yaml: invalid YAML/],
  ])('rejects %s, naming the file and the path', (_name, text, message) => {
    expect(() => parseCategoryYaml(text, 'x.yaml')).toThrow(message);
  });
});

describe('loadBuiltinCategories', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'occitan-categories-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads only *.yaml files and checks the whole set', () => {
    writeFileSync(join(dir, 'a.yaml'), `kinds:\n  - { term: entity, scheme: '${CORE}' }\n`);
    writeFileSync(join(dir, 'b.yaml'), `kinds:\n  - { term: thing, scheme: '${EX}', parent: '${CORE}entity', location: /thing/ }\n`);
    writeFileSync(join(dir, 'notes.txt'), 'not yaml: [');
    expect(loadBuiltinCategories(dir).map(categoryId)).toEqual([`${CORE}entity`, `${EX}thing`]);
    writeFileSync(join(dir, 'c.yaml'), `kinds:\n  - { term: orphan, scheme: '${EX}', parent: '${EX}nothing', location: /orphan/ }\n`);
    expect(() => loadBuiltinCategories(dir)).toThrow(/orphan/);
  });
});

describe('validateCategoryGraph', () => {
  const k = (term: string, extra: Partial<Kind> = {}): Kind => ({ class: 'kind', scheme: EX, term, parent: `${CORE}resource`, location: `/${term}/`, attributes: {}, actions: [], origin: 'admin', ...extra });
  const m = (term: string, extra: Partial<Mixin> = {}): Mixin => ({ class: 'mixin', scheme: EX, term, location: `/${term}/`, depends: [], applies: [], attributes: {}, actions: [], origin: 'admin', ...extra });
  const a = (term: string): Action => ({ class: 'action', scheme: EX, term, attributes: {}, origin: 'admin' });
  const without = (id: string) => shipped.filter((c) => categoryId(c) !== id);
  const replaced = (c: Category) => [...without(categoryId(c)), c];

  it('accepts the shipped set and well-formed additions', () => {
    expect(() => validateCategoryGraph(shipped)).not.toThrow();
    expect(() => validateCategoryGraph([...shipped, k('vm', { parent: `${INFRA}compute`, actions: [`${EX}go`] }), a('go'), m('tag', { depends: [`${INFRA}os_tpl`], applies: [`${EX}vm`] })])).not.toThrow();
  });

  it('scopes user mixins to their tenant', () => {
    const user = (tenant: string, term = 'mine'): Mixin => m(term, { origin: 'user', tenant, scheme: `http://example.com/${tenant}#` });
    const u1 = { ...user('alice'), scheme: EX };
    const u2 = { ...user('bob'), scheme: EX };
    expect(() => validateCategoryGraph([...shipped, u1, u2])).not.toThrow();
    expect(() => validateCategoryGraph([...shipped, u1, { ...u1, location: '/other/' }])).toThrow(CategoryGraphError);
    expect(() => validateCategoryGraph([...shipped, u1, m('mine')])).toThrow(/duplicate|defined twice/);
    expect(() => validateCategoryGraph([...shipped, user('alice', 'c1'), { ...user('alice', 'c2'), location: '/c1/' }])).toThrow(/location \/c1\//);
    expect(() => validateCategoryGraph([...shipped, { ...user('alice'), location: '/compute/' }])).toThrow(/location \/compute\//);
  });

  const cases: Array<[string, GraphRule, string, () => Category[]]> = [
    ['a duplicated id', 'duplicate-id', `${INFRA}compute`, () => [...shipped, { ...kind(`${INFRA}compute`), location: '/compute2/' }]],
    ['a missing parent', 'parent-missing', `${EX}vm`, () => [...shipped, k('vm', { parent: `${EX}nothing` })]],
    ['a parent that is a mixin', 'parent-missing', `${EX}vm`, () => [...shipped, k('vm', { parent: `${INFRA}os_tpl` })]],
    ['a kind without parent', 'parent-chain', `${EX}vm`, () => [...shipped, k('vm', { parent: undefined })]],
    ['a parent loop', 'parent-chain', `${EX}a`, () => [...shipped, k('a', { parent: `${EX}b` }), k('b', { parent: `${EX}a` })]],
    ['a chain ending at a kind without parent', 'parent-chain', `${EX}a`, () => [...shipped, k('a', { parent: `${EX}b` }), k('b', { parent: undefined })]],
    ['a missing core#entity', 'parent-missing', `${CORE}resource`, () => without(`${CORE}entity`)],
    ['depends on a missing category', 'depends', `${EX}t`, () => [...shipped, m('t', { depends: [`${EX}nothing`] })]],
    ['depends on a kind', 'depends', `${EX}t`, () => [...shipped, m('t', { depends: [`${INFRA}compute`] })]],
    ['a depends loop', 'depends', `${EX}t`, () => [...shipped, m('t', { depends: [`${EX}u`] }), m('u', { depends: [`${EX}t`] })]],
    ['applies to a missing category', 'applies', `${EX}t`, () => [...shipped, m('t', { applies: [`${EX}nothing`] })]],
    ['applies to a mixin', 'applies', `${EX}t`, () => [...shipped, m('t', { applies: [`${INFRA}os_tpl`] })]],
    ['a kind listing an undefined action', 'action', `${INFRA}storage`, () => without(`${STORAGE_ACTION}resize`)],
    ['a mixin listing a kind as action', 'action', `${EX}t`, () => [...shipped, m('t', { actions: [`${INFRA}compute`] })]],
    ['a kind and a mixin sharing a location', 'duplicate-location', `${EX}t`, () => [...shipped, m('t', { location: '/compute/' })]],
    ['a location without leading slash', 'location', `${EX}vm`, () => [...shipped, k('vm', { location: 'vm/' })]],
    ['a location without trailing slash', 'location', `${EX}t`, () => [...shipped, m('t', { location: '/t' })]],
    ['a location with an empty segment', 'location', `${EX}vm`, () => [...shipped, k('vm', { location: '/a//b/' })]],
    ['a location under the query interface', 'location', `${EX}vm`, () => [...shipped, k('vm', { location: '/-/vm/' })]],
    ['a kind without location', 'location', `${EX}vm`, () => [...shipped, k('vm', { location: undefined })]],
    ['core#entity with a location', 'location', `${CORE}entity`, () => replaced({ ...kind(`${CORE}entity`), location: '/entity/' })],
    ['a scheme without #', 'scheme', 'http://example.com/occivm', () => [...shipped, k('vm', { scheme: 'http://example.com/occi' })]],
    ['a scheme that is no URI', 'scheme', 'example#vm', () => [...shipped, k('vm', { scheme: 'example#' })]],
    ['a term starting with _', 'term', `${EX}_vm`, () => [...shipped, k('_vm', { location: '/vm/' })]],
    ['a term with a space', 'term', `${EX}my vm`, () => [...shipped, k('my vm', { location: '/vm/' })]],
    ['a term with a non-ASCII letter', 'term', `${EX}fü`, () => [...shipped, a('fü')]],
    ['an attribute name breaking the charset', 'attribute-name', `${EX}go`, () => [...shipped, { ...a('go'), attributes: { 'bad name': { type: 'string', mutable: true, required: false } } }]],
    ['a pattern that is no JSON Schema', 'attribute-pattern', `${EX}go`, () => [...shipped, { ...a('go'), attributes: { x: { type: 'string', mutable: true, required: false, pattern: { type: 'text' } } } }]],
    ['a pattern with a broken regex', 'attribute-pattern', `${EX}go`, () => [...shipped, { ...a('go'), attributes: { x: { type: 'string', mutable: true, required: false, pattern: { pattern: '^(a' } } } }]],
    ['a string default that is a number', 'attribute-default', `${EX}go`, () => [...shipped, { ...a('go'), attributes: { x: { type: 'string', mutable: true, required: false, default: 5 } } }]],
    ['a number default that is a string', 'attribute-default', `${EX}go`, () => [...shipped, { ...a('go'), attributes: { x: { type: 'number', mutable: true, required: false, default: '5' } } }]],
    ['a default outside its enum', 'attribute-default', `${COMPUTE_ACTION}stop`, () => replaced({ ...action(`${COMPUTE_ACTION}stop`), attributes: { method: { ...action(`${COMPUTE_ACTION}stop`).attributes.method, default: 'kill' } } })],
    ['a non-integer default of an integer', 'attribute-default', `${EX}vm`, () => [...shipped, k('vm', { attributes: { n: { type: 'number', mutable: true, required: false, default: 1.5, pattern: { type: 'integer' } } } })]],
  ];

  it.each(cases)('rejects %s (rule %s), naming %s', (_name, rule, offender, build) => {
    let caught: unknown;
    try {
      validateCategoryGraph(build());
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CategoryGraphError);
    const err = caught as CategoryGraphError;
    expect({ rule: err.rule, category: err.category }).toEqual({ rule, category: offender });
    expect(err.message).toContain(offender);
  });
});
