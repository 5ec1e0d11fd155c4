/**
 * The structure of a `categories/*.yaml` file: the GFD.226 JSON category shape (`kinds`, `mixins`,
 * `actions`), stricter than the JSON rendering in one way: every attribute states `type`, `mutable` and
 * `required`, since their JSON defaults (mutable false) differ from the text rendering's. Only structure
 * is checked here; cross-references, charsets and defaults are `validateCategoryGraph`'s.
 */
import Ajv from 'ajv';
import type { AttributeType, JsonValue } from '../model/types';

export interface AttributeDefFile {
  type: AttributeType;
  mutable: boolean;
  required: boolean;
  default?: string | number | boolean | JsonValue[] | { [key: string]: JsonValue };
  pattern?: { [key: string]: JsonValue };
  description?: string;
  /** A list of objects naming a `tenant`: non-admin callers see only their tenant's items. */
  perTenant?: boolean;
}

export interface KindFile {
  term: string;
  scheme: string;
  title?: string;
  parent?: string;
  location?: string;
  /** Only global admins manage entities of this kind (they stay readable by the tenant that holds them). */
  adminOnly?: boolean;
  /** Every authenticated caller reads entities of this kind (stored in the shared tenant; global admins write them). */
  sharedRead?: boolean;
  attributes?: Record<string, AttributeDefFile>;
  actions?: string[];
}

export interface MixinFile {
  term: string;
  scheme: string;
  title?: string;
  location: string;
  depends?: string[];
  applies?: string[];
  attributes?: Record<string, AttributeDefFile>;
  actions?: string[];
}

export interface ActionFile {
  term: string;
  scheme: string;
  title?: string;
  attributes?: Record<string, AttributeDefFile>;
}

export interface CategoryFile {
  kinds?: KindFile[];
  mixins?: MixinFile[];
  actions?: ActionFile[];
}

const nonEmptyString = { type: 'string', minLength: 1 } as const;
const idList = { type: 'array', items: nonEmptyString } as const;

const attributeDef = {
  type: 'object',
  required: ['type', 'mutable', 'required'],
  additionalProperties: false,
  properties: {
    type: { enum: ['string', 'number', 'boolean', 'array', 'object'] },
    mutable: { type: 'boolean' },
    required: { type: 'boolean' },
    default: { type: ['string', 'number', 'boolean', 'array', 'object'] },
    pattern: { type: 'object' },
    description: { type: 'string' },
    perTenant: { type: 'boolean' },
  },
} as const;

const attributes = { type: 'object', additionalProperties: { $ref: '#/definitions/attribute' } } as const;

export const categoryFileSchema = {
  $id: 'https://occitan.dev/schemas/category-file.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    kinds: { type: 'array', items: { $ref: '#/definitions/kind' } },
    mixins: { type: 'array', items: { $ref: '#/definitions/mixin' } },
    actions: { type: 'array', items: { $ref: '#/definitions/action' } },
  },
  definitions: {
    attribute: attributeDef,
    kind: {
      type: 'object',
      required: ['term', 'scheme'],
      additionalProperties: false,
      properties: {
        term: nonEmptyString,
        scheme: nonEmptyString,
        title: { type: 'string' },
        parent: nonEmptyString,
        location: nonEmptyString,
        adminOnly: { type: 'boolean' },
        sharedRead: { type: 'boolean' },
        attributes,
        actions: idList,
      },
    },
    mixin: {
      type: 'object',
      required: ['term', 'scheme', 'location'],
      additionalProperties: false,
      properties: {
        term: nonEmptyString,
        scheme: nonEmptyString,
        title: { type: 'string' },
        location: nonEmptyString,
        depends: idList,
        applies: idList,
        attributes,
        actions: idList,
      },
    },
    action: {
      type: 'object',
      required: ['term', 'scheme'],
      additionalProperties: false,
      properties: {
        term: nonEmptyString,
        scheme: nonEmptyString,
        title: { type: 'string' },
        attributes,
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });

/** Type guard over a parsed category file; on failure its `errors` say where. */
export const validateCategoryFile = ajv.compile<CategoryFile>(categoryFileSchema);
