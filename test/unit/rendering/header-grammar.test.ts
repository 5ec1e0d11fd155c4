import { ParseError } from '../../../src/errors';
import {
  canonicalHeader,
  fromHeaderBytes,
  parseAttribute,
  parseParams,
  quote,
  renderAttribute,
  renderValue,
  sanitize,
  splitList,
  splitOutside,
  toHeaderBytes,
  typedValue,
} from '../../../src/rendering/header-grammar';

describe('splitList (quote-aware comma splitting)', () => {
  it('splits a Node-joined header on ", "', () => {
    expect(splitList('/compute/1, /compute/2,/compute/3', 'X-OCCI-Location')).toEqual([
      '/compute/1',
      '/compute/2',
      '/compute/3',
    ]);
  });

  it('does not split inside quoted-strings, honouring \\"', () => {
    // The GFD.185 compliance test (test_occi_11.py test_syntax).
    const v = 'occi.compute.memory=3.6, occi.core.title="How\'s your quotes escaping? \\", occi.compute.memory=1.0"';
    expect(splitList(v, 'X-OCCI-Attribute')).toEqual([
      'occi.compute.memory=3.6',
      'occi.core.title="How\'s your quotes escaping? \\", occi.compute.memory=1.0"',
    ]);
  });

  it('does not split inside <…> when asked (Link targets)', () => {
    expect(splitList('</a,b>; rel="http://x#y", </c>; rel="http://x#z"', 'Link', true)).toEqual([
      '</a,b>; rel="http://x#y"',
      '</c>; rel="http://x#z"',
    ]);
    expect(splitList('a<b, c>', 'X-OCCI-Attribute')).toEqual(['a<b', 'c>']);
  });

  it('drops empty list elements (RFC 7230 §7)', () => {
    expect(splitList(' , a=1 ,, b=2, ', 'X-OCCI-Attribute')).toEqual(['a=1', 'b=2']);
  });

  it('rejects an unterminated quoted-string, naming header and value', () => {
    expect(() => splitList('a="x, b=2', 'X-OCCI-Attribute')).toThrow(ParseError);
    expect(() => splitList('a="x\\"', 'X-OCCI-Attribute')).toThrow(/X-OCCI-Attribute: unterminated quoted-string in "a=/);
  });

  it('splits on ";" outside quotes', () => {
    expect(splitOutside('compute; title="a;b"; class=kind;', ';', 'Category')).toEqual([
      'compute',
      'title="a;b"',
      'class=kind',
    ]);
  });
});

describe('parseParams', () => {
  it('reads token and quoted-string values with quoted-pairs unescaped', () => {
    expect(parseParams('; scheme="http://x#"; class=kind; title="a \\"b\\" \\\\ c"', 'Category')).toEqual([
      { key: 'scheme', value: 'http://x#', quoted: true },
      { key: 'class', value: 'kind', quoted: false },
      { key: 'title', value: 'a "b" \\ c', quoted: true },
    ]);
  });

  it('tolerates a missing ";" between parameters and a trailing ";"', () => {
    expect(parseParams(' scheme="http://x#" class="kind";', 'Category').map((p) => p.key)).toEqual(['scheme', 'class']);
    expect(parseParams('a=1 b=2', 'Link').map((p) => p.value)).toEqual(['1', '2']);
  });

  it('accepts the 1.1 "class=kind" form', () => {
    expect(parseParams('; scheme="http://x#"; "class=kind"', 'Category')[1]).toEqual({
      key: 'class',
      value: 'kind',
      quoted: false,
    });
  });

  it('reads an unquoted value holding ":" and "/" (Link category=)', () => {
    expect(parseParams('; category=http://x/y#z', 'Link')[0].value).toBe('http://x/y#z');
  });

  it('rejects keys without "=" or value', () => {
    expect(() => parseParams('; scheme', 'Category')).toThrow(/parameter 'scheme' has no '='/);
    expect(() => parseParams('; scheme=', 'Category')).toThrow(/parameter 'scheme' has no value/);
  });
});

describe('typed attribute values', () => {
  it.each([
    ['2', 2],
    ['-3', -3],
    ['2.0', 2],
    ['1.33', 1.33],
    ['.5', 0.5],
    ['1e3', 1000],
    ['true', true],
    ['false', false],
    ['foobar', 'foobar'],
    ['x86_64', 'x86_64'],
  ])('bare %s', (raw, value) => {
    expect(typedValue(raw, false)).toEqual(value);
  });

  it('a quoted value is always a string', () => {
    expect(typedValue('2', true)).toBe('2');
    expect(typedValue('true', true)).toBe('true');
  });

  it('parses name=value elements', () => {
    expect(parseAttribute('occi.compute.cores=2')).toEqual(['occi.compute.cores', 2]);
    expect(parseAttribute('occi.compute.hostname = "a, b";')).toEqual(['occi.compute.hostname', 'a, b']);
    expect(parseAttribute('occi.core.title=""')).toEqual(['occi.core.title', '']);
    expect(parseAttribute('occi.compute.state=active')).toEqual(['occi.compute.state', 'active']);
  });
});

describe('output quoting', () => {
  it('escapes \\ and " and keeps other text', () => {
    expect(quote('a "b" \\ c')).toBe('"a \\"b\\" \\\\ c"');
    expect(quote('Café, ok; yes')).toBe('"Café, ok; yes"');
  });

  it('replaces CR, LF and control characters with a space', () => {
    expect(sanitize('a\r\nX-Evil: 1\nb\rc\u0000d\te')).toBe('a X-Evil: 1 b c d\te');
    expect(quote('x\r\ny')).toBe('"x y"');
  });

  it('renders strings quoted, numbers and booleans bare, arrays and objects as JSON strings', () => {
    expect(renderValue('x86')).toBe('"x86"');
    expect(renderValue(2)).toBe('2');
    expect(renderValue(1.33)).toBe('1.33');
    expect(renderValue(true)).toBe('true');
    expect(renderValue(['a', 1])).toBe('"[\\"a\\",1]"');
    expect(renderValue({ k: 'v' })).toBe('"{\\"k\\":\\"v\\"}"');
    expect(renderValue(Number.NaN)).toBe('"NaN"');
    expect(renderAttribute('occi.compute.cores', 4)).toBe('occi.compute.cores=4');
  });

  it('rendered values parse back to the same value', () => {
    for (const v of ['plain', 'with "quotes" and \\ backslash', 'comma, semi;', 7, -2.5, true, false]) {
      expect(parseAttribute(renderAttribute('a.b', v))).toEqual(['a.b', v]);
    }
  });
});

describe('header names', () => {
  it.each([
    ['Category', 'Category'],
    ['x-occi-category', 'Category'],
    ['LINK', 'Link'],
    ['X-OCCI-Link', 'Link'],
    ['x-occi-attribute', 'X-OCCI-Attribute'],
    ['X-OCCI-Location', 'X-OCCI-Location'],
  ])('%s is %s', (name, canonical) => {
    expect(canonicalHeader(name)).toBe(canonical);
  });

  it('Location is not a request header for OCCI', () => {
    expect(canonicalHeader('Location')).toBeUndefined();
    expect(canonicalHeader('Content-Type')).toBeUndefined();
  });
});

describe('header bytes', () => {
  it('sends non-ASCII text as UTF-8 bytes and reads UTF-8 back', () => {
    const wire = toHeaderBytes('Café ☕');
    expect(wire).toBe(Buffer.from('Café ☕', 'utf8').toString('latin1'));
    expect(fromHeaderBytes(wire)).toBe('Café ☕');
  });

  it('keeps ASCII and plain latin1 (not valid UTF-8) as they are', () => {
    expect(toHeaderBytes('plain')).toBe('plain');
    expect(fromHeaderBytes('caf\u00e9')).toBe('caf\u00e9');
  });
});
