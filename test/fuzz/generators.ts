/**
 * fast-check generators of malformed and hostile OCCI requests (issue 8, Deliver 1): every media type,
 * every path shape, the text header grammar, JSON bodies, query strings, methods, content types and
 * credentials. A case is bytes-level (request target and header values as latin1 "bytes"), so it can say
 * what no HTTP client library would send; the runner (fuzzer.ts) writes it on a socket.
 */
import fc from 'fast-check';

export interface Fixtures {
  /** Tokens of the token harness: alice (member of acme), bob (member of beta), root (global admin). */
  alice: string;
  bob: string;
  root: string;
  /** Entities that exist in tenant acme (recreated by the runner when a case deleted them). */
  vm: string;
  net: string;
  disk: string;
  link: string;
  /** A user mixin of acme. */
  tagLocation: string;
}

export interface FuzzCase {
  method: string;
  /** The request-target as sent (latin1 "bytes"). */
  target: string;
  /** Header lines in order, repeats allowed; values as latin1 "bytes". */
  headers: Array<[string, string]>;
  body: Buffer;
  /** Send the body chunked instead of with Content-Length. */
  chunked: boolean;
}

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const MEDIA = ['application/occi+json', 'application/json', 'text/occi', 'text/plain', 'text/uri-list', 'text/occi+plain'];
const KIND_TERMS = ['compute', 'storage', 'network', 'networkinterface', 'storagelink', 'resource', 'link', 'entity', 'ipnetwork', 'lease', 'nosuch'];
const ACTIONS = ['start', 'stop', 'restart', 'suspend', 'save', 'up', 'down', 'online', 'offline', 'backup', 'snapshot', 'resize', 'fly', ''];
const ATTRIBUTE_NAMES = [
  'occi.core.id', 'occi.core.title', 'occi.core.summary', 'occi.core.source', 'occi.core.target',
  'occi.compute.cores', 'occi.compute.memory', 'occi.compute.hostname', 'occi.compute.architecture', 'occi.compute.speed',
  'occi.compute.state', 'occi.storage.size', 'occi.network.vlan', 'occi.networkinterface.mac', 'occi.networkinterface.address',
  'occitan.lease.end', 'method', 'graceful', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  '__proto__.polluted', 'a.__proto__.b', '-bad', '',
];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'];

