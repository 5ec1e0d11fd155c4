/**
 * Reading the request body as text within the configured limit (413 past it), before any parsing.
 */
import type { Context } from 'koa';
import { BadRequest, PayloadTooLarge } from '../errors';

export async function readBody(ctx: Context, limit: number): Promise<string> {
  const declared = Number(ctx.get('Content-Length') || '0');
  if (declared > limit) throw new PayloadTooLarge(`the body is ${declared} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      ctx.req.resume();
      throw new PayloadTooLarge(`the body is over the limit of ${limit} bytes`);
    }
    chunks.push(buf);
  }
  const raw = Buffer.concat(chunks);
  const text = raw.toString('utf8');
  if (text.includes('\ufffd') && !Buffer.from(text, 'utf8').equals(raw)) throw new BadRequest('the body is not valid UTF-8');
  return text;
}
