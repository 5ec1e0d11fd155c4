/**
 * The bench's docker section: N computes created at once through OCCI (occitan with the docker provider
 * on occitan's private dockerd, bash scripts/services.sh start docker) against the same N containers
 * created and started at once through dockerode directly, in the same run; then both removed at once the
 * same two ways. Asserts nothing about time; removes everything it made (also when it fails).
 *
 * The direct path makes exactly the containers occitan makes (buildContainerSpec: image, command, memory
 * limit, init, labels, no network), under an instance label of its own so occitan never sees them; it
 * skips what occitan adds around each container: the entity document and its revisions in the store,
 * the memory reservation on the node, the image and command checks, and the OCCI rendering.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import Dockerode from 'dockerode';
import { buildContainerSpec } from '../../src/backends/docker/spec';

export const DOCKER_SOCKET = '/run/occitan-test/docker.sock';
export const DOCKER_IMAGE = 'occitan/busybox:test';
const START_COMMAND = 'bash scripts/services.sh start docker';
const JSON_TYPE = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const TPL = 'https://example.org/occi/bench#';
const MEMORY_GIB = 0.0625;
const COMMAND = ['sleep', '3600'];

export interface DockerFigures {
  count: number;
  rounds: Array<{ occiCreateMs: number; directCreateMs: number; occiDeleteMs: number; directDeleteMs: number }>;
}

/** Fails, naming the command that starts it, when occitan's private dockerd or its test image is missing. */
export async function requireDocker(): Promise<void> {
  const docker = new Dockerode({ socketPath: DOCKER_SOCKET, timeout: 10_000 });
  try {
    await docker.ping();
    await docker.getImage(DOCKER_IMAGE).inspect();
  } catch (e) {
    throw new Error(`the docker section needs occitan's private dockerd on unix://${DOCKER_SOCKET} with ${DOCKER_IMAGE} (${(e as Error).message.trim()}). Start it with: ${START_COMMAND}`);
  }
}

interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string }

