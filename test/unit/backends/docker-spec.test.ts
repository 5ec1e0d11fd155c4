/**
 * The docker provider's pure parts: the container a compute becomes (spec.ts), the OCCI state a
 * container is in (state.ts), and the translation of dockerode errors (client.ts). Expected values are
 * written from the issue, GFD.224 and Docker's API, not from the code's output.
 */
import fs from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import type { BackendEntity } from '../../../src/backends/backend';
import { parseOptions, translateDockerError, DockerNode } from '../../../src/backends/docker/client';
import { IMAGE_REFERENCE, buildContainerSpec, containerName, imageOf, resourcesOf } from '../../../src/backends/docker/spec';
import { computeState, realisedFrom } from '../../../src/backends/docker/state';
import type { Attributes } from '../../../src/model/types';

const GIB = 1024 ** 3;

function entity(attributes: Attributes, id = '3f6c1f0e-6f1a-4d1e-9f7a-0c8a2b1d9e11'): BackendEntity {
  return {
    id,
    tenant: 'acme',
    location: '/compute/web1',
    kind: 'http://schemas.ogf.org/occi/infrastructure#compute',
    mixins: [],
    attributes: { 'occitan.docker.image': 'busybox:1.36', ...attributes },
  };
}

function status(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    return (e as { status?: number }).status;
  }
  return undefined;
}

describe('buildContainerSpec', () => {
  it('maps memory GiB to bytes (no swap beyond), cores to NanoCpus, share to CpuShares, hostname', () => {
    const spec = buildContainerSpec(entity({ 'occi.compute.memory': 0.5, 'occi.compute.cores': 2, 'occi.compute.share': 512, 'occi.compute.hostname': 'web1.example.org.' }), { instance: 'prod' });
    expect(spec.HostConfig).toMatchObject({ Memory: 512 * 1024 * 1024, MemorySwap: 512 * 1024 * 1024, NanoCpus: 2_000_000_000, CpuShares: 512 });
    expect(spec.Hostname).toBe('web1.example.org');
  });

  it('leaves limits out when the compute names none, and share 0 means the default', () => {
    const spec = buildContainerSpec(entity({ 'occi.compute.share': 0 }), { instance: 'prod' });
    for (const k of ['Memory', 'MemorySwap', 'NanoCpus', 'CpuShares']) expect(spec.HostConfig).not.toHaveProperty(k);
    expect(spec).not.toHaveProperty('Hostname');
    expect(resourcesOf({ 'occi.compute.memory': 2 })).toEqual({ Memory: 2 * GIB, MemorySwap: 2 * GIB });
  });

  it('labels the container with entity, instance and tenant; names it from the entity id, never the path', () => {
    const spec = buildContainerSpec(entity({}), { instance: 'prod' });
    expect(spec.Labels).toEqual({
      'dev.occitan.entity': '3f6c1f0e-6f1a-4d1e-9f7a-0c8a2b1d9e11',
      'dev.occitan.instance': 'prod',
      'dev.occitan.tenant': 'acme',
    });
    expect(spec.name).toBe('occitan-3f6c1f0e-6f1a-4d1e-9f7a-0c8a2b1d9e11');
    expect(spec.name).not.toContain('web1');
  });

  it('derives valid, distinct Docker names from any id', () => {
    const docker = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
    expect(containerName('urn:uuid:abc-1')).toBe('occitan-abc-1');
    const odd = [containerName('a/b c'), containerName('a_b-c'), containerName('x'.repeat(300)), containerName('x'.repeat(300) + 'y')];
    for (const n of odd) {
      expect(n).toMatch(docker);
      expect(n.length).toBeLessThanOrEqual(128);
    }
    expect(new Set(odd).size).toBe(odd.length);
  });

  it('sets no tenant-forbidden setting, whatever attributes the entity carries', () => {
    const spec = buildContainerSpec(
      entity({ Binds: ['/:/host'], Privileged: true, 'HostConfig.Privileged': true, 'occitan.docker.privileged': true, NetworkMode: 'host', CapAdd: ['ALL'] } as unknown as Attributes),
      { instance: 'prod' },
    );
    const hc = spec.HostConfig as Record<string, unknown>;
    for (const k of ['Binds', 'Mounts', 'Privileged', 'CapAdd', 'Devices', 'DeviceRequests', 'DeviceCgroupRules', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'VolumesFrom', 'PortBindings', 'PublishAllPorts', 'Sysctls', 'CgroupParent', 'Runtime']) {
      expect([k, hc[k]]).toEqual([k, undefined]);
    }
    expect(hc['NetworkMode']).toBe('none');
    expect(hc['Init']).toBe(true);
    expect(hc['RestartPolicy']).toEqual({ Name: 'no' });
    expect(hc['SecurityOpt']).toEqual(['no-new-privileges']);
    expect(Object.keys(spec).sort()).toEqual(['Cmd', 'Env', 'HostConfig', 'Hostname', 'Image', 'Labels', 'name'].filter((k) => k in spec).sort());
    expect(spec).not.toHaveProperty('Volumes');
    expect(spec).not.toHaveProperty('ExposedPorts');
    expect(spec).not.toHaveProperty('User');
  });

  it('passes command and environment through as Docker expects them', () => {
    const spec = buildContainerSpec(entity({ 'occitan.docker.command': ['sh', '-c', 'echo $A'], 'occitan.docker.environment': { A: '1', B: 'x=y' } }), { instance: 'i' });
    expect(spec.Cmd).toEqual(['sh', '-c', 'echo $A']);
    expect(spec.Env).toEqual(['A=1', 'B=x=y']);
    const defaults = buildContainerSpec(entity({ 'occitan.docker.command': [], 'occitan.docker.environment': {} }), { instance: 'i' });
    expect(defaults).not.toHaveProperty('Cmd');
    expect(defaults).not.toHaveProperty('Env');
  });

  it('refuses with 400 what it cannot honour', () => {
    const bad: Attributes[] = [
      { 'occitan.docker.command': 'sleep 1' },
      { 'occitan.docker.command': ['sleep', 1] },
      { 'occitan.docker.environment': ['A=1'] },
      { 'occitan.docker.environment': { 'A=B': 'x' } },
      { 'occitan.docker.environment': { A: 1 } },
      { 'occi.compute.memory': 0 },
      { 'occi.compute.memory': -1 },
      { 'occi.compute.cores': 1.5 },
      { 'occi.compute.cores': 0 },
      { 'occi.compute.share': -2 },
      { 'occi.compute.hostname': 'bad host' },
    ];
    for (const a of bad) expect([a, status(() => buildContainerSpec(entity(a), { instance: 'i' }))]).toEqual([a, 400]);
  });
});

