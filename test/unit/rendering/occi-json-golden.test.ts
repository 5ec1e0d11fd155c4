/**
 * Golden tests from the spec's own JSON examples (occi-spec.md §5.3–5.8), fixed where the checklist
 * says they are broken: the `"location:"` quote, the missing comma after "description", `"\S+"`
 * (→ `"\\S+"`), `#resourcetpl` (→ `#resource_tpl`), `occi.infrastructure.networkinterface.*` (→
 * `occi.networkinterface.*`). Expected values are written by hand, never taken from our output.
 */
import { occiJson } from '../../../src/rendering/occi-json';
import { checkRendered } from '../../../src/rendering/occi-json-schema';
import {
  COMPUTE_ACTION,
  COMPUTE_LOC,
  CORE,
  INFRA,
  NETWORK_LOC,
  NI,
  computeKind,
  computeView,
  mediumMixin,
  nicView,
  req,
  stopAction,
} from './occi-json-fixtures';

const KIND_EXAMPLE = String.raw`{ "term":"compute", "scheme":"http://schemas.ogf.org/occi/infrastructure#",
  "title":"ComputeResource", "parent":"http://schemas.ogf.org/occi/core#resource",
  "attributes":{
    "occi.compute.hostname":{ "mutable":true, "required":false, "type":"string",
      "description":"Hostname of the compute resource",
      "pattern": { "$schema": "http://json-schema.org/draft-04/schema#",
                   "type": "string", "pattern": "\\S+" } },
    "occi.compute.state":{ "mutable":false, "required":false, "type":"string",
      "default":"inactive", "description":"State the compute resource is in" } },
  "actions":[ "http://schemas.ogf.org/occi/infrastructure/compute/action#start",
    "http://schemas.ogf.org/occi/infrastructure/compute/action#stop",
    "http://schemas.ogf.org/occi/infrastructure/compute/action#restart",
    "http://schemas.ogf.org/occi/infrastructure/compute/action#suspend" ],
  "location":"/compute/" }`;

const MIXIN_EXAMPLE = `{ "term":"medium", "scheme":"http://example.com/template/resource#",
  "depends":[ "http://schemas.ogf.org/occi/infrastructure#resource_tpl" ],
  "applies":[ "http://schemas.ogf.org/occi/infrastructure#compute" ],
  "attributes":{ "occi.compute.speed":{ "type":"number", "default":2.8 } },
  "title":"MediumVM", "location":"/template/resource/medium/" }`;

const ACTION_EXAMPLE = `{ "term":"stop", "scheme":"http://schemas.ogf.org/occi/infrastructure/compute/action#",
  "title":"StopComputeinstance",
  "attributes":{ "method":{ "mutable":true, "required":false, "type":"string", "default":"poweroff" } } }`;

const LINK_EXAMPLE = `{ "kind":"http://schemas.ogf.org/occi/infrastructure#networkinterface",
  "mixins":[ "http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface" ],
  "attributes":{ "occi.networkinterface.interface":"eth0",
    "occi.networkinterface.mac":"00:80:41:ae:fd:7e",
    "occi.networkinterface.address":"192.168.0.100",
    "occi.networkinterface.gateway":"192.168.0.1",
    "occi.networkinterface.allocation":"dynamic" },
  "actions":[ "http://schemas.ogf.org/occi/infrastructure/networkinterface/action#up",
              "http://schemas.ogf.org/occi/infrastructure/networkinterface/action#down" ],
  "id":"urn:uuid:22fe83ae-a20f-54fc-b436-cec85c94c5e8",
  "target": { "location":"/network/b7d55bf4-7057-5113-85c8-141871bf7635",
              "kind":"http://schemas.ogf.org/occi/infrastructure#network" },
  "source": { "location":"/compute/996ad860-2a9a-504f-8861-aeafd0b2ae29",
              "kind":"http://schemas.ogf.org/occi/infrastructure#compute" } }`;

const RESOURCE_EXAMPLE = `{ "kind": "http://schemas.ogf.org/occi/infrastructure#compute",
  "mixins": [ "http://example.com/occi/infrastructure/os_tpl#debian9",
              "http://example.com/occi/infrastructure/resource_tpl#medium" ],
  "attributes": { "occi.compute.speed": 2, "occi.compute.memory": 4, "occi.compute.cores": 2,
                  "com.example.occi.templates.myosmixin": { "mykey": "myvalue" } },
  "actions": [ "http://schemas.ogf.org/occi/infrastructure/compute/action#start" ],
  "id": "urn:uuid:996ad860-2a9a-504f-8861-aeafd0b2ae29",
  "links": [ ${LINK_EXAMPLE} ] }`;

