/**
 * Logging through pino (structured, fast), behind the small Logger interface backends receive.
 */
import pino from 'pino';
import type { Logger } from './backends/backend';

export function createLogger(level: string, name = 'occitan'): Logger & { child(name: string): Logger } {
  const p = pino({ name, level }, pino.destination(2));
  const wrap = (l: pino.Logger): Logger & { child(name: string): Logger } => ({
    debug: (msg, extra) => l.debug(extra ?? {}, msg),
    info: (msg, extra) => l.info(extra ?? {}, msg),
    warn: (msg, extra) => l.warn(extra ?? {}, msg),
    error: (msg, extra) => l.error(extra ?? {}, msg),
    child: (child: string) => wrap(l.child({ component: child })),
  });
  return wrap(p);
}