function request(agent: http.Agent, port: number, method: string, p: string, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: p, method, agent, headers: { Accept: JSON_TYPE, ...(payload ? { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(payload) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function expectStatus(what: string, answer: Promise<Answer>, status: number): Promise<Answer> {
  const a = await answer;
  if (a.status !== status) throw new Error(`${what} answered ${a.status}, not ${status}: ${a.text.slice(0, 300)}`);
  return a;
}

/**
 * Runs the section against an occitan listening on `port` whose docker provider uses `instance` (on the
 * private dockerd). `log` narrates; the figures are returned for the report.
 */
export async function dockerSection(port: number, instance: string, count: number, rounds: number, log: (m: string) => void): Promise<DockerFigures> {
  const docker = new Dockerode({ socketPath: DOCKER_SOCKET, timeout: 120_000 });
  const direct = `bench-direct-${randomUUID().slice(0, 8)}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: count });
  const figures: DockerFigures = { count, rounds: [] };
  try {
    await expectStatus('registering the bench template', request(agent, port, 'POST', '/-/', { mixins: [{
      term: 'busybox', scheme: TPL, title: 'busybox for the bench', location: '/templates/bench/busybox/',
      depends: [INFRA + 'os_tpl', 'https://occitan.dev/occi/docker#container'], applies: [INFRA + 'compute'],
      attributes: {
        'occitan.docker.image': { type: 'string', mutable: true, required: false, default: DOCKER_IMAGE },
        'occitan.provider': { type: 'string', mutable: false, required: false, default: 'docker' },
      },
    }] }), 200);
    const computeBody = (i: number): unknown => ({ kind: INFRA + 'compute', mixins: [TPL + 'busybox'], attributes: {
      'occi.core.title': `bench container ${i}`, 'occi.compute.memory': MEMORY_GIB, 'occitan.docker.command': COMMAND,
    } });
    const occiCreate = (i: number): Promise<string> =>
      expectStatus(`POST /compute/ #${i}`, request(agent, port, 'POST', '/compute/', computeBody(i)), 201).then((a) => new URL(String(a.headers.location)).pathname);
    const occiDelete = (location: string): Promise<unknown> => expectStatus(`DELETE ${location}`, request(agent, port, 'DELETE', location), 200);
    // The same container occitan makes for such a compute, labelled for the direct path's own instance.
    const directCreate = async (i: number): Promise<string> => {
      const id = `bench-${direct}-${i}`;
      const spec = buildContainerSpec({ id, tenant: 'default', location: `/direct/${i}`, kind: INFRA + 'compute', mixins: [], attributes: {
        'occitan.docker.image': DOCKER_IMAGE, 'occi.compute.memory': MEMORY_GIB, 'occitan.docker.command': COMMAND,
      } }, { instance: direct });
      const c = await docker.createContainer(spec);
      await c.start();
      return c.id;
    };
    const directDelete = (id: string): Promise<unknown> => docker.getContainer(id).remove({ force: true, v: true });

    // Warm-up, not timed: one of each (connections, JIT, the store's first writes, dockerd's caches).
    log('docker: warm-up (one compute through OCCI, one container through dockerode)');
    await occiDelete(await occiCreate(-1));
    await directDelete(await directCreate(-1));

    const timed = async <T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> => {
      const t0 = process.hrtime.bigint();
      const value = await work();
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
    };
    const all = <T>(f: (i: number) => Promise<T>): Promise<T[]> => Promise.all(Array.from({ length: count }, (_, i) => f(i)));
    for (let r = 1; r <= rounds; r++) {
      // Alternate which path goes first, so neither always meets a daemon the other just worked.
      const order = r % 2 === 1 ? ['direct', 'occi'] : ['occi', 'direct'];
      const round = { occiCreateMs: 0, directCreateMs: 0, occiDeleteMs: 0, directDeleteMs: 0 };
      for (const path of order) {
        if (path === 'occi') {
          log(`docker round ${r}: ${count} computes through OCCI at once`);
          const made = await timed(() => all(occiCreate));
          round.occiCreateMs = made.ms;
          const running = await docker.listContainers({ filters: { label: [`dev.occitan.instance=${instance}`], status: ['running'] } });
          if (running.length !== count) throw new Error(`${running.length} of occitan's containers run after ${count} creates answered 201`);
          log(`docker round ${r}: deleting them through OCCI at once`);
          round.occiDeleteMs = (await timed(() => Promise.all(made.value.map(occiDelete)))).ms;
        } else {
          log(`docker round ${r}: ${count} containers through dockerode at once`);
          const made = await timed(() => all(directCreate));
          round.directCreateMs = made.ms;
          log(`docker round ${r}: removing them through dockerode at once`);
          round.directDeleteMs = (await timed(() => Promise.all(made.value.map(directDelete)))).ms;
        }
      }
      figures.rounds.push(round);
    }
    return figures;
  } finally {
    agent.destroy();
    // Whatever is left of either path (a failed run), by label: only the containers this run made.
    for (const label of [`dev.occitan.instance=${instance}`, `dev.occitan.instance=${direct}`]) {
      const left = await docker.listContainers({ all: true, filters: { label: [label] } }).catch(() => []);
      await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
    }
  }
}

/** The section's lines for the report. */
export function dockerReport(f: DockerFigures): string[] {
  const s = (ms: number): string => (ms / 1000).toFixed(2);
  const rows = [['round', 'OCCI create s', 'dockerode create s', 'create ratio', 'OCCI delete s', 'dockerode remove s', 'delete ratio']];
  for (const [i, r] of f.rounds.entries()) {
    rows.push([String(i + 1), s(r.occiCreateMs), s(r.directCreateMs), (r.occiCreateMs / r.directCreateMs).toFixed(2), s(r.occiDeleteMs), s(r.directDeleteMs), (r.occiDeleteMs / r.directDeleteMs).toFixed(2)]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((l) => l[c]!.length)));
  const line = (l: string[]): string => '| ' + l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ') + ' |';
  return [
    `docker: ${f.count} computes created at once through OCCI (POST /compute/ each, os_tpl template, 64 MiB, sleep 3600; every one`,
    `running when all answered 201) vs the same ${f.count} containers created and started at once through dockerode; private dockerd`,
    `(unix://${DOCKER_SOCKET}), ${DOCKER_IMAGE}, loopback only; everything removed afterwards.`,
    '',
    line(rows[0]!),
    '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|',
    ...rows.slice(1).map(line),
    '',
    'ratios are OCCI / dockerode (lower is better). Per OCCI create occitan also writes the entity document twice (creating,',
    'ready), reserves memory on the node (a compare-and-set on its book), checks the image and the command, and renders the',
    'answer; per delete it marks, removes and releases.',
  ];
}
