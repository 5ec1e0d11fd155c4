/**
 * Shared helpers for the occi-json tests. Spec and pyOCNI fixtures are kept in the test files that use
 * them, typed by hand from occi-spec.md §5 and the pyOCNI HowTo.
 */
import type { RequestInput } from '../../../src/rendering/rendering';
import type { Action, AttributeDef, EntityView, Kind, Mixin } from '../../../src/model/types';

export function req(body: string): RequestInput {
  return { headers: { 'content-type': 'application/occi+json' }, body };
}

export const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
export const CORE = 'http://schemas.ogf.org/occi/core#';
export const COMPUTE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';

export function attr(type: AttributeDef['type'], mutable: boolean, required: boolean, extra: Partial<AttributeDef> = {}): AttributeDef {
  return { type, mutable, required, ...extra };
}

/** The spec's §5.4 compute kind as a model Kind. */
export const computeKind: Kind = {
  class: 'kind',
  scheme: INFRA,
  term: 'compute',
  title: 'ComputeResource',
  parent: CORE + 'resource',
  origin: 'builtin',
  attributes: {
    'occi.compute.hostname': attr('string', true, false, {
      description: 'Hostname of the compute resource',
      pattern: { $schema: 'http://json-schema.org/draft-04/schema#', type: 'string', pattern: '\\S+' },
    }),
    'occi.compute.state': attr('string', false, false, { default: 'inactive', description: 'State the compute resource is in' }),
  },
  actions: ['start', 'stop', 'restart', 'suspend'].map((t) => COMPUTE_ACTION + t),
  location: '/compute/',
};

/** The spec's §5.5 mixin (with the `#resource_tpl` fix). */
export const mediumMixin: Mixin = {
  class: 'mixin',
  scheme: 'http://example.com/template/resource#',
  term: 'medium',
  title: 'MediumVM',
  origin: 'admin',
  depends: [INFRA + 'resource_tpl'],
  applies: [INFRA + 'compute'],
  attributes: { 'occi.compute.speed': attr('number', false, false, { default: 2.8 }) },
  actions: [],
  location: '/template/resource/medium/',
};

/** The spec's §5.6 action. */
export const stopAction: Action = {
  class: 'action',
  scheme: COMPUTE_ACTION,
  term: 'stop',
  title: 'StopComputeinstance',
  origin: 'builtin',
  attributes: { method: attr('string', true, false, { default: 'poweroff' }) },
};

export const COMPUTE_LOC = '/compute/996ad860-2a9a-504f-8861-aeafd0b2ae29';
export const NETWORK_LOC = '/network/b7d55bf4-7057-5113-85c8-141871bf7635';
export const NI = 'http://schemas.ogf.org/occi/infrastructure/networkinterface';

/** The spec's §5.8 link example (fixed attribute names) as a view. */
export const nicView: EntityView = {
  location: '/networkinterface/22fe83ae-a20f-54fc-b436-cec85c94c5e8',
  kind: INFRA + 'networkinterface',
  mixins: [NI + '#ipnetworkinterface'],
  attributes: {
    'occi.core.id': 'urn:uuid:22fe83ae-a20f-54fc-b436-cec85c94c5e8',
    'occi.core.source': COMPUTE_LOC,
    'occi.core.source.kind': INFRA + 'compute',
    'occi.core.target': NETWORK_LOC,
    'occi.core.target.kind': INFRA + 'network',
    'occi.networkinterface.interface': 'eth0',
    'occi.networkinterface.mac': '00:80:41:ae:fd:7e',
    'occi.networkinterface.address': '192.168.0.100',
    'occi.networkinterface.gateway': '192.168.0.1',
    'occi.networkinterface.allocation': 'dynamic',
  },
  actions: [
    { href: '/networkinterface/22fe83ae-a20f-54fc-b436-cec85c94c5e8?action=up', action: NI + '/action#up' },
    { href: '/networkinterface/22fe83ae-a20f-54fc-b436-cec85c94c5e8?action=down', action: NI + '/action#down' },
  ],
};

/** The spec's §5.8 resource example as a view. */
export const computeView: EntityView = {
  location: COMPUTE_LOC,
  kind: INFRA + 'compute',
  mixins: ['http://example.com/occi/infrastructure/os_tpl#debian9', 'http://example.com/occi/infrastructure/resource_tpl#medium'],
  attributes: {
    'occi.core.id': 'urn:uuid:996ad860-2a9a-504f-8861-aeafd0b2ae29',
    'occi.compute.speed': 2,
    'occi.compute.memory': 4,
    'occi.compute.cores': 2,
    'com.example.occi.templates.myosmixin': { mykey: 'myvalue' },
  },
  actions: [{ href: COMPUTE_LOC + '?action=start', action: COMPUTE_ACTION + 'start' }],
  links: [nicView],
};
