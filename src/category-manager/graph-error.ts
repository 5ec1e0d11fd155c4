/**
 * The error of a broken category rule, shared by the graph checks (builtin.ts) and the attribute-definition
 * checks (attribute-rules.ts); on its own so that attribute-rules.ts need not import builtin.ts back.
 */
import { ValidationError } from '../errors';
import type { TypeId } from '../model/types';

export type GraphRule =
  | 'scheme'
  | 'term'
  | 'duplicate-id'
  | 'location'
  | 'duplicate-location'
  | 'parent-missing'
  | 'parent-chain'
  | 'depends'
  | 'applies'
  | 'action'
  | 'attribute-name'
  | 'attribute-pattern'
  | 'attribute-default'
  | 'attribute-type';

/** A broken rule of the category graph; `category` is the offending type id (first in the message). */
export class CategoryGraphError extends ValidationError {
  constructor(
    readonly rule: GraphRule,
    readonly category: TypeId,
    detail: string,
  ) {
    super(`category ${category}: ${detail}`);
  }
}