const NIC_ATTRIBUTES = {
  'occi.networkinterface.interface': 'eth0',
  'occi.networkinterface.mac': '00:80:41:ae:fd:7e',
  'occi.networkinterface.address': '192.168.0.100',
  'occi.networkinterface.gateway': '192.168.0.1',
  'occi.networkinterface.allocation': 'dynamic',
};

const NIC_CORE = {
  'occi.core.id': 'urn:uuid:22fe83ae-a20f-54fc-b436-cec85c94c5e8',
  'occi.core.source': COMPUTE_LOC,
  'occi.core.source.kind': INFRA + 'compute',
  'occi.core.target': NETWORK_LOC,
  'occi.core.target.kind': INFRA + 'network',
};

describe('spec §5.4 kind example', () => {
  const expected = {
    class: 'kind',
    term: 'compute',
    scheme: INFRA,
    title: 'ComputeResource',
    parent: CORE + 'resource',
    attributes: {
      'occi.compute.hostname': {
        mutable: true,
        required: false,
        type: 'string',
        description: 'Hostname of the compute resource',
        pattern: { $schema: 'http://json-schema.org/draft-04/schema#', type: 'string', pattern: '\\S+' },
      },
      'occi.compute.state': {
        mutable: false,
        required: false,
        type: 'string',
        default: 'inactive',
        description: 'State the compute resource is in',
      },
    },
    actions: [COMPUTE_ACTION + 'start', COMPUTE_ACTION + 'stop', COMPUTE_ACTION + 'restart', COMPUTE_ACTION + 'suspend'],
    location: '/compute/',
  };

  test('parses inside a kind collection', () => {
    expect(occiJson.parseCategories(req(`{"kinds":[${KIND_EXAMPLE}]}`))).toEqual([expected]);
  });

  test('parses alone (a parent makes it a kind)', () => {
    expect(occiJson.parseCategories(req(KIND_EXAMPLE))).toEqual([expected]);
  });

  test('renders as the spec shows it', () => {
    const out = occiJson.renderCategories({ kinds: [computeKind], mixins: [], actions: [] });
    const body = JSON.parse(out.body);
    expect(body).toEqual({ kinds: [JSON.parse(KIND_EXAMPLE)] });
    expect(checkRendered('model', body)).toBeUndefined();
  });
});

describe('spec §5.5 mixin example', () => {
  test('parses alone and inside a mixin collection', () => {
    const expected = {
      class: 'mixin',
      term: 'medium',
      scheme: 'http://example.com/template/resource#',
      title: 'MediumVM',
      depends: [INFRA + 'resource_tpl'],
      applies: [INFRA + 'compute'],
      attributes: { 'occi.compute.speed': { type: 'number', mutable: false, required: false, default: 2.8 } },
      location: '/template/resource/medium/',
    };
    expect(occiJson.parseCategories(req(MIXIN_EXAMPLE))).toEqual([expected]);
    expect(occiJson.parseCategories(req(`{"mixins":[${MIXIN_EXAMPLE}]}`))).toEqual([expected]);
  });

  test('renders with explicit attribute properties and no empty actions (omitted, as in the spec example)', () => {
    const body = JSON.parse(occiJson.renderCategories({ kinds: [], mixins: [mediumMixin], actions: [] }).body);
    expect(body).toEqual({
      mixins: [
        {
          term: 'medium',
          scheme: 'http://example.com/template/resource#',
          title: 'MediumVM',
          depends: [INFRA + 'resource_tpl'],
          applies: [INFRA + 'compute'],
          attributes: { 'occi.compute.speed': { mutable: false, required: false, type: 'number', default: 2.8 } },
          location: '/template/resource/medium/',
        },
      ],
    });
    expect(checkRendered('model', body)).toBeUndefined();
  });
});

