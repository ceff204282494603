import { describe, expect, test } from 'vitest';
import { parseIpv4, parseIpv6 } from '../net/ip.js';
import { defaultRssConf, MICROSOFT_RSS_KEY, RCD_RSS_TYPE, RSS_HASH_TYPE, rssClassify, rssProblems, toeplitzHash } from './rss.js';

/** The RSS specification's verification vectors: destination, source, hash of the addresses, hash with TCP ports. */
const IPV4: Array<[string, number, string, number, number, number]> = [
  ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
  ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
  ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
  ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
  ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
];
const IPV6: Array<[string, number, string, number, number, number]> = [
  ['3ffe:2501:200:3::1', 1766, '3ffe:2501:200:1fff::7', 2794, 0x2cc18cd5, 0x40207d3d],
  ['ff02::1', 4739, '3ffe:501:8::260:97ff:fe40:efab', 14230, 0x0f0c461c, 0xdde51bbf],
  ['fe80::200:f8ff:fe21:67cf', 38024, '3ffe:1900:4545:3:200:f8ff:fe21:67cf', 44251, 0x4b61e985, 0x02d1feef],
];

const v4 = (ip: string): number[] => [...parseIpv4(ip)];
const v6 = (ip: string): number[] => [...parseIpv6(ip)];

describe('Toeplitz RSS', () => {
  const conf = { ...defaultRssConf(4), hashKey: [...MICROSOFT_RSS_KEY] };

  test('gives the verification hashes of the RSS specification for IPv4, with and without TCP ports', () => {
    for (const [dst, dport, src, sport, ip, tcp] of IPV4) {
      expect(rssClassify(conf, { src: v4(src), dst: v4(dst) })).toMatchObject({ hash: ip, type: RCD_RSS_TYPE.ipv4 });
      expect(rssClassify(conf, { src: v4(src), dst: v4(dst), ports: { src: sport, dst: dport } })).toMatchObject({ hash: tcp, type: RCD_RSS_TYPE.tcpIpv4 });
    }
  });

  test('gives the verification hashes for IPv6, with and without TCP ports', () => {
    for (const [dst, dport, src, sport, ip, tcp] of IPV6) {
      expect(rssClassify(conf, { src: v6(src), dst: v6(dst) })).toMatchObject({ hash: ip, type: RCD_RSS_TYPE.ipv6 });
      expect(rssClassify(conf, { src: v6(src), dst: v6(dst), ports: { src: sport, dst: dport } })).toMatchObject({ hash: tcp, type: RCD_RSS_TYPE.tcpIpv6 });
    }
  });

  test('picks the queue from the indirection table at hash mod its size, and spreads flows over every queue', () => {
    const [dst, dport, src, sport, , tcp] = IPV4[0]!;
    const result = rssClassify(conf, { src: v4(src), dst: v4(dst), ports: { src: sport, dst: dport } });
    expect(result.queue).toBe(conf.indTable[tcp % conf.indTable.length]);
    const queues = new Set(Array.from({ length: 64 }, (_, i) => rssClassify(conf, { src: v4('10.0.1.11'), dst: v4('10.0.1.12'), ports: { src: 40000 + i, dst: 80 } }).queue));
    expect(queues).toEqual(new Set([0, 1, 2, 3]));
  });

  test('hashes only what the driver enabled: TCP off falls back to the addresses, all off gives no hash', () => {
    const [dst, dport, src, sport, ip] = IPV4[1]!;
    const packet = { src: v4(src), dst: v4(dst), ports: { src: sport, dst: dport } };
    expect(rssClassify({ ...conf, hashType: RSS_HASH_TYPE.ipv4 }, packet)).toMatchObject({ hash: ip, type: RCD_RSS_TYPE.ipv4 });
    expect(rssClassify({ ...conf, hashType: RSS_HASH_TYPE.none }, packet)).toEqual({ hash: 0, type: RCD_RSS_TYPE.none, queue: 0 });
  });

  test('names every problem of a configuration, and refuses a key too short for its input', () => {
    expect(rssProblems(conf, 4)).toEqual([]);
    expect(rssProblems({ ...conf, hashFunc: 2, hashKey: [1, 2], indTable: [0, 7] }, 4)).toHaveLength(3);
    expect(() => toeplitzHash([1, 2, 3, 4, 5], [1, 2])).toThrow(/needs 6/);
  });
});
