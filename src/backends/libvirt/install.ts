/**
 * Network install (mixin libvirt#install, DataCentred's `install` and `location`): the domain boots its
 * installer. Two methods:
 *
 * - `kernel` (default): direct kernel boot. occitan fetches the installer's kernel and initrd over http or
 *   https into the storage pool, as raw volumes named for the compute (`occitan-<instance>--<entity>.kernel`
 *   and `.initrd`; reconciliation keeps them while the compute exists), and the domain's `<os>` names them
 *   (domain-xml.ts osXml). `location` is a Debian-installer netboot directory holding `linux` and
 *   `initrd.gz`; an installer tree root (last segment `installer-<arch>`) means its
 *   `current/images/netboot/<debian|ubuntu>-installer/<arch>/`; `kernel` and `initrd` name the files
 *   explicitly instead.
 * - `network`: `<boot dev='network'/>` before the disk: the firmware PXE-boots from the domain's
 *   interfaces; nothing is fetched.
 *
 * The only server-side fetch occitan makes: http/https, no userinfo, only hosts the provider's
 * `installHosts` option lists (exact host names or IP literals, any port), redirects followed (at most 5)
 * only to such URLs, each file at most `installMaxBytes`, both within the named wait
 * `libvirtInstallFetchTimeout` (300 s). A URL outside these rules is a 400 naming its host, checked before
 * anything is made; the upstream answering 4xx is a 400 (the location is wrong), 5xx, a broken
 * connection or the time running out a 502. Failures leave nothing behind.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { BadGateway, BadRequest, Conflict, OcciError } from '../../errors';
import type { AttributeValue } from '../../model/types';
import type { BackendEntity, Change } from '../backend';
import { CONSOLE_MIXIN, LIBVIRT_SCHEME, volumeName } from './domain-xml';
import type { InstallBoot } from './domain-xml';
import type { Virsh } from './virsh';
import { isMissing, translateVirshError } from './virsh';

export const INSTALL_MIXIN = LIBVIRT_SCHEME + 'install';
export const INSTALL_ATTR = {
  location: 'occitan.libvirt.install.location',
  method: 'occitan.libvirt.install.method',
  kernel: 'occitan.libvirt.install.kernel',
  initrd: 'occitan.libvirt.install.initrd',
  cmdline: 'occitan.libvirt.install.cmdline',
} as const;

/** x86's COMMAND_LINE_SIZE. */
const MAX_CMDLINE_BYTES = 2048;
const MAX_REDIRECTS = 5;

export interface InstallLimits {
  /** Host names and IP literals occitan may fetch from (lower case, no brackets, no trailing dot). */
  hosts: readonly string[];
  maxBytes: number;
}

/** What the install mixin asks for, validated; the kernel variant's files are still to fetch. */
export type InstallRequest = { method: 'network' } | { method: 'kernel'; kernel: URL; initrd: URL; cmdline: string };