describe('image references', () => {
  it('a missing tag is a 400 that says so', () => {
    for (const image of ['busybox', 'occitan/busybox', 'registry.local:5000/team/app', 'busybox@sha256:' + 'a'.repeat(64)]) {
      let message = '';
      try {
        imageOf({ 'occitan.docker.image': image });
      } catch (e) {
        expect((e as { status: number }).status).toBe(400);
        message = (e as Error).message;
      }
      expect([image, message]).toEqual([image, expect.stringContaining('has no tag')]);
    }
  });

  it('no image is a 400 that tells how to give one', () => {
    expect(status(() => imageOf({}))).toBe(400);
    expect(() => imageOf({})).toThrow(/os_tpl.*occitan\.docker\.image/);
    expect(status(() => imageOf({ 'occitan.docker.image': 7 }))).toBe(400);
    expect(status(() => imageOf({ 'occitan.docker.image': 'BusyBox:1' }))).toBe(400);
  });

  it('accepts tagged references, with registry, port, path and digest', () => {
    for (const image of ['busybox:1.36', 'occitan/busybox:test', 'registry.local:5000/team/app:v1.2-rc_3', 'ghcr.io/a/b/c:latest', 'busybox:1@sha256:' + 'a'.repeat(64)]) {
      expect(imageOf({ 'occitan.docker.image': image })).toBe(image);
    }
  });

  it('categories/docker.yaml carries the same pattern', () => {
    const doc = load(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'categories', 'docker.yaml'), 'utf8')) as {
      mixins: Array<{ term: string; attributes: Record<string, { pattern?: { pattern?: string } }> }>;
    };
    const container = doc.mixins.find((m) => m.term === 'container')!;
    expect(container.attributes['occitan.docker.image']?.pattern?.pattern).toBe(IMAGE_REFERENCE.source.replace(/\\\//g, '/'));
  });
});

