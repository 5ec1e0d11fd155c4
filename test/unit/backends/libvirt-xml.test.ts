/**
 * The libvirt provider's pure parts: domain and disk XML from entities (escaping, virtio-scsi, no
 * graphics, memory/cores/architecture mapping), names, metadata round trip, disk parsing, states.
 */
import {
  diskAlias, diskXml, domainName, domainSpec, domainXml, escapeXml, freeTarget, metadataElement, parseDisks,
  parseMetadata, scsiTarget, volumeName,
} from '../../../src/backends/libvirt/domain-xml';
import { checkMac, interfaceAlias, interfaceIdFor, interfaceXml, ovsNetworkOf, parseInterfaces, tapName, vmMacFor } from '../../../src/backends/libvirt/interface-xml';
import { computeState, parseDomstate } from '../../../src/backends/libvirt/state';
import { parseOptions } from '../../../src/backends/libvirt/options';
import { translateVirshError, VirshError } from '../../../src/backends/libvirt/virsh';
import { osXml } from '../../../src/backends/libvirt/domain-xml';
import {
  INSTALL_MIXIN, checkFetchUrl, installChange, installRequest, installVolumeNames, netbootDirectory, withoutInstallBoot,
} from '../../../src/backends/libvirt/install';
import type { BackendEntity } from '../../../src/backends/backend';

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
    expect(parseOptions({})).toEqual({
      uri: 'qemu:///system', pool: 'occitan', poolPath: '/var/lib/occitan/images', instance: 'default', domainType: 'auto',
      installHosts: [], installMaxBytes: 512 * 1024 * 1024,
    });
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

// --- network install (mixin libvirt#install): the <os> element and the checks before any fetch ---------

const CONSOLE_MIXIN_ID = 'https://occitan.dev/occi/libvirt#console';
const HOSTS = ['127.0.0.1', 'deb.debian.org'];

function installEntity(attributes: Record<string, unknown>, mixins: string[] = [INSTALL_MIXIN]): BackendEntity {
  return { id: ID, tenant: 't1', location: '/compute/web1', kind: 'http://schemas.ogf.org/occi/infrastructure#compute', mixins, attributes: attributes as never };
}

function status(f: () => unknown): number | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { status?: number }).status;
  }
}

describe('install boot XML', () => {
  it('a plain domain boots from its disk', () => {
    expect(osXml('x86_64')).toBe("<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>");
    expect(domainXml(spec({}))).toContain("  <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>\n");
  });

  it('direct kernel boot names the pool files and the command line, escaped; no cmdline element when empty', () => {
    const boot = { method: 'kernel' as const, kernel: '/pool/occitan-p--x.kernel', initrd: "/pool/o'x.initrd", cmdline: 'auto=true x=<y>&"z"' };
    expect(osXml('i686', boot)).toBe(
      "<os><type arch='i686'>hvm</type><kernel>/pool/occitan-p--x.kernel</kernel><initrd>/pool/o&apos;x.initrd</initrd>" +
        "<cmdline>auto=true x=&lt;y&gt;&amp;&quot;z&quot;</cmdline><boot dev='hd'/></os>",
    );
    expect(osXml('x86_64', { ...boot, cmdline: '' })).not.toContain('<cmdline');
    const xml = domainXml({ ...spec({}), boot });
    expect(xml).toContain('<kernel>/pool/occitan-p--x.kernel</kernel>');
    expect(textOutsideTags(xml)).not.toMatch(/[<>]/);
  });

  it('network boot tries the interfaces first, then the disk', () => {
    expect(osXml('x86_64', { method: 'network' })).toBe("<os><type arch='x86_64'>hvm</type><boot dev='network'/><boot dev='hd'/></os>");
  });

  it('removing the install boot keeps the rest of <os> and boots from the disk', () => {
    const live =
      "<domain>\n  <os>\n    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>\n    <kernel>/p/k</kernel>\n    <initrd>/p/i</initrd>\n" +
      "    <cmdline>a=b</cmdline>\n    <boot dev='hd'/>\n  </os>\n  <devices/>\n</domain>\n";
    expect(withoutInstallBoot(live)).toBe("<domain>\n  <os>\n    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n  <devices/>\n</domain>\n");
    expect(withoutInstallBoot("<os><type>hvm</type><boot dev='network'/></os>")).toBe("<os><type>hvm</type><boot dev='hd'/></os>");
    const plain = "<os><type>hvm</type><boot dev='hd'/></os>";
    expect(withoutInstallBoot(plain)).toBe(plain);
  });

  it('installer volumes are named for the compute and never look like a storage volume', () => {
    expect(installVolumeNames(ID, 'prod')).toEqual({ kernel: `occitan-prod--${ID}.kernel`, initrd: `occitan-prod--${ID}.initrd` });
    expect(Object.values(installVolumeNames(ID, 'prod'))).not.toContain(volumeName(ID, 'prod'));
  });
});

