/**
 * pyOCNI HowTo §4.2–4.4 (paths, resources, actions, mixin association) JSON documents and their
 * §10 example files, parsed with the parser that its endpoint uses. Typed verbatim from the seed (RST double backslashes and the
 * `http: //` spaces included); no typo needed fixing except where a test says so.
 */
import { occiJson } from '../../../src/rendering/occi-json';
import { COMPUTE_ACTION, INFRA, req } from './occi-json-fixtures';
import { GET_RESOURCES, PARTIAL_UPDATE, POST_RESOURCES, TRIGGER_ACTION } from '../../support/pyocni-files';

describe('§4.2 path management listings', () => {
  test('1. a plain array of URLs', () => {
    const body = `[
     "http://localhost:8090/{path}/vm3",
     "http://localhost:8090/{path}/fooVM",
     "http://localhost:8090/{path}/user/"
    ]`;
    expect(occiJson.parseLocations(req(body))).toEqual([
      'http://localhost:8090/{path}/vm3',
      'http://localhost:8090/{path}/fooVM',
      'http://localhost:8090/{path}/user/',
    ]);
  });

  test('2. X-OCCI-Location (its stray leading space trimmed)', () => {
    const body = `{
     "X-OCCI-Location": [
        " http://localhost:8090/{primary}/{secondary}/vm1",
         "http://localhost:8090/{primary}/{secondary}/vm2",
         "http://localhost:8090/{primary}/{secondary}/vm3"
     ]
    }`;
    expect(occiJson.parseLocations(req(body))).toEqual(
      ['vm1', 'vm2', 'vm3'].map((v) => `http://localhost:8090/{primary}/{secondary}/${v}`),
    );
  });
});

const COMPUTE_ATTRS = `"attributes": {
                    "occi": {
                        "compute": {
                            "speed": 2,
                            "memory": 4,
                            "cores": 12
                        }
                    }
                }`;

const PYOCNI_ACTIONS = `"actions": [
                    {
                        "title": "Start My Server",
                        "href": "/compute/996ad860-2a9a-504f-8861-aeafd0b2ae29?action=start",
                        "category": "http://schemas.ogf.org/occi/infrastructure/compute/action#start"
                    }
                ]`;

describe('§4.3 multiple resource management', () => {
  test('1–2. collection listings', () => {
    const body = `    {
     "X-OCCI-Location": [
         "http://localhost:8090/{location}/vm1",
         "http://localhost:8090/{location}/vm2",
         "http://localhost:8090/{location}/vm3"
     ]
    }`;
    expect(occiJson.parseLocations(req(body))).toHaveLength(3);
  });

  test('2. get_resources.json (a filter: attributes only, nested)', () => {
    const body = GET_RESOURCES;
    expect(occiJson.parseEntities(req(body))).toEqual([
      { categories: [], attributes: { 'occi.compute.speed': 2, 'occi.compute.memory': 4, 'occi.compute.cores': 2 }, links: [] },
    ]);
  });

  test('3. post_resources.json ("http: //" type ids)', () => {
    const body = POST_RESOURCES;
    expect(occiJson.parseEntities(req(body))).toEqual([
      {
        categories: [
          { id: INFRA + 'compute', class: 'kind' },
          { id: 'http://schemas.opennebula.org/occi/infrastructure#my_mixin', class: 'mixin' },
          { id: 'http://schemas.other.org/occi#my_mixin', class: 'mixin' },
        ],
        attributes: {
          'occi.compute.speed': 2,
          'occi.compute.memory': 4,
          'occi.compute.cores': 2,
          'occi.core.id': '996ad860-2a9a-504f-8861-aeafd0b2ae29',
          'occi.core.title': 'Compute resource',
          'occi.core.summary': 'This is a compute resource',
        },
        links: [],
      },
    ]);
  });

  test('4. trigger_action.json (actions [{term, scheme}], nested attributes)', () => {
    const body = TRIGGER_ACTION;
    const p = 'occi.infrastructure.networkinterface.';
    expect(occiJson.parseAction(req(body))).toEqual({
      action: COMPUTE_ACTION + 'start',
      attributes: {
        [p + 'interface']: 'eth0',
        [p + 'mac']: '00:80:41:ae:fd:7e',
        [p + 'address']: '192.168.0.100',
        [p + 'gateway']: '192.168.0.1',
        [p + 'allocation']: 'dynamic',
      },
    });
  });

  test.each([
    ['associate_mixin.json', '{\n    "X-OCCI-Location": [\n        "http://localhost:8090/{location1}/vm1",\n        "http://localhost:8090/{location2}/vm2"\n    ]\n    }'],
    ['update_mixins.json', '{\n        "X-OCCI-Location": [\n            "http://localhost:8090/{location1}/vm1",\n            "http://localhost:8090/{location2}/vm2"\n        ]\n    }'],
    ['dissociate_mixins.json', '{\n        "X-OCCI-Location": [\n            "http://localhost:8090/{location1}/vm1",\n            "http://localhost:8090/{location2}/vm2"\n        ]\n       }'],
  ])('5–6. %s', (_name, body) => {
    expect(occiJson.parseLocations(req(body))).toEqual([
      'http://localhost:8090/{location1}/vm1',
      'http://localhost:8090/{location2}/vm2',
    ]);
  });
});

