/**
 * The project's JSON Schemas (draft-04, written from the GFD.226 appendix) compiled once at module
 * load with ajv-draft-04, and ajv errors turned into one-line messages naming the JSON path, what was
 * expected and what was found: `/resources/0/kind: must be string (got 5)`.
 */
import Ajv04 from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ParseError } from '../errors';
import { jsonTypeOf, showPath, showValue, isPlainObject } from './json-body';
import renderingSchema from './schemas/occi-schema.json';
import requestSchema from './schemas/occi-request.json';

const RENDERING_ID = 'urn:occitan:schema:occi-rendering';
const REQUEST_ID = 'urn:occitan:schema:occi-request';

const ajv = new Ajv04({ allErrors: false, verbose: true, strict: true, allowUnionTypes: true });
ajv.addSchema(renderingSchema);
ajv.addSchema(requestSchema);

function compile(schemaId: string, definition: string): ValidateFunction {
  const validate = ajv.getSchema(`${schemaId}#/definitions/${definition}`);
  if (!validate) throw new Error(`occi-json: no schema definition ${definition} in ${schemaId}`);
  return validate;
}

export type RequestShape =
  | 'resource'
  | 'link'
  | 'entity_collection'
  | 'action_invocation'
  | 'kind'
  | 'mixin'
  | 'action'
  | 'category_collection'
  | 'category_identifiers'
  | 'locations'
  | 'provider_update';

const REQUEST_SHAPES: readonly RequestShape[] = [
  'resource',
  'link',
  'entity_collection',
  'action_invocation',
  'kind',
  'mixin',
  'action',
  'category_collection',
  'category_identifiers',
  'locations',
  'provider_update',
];

export type RenderedShape =
  | 'resource'
  | 'link'
  | 'entity_collection'
  | 'resource_collection'
  | 'link_collection'
  | 'model'
  | 'kind'
  | 'mixin'
  | 'action'
  | 'action_invocation'
  | 'locations'
  | 'created'
  | 'error'
  | 'empty';

const RENDERED_SHAPES: readonly RenderedShape[] = [
  'resource',
  'link',
  'entity_collection',
  'resource_collection',
  'link_collection',
  'model',
  'kind',
  'mixin',
  'action',
  'action_invocation',
  'locations',
  'created',
  'error',
  'empty',
];

const requestValidators = new Map(REQUEST_SHAPES.map((s) => [s, compile(REQUEST_ID, s)] as const));
const renderedValidators = new Map(RENDERED_SHAPES.map((s) => [s, compile(RENDERING_ID, s)] as const));

/**
 * Validates a normalised request body against the request schema; throws a ParseError naming the
 * first problem. Returns the value typed as `T` (the caller's description of that schema definition).
 */
export function checkRequest<T>(shape: RequestShape, value: unknown): T {
  const validate = requestValidators.get(shape);
  if (!validate) throw new Error(`occi-json: unknown request shape ${shape}`);
  if (!validate(value)) throw new ParseError(describeAjvError(validate.errors?.[0]));
  return value as T;
}

/** Validates something occitan renders against the rendering schema; returns the problem, or undefined when valid. */
export function checkRendered(shape: RenderedShape, value: unknown): string | undefined {
  const validate = renderedValidators.get(shape);
  if (!validate) throw new Error(`occi-json: unknown rendered shape ${shape}`);
  return validate(value) ? undefined : describeAjvError(validate.errors?.[0]);
}

/** One ajv error (verbose mode: `data` and `parentSchema` are present) as a message. */
export function describeAjvError(error: ErrorObject | undefined): string {
  if (!error) return 'request body does not match the OCCI JSON rendering';
  const path = error.instancePath;
  const params: Record<string, unknown> = error.params;
  switch (error.keyword) {
    case 'type': {
      const expected = Array.isArray(params.type) ? params.type.join(', ') : String(params.type);
      const got = error.data === null ? 'null' : `${jsonTypeOf(error.data)} ${showValue(error.data)}`;
      return `${showPath(path)}: must be ${expected} (got ${got})`;
    }
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
      return `${showPath(path)}: must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')} (got ${showValue(error.data)})`;
    }
    case 'required':
      return `${showPath(path)}: must have the member ${JSON.stringify(params.missingProperty)}`;
    case 'additionalProperties': {
      const props = isPlainObject(error.parentSchema) ? error.parentSchema.properties : undefined;
      const allowed = isPlainObject(props) ? Object.keys(props) : [];
      const known = allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : '';
      return `${showPath(path)}: unknown member ${JSON.stringify(params.additionalProperty)}${known}`;
    }
    default:
      return `${showPath(path)}: ${error.message ?? 'is not valid'}`;
  }
}
