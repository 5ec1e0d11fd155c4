/**
 * pyOCNI HowTo §4.1 (category management) JSON documents and their §10 example files, parsed with
 * the parser that its endpoint uses. Typed verbatim from the seed (RST double backslashes and the
 * `http: //` spaces included); no typo needed fixing except where a test says so.
 */
import { occiJson, parseProviderUpdate } from '../../../src/rendering/occi-json';
import { COMPUTE_ACTION, CORE, INFRA, req } from './occi-json-fixtures';

const HOSTNAME_ERE = String.raw`(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]*[a-zA-Z0-9])\\.)*`;

describe('§4.1 category management', () => {
  test('1. GET /-/ response (a client echoing it back must parse)', () => {
    const body = String.raw`{
        "actions": [
            {
                "term": "start",
                "scheme": "http://schemas.ogf.org/occi/infrastructure/compute/action#",
                "title": "Stop Compute instance",
                "attributes": {
                    "method": {
                        "mutable": true,
                        "required": false,
                        "type": "string",
                        "pattern": "graceful|acpioff|poweroff",
                        "default": "poweroff"
                    }
                }
            }
        ],
        "kinds": [
            {
                "term": "storage",
                "scheme": "http://schemas.ogf.org/occi/infrastructure#",
                "title": "Compute Resource",
                "attributes": {
                    "occi": {
                        "compute": {
                            "hostname": {
                                "mutable": true,
                                "required": false,
                                "type": "string",
                                "pattern": "(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\\\-]*[a-zA-Z0-9])\\\\.)*",
                                "minimum": "1",
                                "maximum": "255"
                            },
                            "state": {
                                "mutable": false,
                                "required": false,
                                "type": "string",
                                "pattern": "inactive|active|suspended|failed",
                                "default": "inactive"
                            }
                        }
                    }
                },
                "actions": [
                    "http://schemas.ogf.org/occi/infrastructure/compute/action#start"
                ],
                "location": "/storage/"
            }
        ],
        "mixins": [
            {
                "term": "resource_tpl",
                "scheme": "http://schemas.ogf.org/occi/infrastructure#",
                "title": "Medium VM",
                "related": [],
                "attributes": {
                    "occi": {
                        "compute": {
                            "speed": {
                                "type": "number",
                                "default": 2.8
                            }
                        }
                    }
                },
                "location": "/template/resource/resource_tpl/"
            }
        ]
    }`;
    expect(occiJson.parseCategories(req(body))).toEqual([
      {
        class: 'kind',
        term: 'storage',
        scheme: INFRA,
        title: 'Compute Resource',
        attributes: {
          'occi.compute.hostname': {
            mutable: true,
            required: false,
            type: 'string',
            pattern: { type: 'string', pattern: HOSTNAME_ERE },
          },
          'occi.compute.state': {
            mutable: false,
            required: false,
            type: 'string',
            pattern: { type: 'string', pattern: 'inactive|active|suspended|failed' },
            default: 'inactive',
          },
        },
        actions: [COMPUTE_ACTION + 'start'],
        location: '/storage/',
      },
      {
        class: 'mixin',
        term: 'resource_tpl',
        scheme: INFRA,
        title: 'Medium VM',
        depends: [],
        attributes: { 'occi.compute.speed': { mutable: false, required: false, type: 'number', default: 2.8 } },
        location: '/template/resource/resource_tpl/',
      },
      {
        class: 'action',
        term: 'start',
        scheme: COMPUTE_ACTION,
        title: 'Stop Compute instance',
        attributes: {
          method: {
            mutable: true,
            required: false,
            type: 'string',
            pattern: { type: 'string', pattern: 'graceful|acpioff|poweroff' },
            default: 'poweroff',
          },
        },
      },
    ]);
  });

  test('2. filter_categories.json (an action with attributes only)', () => {
    const body = `{
     "actions": [
         {
             "attributes": {
                 "method": {
                     "mutable": true,
                     "required": false,
                     "type": "string",
                     "pattern": "graceful|acpioff|poweroff",
                     "default": "poweroff"
                 }
             }
         }
     ]
     }`;
    expect(occiJson.parseCategories(req(body))).toEqual([
      {
        class: 'action',
        attributes: {
          method: {
            mutable: true,
            required: false,
            type: 'string',
            pattern: { type: 'string', pattern: 'graceful|acpioff|poweroff' },
            default: 'poweroff',
          },
        },
      },
    ]);
  });

  test('3. post_categories.json (related → parent, nested attributes, minimum/maximum dropped)', () => {
    const body = String.raw`{
        "kinds": [
            {
                "term": "compute",
                "scheme": "http://schemas.ogf.org/occi/infrastructure#",
                "title": "Compute Resource",
                "related": [
                    "http://schemas.ogf.org/occi/core#resource"
                ],
                "attributes": {
                    "occi": {
                        "compute": {
                            "hostname": {
                                "mutable": true,
                                "required": false,
                                "type": "string",
                                "pattern": "(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\\\-]*[a-zA-Z0-9])\\\\.)*",
                                "minimum": "1",
                                "maximum": "255"
                            },
                            "state": {
                                "mutable": false,
                                "required": false,
                                "type": "string",
                                "pattern": "inactive|active|suspended|failed",
                                "default": "inactive"
                            }
                        }
                    }
                },
                "actions": [
                    "http://schemas.ogf.org/occi/infrastructure/compute/action#start",
                    "http://schemas.ogf.org/occi/infrastructure/compute/action#stop",
                    "http://schemas.ogf.org/occi/infrastructure/compute/action#restart"
                ],
                "location": "/compute/"
            }
        ]
    }`;
    expect(occiJson.parseCategories(req(body))).toEqual([
      {
        class: 'kind',
        term: 'compute',
        scheme: INFRA,
        title: 'Compute Resource',
        parent: CORE + 'resource',
        attributes: {
          'occi.compute.hostname': {
            mutable: true,
            required: false,
            type: 'string',
            pattern: { type: 'string', pattern: HOSTNAME_ERE },
          },
          'occi.compute.state': {
            mutable: false,
            required: false,
            type: 'string',
            pattern: { type: 'string', pattern: 'inactive|active|suspended|failed' },
            default: 'inactive',
          },
        },
        actions: [COMPUTE_ACTION + 'start', COMPUTE_ACTION + 'stop', COMPUTE_ACTION + 'restart'],
        location: '/compute/',
      },
    ]);
  });

  test('4. put_categories.json (scheme "http: //…", related → depends)', () => {
    const body = `{
        "mixins": [
            {
                "term": "resource_tpl",
                "scheme": "http: //schemas.ogf.org/occi/infrastructure#",
                "title": "MediumVM",
                "related": [],
                "attributes": {
                    "occi": {
                        "compute": {
                            "speed": {
                                "type": "number",
                                "default": 2.8
                            }
                        }
                    }
                },
                "location": "/template/resource/resource_tpl/"
            }
        ]
    }`;
    expect(occiJson.parseCategories(req(body))).toEqual([
      {
        class: 'mixin',
        term: 'resource_tpl',
        scheme: INFRA,
        title: 'MediumVM',
        depends: [],
        attributes: { 'occi.compute.speed': { mutable: false, required: false, type: 'number', default: 2.8 } },
        location: '/template/resource/resource_tpl/',
      },
    ]);
  });

  test('5. delete_categories.json, as definitions and as references', () => {
    const body = `{
        "kinds": [
            {
                "term": "storage",
                "scheme": "http: //schemas.ogf.org/occi/infrastructure#"
            }
        ]
    }`;
    expect(occiJson.parseCategories(req(body))).toEqual([{ class: 'kind', term: 'storage', scheme: INFRA }]);
    expect(occiJson.parseCategoryRefs(req(body))).toEqual([{ id: INFRA + 'storage', class: 'kind' }]);
  });

  test('6. update_provider.json: not a category definition; parseProviderUpdate reads it', () => {
    const body = `{
     "providers": [
             {
             "Provider": {
                 "local": [
                     "dummy"
                 ],
                 "remote": [
                     "Bilel"
                 ]
             },
             "OCCI_ID": "http://schemas.ogf.org/occi/infrastructure#compute"
         }
     ]
    }`;
    expect(() => occiJson.parseCategories(req(body))).toThrow('/providers: a provider update');
    expect(parseProviderUpdate(req(body))).toEqual([{ kind: INFRA + 'compute', local: ['dummy'], remote: ['Bilel'] }]);
  });
});
