/**
 * The backend conformance suite against the docker provider on occitan's second engine: TCP on
 * 127.0.0.1 with --tlsverify, the client certificate scripts/services.sh made (bash scripts/services.sh
 * start docker starts both engines).
 */
import { dockerConformance } from './docker-conformance';
import { TLS } from './docker-observer';

dockerConformance(TLS);
