/**
 * The docker provider's pure parts for services and the node pool: ports, the definition and its hash,
 * a replica's container, the YAML service file (Genisys `service_file`), node settings (endpoint, TLS,
 * network mode) and placement attributes. Expected values come from the issue, Genisys' README and
 * Docker's API, not from the code's output.
 */
import { parseNode } from '../../../src/backends/docker/client';
import { definitionOf, portsOf, replicaSpec } from '../../../src/backends/docker/service-spec';
import { parseServiceFile } from '../../../src/backends/docker/service-file';
import { placementOf } from '../../../src/backends/docker/spec';
import type { Attributes } from '../../../src/model/types';

function status(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    return (e as { status?: number }).status;
  }
  return undefined;
}

const base: Attributes = { 'occitan.docker.name': 'web', 'occitan.docker.image': 'tutum/hello-world:latest' };

describe('ports', () => {
  it('reads "8080", "8081:80" and "53/udp" as host and container ports', () => {
    expect(portsOf(['8080', '8081:80', '53/udp', 9000])).toEqual([
      { host: 8080, container: 8080, proto: 'tcp' },
      { host: 8081, container: 80, proto: 'tcp' },
      { host: 53, container: 53, proto: 'udp' },
      { host: 9000, container: 9000, proto: 'tcp' },
    ]);
  });

  it.each([[['http']], [['0']], [['70000']], [['8080', '8080']], [['1:2:3']], ['8080']])('%j is a 400', (ports) => {
    expect(status(() => portsOf(ports))).toBe(400);
  });
});

describe('a service definition', () => {
  it('needs a tagged image; scale is a whole number; memory is GiB per replica', () => {
    expect(status(() => definitionOf({ ...base, 'occitan.docker.image': 'tutum/hello-world' }))).toBe(400);
    expect(status(() => definitionOf({ ...base, 'occitan.docker.scale': 1.5 }))).toBe(400);
    expect(status(() => definitionOf({ ...base, 'occitan.docker.scale': -1 }))).toBe(400);
    expect(status(() => definitionOf({ ...base, 'occitan.docker.memory': 0 }))).toBe(400);
    expect(definitionOf({ ...base, 'occitan.docker.memory': 0.0625 })).toMatchObject({ memory: 64 * 1024 * 1024, scale: 0, ports: [] });
  });

  it('hashes what the containers run, not how many', () => {
    const a = definitionOf({ ...base, 'occitan.docker.scale': 1 });
    expect(definitionOf({ ...base, 'occitan.docker.scale': 5 }).hash).toBe(a.hash);
    expect(definitionOf({ ...base, 'occitan.docker.name': 'renamed' }).hash).toBe(a.hash);
    const changes: Attributes[] = [{ 'occitan.docker.image': 'tutum/hello-world:2' }, { 'occitan.docker.command': ['/run.sh'] }, { 'occitan.docker.environment': { A: 'b' } }, { 'occitan.docker.ports': ['8080'] }, { 'occitan.docker.memory': 1 }];
    for (const change of changes) {
      expect([change, definitionOf({ ...base, ...change }).hash]).not.toEqual([change, a.hash]);
    }
  });
});

describe('a replica\'s container', () => {
  const entity = { id: '3f6c1f0e-6f1a-4d1e-9f7a-0c8a2b1d9e11', tenant: 'acme' };
  const def = definitionOf({ ...base, 'occitan.docker.command': ['/run.sh'], 'occitan.docker.environment': { VAR_A: 'value' }, 'occitan.docker.ports': ['8080', '8081:80'], 'occitan.docker.memory': 0.5 });

  it('publishes the ports on the node\'s address and network, with the labels of its service and index', () => {
    const spec = replicaSpec(entity, def, 2, { networkMode: 'occitan-net', publishIp: '127.0.0.1' }, 'prod');
    expect(spec.name).toBe(`occitan-${entity.id}-2-${def.hash.slice(0, 8)}`);
    expect(spec.Labels).toEqual({
      'dev.occitan.entity': entity.id, 'dev.occitan.instance': 'prod', 'dev.occitan.tenant': 'acme',
      'dev.occitan.replica': '2', 'dev.occitan.definition': def.hash,
    });
    expect(spec.ExposedPorts).toEqual({ '8080/tcp': {}, '80/tcp': {} });
    expect(spec.HostConfig).toEqual({
      NetworkMode: 'occitan-net', Init: true, RestartPolicy: { Name: 'no' }, SecurityOpt: ['no-new-privileges'],
      Memory: 512 * 1024 * 1024, MemorySwap: 512 * 1024 * 1024,
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8081' }] },
    });
    expect(spec.Cmd).toEqual(['/run.sh']);
    expect(spec.Env).toEqual(['VAR_A=value']);
    expect(spec.Image).toBe('tutum/hello-world:latest');
  });

  it('refuses ports on a node in network mode none', () => {
    expect(status(() => replicaSpec(entity, def, 0, { networkMode: 'none', publishIp: '127.0.0.1' }, 'prod'))).toBe(400);
  });
});