describe('spec §5.6 action example', () => {
  test('parses inside an action collection', () => {
    expect(occiJson.parseCategories(req(`{"actions":[${ACTION_EXAMPLE}]}`))).toEqual([
      {
        class: 'action',
        term: 'stop',
        scheme: COMPUTE_ACTION,
        title: 'StopComputeinstance',
        attributes: { method: { mutable: true, required: false, type: 'string', default: 'poweroff' } },
      },
    ]);
  });

  test('renders exactly as the spec shows it', () => {
    const body = JSON.parse(occiJson.renderCategories({ kinds: [], mixins: [], actions: [stopAction] }).body);
    expect(body).toEqual({ actions: [JSON.parse(ACTION_EXAMPLE)] });
  });

  test('a bare action object is ambiguous and refused', () => {
    expect(() => occiJson.parseCategories(req(ACTION_EXAMPLE))).toThrow(/single category object must be a mixin/);
  });
});

describe('spec §5.3 action invocation', () => {
  test('parses', () => {
    const body = `{ "action": "http://schemas.ogf.org/occi/infrastructure/compute/action#stop",
      "attributes": { "method": "graceful" } }`;
    expect(occiJson.parseAction(req(body))).toEqual({ action: COMPUTE_ACTION + 'stop', attributes: { method: 'graceful' } });
  });
});

describe('spec §5.8 link example', () => {
  test('parses as a link entity', () => {
    expect(occiJson.parseEntities(req(LINK_EXAMPLE))).toEqual([
      {
        categories: [
          { id: INFRA + 'networkinterface', class: 'kind' },
          { id: NI + '#ipnetworkinterface', class: 'mixin' },
        ],
        attributes: { ...NIC_ATTRIBUTES, ...NIC_CORE },
        links: [],
      },
    ]);
  });

  test('parses inside a link collection', () => {
    const parsed = occiJson.parseEntities(req(`{"links":[${LINK_EXAMPLE}]}`));
    expect(parsed).toHaveLength(1);
    expect(parsed[0].attributes['occi.core.target']).toBe(NETWORK_LOC);
  });

  test('renders: spec members plus every attribute (occi.core.* included) in attributes', () => {
    const body = JSON.parse(occiJson.renderEntity(nicView).body);
    const spec = JSON.parse(LINK_EXAMPLE);
    expect(body).toEqual({ ...spec, attributes: { ...spec.attributes, ...NIC_CORE } });
    expect(checkRendered('link', body)).toBeUndefined();
  });
});

describe('spec §5.8 resource example (with the link example inline)', () => {
  test('parses: kind, mixins, attributes with occi.core.id, one inline link', () => {
    expect(occiJson.parseEntities(req(RESOURCE_EXAMPLE))).toEqual([
      {
        categories: [
          { id: INFRA + 'compute', class: 'kind' },
          { id: 'http://example.com/occi/infrastructure/os_tpl#debian9', class: 'mixin' },
          { id: 'http://example.com/occi/infrastructure/resource_tpl#medium', class: 'mixin' },
        ],
        attributes: {
          'occi.compute.speed': 2,
          'occi.compute.memory': 4,
          'occi.compute.cores': 2,
          'com.example.occi.templates.myosmixin': { mykey: 'myvalue' },
          'occi.core.id': 'urn:uuid:996ad860-2a9a-504f-8861-aeafd0b2ae29',
        },
        links: [
          {
            categories: [
              { id: INFRA + 'networkinterface', class: 'kind' },
              { id: NI + '#ipnetworkinterface', class: 'mixin' },
            ],
            attributes: { ...NIC_ATTRIBUTES, ...NIC_CORE },
          },
        ],
      },
    ]);
  });

  test('renders as the spec shows it, plus occi.core.* inside attributes', () => {
    const body = JSON.parse(occiJson.renderEntity(computeView).body);
    const spec = JSON.parse(RESOURCE_EXAMPLE);
    const link = spec.links[0];
    expect(body).toEqual({
      ...spec,
      attributes: { ...spec.attributes, 'occi.core.id': 'urn:uuid:996ad860-2a9a-504f-8861-aeafd0b2ae29' },
      links: [{ ...link, attributes: { ...link.attributes, ...NIC_CORE } }],
    });
    expect(checkRendered('resource', body)).toBeUndefined();
  });

  test('a collection renders resources and links apart', () => {
    const body = JSON.parse(occiJson.renderEntities([computeView, nicView]).body);
    expect(Object.keys(body)).toEqual(['resources', 'links']);
    expect(body.resources).toHaveLength(1);
    expect(body.links).toEqual([JSON.parse(occiJson.renderEntity(nicView).body)]);
    expect(checkRendered('entity_collection', body)).toBeUndefined();
  });
});