/** Percent-encodes the UTF-8 of any text (lone surrogates too, which encodeURIComponent refuses). */
export const pct = (s: string): string =>
  [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

/** UTF-8 text as the latin1 "bytes" a raw request carries. */
export const utf8Bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

const pick = <T>(...values: T[]): fc.Arbitrary<T> => fc.constantFrom(...values);
const weighted = <T>(...pairs: Array<[number, fc.Arbitrary<T>]>): fc.Arbitrary<T> =>
  fc.oneof(...pairs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

/** Short text of every kind: printable ASCII, OCCI separators, full Unicode (lone surrogates included). */
const text: fc.Arbitrary<string> = weighted(
  [4, fc.string({ maxLength: 12 })],
  [2, fc.string({ unit: pick(';', ',', '=', '"', '\\', '<', '>', ' ', '#', '/', ':', 'a', '1', '\t'), maxLength: 16 })],
  [2, fc.string({ unit: 'binary', maxLength: 8 })],
  [1, pick('\ud800', 'a\udfffb', '\u202eexe', '\u0430dmin', '\u200b', '\ufeff', '\u0000', '\r\n', 'é', '日本', '🚀')],
  [1, fc.integer({ min: 1000, max: 20000 }).map((n) => 'x'.repeat(n))],
);

const number: fc.Arbitrary<string> = weighted(
  [3, fc.integer({ min: -5, max: 100000 }).map(String)],
  [1, fc.double().map(String)],
  [1, pick('1e309', '-0', '0x10', '1_000', '2GB', 'NaN', 'Infinity', '9999999999999999999999', '.5', '5.', '+3')],
);

/** An attribute value as header text: quoted (with escapes, or broken), bare, numbers, booleans. */
const attributeValue: fc.Arbitrary<string> = weighted(
  [3, text.map((t) => JSON.stringify(t))],
  [2, number],
  [1, pick('true', 'false', 'null', '""', '"', '"unterminated', '"a\\"b"', '"a\\', '"x"y', '\'single\'', 'bare word', '{"a":1}', '[1,2]')],
  [1, text],
);

const attributeName: fc.Arbitrary<string> = weighted([4, pick(...ATTRIBUTE_NAMES)], [1, text]);

const attributeElement: fc.Arbitrary<string> = weighted(
  [6, fc.tuple(attributeName, attributeValue).map(([n, v]) => `${n}=${v}`)],
  [1, attributeName],
  [1, fc.tuple(attributeName, attributeValue).map(([n, v]) => `${n} = ${v};`)],
);

const scheme: fc.Arbitrary<string> = weighted(
  [5, pick(INFRA, 'http://schemas.ogf.org/occi/core#', 'http://schemas.ogf.org/occi/infrastructure/compute/action#', 'http://schemas.ogf.org/occi/infrastructure/network#', 'http://example.com/tags#', 'http://occitan.example/occi#')],
  [1, pick('http://schemas.ogf.org/occi/infrastructure', '', '#', 'urn:x#', 'http://a b#', 'http://e.com/"q"#')],
  [1, text],
);

const term: fc.Arbitrary<string> = weighted([5, pick(...KIND_TERMS, ...ACTIONS.filter(Boolean), 'fuzztag')], [1, text]);

/** One Category element: term; scheme=…; class=…; and the definition parameters, quoted or not, sometimes broken. */
const categoryElement: fc.Arbitrary<string> = fc
  .tuple(
    term,
    scheme,
    weighted([5, pick('kind', 'mixin', 'action')], [1, text]),
    fc.array(
      fc.tuple(pick('location', 'title', 'rel', 'attributes', 'actions', 'self', 'class', 'scheme', 'x'), weighted([3, pick('"/tags/a/"', '"/compute/"', `"${INFRA}compute"`, '"occi.x.y{required}"', '"-/"')], [1, attributeValue])),
      { maxLength: 3 },
    ),
    pick('"', '', ';', '; ', ' ', ';;'),
  )
  .map(([t, s, c, extra, tail]) => [`${t}; scheme="${s}"; class="${c}"`, ...extra.map(([k, v]) => `${k}=${v}`)].join('; ') + tail);

const categoryValue: fc.Arbitrary<string> = weighted(
  [5, fc.array(categoryElement, { minLength: 1, maxLength: 3 }).map((l) => l.join(', '))],
  [1, pick('', ' ', ',', ';', '"', 'compute', `compute; scheme="${INFRA}"; class="kind`, 'class=kind', '"class=kind"', `compute; scheme="${INFRA}" class="kind"`)],
  [1, fc.integer({ min: 100, max: 600 }).map((n) => Array.from({ length: n }, (_, i) => `t${i}; scheme="http://e.com/x#"; class="mixin"`).join(', '))],
  [1, text],
);

const location = (fx: Fixtures): fc.Arbitrary<string> =>
  weighted(
    [4, pick(fx.vm, fx.net, fx.disk, fx.link, `http://127.0.0.1${fx.vm}`, '/compute/nope', '/network/', '/')],
    [1, pick('', ' ', '<>', '"', '/compute/../etc', 'http://198.51.100.7/storage/far', 'javascript:alert(1)', '/compute/a%2Fb')],
    [1, text],
  );

const linkValue = (fx: Fixtures): fc.Arbitrary<string> =>
  fc
    .tuple(location(fx), fc.array(fc.tuple(pick('rel', 'self', 'category', 'occi.networkinterface.mac', 'x'), attributeValue), { maxLength: 3 }), pick('<', '', '>'))
    .map(([target, params, broken]) => {
      const head = broken === '<' ? `<${target}` : broken === '>' ? target : `<${target}>`;
      return [head, ...params.map(([k, v]) => `${k}=${v}`)].join('; ');
    });

/** Lower-case, canonical or odd spellings of the OCCI header names (rOCCI's X-OCCI-Category too). */
const spelt = (name: string): fc.Arbitrary<string> => pick(name, name.toLowerCase(), name.toUpperCase(), `X-OCCI-${name}`);

/** A header value that may carry bytes Node's parser refuses (CR, LF, NUL) or UTF-8. */
const rawish = (value: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  weighted([12, value.map(utf8Bytes)], [1, value.map((v) => `${v}\u0000`)], [1, value.map((v) => `${v}\r\nX-Injected: 1`)], [1, value.map((v) => `${v}\n`)]);

const occiHeaders = (fx: Fixtures): fc.Arbitrary<Array<[string, string]>> =>
  fc.array(
    weighted<[string, string]>(
      [4, fc.tuple(spelt('Category'), rawish(categoryValue))],
      [4, fc.tuple(pick('X-OCCI-Attribute', 'x-occi-attribute'), rawish(fc.array(attributeElement, { minLength: 1, maxLength: 4 }).map((l) => l.join(', '))))],
      [2, fc.tuple(spelt('Link'), rawish(linkValue(fx)))],
      [2, fc.tuple(pick('X-OCCI-Location', 'x-occi-location'), rawish(fc.array(location(fx), { minLength: 1, maxLength: 3 }).map((l) => l.join(', '))))],
      [1, fc.tuple(pick('If-Match', 'If-None-Match'), pick('*', '"1-abc"', '', 'W/"x"', '"', '*, "1-x"'))],
      [1, fc.tuple(pick('User-Agent'), pick('occi-client OCCI/1.1', 'OCCI/1.3', 'OCCI/2.0', 'OCCI/99999999999999999999.1', 'curl/8'))],
      [1, fc.tuple(pick('X-Filler', 'Cookie', 'Range', 'Expect', 'X-HTTP-Method-Override'), text.map(utf8Bytes))],
    ),
    { maxLength: 6 },
  );

const accept: fc.Arbitrary<string | undefined> = weighted(
  [6, pick(...MEDIA)],
  [2, fc.constant(undefined)],
  [1, pick('*/*', 'text/*', 'application/*', '', 'application/xml', 'text/html', 'garbage', ';;;', 'application/occi+json;q=0', 'text/occi;q=0.5, application/occi+json;q=0.9', `text/plain;q=${'9'.repeat(50)}`, '*/*;q=0')],
);

const contentType: fc.Arbitrary<string | undefined> = weighted(
  [6, pick(...MEDIA)],
  [1, fc.constant(undefined)],
  [1, pick('application/occi+json; charset=utf-8', 'text/plain; charset=latin1', 'TEXT/OCCI', 'application/xml', 'multipart/form-data; boundary=x', '', ';', 'application/json;;;', 'text/uri-list; x="')],
);

/** Credentials: mostly alice's good token (to reach deep code), sometimes wrong, missing, doubled or another tenant. */
const credentials = (fx: Fixtures): fc.Arbitrary<Array<[string, string]>> =>
  weighted<Array<[string, string]>>(
    [12, fc.constant([['X-Auth-Token', fx.alice]])],
    [2, fc.constant([['Authorization', `Bearer ${fx.alice}`]])],
    [2, fc.constant([['X-Auth-Token', fx.root]])],
    [1, fc.constant([['X-Auth-Token', fx.bob]])],
    [1, fc.constant([])],
    [1, pick<Array<[string, string]>>(
      [['X-Auth-Token', fx.alice], ['X-Auth-Token', fx.bob]],
      [['X-Auth-Token', fx.alice], ['Authorization', `Bearer ${fx.root}`]],
      [['Authorization', `Bearer ${fx.alice}`], ['Authorization', `Bearer ${fx.alice}`]],
      [['X-Auth-Token', fx.alice], ['X-Tenant-Name', 'beta']],
      [['X-Auth-Token', fx.root], ['X-Tenant-Name', 'acme']],
      [['X-Auth-Token', fx.alice], ['X-Tenant-Name', utf8Bytes('\u0430cme')]],
      [['X-Auth-Token', fx.alice], ['X-Tenant-Name', 'acme'], ['X-Tenant-Name', 'beta']],
      [['Authorization', 'Basic ' + Buffer.from('alice:wrong').toString('base64')]],
      [['Authorization', 'Basic !!!']],
      [['Authorization', 'Bearer']],
      [['Authorization', 'Negotiate abc']],
      [['X-Auth-Token', `${fx.alice.split('.')[0]}.wrong`]],
      [['X-Auth-Token', '.']],
      [['X-Auth-Token', '']],
    )],
    [1, fc.tuple(pick('X-Auth-Token', 'Authorization'), text.map(utf8Bytes)).map((p) => [p])],
  );

// ---- paths ----------------------------------------------------------------------------------------

const query: fc.Arbitrary<string> = weighted(
  [6, fc.constant('')],
  [3, pick(...ACTIONS).map((a) => `?action=${a}`)],
  [2, fc.array(fc.tuple(pick('page', 'number', 'category', 'attribute', 'value', 'action', 'scope', '__proto__', 'constructor', 'x[]', 'action[]'), pick('1', '0', '-1', '100', '1e3', 'abc', '', '%', '%zz', '%00', pct(`${INFRA}compute`), 'provider', 'occi.core.title', '9'.repeat(40))), { minLength: 1, maxLength: 4 }).map((ps) => '?' + ps.map(([k, v]) => `${k}=${v}`).join('&'))],
  [1, text.map((t) => `?${pct(t)}`)],
  [1, pick('?', '??', '?&&', '?action', '?action=start&action=stop', '?page=1&page=2&number=1', '?#frag')],
);

const basePath = (fx: Fixtures): fc.Arbitrary<string> =>
  weighted(
    [3, pick('/-/', '/.well-known/org/ogf/occi/-/', '/-/providers', '/-', '/-/x')],
    [4, pick('/compute/', '/storage/', '/network/', '/networkinterface/', '/storagelink/', '/link/', '/resource/', '/mixins/lease/', fx.tagLocation, '/tags/')],
    [5, pick(fx.vm, fx.net, fx.disk, fx.link, '/compute/nope', '/compute/web1', '/network/x')],
    [2, pick('/', '/vms/', '/vms/foo/', '/compute/x/', '/a/b/c/')],
    [2, pick('/compute/..', '/compute/%2e%2e/', '/./', '/a/./b', '/compute/a%2Fb', '/compute/%', '/compute/%zz', '/compute/a%00b', '/compute/%E2%80%AE', `/compute/${utf8Bytes('日本')}`, '/compute/a+b', '/compute/a%20b', '//compute//', '/compute/;x', '/%2e%2e/%2e%2e/etc/passwd', '*', 'http://127.0.0.1/compute/', '/compute/\\x')],
    [1, fc.integer({ min: 300, max: 20000 }).map((n) => `/compute/${'x'.repeat(n)}`)],
    [1, text.map((t) => `/compute/${pct(t)}`)],
    [1, text.map((t) => `/${utf8Bytes(t).replace(/[\s\x00-\x1f\x7f]/g, '')}/`)],
  );

// ---- bodies ---------------------------------------------------------------------------------------

/** Any JSON value, with the keys OCCI bodies use and the prototype-pollution ones. */
const jsonish: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: weighted<unknown>(
    [4, fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), text)],
    [1, fc.array(tie('value'), { maxLength: 4 })],
    [1, fc.dictionary(pick('kind', 'mixins', 'attributes', 'id', 'links', 'actions', 'target', 'source', 'location', 'term', 'scheme', 'title', 'action', 'resources', 'kinds', 'providers', ...PROTO_KEYS, ...ATTRIBUTE_NAMES.slice(0, 12)), tie('value'), { maxKeys: 4 })],
  ),
})).value;