describe('§4.4 single resource management', () => {
  const expectedCustom = {
    categories: [
      { id: INFRA + 'compute', class: 'kind' },
      { id: 'http://example.com/template/resource#medium', class: 'mixin' },
    ],
    attributes: {
      'occi.compute.speed': 2,
      'occi.compute.memory': 4,
      'occi.compute.cores': 12,
      'occi.core.id': '9930',
      'occi.core.title': 'Compute resource',
      'occi.core.summary': 'This is a compute resource',
    },
    links: [],
  };
  const customBody = `{
        "resources": [
            {
                "kind": "http://schemas.ogf.org/occi/infrastructure#compute",
                "mixins": [
                    "http://example.com/template/resource#medium"
                ],
                ${COMPUTE_ATTRS},
                ${PYOCNI_ACTIONS},
                "id": "9930",
                "title": "Compute resource",
                "summary": "This is a compute resource"
            }
        ]
    }`;

  test('1. post_custom_resource.json (pyOCNI action objects ignored)', () => {
    expect(occiJson.parseEntities(req(customBody))).toEqual([expectedCustom]);
  });

  test('3. full_update_resource.json (same document as post_custom_resource.json)', () => {
    expect(occiJson.parseEntities(req(customBody))).toEqual([expectedCustom]);
  });

  test('4. partial_update_resource.json', () => {
    const body = PARTIAL_UPDATE;
    expect(occiJson.parseEntities(req(body))).toEqual([
      { categories: [], attributes: { 'occi.compute.speed': 5, 'occi.compute.cores': 2 }, links: [] },
    ]);
  });

  test('2. GET response (nested attributes, string link target, "http: //" ids)', () => {
    const body = `{
    "resources": [
       {
           "kind": "http: //schemas.ogf.org/occi/infrastructure#compute",
           "mixins": [
               "http: //schemas.opennebula.org/occi/infrastructure#my_mixin",
               "http: //schemas.other.org/occi#my_mixin"
           ],
           "attributes": {
               "occi": {
                   "compute": {
                       "speed": 2,
                       "memory": 4,
                       "cores": 2
                   }
               },
               "org": {
                   "other": {
                       "occi": {
                           "my_mixin": {
                               "my_attribute": "my_value"
                           }
                       }
                   }
               }
           },
           "actions": [
               {
                   "title": "Start My Server",
                   "href": "/compute/996ad860-2a9a-504f-8861-aeafd0b2ae29?action=start",
                   "category": "http://schemas.ogf.org/occi/infrastructure/compute/action#start"
               }
           ],
           "id": "996ad860-2a9a-504f-8861-aeafd0b2ae29",
           "title": "Compute resource",
           "summary": "This is a compute resource",
           "links": [
               {
                   "target": "http://myservice.tld/storage/59e06cf8-f390-5093-af2e-3685be593",
                   "kind": "http: //schemas.ogf.org/occi/infrastructure#storagelink",
                   "attributes": {
                       "occi": {
                           "storagelink": {
                               "deviceid": "ide: 0: 1"
                           }
                       }
                   },
                   "id": "391ada15-580c-5baa-b16f-eeb35d9b1122",
                   "title": "Mydisk"
               }
           ]
       }
    ]
    }`;
    expect(occiJson.parseEntities(req(body))).toEqual([
      {
        categories: [
          { id: INFRA + 'compute', class: 'kind' },
          { id: 'http://schemas.opennebula.org/occi/infrastructure#my_mixin', class: 'mixin' },
          { id: 'http://schemas.other.org/occi#my_mixin', class: 'mixin' },
        ],
        attributes: {
          'occi.compute.speed': 2,
          'occi.compute.memory': 4,
          'occi.compute.cores': 2,
          'org.other.occi.my_mixin.my_attribute': 'my_value',
          'occi.core.id': '996ad860-2a9a-504f-8861-aeafd0b2ae29',
          'occi.core.title': 'Compute resource',
          'occi.core.summary': 'This is a compute resource',
        },
        links: [
          {
            categories: [{ id: INFRA + 'storagelink', class: 'kind' }],
            attributes: {
              'occi.storagelink.deviceid': 'ide: 0: 1',
              'occi.core.id': '391ada15-580c-5baa-b16f-eeb35d9b1122',
              'occi.core.title': 'Mydisk',
              'occi.core.target': 'http://myservice.tld/storage/59e06cf8-f390-5093-af2e-3685be593',
            },
          },
        ],
      },
    ]);
  });

  test('3. the full-update response as printed (a quote missing) is reported at its position', () => {
    const body = '{\n Location": [\n     "http://localhost:8090/{location}/{resource-id}"\n ]\n}';
    expect(() => occiJson.parseLocations(req(body))).toThrow(
      'invalid JSON at position 3: expected a member name in double quotes, found "L"',
    );
  });
});
