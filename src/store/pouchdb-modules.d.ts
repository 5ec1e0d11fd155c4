/**
 * Minimal declarations for the untyped PouchDB family used by the embedded store. Everything is `unknown`
 * at the module edge; src/store/embedded.ts narrows it to the few members it touches.
 */
declare module 'express-pouchdb' {
  const expressPouchDB: unknown;
  export = expressPouchDB;
}
declare module 'pouchdb-core' {
  const PouchDB: unknown;
  export = PouchDB;
}
declare module 'pouchdb-adapter-leveldb' {
  const plugin: unknown;
  export = plugin;
}
declare module 'pouchdb-adapter-memory' {
  const plugin: unknown;
  export = plugin;
}
declare module 'pouchdb-adapter-http' {
  const plugin: unknown;
  export = plugin;
}
declare module 'pouchdb-abstract-mapreduce' {
  /** The view indexer behind pouchdb-mapreduce and pouchdb-find; src/store/view-engine.ts supplies the functions. */
  interface AbstractMapReduce {
    query: (this: unknown, fun: unknown, opts: unknown, callback: unknown) => unknown;
    viewCleanup: (this: unknown, callback: unknown) => unknown;
  }
  function createAbstractMapReduce(
    localDocName: string,
    mapper: (mapFun: unknown, emit: (key: unknown, value?: unknown) => void) => (doc: unknown) => unknown,
    reducer: (reduceFun: unknown) => (keys: unknown, values: unknown[], rereduce?: boolean) => unknown,
    ddocValidator: (ddoc: { _id: string; views?: Record<string, { map?: unknown }> }, viewName: string) => void,
  ): AbstractMapReduce;
  export = createAbstractMapReduce;
}
declare module 'pouchdb-mapreduce-utils' {
  /** Errors whose class the indexer checks with instanceof: they must come from this module. */
  export class NotFoundError extends Error {
    constructor(message: string);
    status: number;
  }
  export class BuiltInError extends Error {
    constructor(message: string);
    status: number;
  }
}
declare module 'pouchdb-replication' {
  const plugin: unknown;
  export = plugin;
}
declare module 'pouchdb-find' {
  const plugin: unknown;
  export = plugin;
}