/** Entity, category, action and location bodies close to valid, with wrong types slipped in. */
const occiJsonBody = (fx: Fixtures): fc.Arbitrary<string> =>
  weighted(
    [4, fc.record({
      kind: weighted<unknown>([4, pick(...KIND_TERMS).map((t) => INFRA + t)], [1, jsonish]),
      attributes: weighted<unknown>([3, fc.dictionary(pick(...ATTRIBUTE_NAMES), jsonish, { maxKeys: 4 })], [1, jsonish]),
      mixins: weighted<unknown>([2, fc.array(pick(`${INFRA}nosuch`, 'http://example.com/tags#fuzztag', 'nohash'), { maxLength: 2 })], [1, jsonish]),
      id: weighted<unknown>([2, fc.uuid()], [1, text], [1, jsonish]),
      links: jsonish,
      target: pick<unknown>(fx.net, fx.disk, 5, null),
    }, { requiredKeys: [] }).map((o) => JSON.stringify(o))],
    [2, fc.record({
      kinds: fc.array(jsonish, { maxLength: 2 }),
      mixins: fc.array(fc.record({ term: term, scheme: scheme, location: location(fx), attributes: jsonish, depends: jsonish }, { requiredKeys: [] }), { maxLength: 2 }),
      actions: jsonish,
      providers: jsonish,
    }, { requiredKeys: [] }).map((o) => JSON.stringify(o))],
    [2, fc.record({ action: weighted<unknown>([3, pick(...ACTIONS).map((a) => `http://schemas.ogf.org/occi/infrastructure/compute/action#${a}`)], [1, jsonish]), attributes: jsonish }, { requiredKeys: [] }).map((o) => JSON.stringify(o))],
    [1, fc.tuple(fc.array(location(fx), { maxLength: 3 }), fc.boolean()).map(([l, wrapped]) => JSON.stringify(wrapped ? { locations: l } : l))],
    [2, jsonish.map((v) => JSON.stringify(v) ?? 'null')],
    [1, pick(...PROTO_KEYS).map((k) => `{"kind":"${INFRA}compute","${k}":{"polluted":1},"attributes":{"${k}":{"polluted":1}}}`)],
    [1, fc.integer({ min: 2, max: 6000 }).map((d) => '{"kind":'.repeat(d) + '1' + '}'.repeat(d))],
    [1, fc.integer({ min: 2, max: 6000 }).map((d) => '['.repeat(d) + ']'.repeat(d))],
    [1, fc.integer({ min: 1000, max: 60000 }).map((n) => JSON.stringify({ kind: `${INFRA}compute`, mixins: Array.from({ length: n }, (_, i) => `http://e.com/x#m${i}`) }))],
    [1, pick('', ' ', '{', '{"kind":', '\ufeff{}', '{"a":"\\ud800"}', '{"a":"\\u0000"}', 'nul', '[', '{"a":1,}', '1e99999', '"\\x"', '{}{}', '{"kind":"x"}\u0000')],
  );

