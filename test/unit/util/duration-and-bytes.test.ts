import { describe, expect, it } from 'vitest';
import { formatBytes, parseBytes } from '../../../src/util/bytes.js';
import { formatDuration, parseDuration } from '../../../src/util/duration.js';

describe('durations', () => {
  it('reads written durations and bare milliseconds', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('1500')).toBe(1_500);
    expect(parseDuration(42)).toBe(42);
  });

  it('refuses what is not a duration', () => {
    for (const bad of ['', 'soon', '5 minutes', '-1s', '5x', 'm5', '5m junk'])
      expect(parseDuration(bad)).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });

  it('formats for messages', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('forever');
  });
});

describe('byte sizes', () => {
  it('reads sizes in powers of 1,024 and refuses the rest', () => {
    expect(parseBytes('256mb')).toBe(256 * 1024 * 1024);
    expect(parseBytes('1GB')).toBe(1024 ** 3);
    expect(parseBytes('512 kb')).toBe(512 * 1024);
    expect(parseBytes('100')).toBe(100);
    for (const bad of ['', 'lots', '-5mb', '0', '5tb']) expect(parseBytes(bad)).toBeUndefined();
    expect(formatBytes(256 * 1024 * 1024)).toBe('256 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });
});
