/**
 * What every OCCI route needs from a request, built once: renderer, parser, body, input and how to
 * show locations to this client.
 */
import type { Context } from 'koa';
import type { Parser, Renderer, RequestInput } from '../rendering/rendering';
import { readBody } from './body';
import { chooseParser, negotiate, type Choice } from './negotiate';

export interface RequestContext {
  /** The client's best choice; a route whose answer uri-list cannot carry replaces it (`nonListingRenderer`). */
  renderer: Renderer;
  /** Every acceptable media type, best first. */
  choices: readonly Choice[];
  parser: Parser;
  body: string;
  input: RequestInput;
  /** Maps a stored path to the URL this client sees. */
  locate: (path: string) => string;
}

export async function requestContext(ctx: Context, opts: { bodyBytes: number; baseUrl: string }): Promise<RequestContext> {
  const choices = negotiate(ctx);
  const renderer = choices[0]!.renderer;
  const body = await readBody(ctx, opts.bodyBytes);
  const parser = chooseParser(ctx, body);
  const base = opts.baseUrl || `${ctx.protocol}://${ctx.host}`;
  return {
    renderer,
    choices,
    parser,
    body,
    input: { headers: ctx.headers, body },
    locate: (path) => (path.startsWith('/') ? base + path : path),
  };
}