const textPlainBody = (fx: Fixtures): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.array(
        weighted(
          [3, categoryValue.map((v) => `Category: ${v}`)],
          [3, fc.array(attributeElement, { minLength: 1, maxLength: 3 }).map((l) => `X-OCCI-Attribute: ${l.join(', ')}`)],
          [1, linkValue(fx).map((v) => `Link: ${v}`)],
          [1, location(fx).map((v) => `X-OCCI-Location: ${v}`)],
          [1, pick('', 'nonsense', '  continued', ':', 'Category:', 'X-OCCI-Atribute: a=1', 'OK')],
          [1, text],
        ),
        { maxLength: 6 },
      ),
      pick('\n', '\r\n', '\r'),
    )
    .map(([lines, eol]) => lines.join(eol));

const uriListBody = (fx: Fixtures): fc.Arbitrary<string> =>
  fc.tuple(fc.array(weighted([3, location(fx)], [1, pick('# comment', '', ' ', 'not a uri')]), { maxLength: 5 }), pick('\n', '\r\n')).map(([l, eol]) => l.join(eol));

const body = (fx: Fixtures, type: string | undefined): fc.Arbitrary<Buffer> => {
  const asText = (a: fc.Arbitrary<string>): fc.Arbitrary<Buffer> => a.map((s) => Buffer.from(s, 'utf8'));
  const typed = type?.includes('json') ? occiJsonBody(fx) : type?.includes('uri-list') ? uriListBody(fx) : type?.includes('text/') ? textPlainBody(fx) : pick('');
  return weighted<Buffer>(
    [4, fc.constant(Buffer.alloc(0))],
    [10, asText(typed)],
    [1, asText(occiJsonBody(fx))],
    [1, asText(textPlainBody(fx))],
    [1, fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))],
    [1, pick(Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('{"kind":"\xff"}', 'latin1'), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]))],
    [1, fc.constant(Buffer.alloc(1048577, 0x61))],
  );
};

