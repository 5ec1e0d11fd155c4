/**
 * The libvirt provider's pure parts: domain and disk XML from entities (escaping, virtio-scsi, no
 * graphics, memory/cores/architecture mapping), names, metadata round trip, disk parsing, states.
 */
import {
  diskAlias, diskXml, domainName, domainSpec, domainXml, escapeXml, freeTarget, metadataElement, parseDisks,
  parseMetadata, scsiTarget, volumeName,
} from '../../../src/backends/libvirt/domain-xml';
import { computeState, parseDomstate } from '../../../src/backends/libvirt/state';
import { parseOptions } from '../../../src/backends/libvirt/options';
import { translateVirshError, VirshError } from '../../../src/backends/libvirt/virsh';

const ID = '0b6f3a2e-6a53-4c1e-9d0b-1f2a3b4c5d6e';
const CREATED = Date.UTC(2026, 10, 22, 12, 0, 0);

function spec(attributes: Record<string, unknown>, mixins: string[] = [], type: 'kvm' | 'qemu' = 'kvm') {
  return domainSpec({ id: ID, tenant: 't1', location: '/compute/web1', mixins, attributes: attributes as never }, { instance: 'prod', type, created: CREATED });
}

/** Every element and attribute of the XML is well formed enough for a strict reading: no raw markup from values. */
function textOutsideTags(xml: string): string {
  return xml.replace(/<[^>]*>/g, '');
}