/** A host as installHosts and URLs are compared: lower case, IPv6 without brackets, no trailing dot. */
export function normalHost(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** Parses and checks one URL occitan would fetch: 400 naming the host (or what is wrong) otherwise. */
export function checkFetchUrl(raw: string, hosts: readonly string[], what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BadRequest(`${what} ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadRequest(`${what} must be an http or https URL; got scheme ${url.protocol.replace(/:$/, '')} (host ${url.hostname || 'none'})`);
  if (url.username !== '' || url.password !== '') throw new BadRequest(`${what} must not carry a user name or password (host ${url.hostname})`);
  const host = normalHost(url.hostname);
  if (!hosts.includes(host)) {
    throw new BadRequest(`${what}: host ${host} is not one occitan may fetch installers from (the libvirt provider's installHosts: ${hosts.length ? hosts.join(', ') : 'none'})`);
  }
  url.hash = '';
  return url;
}

/** The Debian-installer netboot directory a location names (see the module comment), always ending in '/'. */
export function netbootDirectory(location: URL): URL {
  const dir = new URL(location.href);
  if (!dir.pathname.endsWith('/')) dir.pathname += '/';
  const segments = dir.pathname.split('/').filter(Boolean);
  const arch = /^installer-([a-z0-9]+)$/.exec(segments[segments.length - 1] ?? '')?.[1];
  if (arch === undefined) return dir;
  const distro = segments.includes('ubuntu') ? 'ubuntu' : 'debian';
  return new URL(`current/images/netboot/${distro}-installer/${arch}/`, dir);
}

function stringAttr(entity: BackendEntity, name: string): string | undefined {
  const v: AttributeValue | undefined = entity.attributes[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new BadRequest(`${name} must be a string; got ${JSON.stringify(v)}`);
  return v;
}

/** The kernel command line: one line, at most 2048 bytes; `console=ttyS0` added with the console mixin. */
export function cmdlineOf(entity: BackendEntity): string {
  let line = (stringAttr(entity, INSTALL_ATTR.cmdline) ?? '').replace(/[\u0000-\u001F\u007F]+/g, ' ').trim();
  if (entity.mixins.includes(CONSOLE_MIXIN) && !/(^|\s)console=/.test(line)) line = line ? `${line} console=ttyS0` : 'console=ttyS0';
  if (Buffer.byteLength(line) > MAX_CMDLINE_BYTES) throw new BadRequest(`${INSTALL_ATTR.cmdline} is longer than the ${MAX_CMDLINE_BYTES} bytes a kernel takes`);
  return line;
}

/** Validates the install mixin's attributes (400 naming what is wrong); undefined without the mixin. */
export function installRequest(entity: BackendEntity, limits: InstallLimits): InstallRequest | undefined {
  if (!entity.mixins.includes(INSTALL_MIXIN)) return undefined;
  const method = stringAttr(entity, INSTALL_ATTR.method) ?? 'kernel';
  if (method === 'network') return { method };
  if (method !== 'kernel') throw new BadRequest(`${INSTALL_ATTR.method} must be kernel or network; got ${JSON.stringify(method)}`);
  const location = stringAttr(entity, INSTALL_ATTR.location);
  const kernel = stringAttr(entity, INSTALL_ATTR.kernel);
  const initrd = stringAttr(entity, INSTALL_ATTR.initrd);
  if (location === undefined && (kernel === undefined || initrd === undefined)) {
    throw new BadRequest(`the install mixin with method kernel needs ${INSTALL_ATTR.location}, or both ${INSTALL_ATTR.kernel} and ${INSTALL_ATTR.initrd}`);
  }
  const dir = location !== undefined ? netbootDirectory(checkFetchUrl(location, limits.hosts, INSTALL_ATTR.location)) : undefined;
  return {
    method,
    kernel: checkFetchUrl(kernel ?? new URL('linux', dir).href, limits.hosts, kernel !== undefined ? INSTALL_ATTR.kernel : `the kernel of ${INSTALL_ATTR.location}`),
    initrd: checkFetchUrl(initrd ?? new URL('initrd.gz', dir).href, limits.hosts, initrd !== undefined ? INSTALL_ATTR.initrd : `the initrd of ${INSTALL_ATTR.location}`),
    cmdline: cmdlineOf(entity),
  };
}

/**
 * What an update may do to the install settings: remove the mixin (`drop`: the domain boots from its
 * disk at its next start, the fetched files go). Anything else that changes them is a 409: they apply
 * when the compute is created.
 */
export function installChange(entity: BackendEntity, change: Change): 'none' | 'drop' {
  if (change.mixinsRemoved.includes(INSTALL_MIXIN)) return 'drop';
  const touched = Object.values(INSTALL_ATTR).filter((a) => a in change.attributes);
  if (change.mixinsAdded.includes(INSTALL_MIXIN) || (entity.mixins.includes(INSTALL_MIXIN) && touched.length > 0)) {
    throw new Conflict(`the install settings of ${entity.location} apply when a compute is created: remove the install mixin once the installation is done, or create a new compute`);
  }
  return 'none';
}

/** A domain XML without the install boot: no kernel, initrd, cmdline or network boot in `<os>`, booting from disk. */
export function withoutInstallBoot(xml: string): string {
  return xml.replace(/<os\b[^>]*>[\s\S]*?<\/os>/, (osElement) => {
    let out = osElement
      .replace(/\s*<(kernel|initrd|cmdline)\b[^>]*\/>/g, '')
      .replace(/\s*<(kernel|initrd|cmdline)\b[^>]*>[^<]*<\/\1>/g, '')
      .replace(/\s*<boot\s+dev=(['"])network\1\s*\/>/g, '');
    if (!/<boot\b/.test(out)) out = out.replace(/<\/os>$/, "<boot dev='hd'/></os>");
    return out;
  });
}

/** The pool volumes of a compute's installer (not `.qcow2`: never a storage's volume name). */
export function installVolumeNames(entityId: string, instance: string): { kernel: string; initrd: string } {
  const stem = volumeName(entityId, instance).replace(/\.qcow2$/, '');
  return { kernel: `${stem}.kernel`, initrd: `${stem}.initrd` };
}

interface FetchLimits extends InstallLimits {
  deadline: number;
}

/** GETs `url` into `file`, following allowed redirects; the errors of the module comment. */
async function download(url: URL, file: string, limits: FetchLimits, what: string, hops = 0): Promise<void> {
  const left = limits.deadline - Date.now();
  const late = (): BadGateway => new BadGateway(`${what}: ${url.host} did not deliver ${url.pathname} in time`);
  if (left <= 0) throw late();
  const get = url.protocol === 'https:' ? https.get : http.get;
  let timedOut = false;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = get(url, { headers: { 'User-Agent': 'occitan', 'Accept-Encoding': 'identity' }, agent: false }, resolve);
    // Covers the body too: the request closes when the response has been read.
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(late());
    }, left);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (e) => reject(e instanceof OcciError ? e : new BadGateway(`${what}: could not fetch ${url.href}: ${e.message}`)));
  });
  const status = res.statusCode ?? 0;
  if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
    res.resume();
    if (hops >= MAX_REDIRECTS) throw new BadGateway(`${what}: ${url.href} redirects more than ${MAX_REDIRECTS} times`);
    let next: URL;
    try {
      next = new URL(res.headers.location, url);
    } catch {
      throw new BadGateway(`${what}: ${url.href} redirects to something that is not a URL`);
    }
    return download(checkFetchUrl(next.href, limits.hosts, `${what} (redirected by ${url.host})`), file, limits, what, hops + 1);
  }
  if (status !== 200) {
    res.resume();
    if (status >= 400 && status < 500) throw new BadRequest(`${what}: ${url.href} answered ${status}: is the location right?`);
    throw new BadGateway(`${what}: ${url.href} answered ${status}`);
  }
  const tooBig = (): BadRequest => new BadRequest(`${what}: ${url.href} is larger than the ${limits.maxBytes} bytes the libvirt provider's installMaxBytes allows`);
  if (Number(res.headers['content-length'] ?? 0) > limits.maxBytes) {
    res.destroy();
    throw tooBig();
  }
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      done(bytes > limits.maxBytes ? tooBig() : null, chunk);
    },
  });
  try {
    await pipeline(res, counter, fs.createWriteStream(file, { mode: 0o600 }));
  } catch (e) {
    if (e instanceof OcciError) throw e;
    if (timedOut) throw late();
    throw new BadGateway(`${what}: the transfer of ${url.href} broke off: ${(e as Error).message}`);
  }
  if (bytes === 0) throw new BadRequest(`${what}: ${url.href} is empty`);
}

