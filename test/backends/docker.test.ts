/**
 * The backend conformance suite against the docker provider on occitan's private dockerd over its unix
 * socket (bash scripts/services.sh start docker). docker-tls.test.ts runs it on the second engine, over
 * TCP with TLS.
 */
import { dockerConformance } from './docker-conformance';
import { UNIX } from './docker-observer';

dockerConformance(UNIX);
