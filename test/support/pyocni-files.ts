/**
 * pyOCNI HowTo JSON files (seed 004, §10), verbatim — "http: //" type ids included. Shared by the
 * JSON parser's unit tests and the HTTP flows, so both read exactly what pyOCNI clients send.
 */

/** get_resources.json */
export const GET_RESOURCES = `{
    "resources": [
        {
            "attributes": {
                "occi": {
                    "compute": {
                        "speed": 2,
                        "memory": 4,
                        "cores": 2
                    }
                }
            }
        }
    ]
}`;

/** post_resources.json */
export const POST_RESOURCES = `{
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
                }
            },
            "id": "996ad860-2a9a-504f-8861-aeafd0b2ae29",
            "title": "Compute resource",
            "summary": "This is a compute resource"
        }
    ]
}`;

/** trigger_action.json */
export const TRIGGER_ACTION = `{
    "actions": [
        {
            "term": "start",
            "scheme": "http://schemas.ogf.org/occi/infrastructure/compute/action#"
        }
    ],
    "attributes": {
        "occi": {
            "infrastructure": {
                "networkinterface": {
                    "interface": "eth0",
                    "mac": "00:80:41:ae:fd:7e",
                    "address": "192.168.0.100",
                    "gateway": "192.168.0.1",
                    "allocation": "dynamic"
                }
            }
        }
    }
}`;

/** post_custom_resource.json */
export const CUSTOM_RESOURCE = `{
    "resources": [
        {
            "kind": "http://schemas.ogf.org/occi/infrastructure#compute",
            "mixins": [
                "http://example.com/template/resource#medium"
            ],
            "attributes": {
                "occi": {
                    "compute": {
                        "speed": 2,
                        "memory": 4,
                        "cores": 12
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
            "id": "9930",
            "title": "Compute resource",
            "summary": "This is a compute resource"
        }
    ]
}`;

/** partial_update_resource.json */
export const PARTIAL_UPDATE = `{
    "resources": [
        {
            "attributes": {
                "occi": {
                    "compute": {
                        "speed": 5,
                        "cores": 2
                    }
                }
            }
        }
    ]
}`;