describe('container state → OCCI compute state', () => {
  const base = { Running: false, Paused: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: '2026-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z' };
  it.each([
    ['running', {}, 'active'],
    ['paused', {}, 'suspended'],
    ['created', {}, 'inactive'],
    ['exited', { ExitCode: 137 }, 'inactive'],
    ['exited', { OOMKilled: true, ExitCode: 137 }, 'error'],
    ['dead', {}, 'error'],
  ])('%s %j → %s', (Status, extra, expected) => {
    expect(computeState({ ...base, Status, ...extra }).state).toBe(expected);
  });

  it('says why in the message, and builds the ref with the netns of a running container', () => {
    expect(computeState({ ...base, Status: 'exited', OOMKilled: true }, 64 * 1024 * 1024).message).toBe('killed: out of memory (limit 64 MiB)');
    expect(computeState({ ...base, Status: 'exited', ExitCode: 3, FinishedAt: '2026-01-02T00:00:00Z' }).message).toBe('exited with code 3 at 2026-01-02T00:00:00Z');
    const info = { Id: 'c'.repeat(64), State: { ...base, Status: 'running', Running: true, Pid: 4242 }, HostConfig: {} } as never;
    expect(realisedFrom('local', info)).toEqual({
      attributes: { 'occi.compute.state': 'active', 'occi.compute.state.message': 'running since 2026-01-01T00:00:00Z' },
      ref: { node: 'local', containerId: 'c'.repeat(64), netns: '/proc/4242/ns/net' },
    });
  });
});

describe('dockerode errors → occitan errors', () => {
  const node = new DockerNode({ id: 'n1', endpoint: 'unix:///run/x.sock', networkMode: 'none', publishIp: '127.0.0.1' }, 1000);
  const err = (statusCode: number, message: string): unknown => Object.assign(new Error(`(HTTP code ${statusCode}) x - ${message}`), { statusCode, json: { message } });
  it.each([
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 503],
    [Object.assign(new Error('connect ENOENT /run/x.sock'), { code: 'ENOENT' }), 503],
    [err(404, 'No such container: abc'), 404],
    [err(409, 'Conflict. The container name "/x" is already in use'), 409],
    [err(400, 'Minimum memory limit allowed is 6MB'), 400],
    [err(500, 'driver failed programming external connectivity'), 502],
    [err(500, 'driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:8080 failed: port is already allocated'), 409],
    [Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 503],
  ])('%s → %i', (e, expected) => {
    const t = translateDockerError(e, node, 'do it');
    expect(t.status).toBe(expected);
    expect(t.message).not.toContain('HTTP code');
  });

  it('a 503 carries Retry-After and names the node', () => {
    const t = translateDockerError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), node, 'ping it');
    expect(t.headers['Retry-After']).toBe('5');
    expect(t.message).toContain('n1');
  });

  it('options: nodes are required, named once, on a unix socket', () => {
    // socketPath is the older spelling of a unix endpoint; network mode none and 127.0.0.1 are the defaults.
    expect(parseOptions({ nodes: [{ id: 'a', socketPath: '/s' }] })).toEqual({ nodes: [{ id: 'a', endpoint: 'unix:///s', networkMode: 'none', publishIp: '127.0.0.1' }] });
    expect(() => parseOptions({})).toThrow(/options\.nodes/);
    expect(() => parseOptions({ nodes: [{ id: 'a', socketPath: '/s' }, { id: 'a', socketPath: '/t' }] })).toThrow(/twice/);
    expect(() => parseOptions({ nodes: [{ id: 'a', socketPath: 'relative' }] })).toThrow(/socketPath/);
    expect(() => parseOptions({ nodes: [{ id: 'a', socketPath: '/s' }], instance: 'bad name' })).toThrow(/instance/);
  });
});