describe('install request (checked before anything is fetched)', () => {
  it('without the mixin there is nothing to do', () => {
    expect(installRequest(installEntity({ 'occitan.libvirt.install.location': 'http://evil.example/' }, []), { hosts: HOSTS, maxBytes: 1 })).toBeUndefined();
  });

  it('a netboot directory gives linux and initrd.gz; an installer tree root its d-i netboot directory', () => {
    const r = installRequest(installEntity({ 'occitan.libvirt.install.location': 'http://127.0.0.1:8000/netboot' }), { hosts: HOSTS, maxBytes: 1 });
    expect(r).toEqual({ method: 'kernel', kernel: new URL('http://127.0.0.1:8000/netboot/linux'), initrd: new URL('http://127.0.0.1:8000/netboot/initrd.gz'), cmdline: '' });
    expect(netbootDirectory(new URL('https://deb.debian.org/debian/dists/bookworm/main/installer-amd64')).href)
      .toBe('https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64/');
    expect(netbootDirectory(new URL('http://gb.archive.ubuntu.com/ubuntu/dists/xenial/main/installer-amd64/')).href)
      .toBe('http://gb.archive.ubuntu.com/ubuntu/dists/xenial/main/installer-amd64/current/images/netboot/ubuntu-installer/amd64/');
  });

  it('explicit kernel and initrd URLs win; the console mixin adds console=ttyS0 unless one is given', () => {
    const r = installRequest(installEntity({
      'occitan.libvirt.install.kernel': 'https://DEB.debian.org./k', 'occitan.libvirt.install.initrd': 'http://127.0.0.1/i#frag',
      'occitan.libvirt.install.cmdline': 'priority=critical\nauto=true',
    }, [INSTALL_MIXIN, CONSOLE_MIXIN_ID]), { hosts: HOSTS, maxBytes: 1 });
    expect(r).toEqual({ method: 'kernel', kernel: new URL('https://deb.debian.org./k'), initrd: new URL('http://127.0.0.1/i'), cmdline: 'priority=critical auto=true console=ttyS0' });
    const own = installRequest(installEntity({ 'occitan.libvirt.install.location': 'http://127.0.0.1/', 'occitan.libvirt.install.cmdline': 'console=tty0' }, [INSTALL_MIXIN, CONSOLE_MIXIN_ID]), { hosts: HOSTS, maxBytes: 1 });
    expect(own && own.method === 'kernel' && own.cmdline).toBe('console=tty0');
  });

  it('the network method fetches nothing and needs no allowed host', () => {
    expect(installRequest(installEntity({ 'occitan.libvirt.install.method': 'network', 'occitan.libvirt.install.location': 'http://pxe.example/' }), { hosts: [], maxBytes: 1 })).toEqual({ method: 'network' });
  });

  it('refuses with 400 naming the host: other hosts, schemes, user info; and incomplete or bad settings', () => {
    const req = (a: Record<string, unknown>, hosts = HOSTS) => () => installRequest(installEntity(a), { hosts, maxBytes: 1 });
    const loc = (l: string) => req({ 'occitan.libvirt.install.location': l });
    for (const [url, host] of [
      ['http://localhost/netboot/', 'localhost'], ['http://127.0.0.2/', '127.0.0.2'], ['http://[::1]/', '::1'],
      ['http://deb.debian.org.evil.example/', 'deb.debian.org.evil.example'], ['gopher://127.0.0.1/', 'gopher'],
      ['http://u:p@127.0.0.1/', '127.0.0.1'], ['http://127.0.0.1@evil.example/', 'evil.example'],
    ] as const) {
      expect(status(loc(url))).toBe(400);
      expect(loc(url)).toThrow(host);
    }
    expect(loc('http://127.0.0.1/')).not.toThrow();
    expect(loc('http://2130706433/')).not.toThrow(); // WHATWG: 127.0.0.1, the host that is fetched
    expect(status(req({ 'occitan.libvirt.install.location': 'http://127.0.0.1/' }, []))).toBe(400);
    expect(status(loc('not a url'))).toBe(400);
    expect(status(req({}))).toBe(400);
    expect(status(req({ 'occitan.libvirt.install.kernel': 'http://127.0.0.1/k' }))).toBe(400);
    expect(status(req({ 'occitan.libvirt.install.method': 'cdrom', 'occitan.libvirt.install.location': 'http://127.0.0.1/' }))).toBe(400);
    expect(status(req({ 'occitan.libvirt.install.location': 'http://127.0.0.1/', 'occitan.libvirt.install.cmdline': 'x'.repeat(2049) }))).toBe(400);
    expect(status(() => checkFetchUrl('file:///etc/shadow', HOSTS, 'x'))).toBe(400);
  });

  it('installHosts are checked and spelled as URLs spell hosts', () => {
    expect(parseOptions({ installHosts: ['Deb.Debian.org.', '127.1', '[::1]', '0:0::1'], installMaxBytes: 1024 }))
      .toEqual(expect.objectContaining({ installHosts: ['deb.debian.org', '127.0.0.1', '::1', '::1'], installMaxBytes: 1024 }));
    for (const bad of [['http://deb.debian.org'], ['deb.debian.org:80'], ['a/b'], [''], 'deb.debian.org', [1]]) {
      expect(() => parseOptions({ installHosts: bad })).toThrow(/installHosts/);
    }
    expect(() => parseOptions({ installMaxBytes: 0 })).toThrow(/installMaxBytes/);
  });

  it('an update may remove the mixin; other changes to the install settings are 409', () => {
    const e = installEntity({ 'occitan.libvirt.install.location': 'http://127.0.0.1/' });
    const none = { attributes: {}, mixinsAdded: [], mixinsRemoved: [] };
    expect(installChange(e, none)).toBe('none');
    expect(installChange(installEntity({}, []), { ...none, mixinsRemoved: [INSTALL_MIXIN] })).toBe('drop');
    expect(status(() => installChange(e, { ...none, attributes: { 'occitan.libvirt.install.location': 'http://127.0.0.1/x/' } }))).toBe(409);
    expect(status(() => installChange(e, { ...none, mixinsAdded: [INSTALL_MIXIN] }))).toBe(409);
    expect(installChange(e, { ...none, attributes: { 'occi.compute.memory': 1 } })).toBe('none');
  });
});

