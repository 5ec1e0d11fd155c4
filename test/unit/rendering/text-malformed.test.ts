/**
 * Malformed text requests: each must throw ParseError naming the header and the offending value,
 * through text/occi headers and a text/plain body alike.
 */
import { ParseError } from '../../../src/errors';
import type { Parser, RequestInput } from '../../../src/rendering/rendering';
import { textOcci } from '../../../src/rendering/text-occi';
import { textPlain } from '../../../src/rendering/text-plain';

type Method = 'parseEntities' | 'parseCategories' | 'parseCategoryRefs' | 'parseAction' | 'parseLocations';
type Header = 'Category' | 'Link' | 'X-OCCI-Attribute' | 'X-OCCI-Location';

const S = 'scheme="http://schemas.ogf.org/occi/infrastructure#"';

/** [what, header, header value, parser method, the element the message must quote, message fragment] */
const cases: Array<[string, Header, string, Method, string, RegExp]> = [
  ['unterminated quote in Category', 'Category', 'compute; scheme="http://x#', 'parseEntities', 'compute; scheme="http://x#', /unterminated quoted-string/],
  ['Category with no scheme', 'Category', 'compute', 'parseCategoryRefs', 'compute', /has no scheme/],
  ['Category with no scheme but a class', 'Category', 'compute; class="kind"', 'parseEntities', 'compute; class="kind"', /has no scheme/],
  ['scheme without #', 'Category', 'compute; scheme="http://example.com/occi"', 'parseEntities', 'compute; scheme="http://example.com/occi"', /does not end with '#'/],
  ['scheme with a space', 'Category', 'compute; scheme="http://x y#"', 'parseCategories', 'compute; scheme="http://x y#"', /bad scheme/],
  ['unknown class', 'Category', `compute; ${S}; class="thing"`, 'parseCategories', `compute; ${S}; class="thing"`, /unknown class 'thing'/],
  ['term with a space', 'Category', `comp ute; ${S}`, 'parseEntities', `comp ute; ${S}`, /bad term 'comp ute'/],
  ['term with a bad character', 'Category', `compute!; ${S}`, 'parseCategoryRefs', `compute!; ${S}`, /bad term 'compute!'/],
  ['missing term', 'Category', `; ${S}`, 'parseCategories', `; ${S}`, /missing term/],
  ['empty Category value', 'Category', '', 'parseCategories', '', /empty value/],
  ['Category of commas only', 'Category', ',,', 'parseCategories', ',,', /empty value/],
  ['parameter without =', 'Category', 'compute; scheme', 'parseEntities', 'compute; scheme', /parameter 'scheme' has no '='/],
  ['parameter without value', 'Category', 'compute; scheme=', 'parseEntities', 'compute; scheme=', /parameter 'scheme' has no value/],
  ['parameter given twice', 'Category', `compute; ${S}; scheme="http://y#"`, 'parseEntities', `compute; ${S}; scheme="http://y#"`, /given twice/],
  ['stray quoted-string', 'Category', `compute; ${S}; "kind"`, 'parseEntities', `compute; ${S}; "kind"`, /unexpected quoted-string/],
  ['stray character', 'Category', `compute; ${S}; @=x`, 'parseEntities', `compute; ${S}; @=x`, /unexpected character '@'/],
  ['rel that is no type id', 'Category', `m; ${S}; class="mixin"; rel="notatypeid"`, 'parseCategories', `m; ${S}; class="mixin"; rel="notatypeid"`, /bad type identifier 'notatypeid'/],
  ['kind with two parents', 'Category', `k; ${S}; class="kind"; rel="http://a#b http://c#d"`, 'parseCategories', `k; ${S}; class="kind"; rel="http://a#b http://c#d"`, /exactly one parent/],
  ['unknown attribute property', 'Category', `k; ${S}; attributes="a{frozen}"`, 'parseCategories', `k; ${S}; attributes="a{frozen}"`, /unknown attribute property 'frozen'/],
  ['unclosed attribute property', 'Category', `k; ${S}; attributes="a{immutable"`, 'parseCategories', `k; ${S}; attributes="a{immutable"`, /bad attribute list/],
  ['bad name in attribute list', 'Category', `k; ${S}; attributes="a b! c"`, 'parseCategories', `k; ${S}; attributes="a b! c"`, /bad attribute name 'b!'/],
  ['action with a location', 'Category', `go; ${S}; class="action"; location="/go/"`, 'parseCategories', `go; ${S}; class="action"; location="/go/"`, /action category has no location/],
  ['action request naming a kind', 'Category', `compute; ${S}; class="kind"`, 'parseAction', `compute; ${S}; class="kind"`, /expected class "action"/],
  ['action request naming two actions', 'Category', `a; ${S}, b; ${S}`, 'parseAction', `a; ${S}, b; ${S}`, /names one action/],
  ['attribute without =', 'X-OCCI-Attribute', 'occi.compute.cores', 'parseEntities', 'occi.compute.cores', /attribute has no '='/],
  ['attribute name with a space', 'X-OCCI-Attribute', 'occi compute=2', 'parseEntities', 'occi compute=2', /bad attribute name 'occi compute'/],
  ['attribute without a name', 'X-OCCI-Attribute', 'a=1, =2', 'parseAction', '=2', /bad attribute name ''/],
  ['attribute name with a bad character', 'X-OCCI-Attribute', 'occi.compute.$cores=2', 'parseEntities', 'occi.compute.$cores=2', /bad attribute name/],
  ['unterminated attribute quote', 'X-OCCI-Attribute', 'occi.core.title="abc', 'parseEntities', 'occi.core.title="abc', /unterminated quoted-string/],
  ['text after the closing quote', 'X-OCCI-Attribute', 'occi.core.title="abc"def', 'parseEntities', 'occi.core.title="abc"def', /text after the closing quote/],
  ['attribute without value', 'X-OCCI-Attribute', 'occi.core.title=', 'parseEntities', 'occi.core.title=', /has no value/],
  ['unquoted value with a space', 'X-OCCI-Attribute', 'occi.core.title=two words', 'parseEntities', 'occi.core.title=two words', /bad unquoted value/],
  ['attribute given twice', 'X-OCCI-Attribute', 'a.b=1, a.b=2', 'parseEntities', 'a.b=2', /given twice/],
  ['Link without <…>', 'Link', '/network/123; rel="http://x#network"', 'parseEntities', '/network/123; rel="http://x#network"', /enclosed in <…>/],
  ['Link without rel', 'Link', '</network/123>', 'parseEntities', '</network/123>', /link has no rel/],
  ['Link with an unterminated <', 'Link', '</network/123; rel="http://x#network"', 'parseEntities', '</network/123; rel="http://x#network"', /unterminated '<'/],
  ['Link rel that is no type id', 'Link', '</network/123>; rel="network"', 'parseEntities', '</network/123>; rel="network"', /bad type identifier 'network'/],
  ['Link with an empty target', 'Link', '<>; rel="http://x#network"', 'parseEntities', '<>; rel="http://x#network"', /bad target ''/],
  ['Link with an empty rel', 'Link', '</n>; rel=""', 'parseEntities', '</n>; rel=""', /empty rel/],
  ['Link parameter without =', 'Link', '</n>; rel="http://x#n"; self', 'parseEntities', '</n>; rel="http://x#n"; self', /parameter 'self' has no '='/],
  ['Link category that is no type id', 'Link', '</n>; rel="http://x#n"; category="link"', 'parseEntities', '</n>; rel="http://x#n"; category="link"', /bad type identifier 'link'/],
  ['location with a space', 'X-OCCI-Location', '/compute/1 /compute/2', 'parseLocations', '/compute/1 /compute/2', /bad location/],
  ['location with a quote', 'X-OCCI-Location', '/compute/"1"', 'parseLocations', '/compute/"1"', /bad location/],
];