describe('domain XML', () => {
  it('maps memory GiB → MiB, cores → vCPUs, x64 → x86_64, and names the domain from the internal id', () => {
    const xml = domainXml(spec({ 'occi.compute.memory': 0.5, 'occi.compute.cores': 2, 'occi.compute.architecture': 'x64' }));
    expect(xml).toContain("<domain type='kvm'>");
    expect(xml).toContain(`<name>occitan-${ID}</name>`);
    expect(xml).toContain("<memory unit='MiB'>512</memory>");
    expect(xml).toContain("<currentMemory unit='MiB'>512</currentMemory>");
    expect(xml).toContain("<vcpu placement='static'>2</vcpu>");
    expect(xml).toContain("<type arch='x86_64'>hvm</type>");
  });

  it('x86 is i686; qemu when KVM is not usable; defaults 512 MiB and one vCPU', () => {
    const xml = domainXml(spec({ 'occi.compute.architecture': 'x86' }, [], 'qemu'));
    expect(xml).toContain("<domain type='qemu'>");
    expect(xml).toContain("<type arch='i686'>hvm</type>");
    expect(xml).toContain("<memory unit='MiB'>512</memory>");
    expect(xml).toContain("<vcpu placement='static'>1</vcpu>");
  });

  it('rounds fractional memory to whole MiB, never below 1', () => {
    expect(spec({ 'occi.compute.memory': 0.03125 }).memoryMiB).toBe(32);
    expect(spec({ 'occi.compute.memory': 0.0001 }).memoryMiB).toBe(1);
  });

  it('has a virtio-scsi controller and no graphics element', () => {
    const xml = domainXml(spec({}));
    expect(xml).toContain("<controller type='scsi' index='0' model='virtio-scsi'/>");
    expect(xml).not.toMatch(/<graphics\b/);
    expect(xml).not.toMatch(/<video\b/);
  });

  it('has a pty serial console only with the console mixin', () => {
    expect(domainXml(spec({}))).not.toMatch(/<serial\b|<console\b/);
    const xml = domainXml(spec({}, ['https://occitan.dev/occi/libvirt#console']));
    expect(xml).toContain("<serial type='pty'><target port='0'/></serial>");
    expect(xml).toContain("<console type='pty'><target type='serial' port='0'/></console>");
  });

  it('CPU share 0 is the default (no cputune); others become shares', () => {
    expect(domainXml(spec({ 'occi.compute.share': 0 }))).not.toContain('<cputune>');
    expect(domainXml(spec({ 'occi.compute.share': 512 }))).toContain('<cputune><shares>512</shares></cputune>');
  });

  it('escapes a hostile title and keeps it on one line; the metadata names entity, instance, tenant and host name', () => {
    const title = `</title><devices><disk type='file'><source file='/etc/shadow'/></disk></devices>\n& "quotes" \u0001bell`;
    const xml = domainXml(spec({ 'occi.core.title': title, 'occi.compute.hostname': 'ns.example.com' }));
    expect(xml).toContain(
      '<title>&lt;/title&gt;&lt;devices&gt;&lt;disk type=&apos;file&apos;&gt;&lt;source file=&apos;/etc/shadow&apos;/&gt;&lt;/disk&gt;&lt;/devices&gt; &amp; &quot;quotes&quot; bell</title>',
    );
    expect(xml.match(/<disk\b/g)).toBeNull();
    expect(xml).toContain(
      '<metadata><occitan:entity xmlns:occitan="https://occitan.dev/occi/libvirt">' +
        `<occitan:id>${ID}</occitan:id><occitan:instance>prod</occitan:instance><occitan:tenant>t1</occitan:tenant>` +
        '<occitan:location>/compute/web1</occitan:location><occitan:hostname>ns.example.com</occitan:hostname>' +
        '<occitan:created>2026-11-22T12:00:00.000Z</occitan:created></occitan:entity></metadata>',
    );
    expect(textOutsideTags(xml)).not.toMatch(/[<>]/);
  });

  it('escapes a hostile location and tenant in the metadata, and reads them back', () => {
    const m = { id: ID, instance: 'prod', tenant: `a<b>&'"`, location: '/compute/<x>&y', hostname: 'h', created: CREATED };
    const el = metadataElement(m, 'occitan');
    expect(el).toContain('<occitan:tenant>a&lt;b&gt;&amp;&apos;&quot;</occitan:tenant>');
    expect(el).toContain('<occitan:location>/compute/&lt;x&gt;&amp;y</occitan:location>');
    expect(parseMetadata(el)).toEqual(m);
    // As `virsh metadata` prints it (libvirt re-serialises with its own quoting).
    expect(parseMetadata(metadataElement(m))).toEqual(m);
    expect(parseMetadata('<other><id>x</id></other>')).toBeUndefined();
  });

  it('refuses host names that are not DNS names, bad memory, cores and architectures with 400', () => {
    for (const attrs of [
      { 'occi.compute.hostname': "a'b" },
      { 'occi.compute.hostname': 'a b' },
      { 'occi.compute.memory': -1 },
      { 'occi.compute.memory': 'lots' },
      { 'occi.compute.memory': 17 * 1024 * 1024 },
      { 'occi.compute.cores': 1.5 },
      { 'occi.compute.cores': 0 },
      { 'occi.compute.architecture': 'arm64' },
    ]) {
      expect(() => spec(attrs)).toThrow(expect.objectContaining({ status: 400 }));
    }
  });

  it('escapeXml drops characters XML cannot carry and escapes the five markup characters', () => {
    expect(escapeXml(`<a href="x">'&'</a>\u0000\u001f\uFFFE`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });
});

describe('names', () => {
  it('derive from the internal id; odd ids are cleaned and hashed', () => {
    expect(domainName(`urn:uuid:${ID}`)).toBe(`occitan-${ID}`);
    expect(domainName(ID)).toBe(`occitan-${ID}`);
    expect(domainName('../../etc/passwd')).toMatch(/^occitan-[A-Za-z0-9_][A-Za-z0-9_.-]*-[0-9a-f]{8}$/);
    expect(domainName('a/b')).not.toBe(domainName('a-b'));
    expect(volumeName(ID, 'prod')).toBe(`occitan-prod--${ID}.qcow2`);
    expect(diskAlias(ID)).toBe(`ua-occitan-${ID}`);
  });

  it('instance names that would make volume prefixes ambiguous are refused', () => {
    expect(parseOptions({ instance: 'test-1a2b' }).instance).toBe('test-1a2b');
    for (const bad of ['a--b', 'a-', '-a', 'a b', '']) expect(() => parseOptions({ instance: bad })).toThrow(/instance/);
    expect(() => parseOptions({ nodes: [] })).toThrow(/unknown option nodes/);
    expect(parseOptions({})).toEqual({ uri: 'qemu:///system', pool: 'occitan', poolPath: '/var/lib/occitan/images', instance: 'default', domainType: 'auto' });
  });
});

describe('disks', () => {
  it('disk XML puts an occitan volume on the SCSI bus under its alias, escaped', () => {
    expect(diskXml({ path: "/var/lib/occitan/images/occitan-prod--x.qcow2", target: 'sdb', alias: 'ua-occitan-x' })).toBe(
      "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/occitan/images/occitan-prod--x.qcow2'/>" +
        "<target dev='sdb' bus='scsi'/><alias name='ua-occitan-x'/></disk>",
    );
    expect(diskXml({ path: "/p/a'b", target: 'sda', alias: 'ua-x' })).toContain("<source file='/p/a&apos;b'/>");
    expect(() => diskXml({ path: '/p', target: 'vda', alias: 'ua-x' })).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('targets go sda … sdz, sdaa …; the first free one is chosen', () => {
    expect([0, 1, 25, 26, 27, 701].map(scsiTarget)).toEqual(['sda', 'sdb', 'sdz', 'sdaa', 'sdab', 'sdzz']);
    expect(freeTarget([])).toBe('sda');
    expect(freeTarget(['sda', 'sdc'])).toBe('sdb');
  });

  it('parses the disks of libvirt XML', () => {
    const xml = `<domain><devices>
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/p/v1.qcow2' index='1'/><backingStore/>
        <target dev='sda' bus='scsi'/><alias name='ua-occitan-l1'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>
      <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
    </devices></domain>`;
    expect(parseDisks(xml)).toEqual([{ target: 'sda', source: '/p/v1.qcow2', alias: 'ua-occitan-l1' }, { target: 'hdc' }]);
  });
});

describe('states', () => {
  it('map libvirt states to OCCI', () => {
    const s = (out: string, managed = false) => computeState(parseDomstate(out, managed)).state;
    expect(s('running (booted)\n')).toBe('active');
    expect(s('paused (user)')).toBe('suspended');
    expect(s('pmsuspended (unknown)')).toBe('suspended');
    expect(s('shut off (saved)', true)).toBe('suspended');
    expect(s('shut off (saved)', false)).toBe('inactive');
    expect(s('shut off (destroyed)')).toBe('inactive');
    expect(s('shut off (crashed)')).toBe('error');
    expect(computeState(parseDomstate('crashed (panicked)'))).toEqual({ state: 'error', message: 'the guest crashed (panicked); start boots it again' });
  });
});

describe('virsh errors', () => {
  const v = { describe: () => 'libvirt at qemu:///system' };
  const err = (...lines: string[]) => new VirshError({ errors: lines, code: 1 }, ['x']);
  it('become occitan errors', () => {
    expect(translateVirshError(err("failed to get domain 'x'"), v, 'start it').status).toBe(404);
    expect(translateVirshError(err('failed to connect to the hypervisor', "Failed to connect socket to '/run/libvirt/libvirt-sock': No such file or directory"), v, 'x').status).toBe(503);
    expect(translateVirshError(err('Domain is already active'), v, 'x').status).toBe(409);
    expect(translateVirshError(err("Failed to start domain 'x'", "internal error: qemu unexpectedly closed the monitor: cannot set up guest memory 'pc.ram': Cannot allocate memory"), v, 'x').status).toBe(409);
    expect(translateVirshError(err("XML error: Invalid value for attribute 'type'"), v, 'x').status).toBe(400);
    expect(translateVirshError(err('internal error: something odd'), v, 'x').status).toBe(502);
    expect(translateVirshError(new VirshError({ errors: [], code: 'ENOENT' }, ['x']), v, 'x').status).toBe(503);
  });
});