describe('VM network interfaces (interface-xml.ts)', () => {
  const LINK = '7d1c9a40-2f4e-4b7a-9c11-0a1b2c3d4e5f';
  const base = { mac: '52:54:00:12:34:56', bridge: 'br-occi', vlan: 10, interfaceId: interfaceIdFor(LINK), dev: tapName(LINK), alias: interfaceAlias(LINK) };

  it('is a bridge interface with an openvswitch virtualport, the VLAN tag, virtio, a tap of its own and the alias', () => {
    const xml = interfaceXml(base);
    expect(xml).toBe(
      "<interface type='bridge'><mac address='52:54:00:12:34:56'/><source bridge='br-occi'/><vlan><tag id='10'/></vlan>" +
        `<virtualport type='openvswitch'><parameters interfaceid='${base.interfaceId}'/></virtualport>` +
        `<target dev='${base.dev}'/><model type='virtio'/><alias name='ua-occitan-${LINK}'/></interface>`,
    );
  });

  it('names derive from the link id: a 13-character tap, a UUID v5 interface id, a locally administered MAC', () => {
    expect(tapName(LINK)).toMatch(/^ol[0-9a-f]{11}$/);
    expect(tapName(LINK)).toBe(tapName(LINK));
    expect(tapName(LINK)).not.toBe(tapName(LINK + 'x'));
    expect(interfaceIdFor(LINK)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(interfaceIdFor(LINK)).not.toBe(interfaceIdFor(LINK + 'x'));
    const mac = vmMacFor(LINK);
    expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(parseInt(mac.slice(0, 2), 16) & 3).toBe(2); // unicast, locally administered
    expect(vmMacFor(LINK)).toBe(mac);
  });

  it('UUID v5 is RFC 4122 (the URL namespace example from Python: uuid5(NAMESPACE_URL, …))', () => {
    // python3 -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, 'https://occitan.dev/occi/libvirt/interface/x'))"
    expect(interfaceIdFor('x')).toBe('70c00811-d1e9-5521-9cc8-ee5b5a79348d');
  });

  it('refuses bad MACs, VLANs and bridges with 400 before any XML is made', () => {
    for (const mac of ['01:00:5e:00:00:01', '00:00:00:00:00:00', '52:54:00:12:34', 'zz:54:00:12:34:56']) {
      expect(() => checkMac(mac)).toThrow(expect.objectContaining({ status: 400 }));
    }
    expect(checkMac('52:54:00:AB:CD:EF')).toBe('52:54:00:ab:cd:ef');
    expect(() => interfaceXml({ ...base, vlan: 4096 })).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => interfaceXml({ ...base, bridge: "br'><x" })).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => interfaceXml({ ...base, dev: 'vnet0' })).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('reads the ovs provider network ref, and nothing else, as a network', () => {
    expect(ovsNetworkOf({ bridge: 'br-occi', vlan: 10, port: 'on0123456789a' })).toEqual({ bridge: 'br-occi', vlan: 10, port: 'on0123456789a' });
    for (const bad of [undefined, null, 'br-occi', { bridge: 'br-occi', vlan: 10 }, { bridge: 'br occi', vlan: 10, port: 'p' }, { bridge: 'b', vlan: -1, port: 'p' }, { bridge: 'b', vlan: 1.5, port: 'p' }]) {
      expect(ovsNetworkOf(bad)).toBeUndefined();
    }
  });

  it('parses interfaces of libvirt XML: the live one with its link state, the definition one without', () => {
    const live =
      "<domain><devices><disk type='file'><target dev='sda' bus='scsi'/></disk>" +
      "<interface type='bridge'>\n  <mac address='52:54:00:AA:bb:cc'/>\n  <source bridge='br-x'/>\n  <vlan>\n    <tag id='20'/>\n  </vlan>\n" +
      "  <virtualport type='openvswitch'>\n    <parameters interfaceid='abc' profileid=''/>\n  </virtualport>\n  <target dev='ol0123456789a'/>\n" +
      "  <model type='virtio'/>\n  <link state='down'/>\n  <alias name='ua-occitan-l1'/>\n</interface>" +
      "<interface type='network'><source network='default'/><model type='e1000'/></interface></devices></domain>";
    expect(parseInterfaces(live)).toEqual([
      { type: 'bridge', mac: '52:54:00:aa:bb:cc', bridge: 'br-x', vlan: 20, virtualport: 'openvswitch', interfaceId: 'abc', dev: 'ol0123456789a', alias: 'ua-occitan-l1', link: 'down' },
      { type: 'network', link: 'up' },
    ]);
    expect(parseInterfaces(interfaceXml(base))).toEqual([
      { type: 'bridge', mac: base.mac, bridge: 'br-occi', vlan: 10, virtualport: 'openvswitch', interfaceId: base.interfaceId, dev: base.dev, alias: base.alias, link: 'up' },
    ]);
  });
});