function viaHeaders(header: Header, value: string): RequestInput {
  return { headers: { [header.toLowerCase()]: value }, body: '' };
}
function viaBody(header: Header, value: string): RequestInput {
  return { headers: {}, body: `${header}: ${value}\n` };
}

const parsers: Array<[string, Parser, (h: Header, v: string) => RequestInput]> = [
  ['text/occi', textOcci, viaHeaders],
  ['text/plain', textPlain, viaBody],
];

describe.each(parsers)('%s rejects malformed input', (_name, parser, input) => {
  it(`has at least 25 cases`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)('%s', (_what, header, value, method, offending, fragment) => {
    let caught: unknown;
    try {
      parser[method](input(header, value));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ParseError);
    const message = (caught as ParseError).message;
    expect(message.startsWith(`${header}: `)).toBe(true);
    expect(message).toContain(JSON.stringify(offending));
    expect(message).toMatch(fragment);
    expect((caught as ParseError).status).toBe(400);
  });
});

describe('text/plain body syntax', () => {
  const parse = (body: string): unknown => textPlain.parseEntities({ headers: {}, body });

  it.each([
    ['a line without a colon', 'Category compute', /expected "Name: value", got "Category compute"/],
    ['a line with an empty name', ': compute', /expected "Name: value"/],
    ['an unknown line name', 'X-OCCI-Atribute: a=1', /unknown line "X-OCCI-Atribute"/],
    ['Location is a response header only', 'Location: /compute/1', /unknown line "Location"/],
    ['a continuation with nothing before it', '  scheme="http://x#"', /continuation line/],
  ])('rejects %s', (_what, body, message) => {
    expect(() => parse(body)).toThrow(ParseError);
    expect(() => parse(body)).toThrow(message);
  });
});
