/**
 * Serialises work per key inside this process (one domain's disk attachments, one volume's resize):
 * libvirt itself rejects the loser of a cross-process race (a target already in use), which the
 * callers turn into a retry or a Conflict.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, f: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const mine = before.then(f, f);
    const tail = mine.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
