/**
 * Writing a rendering to the response, and streaming long listings in batches.
 *
 * Bodies go out as Buffers of UTF-8 bytes, never as strings: node writes the header block together with
 * the first body chunk, and with a string chunk it encodes both in the chunk's encoding (utf8). Header values
 * are latin1-mapped UTF-8 (header-grammar.ts toHeaderBytes), so a string body made `café` go out as
 * `caf\xc3\x83\xc2\xa9`. With a Buffer chunk node writes the header block as latin1: UTF-8 once.
 *
 * Content-Type is the negotiated type alone, without `; charset=utf-8`: the OGF 1.1 compliance test and
 * OCCI clients compare it for equality (`text/plain`, `text/occi`, `text/uri-list`); the bodies are UTF-8.
 */
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import type { EntityView } from '../model/types';
import type { Rendered, Renderer, StreamParts } from '../rendering/rendering';
import { answerType } from './negotiate';

export function send(ctx: Context, status: number, renderer: Renderer, rendered: Rendered, extra: Record<string, string> = {}): void {
  ctx.status = status;
  const grouped = new Map<string, string[]>();
  for (const [name, value] of rendered.headers) {
    // The renderer's own Content-Type (JSON's carries a charset) gives way to the negotiated name below.
    if (name.toLowerCase() === 'content-type') continue;
    const list = grouped.get(name) ?? [];
    list.push(value);
    grouped.set(name, list);
  }
  for (const [name, values] of grouped) ctx.set(name, values.length === 1 ? values[0]! : values);
  for (const [name, value] of Object.entries(extra)) ctx.set(name, value);
  ctx.body = Buffer.from(rendered.body, 'utf8');
  // ctx.set, not ctx.type: koa's type setter appends `; charset=utf-8` to text types.
  ctx.set('Content-Type', answerType(ctx, renderer));
}

/** Streams `items` through a renderer's StreamParts; the body never holds the whole listing. */
export function stream<T>(ctx: Context, status: number, renderer: Renderer, parts: StreamParts<T>, items: AsyncIterable<T>, extra: Record<string, string> = {}): void {
  ctx.status = status;
  for (const [name, value] of Object.entries(extra)) ctx.set(name, value);
  async function* pieces(): AsyncGenerator<Buffer> {
    yield Buffer.from(parts.open(), 'utf8');
    let i = 0;
    for await (const item of items) yield Buffer.from(parts.item(item, i++), 'utf8');
    yield Buffer.from(parts.close(), 'utf8');
  }
  ctx.body = Readable.from(pieces());
  ctx.set('Content-Type', answerType(ctx, renderer));
}

export type ViewStream = AsyncIterable<EntityView>;
