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
declare module 'pouchdb-mapreduce' {
  const plugin: unknown;
  export = plugin;
}
declare module 'pouchdb-replication' {
  const plugin: unknown;
  export = plugin;
}
declare module 'pouchdb-find' {
  const plugin: unknown;
  export = plugin;
}