const method: fc.Arbitrary<string> = weighted(
  [10, pick('GET', 'POST', 'PUT', 'DELETE')],
  [2, pick('HEAD', 'PATCH', 'OPTIONS')],
  [1, pick('TRACE', 'PROPFIND', 'get', 'FOO', 'M-SEARCH', 'PURGE')],
);

const VALID_ATTRIBUTES: ReadonlyArray<[string, string, unknown]> = [
  ['occi.core.title', '"fuzz"', 'fuzz'],
  ['occi.core.summary', '"a summary, with; separators"', 'a summary, with; separators'],
  ['occi.compute.cores', '2', 2],
  ['occi.compute.memory', '1.5', 1.5],
  ['occi.compute.hostname', '"web1"', 'web1'],
  ['occi.compute.architecture', '"x86"', 'x86'],
];
const COMPUTE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
/** Client-chosen paths and ids, few enough that creates, updates and deletes meet on them. */
const OWN_IDS = ['fz-1', 'fz-2', 'fz-3', 'fz-4'];

/**
 * Requests one mutation away from valid, so that the write paths (create, partial update, action, mixin
 * membership, delete) run, not only the parsers: valid attributes with at most one generated one, real
 * actions with generated parameters, the fixtures' and a few client-chosen locations.
 */
const nearValid = (fx: Fixtures): fc.Arbitrary<Omit<FuzzCase, 'headers'> & { headers: Array<[string, string]> }> => {
  const attrs = fc.tuple(fc.subarray([...VALID_ATTRIBUTES], { maxLength: 4 }), fc.option(fc.tuple(attributeName, attributeValue), { freq: 2 }));
  const asText = ([valid, extra]: [ReadonlyArray<[string, string, unknown]>, [string, string] | null]): string =>
    [...valid.map(([n, v]) => `${n}=${v}`), ...(extra ? [`${extra[0]}=${extra[1]}`] : [])].join(', ');
  const asJson = ([valid, extra]: [ReadonlyArray<[string, string, unknown]>, [string, string] | null]): Record<string, unknown> =>
    Object.fromEntries([...valid.map(([n, , v]) => [n, v] as [string, unknown]), ...(extra ? [[extra[0], extra[1]] as [string, unknown]] : [])]);
  const mixins = fc.subarray(['fuzztag; scheme="http://example.com/tags#"; class="mixin"', 'lease; scheme="http://occitan.example/occi#"; class="mixin"', `ipnetwork; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; class="mixin"`], { maxLength: 1 });
  const entityPath = pick(fx.vm, fx.net, fx.disk, fx.link, ...OWN_IDS.map((i) => `/compute/${i}`));
  const text = (method: string, target: string, headers: Array<[string, string]>, body = ''): FuzzCase => ({ method, target, headers: [['Content-Type', 'text/occi'], ...headers], body: Buffer.from(body), chunked: false });
  const json = (method: string, target: string, value: unknown): FuzzCase => ({ method, target, headers: [['Content-Type', 'application/occi+json']], body: Buffer.from(JSON.stringify(value)), chunked: false });
  return weighted<FuzzCase>(
    [3, fc.tuple(pick('/compute/', ...OWN_IDS.map((i) => `/compute/${i}`)), mixins, attrs).map(([at, m, a]) =>
      text(at.endsWith('/') ? 'POST' : 'PUT', at, [['Category', [`compute; scheme="${INFRA}"; class="kind"`, ...m].join(', ')], ['X-OCCI-Attribute', asText(a)]]))],
    [2, fc.tuple(pick('/compute/', ...OWN_IDS.map((i) => `/compute/${i}`)), attrs, fc.option(pick(...OWN_IDS), { freq: 3 })).map(([at, a, id]) =>
      json(at.endsWith('/') ? 'POST' : 'PUT', at, { kind: `${INFRA}compute`, attributes: asJson(a), ...(id ? { id } : {}) }))],
    [2, fc.tuple(entityPath, attrs).map(([at, a]) => text('POST', at, [['X-OCCI-Attribute', asText(a)]]))],
    [3, fc.tuple(entityPath, pick('start', 'stop', 'restart', 'suspend', 'save', 'up', 'down', 'online', 'offline', 'backup', 'resize'), fc.option(fc.tuple(pick('method', 'size', 'name', 'graceful'), attributeValue), { freq: 2 }), fc.boolean()).map(([at, a, param, asJsonBody]) =>
      asJsonBody
        ? json('POST', `${at}?action=${a}`, { action: COMPUTE_ACTION + a, ...(param ? { attributes: { [param[0]]: param[1] } } : {}) })
        : text('POST', `${at}?action=${a}`, [['Category', `${a}; scheme="${COMPUTE_ACTION}"; class="action"`], ...(param ? [['X-OCCI-Attribute', `${param[0]}=${param[1]}`] as [string, string]] : [])]))],
    [2, fc.tuple(pick('POST', 'PUT', 'DELETE'), fc.array(entityPath, { maxLength: 3 }), pick('text/occi', 'text/uri-list')).map(([m, locations, type]) =>
      type === 'text/occi'
        ? text(m, fx.tagLocation, locations.length ? [['X-OCCI-Location', locations.join(', ')]] : [])
        : { method: m, target: fx.tagLocation, headers: [['Content-Type', 'text/uri-list']], body: Buffer.from(locations.join('\n')), chunked: false })],
    [1, fc.tuple(pick(fx.vm, fx.net), pick('aa:bb:cc:dd:ee:ff', 'zz', '', '00:00:00:00:00:00')).map(([target, mac]) =>
      text('POST', '/networkinterface/', [['Category', `networkinterface; scheme="${INFRA}"; class="kind"`], ['X-OCCI-Attribute', `occi.core.source="${fx.vm}", occi.core.target="${target}", occi.networkinterface.mac="${mac}"`]]))],
    [1, pick(...OWN_IDS).map((i) => ({ method: 'DELETE', target: `/compute/${i}`, headers: [], body: Buffer.alloc(0), chunked: false }))],
  );
};

