/**
 * Entities a backend is working on for occitan: operations in flight, and when the last one ended. A
 * backend's event watcher (docker events, libvirt lifecycle events) leaves such an entity to the request
 * that is changing it, and for `afterMs` after, so the request's own answer is not overwritten by the
 * events it caused.
 */
export const BUSY_AFTER_MS = 2000;

export class BusyEntities {
  private readonly working = new Map<string, { count: number; ended: number }>();

  constructor(private readonly afterMs: number = BUSY_AFTER_MS) {}

  /** Runs an operation on an entity, marking it busy meanwhile (and `afterMs` after). */
  async run<T>(id: string, work: () => Promise<T>): Promise<T> {
    const w = this.working.get(id) ?? { count: 0, ended: 0 };
    w.count++;
    this.working.set(id, w);
    try {
      return await work();
    } finally {
      w.count--;
      w.ended = Date.now();
      // Forget it once the watcher no longer cares.
      setTimeout(() => {
        if (this.working.get(id) === w && w.count === 0 && Date.now() - w.ended >= this.afterMs) this.working.delete(id);
      }, this.afterMs + 10).unref();
    }
  }

  has(id: string): boolean {
    const w = this.working.get(id);
    return !!w && (w.count > 0 || Date.now() - w.ended < this.afterMs);
  }
}
