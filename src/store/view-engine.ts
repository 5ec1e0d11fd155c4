/**
 * The embedded store's map/reduce plugin: pouchdb-abstract-mapreduce (the view indexer pouchdb-mapreduce is
 * built on) with JavaScript view functions compiled ONCE per function source into one sandbox context.
 *
 * Why not pouchdb-mapreduce itself: it builds a new source string that inlines the document's JSON and runs
 * it with `vm.runInNewContext` for every document it indexes, i.e. one fresh V8 context and one compilation
 * per document. Under write load that is most of the store's CPU, and every compiled script lands in V8's
 * compilation cache, growing old space that a forced GC does not give back (the 60 s soak measured +67 MiB).
 *
 * The sandbox is a context of its own, as before: view code sees no `require`, `process` or module state.
 * The document is handed over as the indexer holds it (a copy made for indexing, never written back), so
 * a view that mutates its argument changes nothing stored. Only occitan writes design documents (the store
 * sits behind generated credentials), which is why no per-call time limit is imposed.
 */
import vm from 'node:vm';
import createAbstractMapReduce from 'pouchdb-abstract-mapreduce';
import { BuiltInError, NotFoundError } from 'pouchdb-mapreduce-utils';

type Emit = (key: unknown, value?: unknown) => void;
type MapFunction = (doc: unknown) => unknown;
type ReduceFunction = (keys: unknown, values: unknown[], rereduce?: boolean) => unknown;

/** CouchDB's built-in reduce functions, run in the main realm (they touch only numbers). */
const builtInReduce: Record<string, ReduceFunction> = {
  _count: (_keys, values) => values.length,
  _sum: (_keys, values) => sum(values),
  _stats: (_keys, values) => {
    const numbers = values.map((v) => {
      if (typeof v !== 'number') throw new BuiltInError('builtin _stats function requires map values to be numbers');
      return v;
    });
    return {
      sum: sum(numbers),
      min: Math.min(...numbers),
      max: Math.max(...numbers),
      count: numbers.length,
      sumsqr: numbers.reduce((acc, n) => acc + n * n, 0),
    };
  },
};

function sum(values: unknown[]): number | number[] {
  let total: number | number[] = 0;
  for (const v of values) {
    if (typeof v === 'number') {
      if (typeof total === 'number') total += v;
      else total[0] = (total[0] ?? 0) + v;
    } else if (Array.isArray(v)) {
      const acc: number[] = typeof total === 'number' ? [total] : total;
      v.forEach((n: unknown, i) => {
        if (typeof n !== 'number') throw new BuiltInError('builtin _sum function requires map values to be numbers or number arrays');
        acc[i] = (acc[i] ?? 0) + n;
      });
      total = acc;
    } else {
      throw new BuiltInError('builtin _sum function requires map values to be numbers or number arrays');
    }
  }
  return total;
}

/**
 * One sandbox for all view code of the process. `emit` forwards to whichever indexer is mapping right now:
 * map functions run synchronously, so one slot suffices.
 */
class ViewSandbox {
  private readonly context = vm.createContext(Object.create(null) as object);
  private readonly compiled = new Map<string, (fn: MapFunction | ReduceFunction) => unknown>();
  private currentEmit: Emit | undefined;

  get size(): number {
    return this.compiled.size;
  }

  constructor() {
    vm.runInContext(
      '"use strict";' +
        'var __host__;' +
        'var emit = function (key, value) { __host__(key, value); };' +
        'var log = function () {};' +
        'var isArray = Array.isArray;' +
        'var toJSON = JSON.parse;' +
        'var sum = function (values) { return values.reduce(function (a, b) { return a + b; }, 0); };',
      this.context,
    );
    (this.context as { __host__: Emit }).__host__ = (key, value) => {
      if (!this.currentEmit) throw new Error('emit() called outside a map function');
      this.currentEmit(key, value);
    };
  }

  /** The function a view source evaluates to, compiled on first use and kept for the process's life. */
  private evaluate(source: string): (...args: unknown[]) => unknown {
    let fn = this.compiled.get(source);
    if (!fn) {
      const value: unknown = vm.runInContext(`"use strict";(${source.replace(/;\s*$/, '')})`, this.context, { filename: 'view-function.js' });
      if (typeof value !== 'function') throw new TypeError('a view function must evaluate to a function');
      fn = value as (fn: MapFunction | ReduceFunction) => unknown;
      this.compiled.set(source, fn);
    }
    return fn as (...args: unknown[]) => unknown;
  }

  mapper(source: string, emit: Emit): MapFunction {
    const fn = this.evaluate(source);
    return (doc) => {
      const outer = this.currentEmit;
      this.currentEmit = emit;
      try {
        return fn(doc);
      } finally {
        this.currentEmit = outer;
      }
    };
  }

  reducer(source: string): ReduceFunction {
    const fn = this.evaluate(source);
    return (keys, values, rereduce) => fn(keys, values, rereduce);
  }
}

let sandbox: ViewSandbox | undefined;

/** How many distinct view function sources this process has compiled (tests check it stays flat). */
export function viewFunctionsCompiled(): number {
  return sandbox?.size ?? 0;
}

function mapper(mapFun: unknown, emit: Emit): MapFunction {
  // Temporary views may pass a real two-argument function: call it directly, as pouchdb-mapreduce does.
  if (typeof mapFun === 'function' && mapFun.length === 2) {
    const direct = mapFun as (doc: unknown, emit: Emit) => unknown;
    return (doc) => direct(doc, emit);
  }
  sandbox ??= new ViewSandbox();
  return sandbox.mapper(String(mapFun), emit);
}

function reducer(reduceFun: unknown): ReduceFunction {
  const source = String(reduceFun);
  const builtIn = /^_[a-z]+/.exec(source);
  if (builtIn) {
    const fn = builtInReduce[builtIn[0]];
    if (!fn) throw new Error(`${source} is not a supported reduce function.`);
    return fn;
  }
  sandbox ??= new ViewSandbox();
  return sandbox.reducer(source);
}

function ddocValidator(ddoc: { _id: string; views?: Record<string, { map?: unknown }> }, viewName: string): void {
  const fun = ddoc.views?.[viewName];
  if (typeof fun?.map !== 'string') {
    throw new NotFoundError(`ddoc ${ddoc._id} has no string view named ${viewName}, instead found object of type: ${typeof fun?.map}`);
  }
}

// 'mrviews' is pouchdb-mapreduce's local document name: indexes already built on disk stay valid.
const abstract = createAbstractMapReduce('mrviews', mapper, reducer, ddocValidator);

/** The PouchDB plugin: `PouchDB.plugin(viewEngine)` in place of pouchdb-mapreduce. */
export const viewEngine = {
  query(this: unknown, fun: unknown, opts: unknown, callback: unknown): unknown {
    return abstract.query.call(this, fun, opts, callback);
  },
  viewCleanup(this: unknown, callback: unknown): unknown {
    return abstract.viewCleanup.call(this, callback);
  },
};