describe('the service file', () => {
  it('maps names to definitions (Genisys fields), with command strings split and numbers made text', () => {
    const services = parseServiceFile(
      ['helloworld:', '  image: tutum/hello-world:latest', '  command: /run.sh --fast', '  environment: { VAR_A: value, PORT: 8080 }', '  ports: [8080, "8081"]', '  scale: 2', 'other:', '  name: other', '  image: busybox:1.36', '  tenant: acme'].join('\n'),
      'services.yaml',
    );
    expect(services).toEqual([
      {
        name: 'helloworld',
        attributes: {
          'occi.core.id': 'helloworld', 'occi.core.title': 'helloworld', 'occitan.docker.name': 'helloworld', 'occitan.docker.image': 'tutum/hello-world:latest',
          'occitan.docker.command': ['/run.sh', '--fast'], 'occitan.docker.environment': { VAR_A: 'value', PORT: '8080' }, 'occitan.docker.ports': ['8080', '8081'], 'occitan.docker.scale': 2,
        },
      },
      { name: 'other', tenant: 'acme', attributes: { 'occi.core.id': 'other', 'occi.core.title': 'other', 'occitan.docker.name': 'other', 'occitan.docker.image': 'busybox:1.36' } },
    ]);
    expect(parseServiceFile('# nothing yet\n', 's.yaml')).toEqual([]);
  });

  it.each([
    ['web:\n  image: busybox\n', /service web: .*has no tag/],
    ['web:\n  command: sleep 1\n', /service web: .*no image/],
    ['web:\n  image: busybox:1\n  volumes: [/:/host]\n', /unknown field volumes/],
    ['web:\n  image: busybox:1\n  name: other\n', /differs from its key/],
    ['bad name:\n  image: busybox:1\n', /service bad name: the name/],
    ['- web\n', /must map service names/],
    ['web: [', /invalid YAML/],
  ])('%j is refused: %s', (text, message) => {
    expect(() => parseServiceFile(text, 'services.yaml')).toThrow(message);
  });
});

describe('node settings', () => {
  it('a unix socket, or TCP with TLS; plain TCP only on loopback', () => {
    expect(parseNode({ id: 'a', endpoint: 'unix:///run/d.sock' }, 'n')).toEqual({ id: 'a', endpoint: 'unix:///run/d.sock', networkMode: 'none', publishIp: '127.0.0.1' });
    const tls = { ca: '/etc/o/ca.pem', cert: '/etc/o/cert.pem', key: '/etc/o/key.pem' };
    expect(parseNode({ id: 'b', endpoint: 'tcp://10.0.0.5:2376', tls, memory: 1, arch: 'armv7l', location: 'residence' }, 'n')).toEqual({
      id: 'b', endpoint: 'tcp://10.0.0.5:2376', tls, networkMode: 'none', publishIp: '127.0.0.1', memory: 1, arch: 'armv7l', location: 'residence',
    });
    expect(parseNode({ id: 'c', endpoint: 'tcp://127.0.0.1:2375' }, 'n').endpoint).toBe('tcp://127.0.0.1:2375');
    expect(() => parseNode({ id: 'd', endpoint: 'tcp://10.0.0.5:2375' }, 'n')).toThrow(/plain TCP is refused/);
    expect(() => parseNode({ id: 'd', endpoint: 'tcp://example.org:2375' }, 'n')).toThrow(/plain TCP is refused/);
    expect(() => parseNode({ id: 'e', endpoint: 'tcp://10.0.0.5:2376', tls: { ca: 'ca.pem', cert: '/c', key: '/k' } }, 'n')).toThrow(/tls\.ca/);
    expect(() => parseNode({ id: 'f', endpoint: 'http://10.0.0.5:2376' }, 'n')).toThrow(/neither unix/);
    expect(() => parseNode({ id: 'g', endpoint: 'unix:///s', tls }, 'n')).toThrow(/tls is for tcp/);
  });

  it.each(['host', 'bridge', 'container:abc', ''])('network mode %j is refused', (networkMode) => {
    expect(() => parseNode({ id: 'a', endpoint: 'unix:///s', networkMode }, 'n')).toThrow(/networkMode/);
  });
});

describe('placement', () => {
  it('a node, several, an architecture, a location', () => {
    expect(placementOf({})).toEqual({});
    expect(placementOf({ 'occitan.docker.placement.node': 'edge1', 'occitan.docker.placement.arch': 'armv7l', 'occitan.docker.placement.location': 'residence' })).toEqual({ node: 'edge1', arch: 'armv7l', location: 'residence' });
    expect(placementOf({ 'occitan.docker.placement.nodes': ['a', 'b'] })).toEqual({ nodes: ['a', 'b'] });
    expect(status(() => placementOf({ 'occitan.docker.placement.nodes': ['a', 'a'] }))).toBe(400);
    expect(status(() => placementOf({ 'occitan.docker.placement.node': 'a', 'occitan.docker.placement.nodes': ['b'] }))).toBe(400);
  });
});
