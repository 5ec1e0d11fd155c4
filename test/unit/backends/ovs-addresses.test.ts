/**
 * The ovs provider's pure parts: address arithmetic (IPv4 and IPv6), the values it checks before the
 * switch, and the names it derives. Expected values written by hand from RFC 4632 / 5952 and the kernel's
 * 15-character interface names.
 */
import { checkAddress, contains, firstFree, formatAddress, hostRange, parseAddress, parseCidr } from '../../../src/backends/ovs/addresses';
import { checkBridgeName, checkInterfaceName, checkMac, checkVlan, hostEndName, macFor, networkPortName, peerTempName } from '../../../src/backends/ovs/names';
import { parseOptions } from '../../../src/backends/ovs/options';

const status = (f: () => unknown): number | undefined => {
  try {
    f();
  } catch (e) {
    return (e as { status?: number }).status;
  }
  return undefined;
};

describe('addresses', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::ffff:c000:201', '::ffff:192.0.2.1'],
    ['fe80:0:0:0:1:0:0:0', 'fe80::1:0:0:0'],
  ])('%s is written %s (RFC 5952)', (given, written) => {
    expect(checkAddress(given, 'a').text).toBe(written);
  });

  it('refuses what is not an address', () => {
    for (const bad of ['10.0.0.256', '10.0.0', '1:2:3:4:5:6:7:8:9', 'example.org', '', 42]) expect(status(() => checkAddress(bad, 'a'))).toBe(400);
  });

  it('normalises a CIDR to its network and checks the prefix', () => {
    expect(parseCidr('192.168.10.77/24').text).toBe('192.168.10.0/24');
    expect(parseCidr('fd00:10::5/64').text).toBe('fd00:10::/64');
    for (const bad of ['10.0.0.0/33', '10.0.0.0', 'fd00::/129', '10.0.0.0/-1', '10.0.0.0/24/1']) expect(status(() => parseCidr(bad))).toBe(400);
  });

  it('knows what a network contains', () => {
    const c = parseCidr('10.1.0.0/16');
    expect(contains(c, 4, parseAddress('10.1.255.255')!.value)).toBe(true);
    expect(contains(c, 4, parseAddress('10.2.0.0')!.value)).toBe(false);
    expect(contains(c, 6, parseAddress('::a01:0')!.value)).toBe(false);
  });

  it('hands out host addresses only: not the network, broadcast or taken ones', () => {
    const c = parseCidr('10.0.0.0/30');
    expect(formatAddress(4, hostRange(c).first)).toBe('10.0.0.1');
    expect(formatAddress(4, hostRange(c).last)).toBe('10.0.0.2');
    expect(firstFree(c, new Set(['10.0.0.1']))).toBe('10.0.0.2');
    expect(firstFree(c, new Set(['10.0.0.1', '10.0.0.2']))).toBeUndefined();
    expect(firstFree(parseCidr('10.0.0.8/31'), new Set())).toBe('10.0.0.8'); // RFC 3021
    expect(firstFree(parseCidr('fd00::/64'), new Set(['fd00::1']))).toBe('fd00::2');
  });
});

describe('values checked before the switch', () => {
  it('VLANs are integers 0 to 4095', () => {
    expect([0, 4095].map((v) => checkVlan(v))).toEqual([0, 4095]);
    for (const bad of [-1, 4096, 1.5, '10']) expect(status(() => checkVlan(bad))).toBe(400);
  });

  it('interface and bridge names fit the kernel: 1 to 15 safe characters', () => {
    expect(checkInterfaceName('eth0', 'i')).toBe('eth0');
    expect(checkInterfaceName('a'.repeat(15), 'i')).toBe('a'.repeat(15));
    for (const bad of ['a'.repeat(16), '', 'eth 0', 'eth/0', 'eth:0', '-x', 'lo', '..']) expect(status(() => checkInterfaceName(bad, 'i'))).toBe(400);
    expect(checkBridgeName('br-occi', 'b')).toBe('br-occi');
    for (const bad of ['b'.repeat(16), 'br;rm', '']) expect(status(() => checkBridgeName(bad, 'b'))).toBe(400);
  });

  it('a MAC must be unicast and not all zero; it is kept lower case', () => {
    expect(checkMac('02:AB:cd:00:00:01')).toBe('02:ab:cd:00:00:01');
    for (const bad of ['01:00:5e:00:00:01', '00:00:00:00:00:00', '02:00:00:00:00', '02-00-00-00-00-01']) expect(status(() => checkMac(bad))).toBe(400);
  });
});

describe('derived names', () => {
  it('port and veth names are 13 characters from the entity id, distinct per role', () => {
    const id = '3f1c1f0e-8d7a-4c55-9a51-1f3b6d8b2e10';
    expect([networkPortName(id), hostEndName(id), peerTempName(id)].map((n) => [n.slice(0, 2), n.length])).toEqual([['on', 13], ['ov', 13], ['oc', 13]]);
    expect(hostEndName(id)).toBe(hostEndName(id));
    expect(hostEndName(id)).not.toBe(hostEndName('another'));
  });

  it('a generated MAC is stable, unicast and locally administered', () => {
    const mac = macFor('some-entity');
    expect(mac).toBe(macFor('some-entity'));
    expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(parseInt(mac.slice(0, 2), 16) & 0x03).toBe(0x02);
  });
});

describe('options', () => {
  it('defaults: netdev datapath, instance "default", VLANs 2 to 4094', () => {
    expect(parseOptions({ bridges: ['br-occi'] })).toEqual({ bridges: ['br-occi'], datapathType: 'netdev', instance: 'default', vlans: { min: 2, max: 4094 } });
  });

  it('refuses what cannot work, naming the option', () => {
    expect(() => parseOptions({})).toThrow(/options\.bridges/);
    expect(() => parseOptions({ bridges: ['ok', 'ok'] })).toThrow(/twice/);
    expect(() => parseOptions({ bridges: ['b'.repeat(16)] })).toThrow(/options\.bridges/);
    expect(() => parseOptions({ bridges: ['b'], vlans: { min: 10, max: 5 } })).toThrow(/options\.vlans/);
    expect(() => parseOptions({ bridges: ['b'], db: '/var/run/openvswitch/db.sock' })).toThrow(/options\.db/);
    expect(() => parseOptions({ bridges: ['b'], datapathType: 'net dev' })).toThrow(/datapathType/);
  });
});