/** A near-valid request with generated credentials, Accept, conditional headers and query. */
const nearValidCase = (fx: Fixtures): fc.Arbitrary<FuzzCase> =>
  fc.tuple(nearValid(fx), credentials(fx), accept, fc.option(fc.tuple(pick('If-Match', 'If-None-Match'), pick('*', '"1-abc"', 'W/"x"')), { freq: 4 })).map(([c, creds, acc, cond]) => ({
    ...c,
    headers: [...creds, ...(acc !== undefined ? [['Accept', acc] as [string, string]] : []), ...(cond ? [cond] : []), ...c.headers],
  }));

/** One whole case: a third near-valid, the rest generated from the grammar up. */
export function fuzzCase(fx: Fixtures): fc.Arbitrary<FuzzCase> {
  return weighted([1, nearValidCase(fx)], [2, wildCase(fx)]);
}

function wildCase(fx: Fixtures): fc.Arbitrary<FuzzCase> {
  return fc
    .tuple(method, basePath(fx), query, accept, contentType, credentials(fx), occiHeaders(fx), fc.boolean(), fc.integer({ min: 0, max: 19 }))
    .chain(([m, path, q, acc, ct, creds, occi, shuffle, chunkedDie]) =>
      body(fx, ct).map((b): FuzzCase => {
        const headers: Array<[string, string]> = [...creds];
        if (acc !== undefined) headers.push(['Accept', acc]);
        if (ct !== undefined) headers.push(['Content-Type', ct]);
        headers.push(...occi);
        if (shuffle) headers.reverse();
        return { method: m, target: path + q, headers, body: b, chunked: chunkedDie === 0 };
      }),
    );
}

/** What the client could accept, as the renderer the server should have chosen (undefined: none fits or unknown). */
export function expectedMediaType(acceptHeader: string | undefined): string[] | undefined {
  if (acceptHeader === undefined || acceptHeader.trim() === '' || acceptHeader === '*/*') return ['text/plain'];
  switch (acceptHeader) {
    case 'text/plain':
      return ['text/plain'];
    // Aliases are answered under the name asked for.
    case 'text/occi+plain':
      return ['text/occi+plain'];
    case 'text/occi':
      return ['text/occi'];
    case 'application/occi+json':
      return ['application/occi+json'];
    case 'application/json':
      return ['application/json'];
    case 'text/uri-list':
      // Listings in text/uri-list; what it cannot carry (errors, OK) falls back to text/plain.
      return ['text/uri-list', 'text/plain'];
    default:
      return undefined;
  }
}