/** The installer files of computes in the pool: fetched, uploaded as raw volumes, removed. */
export class InstallFiles {
  constructor(
    private readonly d: { virsh: Virsh; pool: string; instance: string; limits: InstallLimits; fetchTimeoutMs: number; log(msg: string, extra?: Record<string, unknown>): void },
  ) {}

  /**
   * Fetches the kernel and initrd of `request` into the pool and gives the boot that names them. All or
   * nothing: on failure no volume is left, and it throws (400, 502, or a virsh error translated).
   */
  async fetch(entity: BackendEntity, request: Extract<InstallRequest, { method: 'kernel' }>): Promise<InstallBoot> {
    const names = installVolumeNames(entity.id, this.d.instance);
    const limits: FetchLimits = { ...this.d.limits, deadline: Date.now() + this.d.fetchTimeoutMs };
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'occitan-install-'));
    try {
      await download(request.kernel, path.join(dir, 'kernel'), limits, `the install kernel of ${entity.location}`);
      await download(request.initrd, path.join(dir, 'initrd'), limits, `the install initrd of ${entity.location}`);
      const kernel = await this.upload(names.kernel, path.join(dir, 'kernel'), entity);
      const initrd = await this.upload(names.initrd, path.join(dir, 'initrd'), entity);
      return { method: 'kernel', kernel, initrd, cmdline: request.cmdline };
    } catch (e) {
      await this.remove(entity.id).catch((undo: unknown) => this.d.log('libvirt provider could not remove install files after a failed fetch', { entity: entity.id, error: String(undo) }));
      throw e;
    } finally {
      await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** A fresh raw volume with the file's bytes (a leftover of an interrupted create is replaced); its path. */
  private async upload(name: string, file: string, entity: BackendEntity): Promise<string> {
    const what = `store the installer of ${entity.location} in pool ${this.d.pool}`;
    const { size } = await fsp.stat(file);
    await this.deleteVolume(name);
    await this.d.virsh.call(['vol-create-as', this.d.pool, name, `${size}B`, '--format', 'raw'], what);
    await this.d.virsh.call(['vol-upload', '--pool', this.d.pool, name, file], what);
    return (await this.d.virsh.call(['vol-path', '--pool', this.d.pool, name], what)).trim();
  }

  private async deleteVolume(name: string): Promise<void> {
    try {
      await this.d.virsh.run(['vol-delete', '--pool', this.d.pool, name]);
    } catch (e) {
      if (!isMissing(e)) throw translateVirshError(e, this.d.virsh, `delete volume ${name}`);
    }
  }

  /** Removes a compute's installer volumes; already gone is success. */
  async remove(entityId: string): Promise<void> {
    const names = installVolumeNames(entityId, this.d.instance);
    await this.deleteVolume(names.kernel);
    await this.deleteVolume(names.initrd);
  }

  /** The install mixin removed: the persistent definition boots from its disk, then the files go. */
  async drop(entity: BackendEntity, domain: string): Promise<void> {
    const what = `remove the install boot of ${entity.location}`;
    const xml = await this.d.virsh.call(['dumpxml', '--inactive', '--security-info', domain], what);
    const next = withoutInstallBoot(xml);
    if (next !== xml) await this.d.virsh.withXmlFile(next, (file) => this.d.virsh.call(['define', file], what));
    await this.remove(entity.id);
  }
}
