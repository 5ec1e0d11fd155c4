/**
 * Malformed application/occi+json bodies: each must be a ParseError (400) whose message names the
 * JSON path (or position) and what was wrong. Table-driven; the expected text is the exact substring.
 */
import { ParseError } from '../../../src/errors';
import { occiJson, MAX_JSON_DEPTH } from '../../../src/rendering/occi-json';
import { req } from './occi-json-fixtures';

type Which = 'entities' | 'categories' | 'refs' | 'action' | 'locations';

function run(which: Which, body: string): unknown {
  const input = req(body);
  switch (which) {
    case 'entities':
      return occiJson.parseEntities(input);
    case 'categories':
      return occiJson.parseCategories(input);
    case 'refs':
      return occiJson.parseCategoryRefs(input);
    case 'action':
      return occiJson.parseAction(input);
    case 'locations':
      return occiJson.parseLocations(input);
  }
}

const kindWith = (attr: string): string => `{"kinds":[{"term":"t","scheme":"http://e.com/s#","attributes":{"a.b":${attr}}}]}`;
const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const deepAttr = (n: number): string => `{"attributes":{"x.y":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}}`;

const CASES: Array<[string, Which, string, string]> = [
  // JSON syntax
  ['invalid JSON (missing value)', 'entities', '{"kind": }', 'invalid JSON at position 9: unexpected "}"'],
  ['truncated JSON', 'entities', '{"kind":"x"', `invalid JSON at position 11: expected ',' or '}' in an object, found end of input`],
  ['trailing garbage', 'entities', '{} x', 'invalid JSON at position 3: unexpected "x" after the end of the JSON value'],
  ['control character in a string', 'entities', '{"kind":"a\tb"}', 'invalid JSON at position 10: control character in string'],
  ['invalid escape', 'entities', '{"kind":"\\q"}', 'invalid JSON at position 9: invalid escape sequence in string'],
  ['single quotes', 'categories', "{'kinds':[]}", 'invalid JSON at position 1: expected a member name in double quotes'],
  ['200-deep arrays', 'entities', deep(200), `JSON nested deeper than ${MAX_JSON_DEPTH} levels at position ${MAX_JSON_DEPTH}`],
  ['200-deep attribute value', 'entities', deepAttr(200), `JSON nested deeper than ${MAX_JSON_DEPTH} levels`],
  // body shape
  ['array where an object is expected', 'entities', '[{"kind":"k"}]', '/: the request body must be a JSON object (got array)'],
  ['string body', 'categories', '"compute"', '/: the request body must be a JSON object (got string)'],
  ['number body for locations', 'locations', '42', '/: the request body must be a JSON object or an array of locations (got number)'],
  // entities
  ['kind a number', 'entities', '{"kind": 5}', '/kind: must be string (got number 5)'],
  ['kind a number inside a collection', 'entities', '{"resources":[{"kind":5}]}', '/resources/0/kind: must be string (got number 5)'],
  ['mixins not an array', 'entities', '{"mixins":"http://e.com/m#x"}', '/mixins: must be array (got string "http://e.com/m#x")'],
  ['a mixin a number', 'entities', '{"mixins":[1]}', '/mixins/0: must be string (got number 1)'],
  ['attributes an array', 'entities', '{"attributes":[1]}', '/attributes: must be object (got array [1])'],
  ['attribute value null', 'entities', '{"attributes":{"a.b":null}}', '/attributes/a.b: must be number, boolean, string, object, array (got null)'],
  ['unknown entity member', 'entities', '{"kind":"k","mixin":[]}', '/: unknown member "mixin" (allowed: kind, mixins, attributes'],
  ['resources not an array', 'entities', '{"resources":{}}', '/resources: must be array (got object {})'],
  ['source without location', 'entities', '{"kind":"k","source":{"kind":"x"},"target":"/n/1"}', '/source: must have the member "location"'],
  ['link target a number', 'entities', '{"kind":"k","source":"/c/1","target":5}', '/target: must be object (got number 5)'],
  ['inline link target a number', 'entities', '{"kind":"k","links":[{"target":5}]}', '/links/0/target: must be object (got number 5)'],
  ['id twice, different', 'entities', '{"id":"a","attributes":{"occi.core.id":"b"}}', '/id ("a") and /attributes/occi.core.id ("b") disagree'],
  [
    'link target twice, different',
    'entities',
    '{"links":[{"target":{"location":"/n/1"},"attributes":{"occi.core.target":"/n/2"}}]}',
    '/links/0/target/location ("/n/1") and /links/0/attributes/occi.core.target ("/n/2") disagree',
  ],
  [
    'attribute nested and flat, different',
    'entities',
    '{"attributes":{"occi":{"compute":{"cores":2}},"occi.compute.cores":4}}',
    '/attributes/occi.compute.cores: attribute given twice (nested and flat) with different values 2 and 4',
  ],
  ['__proto__ member', 'entities', '{"__proto__":{"kind":"x"}}', '/__proto__: the member name __proto__ is not allowed'],
  ['__proto__ attribute', 'entities', '{"attributes":{"__proto__":"x"}}', '/attributes/__proto__: the member name __proto__ is not allowed'],
  // category definitions
  [
    'attribute type "strnig"',
    'categories',
    kindWith('{"type":"strnig"}'),
    '/kinds/0/attributes/a.b/type: must be one of "string", "number", "boolean", "array", "object" (got "strnig")',
  ],
  ['default of the wrong type', 'categories', kindWith('{"type":"number","default":"2"}'), '/kinds/0/attributes/a.b/default: must be of type number like the attribute (got "2")'],
  ['default not a string for the default type', 'categories', kindWith('{"default":5}'), '/kinds/0/attributes/a.b/default: must be of type string'],
  ['integer default 2.5', 'categories', kindWith('{"type":"integer","default":2.5}'), '/kinds/0/attributes/a.b/default: must be an integer like the attribute (got 2.5)'],
  ['default null', 'categories', kindWith('{"default":null}'), '/kinds/0/attributes/a.b/default: must be number, string, boolean, array, object (got null)'],
  ['mutable "yes"', 'categories', kindWith('{"mutable":"yes"}'), '/kinds/0/attributes/a.b/mutable: must be boolean (got string "yes")'],
  ['required 1', 'categories', kindWith('{"required":1}'), '/kinds/0/attributes/a.b/required: must be boolean (got number 1)'],
  ['description not an object', 'categories', kindWith('"string"'), '/kinds/0/attributes/a.b: must be object (got string "string")'],
  ['pattern a number', 'categories', kindWith('{"pattern":5}'), '/kinds/0/attributes/a.b/pattern: must be object (got number 5)'],
  ['pattern an invalid ERE', 'categories', kindWith('{"pattern":"(a"}'), '/kinds/0/attributes/a.b/pattern: not a valid regular expression "(a"'],
  ['kinds not an array', 'categories', '{"kinds":{}}', '/kinds: must be array (got object {})'],
  ['unknown kind member', 'categories', '{"kinds":[{"term":"t","rel":"x"}]}', '/kinds/0: unknown member "rel" (allowed: term, scheme, title, attributes, actions, parent, location)'],
  ['two related parents', 'categories', '{"kinds":[{"related":["http://a#b","http://a#c"]}]}', '/kinds/0/related: a kind has at most one parent'],
  ['related and parent', 'categories', '{"kinds":[{"related":["http://a#b"],"parent":"http://a#b"}]}', '/kinds/0/related and /kinds/0/parent: give only one of them'],
  ['related not an array', 'categories', '{"mixins":[{"related":5}]}', '/mixins/0/related: must be an array of type ids (got 5)'],
  ['term a number', 'categories', '{"mixins":[{"term":5}]}', '/mixins/0/term: must be string (got number 5)'],
  ['bare category without class hint', 'categories', '{"term":"t","scheme":"http://e.com/s#"}', '/: a single category object must be a mixin'],
  // category references
  ['reference a number', 'refs', '{"mixins":[5]}', '/mixins/0: must be string (got number 5)'],
  ['reference object without scheme', 'refs', '{"mixins":[{"term":"x"}]}', '/mixins/0: a category reference is a type id string or an object with string members term and scheme'],
  ['references: unknown member', 'refs', '{"mixins":[],"locations":[]}', '/: unknown member "locations" (allowed: kinds, mixins, actions)'],
  ['references: nothing recognisable', 'refs', '{"foo":1}', '/: expected category references'],
  // action invocations
  ['action a number', 'action', '{"action":5}', '/action: must be string (got number 5)'],
  ['two pyOCNI actions', 'action', '{"actions":[{"term":"a","scheme":"s#"},{"term":"b","scheme":"s#"}]}', '/actions: one action at a time (got 2)'],
  ['action and actions', 'action', '{"action":"s#a","actions":[]}', '/action and /actions: give only one of them'],
  ['pyOCNI action without scheme', 'action', '{"actions":[{"term":"a"}]}', '/actions/0: must be an action type id or an object with string members term and scheme'],
  ['action attributes an array', 'action', '{"action":"s#a","attributes":[]}', '/attributes: must be object (got array [])'],
  ['unknown action member', 'action', '{"action":"s#a","method":"graceful"}', '/: unknown member "method" (allowed: action, attributes)'],
  // locations
  ['X-OCCI-Location a string', 'locations', '{"X-OCCI-Location":"/c/1"}', '/X-OCCI-Location: must be an array of locations (got string)'],
  ['a location a number', 'locations', '["/c/1",1]', '/1: must be string (got number 1)'],
  ['an empty location', 'locations', '{"locations":[""]}', '/locations/0: empty location'],
  ['entity without location or id', 'locations', '{"resources":[{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}]}', '/resources/0: name the entity with its "location" or its "id"'],
  ['extra member next to X-OCCI-Location', 'locations', '{"X-OCCI-Location":[],"x":1}', '/: unknown member "x" next to "X-OCCI-Location"'],
  ['nothing recognisable as locations', 'locations', '{"foo":1}', '/: expected locations'],
];

describe('malformed bodies are ParseErrors naming the field', () => {
  test('there are at least 25 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
  });

  test.each(CASES)('%s', (_name, which, body, message) => {
    let error: unknown;
    try {
      run(which, body);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ParseError);
    expect((error as ParseError).status).toBe(400);
    expect((error as ParseError).message).toContain(message);
  });
});

test('deep nesting is refused without recursing (100 000 levels)', () => {
  expect(() => occiJson.parseEntities(req(deep(100_000)))).toThrow(ParseError);
});

test('nesting up to the limit is fine', () => {
  const value = `{"attributes":{"x.y":${'['.repeat(MAX_JSON_DEPTH - 2)}${']'.repeat(MAX_JSON_DEPTH - 2)}}}`;
  expect(occiJson.parseEntities(req(value))[0].attributes['x.y']).toBeDefined();
});
