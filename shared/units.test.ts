import { describe, expect, test } from 'vitest';
import { UnitError, formatBandwidth, formatDuration, parseBandwidth, parseDuration } from './units.js';

describe('parseDuration', () => {
  test.each([
    ['100ns', 100],
    ['5us', 5_000],
    ['5µs', 5_000],
    ['5μs', 5_000],
    ['200ms', 200_000_000],
    ['1.5s', 1_500_000_000],
    ['2m', 120_000_000_000],
    ['1h', 3_600_000_000_000],
    ['12.345us', 12_345],
    ['1.5 s', 1_500_000_000],
    ['1m30s', 90_000_000_000],
    ['1 min 30 s', 90_000_000_000],
    ['.5ms', 500_000],
    ['0', 0],
    ['0s', 0],
    [' 7ms ', 7_000_000],
    ['3000000000ns', 3_000_000_000],
  ])('parses %j to %d ns', (text, ns) => {
    expect(parseDuration(text)).toBe(ns);
  });

  test('accepts the number zero', () => {
    expect(parseDuration(0)).toBe(0);
  });

  test('rounds to the nearest nanosecond', () => {
    expect(parseDuration('1.4ns')).toBe(1);
    expect(parseDuration('1.6ns')).toBe(2);
    expect(parseDuration('0.0015us')).toBe(2);
    expect(parseDuration('1.1ms')).toBe(1_100_000);
    expect(Number.isInteger(parseDuration('0.333333333s'))).toBe(true);
  });

  test.each([
    ['-5us', /Invalid duration "-5us": must not be negative/],
    ['5 parsecs', /Invalid duration "5 parsecs": unknown unit "parsecs"/],
    ['5sec', /unknown unit "sec"/],
    ['5', /Invalid duration "5": a unit is required/],
    ['', /Invalid duration "": empty/],
    ['fast', /Invalid duration "fast"/],
    ['5us5', /Invalid duration "5us5"/],
  ])('rejects %j, naming the text', (text, message) => {
    expect(() => parseDuration(text)).toThrow(message);
  });

  test('rejects negative numbers, NaN and unit-less numbers', () => {
    expect(() => parseDuration(-1)).toThrow(/must not be negative/);
    expect(() => parseDuration(Number.NaN)).toThrow(/"NaN": not a number/);
    expect(() => parseDuration(5)).toThrow(/a unit is required, e.g. 5us/);
    expect(() => parseDuration(Number.POSITIVE_INFINITY)).toThrow(/must be finite/);
  });

  test('throws UnitError with a stable code and a lower-case fragment', () => {
    try {
      parseDuration('2 fortnights');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(UnitError);
      const unitError = error as UnitError;
      expect(unitError.code).toBe('invalid-unit');
      expect(unitError.quantity).toBe('duration');
      expect(unitError.input).toBe('2 fortnights');
      expect(unitError.fragment).toMatch(/^invalid duration "2 fortnights": unknown unit "fortnights"/);
    }
  });
});

describe('formatDuration', () => {
  test.each([
    [0, '0 s'],
    [100, '100 ns'],
    [12_345, '12.345 µs'],
    [5_000, '5 µs'],
    [200_000_000, '200 ms'],
    [1_500_000_000, '1.5 s'],
    [59_000_000_000, '59 s'],
    [120_000_000_000, '2 min'],
    [90_500_000_000, '1 min 30.5 s'],
    [3_723_500_000_000, '1 h 2 min 3.5 s'],
    [999_999_600, '1 s'],
    [-5_000, '-5 µs'],
  ])('formats %d ns as %j', (ns, text) => {
    expect(formatDuration(ns)).toBe(text);
  });

  test('output parses back to the same value when it is exact to three decimals', () => {
    for (const ns of [0, 7, 1_234, 5_000, 12_345, 200_000_000, 1_500_000_000, 90_500_000_000, 3_723_500_000_000]) {
      expect(parseDuration(formatDuration(ns))).toBe(ns);
    }
  });
});

describe('parseBandwidth', () => {
  test.each([
    ['25Gbps', 25e9],
    ['10G', 10e9],
    ['100Mbps', 100e6],
    ['1e9', 1e9],
    ['1.5 Gbit/s', 1.5e9],
    ['64Gbps', 64e9],
    ['800kbps', 800e3],
    ['1Tbps', 1e12],
    ['9600', 9600],
  ])('parses %j to %d bit/s', (text, bps) => {
    expect(parseBandwidth(text)).toBe(bps);
  });

  test('accepts plain numbers as bits per second', () => {
    expect(parseBandwidth(1e9)).toBe(1e9);
  });

  test.each([
    ['10GBps', /Invalid bandwidth "10GBps": "B" means bytes/],
    ['-1G', /Invalid bandwidth "-1G": must be positive/],
    ['0', /must be positive/],
    ['fast', /Invalid bandwidth "fast": expected bits per second/],
    ['10 Xbps', /Invalid bandwidth "10 Xbps"/],
  ])('rejects %j, naming the text', (text, message) => {
    expect(() => parseBandwidth(text)).toThrow(message);
  });

  test('rejects NaN', () => {
    expect(() => parseBandwidth(Number.NaN)).toThrow(/not a number/);
  });
});

describe('formatBandwidth', () => {
  test.each([
    [25e9, '25 Gbps'],
    [1.5e9, '1.5 Gbps'],
    [100e6, '100 Mbps'],
    [800, '800 bps'],
    [64e9, '64 Gbps'],
    [2e12, '2 Tbps'],
  ])('formats %d bit/s as %j', (bps, text) => {
    expect(formatBandwidth(bps)).toBe(text);
  });

  test('output parses back to the same value', () => {
    for (const bps of [800, 9600, 100e6, 1.5e9, 25e9, 2e12]) expect(parseBandwidth(formatBandwidth(bps))).toBe(bps);
  });
});
