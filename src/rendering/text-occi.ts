/**
 * text/occi (GFD.229 §6, GFD.185 §3.5): everything in HTTP headers, one header per name with its
 * values comma-joined (", ", which 1.1 clients split on); the body is exactly `OK` on success and the
 * message on error. No streaming: headers cannot be streamed.
 *
 * Header values are sanitised (no CR/LF or other control characters, so no header injection) and
 * non-ASCII text is sent as UTF-8 bytes (see header-grammar `toHeaderBytes`).
 */
import type { Parser, RequestInput, Rendered, Renderer } from './rendering';
import { sanitize, toHeaderBytes, type OcciHeader } from './header-grammar';
import { elementsOf, headerLines, textParser, type TextElement } from './text-parse';
import { categoryLines, entityLines, locationLines, type OutLine } from './text-render';

const read = (input: RequestInput): TextElement[] => elementsOf(headerLines(input.headers), 'ignore');

/** Folds lines into one header per name, in order of first appearance. */
function headers(lines: readonly OutLine[]): Rendered {
  const byName = new Map<OcciHeader, string[]>();
  for (const [name, value] of lines) {
    const values = byName.get(name) ?? [];
    values.push(value);
    byName.set(name, values);
  }
  return {
    headers: [...byName].map(([name, values]) => [name, toHeaderBytes(values.join(', '))]),
    body: 'OK',
  };
}

export const textOcci: Parser & Renderer = {
  ...textParser(read),
  mediaType: 'text/occi',
  renderCategories: (categories) => headers(categoryLines(categories)),
  renderEntity: (entity) => headers(entityLines(entity)),
  renderLocations: (locs) => headers(locationLines(locs)),
  renderEntities: (entities) => headers(locationLines(entities.map((e) => e.location))),
  renderOk: () => ({ headers: [], body: 'OK' }),
  renderCreated: (locs) => headers(locationLines(locs)),
  renderError: (_status, message) => ({
    headers: [['X-OCCI-Error', toHeaderBytes(sanitize(message))]],
    body: message,
  }),
};
