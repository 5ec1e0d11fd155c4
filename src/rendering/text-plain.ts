/**
 * text/plain (GFD.229 §5, GFD.185 §3.5; also named text/occi+plain in 1.2): the OCCI header lines
 * in the body, `Name: value`, one value per line on output.
 *
 * Choices: lines end in LF (parsers accept CRLF and LF; shell tools and naive clients split on LF);
 * renderOk is an empty body (the "OK" rule is text/occi's, whose body carries nothing else);
 * CR/LF inside values become spaces (see header-grammar `sanitize`).
 */
import { ParseError } from '../errors';
import type { EntityView } from '../model/types';
import type { Parser, RequestInput, Rendered, Renderer, StreamParts } from './rendering';
import { describe, sanitize } from './header-grammar';
import { elementsOf, headerLines, textParser, type TextElement, type TextLine } from './text-parse';
import { categoryLines, entityLines, locationLines, locationValue, type OutLine } from './text-render';

/**
 * Body lines: blank lines skipped; a line starting with whitespace continues the previous one (the
 * spec's own examples are folded that way), joined by one space.
 */
export function bodyLines(body: string): TextLine[] {
  const lines: Array<[string, string]> = [];
  for (const line of body.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)) {
    if (line.trim() === '') continue;
    if (/^[ \t]/.test(line)) {
      const last = lines[lines.length - 1];
      if (last === undefined) throw new ParseError(`text/plain: continuation line with nothing to continue: ${describe(line)}`);
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ParseError(`text/plain: expected "Name: value", got ${describe(line)}`);
    lines.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return lines;
}

/**
 * The body's lines; when the body is empty, the OCCI request headers instead, since many 1.1 clients
 * send their Category/X-OCCI-Attribute as headers whatever the Content-Type says.
 */
function read(input: RequestInput): TextElement[] {
  const lines = bodyLines(input.body);
  return lines.length > 0 ? elementsOf(lines, 'error') : elementsOf(headerLines(input.headers), 'ignore');
}

const line = ([name, value]: OutLine): string => `${name}: ${value}\n`;
const body = (lines: readonly OutLine[]): Rendered => ({ headers: [], body: lines.map(line).join('') });

const locationStream: StreamParts<string> = {
  open: () => '',
  item: (location) => `X-OCCI-Location: ${locationValue(location)}\n`,
  close: () => '',
};

const entityStream: StreamParts<EntityView> = {
  open: () => '',
  item: (entity, index) => locationStream.item(entity.location, index),
  close: () => '',
};

export const textPlain: Parser & Renderer = {
  ...textParser(read),
  mediaType: 'text/plain',
  renderCategories: (categories) => body(categoryLines(categories)),
  renderEntity: (entity) => body(entityLines(entity)),
  renderLocations: (locations) => body(locationLines(locations)),
  renderEntities: (entities) => body(locationLines(entities.map((e) => e.location))),
  renderOk: () => ({ headers: [], body: '' }),
  renderCreated: (locations) => body(locationLines(locations)),
  renderError: (_status, message) => ({ headers: [], body: sanitize(message) + '\n' }),
  locationStream,
  entityStream,
};
