/**
 * Writing a rendering to the response, and streaming long listings in batches.
 */
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import type { EntityView } from '../model/types';
import type { Rendered, Renderer, StreamParts } from '../rendering/rendering';

export function send(ctx: Context, status: number, renderer: Renderer, rendered: Rendered, extra: Record<string, string> = {}): void {
  ctx.status = status;
  const grouped = new Map<string, string[]>();
  for (const [name, value] of rendered.headers) {
    const list = grouped.get(name) ?? [];
    list.push(value);
    grouped.set(name, list);
  }
  for (const [name, values] of grouped) ctx.set(name, values.length === 1 ? values[0]! : values);
  for (const [name, value] of Object.entries(extra)) ctx.set(name, value);
  ctx.body = rendered.body;
  const type = grouped.get('Content-Type')?.[0];
  ctx.type = type ?? `${renderer.mediaType}; charset=utf-8`;
}

/** Streams `items` through a renderer's StreamParts; the body never holds the whole listing. */
export function stream<T>(ctx: Context, status: number, renderer: Renderer, parts: StreamParts<T>, items: AsyncIterable<T>, extra: Record<string, string> = {}): void {
  ctx.status = status;
  for (const [name, value] of Object.entries(extra)) ctx.set(name, value);
  const contentType = renderer.renderOk().headers.find(([n]) => n.toLowerCase() === 'content-type')?.[1] ?? `${renderer.mediaType}; charset=utf-8`;
  ctx.type = contentType;
  async function* pieces(): AsyncGenerator<string> {
    yield parts.open();
    let i = 0;
    for await (const item of items) yield parts.item(item, i++);
    yield parts.close();
  }
  ctx.body = Readable.from(pieces());
}

export type ViewStream = AsyncIterable<EntityView>;
