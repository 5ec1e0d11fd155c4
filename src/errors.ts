/**
 * The one error hierarchy. Every status code occitan answers with an error comes from a class here;
 * the outermost HTTP middleware renders them. Messages of 4xx errors are shown to the client and must
 * say what is wrong and where (header, field, value); 5xx messages are hidden and logged.
 */
export class OcciError extends Error {
  readonly status: number;
  /** Whether the message may be shown to the client (koa's `expose`): true for 4xx. */
  readonly expose: boolean;
  /** Extra response headers (Allow, WWW-Authenticate, Retry-After). */
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.expose = status < 500;
    this.headers = headers;
  }
}

export class BadRequest extends OcciError {
  constructor(message: string) {
    super(400, message);
  }
}
/** A syntax error in a request body or header. */
export class ParseError extends BadRequest {}
/** A well-formed request that breaks a model rule (unknown attribute, missing required, wrong type). */
export class ValidationError extends BadRequest {}

export class Unauthorized extends OcciError {
  constructor(message: string, challenge = 'Basic realm="occitan", Bearer') {
    super(401, message, { 'WWW-Authenticate': challenge });
  }
}
export class Forbidden extends OcciError {
  constructor(message: string) {
    super(403, message);
  }
}
export class NotFound extends OcciError {
  constructor(message: string) {
    super(404, message);
  }
}
export class MethodNotAllowed extends OcciError {
  constructor(method: string, path: string, allow: readonly string[]) {
    super(405, `${method} is not allowed on ${path}; allowed: ${allow.join(', ')}`, { Allow: allow.join(', ') });
  }
}
export class NotAcceptable extends OcciError {
  constructor(message: string) {
    super(406, message);
  }
}
export class Conflict extends OcciError {
  constructor(message: string) {
    super(409, message);
  }
}
export class PreconditionFailed extends OcciError {
  constructor(message: string) {
    super(412, message);
  }
}
export class PayloadTooLarge extends OcciError {
  constructor(message: string) {
    super(413, message);
  }
}
export class UnsupportedMediaType extends OcciError {
  constructor(message: string) {
    super(415, message);
  }
}
export class RequestHeaderFieldsTooLarge extends OcciError {
  constructor(message: string) {
    super(431, message);
  }
}
export class Internal extends OcciError {
  constructor(message = 'internal error') {
    super(500, message);
  }
}
export class NotImplemented extends OcciError {
  constructor(message: string) {
    super(501, message);
    // 501 says what the server lacks, which is safe and useful to the client.
    (this as { expose: boolean }).expose = true;
  }
}
export class BadGateway extends OcciError {
  constructor(message: string) {
    super(502, message);
    (this as { expose: boolean }).expose = true;
  }
}
export class ServiceUnavailable extends OcciError {
  constructor(message: string, retryAfterSeconds = 5) {
    super(503, message, { 'Retry-After': String(retryAfterSeconds) });
    (this as { expose: boolean }).expose = true;
  }
}

export function isOcciError(e: unknown): e is OcciError {
  return e instanceof OcciError;
}
