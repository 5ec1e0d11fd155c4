/**
 * Reads the documents of a standalone store (`occitan store`) directly, for tests that must see what the
 * OCCI rendering hides: occitan's internal ids (uid), which name platform objects (containers' labels,
 * domains, volumes, OVS ports), and documents left `creating`/`deleting` by a crash.
 */

/** A stored document, as loosely as the store has it (design documents carry none of the entity fields). */
export interface StoreDoc {
  _id: string;
  uid?: string;
  location?: string;
  kind?: string;
  provider?: string;
  status?: string;
  tenant?: string;
  source?: string;
  target?: string;
  attributes?: Record<string, unknown>;
}

/**
 * Every document of `db`. The store announces its URL with credentials and fetch refuses those in a URL, so
 * they go into a header. Throws (naming the status) when the store does not answer 200.
 */
export async function storeDocs(storeUrl: string, db: string): Promise<StoreDoc[]> {
  const u = new URL(`${storeUrl}/${db}/_all_docs?include_docs=true`);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  u.username = '';
  u.password = '';
  const res = await fetch(u, { headers: { Authorization: auth } });
  if (res.status !== 200) throw new Error(`the store answered ${res.status} to _all_docs of ${db}`);
  const body = (await res.json()) as { rows: Array<{ doc?: StoreDoc }> };
  return body.rows.map((r) => r.doc).filter((d): d is StoreDoc => d !== undefined);
}

/** The entity documents of `db` (those with a uid and a location), typed as the caller reads them. */
export async function entityDocs<D extends { uid: string; location: string }>(storeUrl: string, db: string): Promise<D[]> {
  const all = await storeDocs(storeUrl, db);
  return all.filter((d) => typeof d.uid === 'string' && typeof d.location === 'string') as unknown as D[];
}
