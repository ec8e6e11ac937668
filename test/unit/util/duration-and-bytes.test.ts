import { describe, expect, it } from 'vitest';
import { formatBytes, parseBytes } from '../../../src/util/bytes.js';
import { formatDuration, parseDuration } from '../../../src/util/duration.js';
import { parseWholeNumber } from '../../../src/util/whole-number.js';

/** Spellings `Number()` reads as a number that no setting may accept. */
const NUMBER_TRICKS = [
  '',
  ' ',
  '0x1F9B',
  '8.1e3',
  '1e3',
  '+80',
  '-1',
  ' 80',
  '80 ',
  '80\n',
  '0b101',
  'Infinity',
];

describe('whole numbers', () => {
  it('are plain decimal digits and nothing else', () => {
    expect(parseWholeNumber('8080')).toBe(8080);
    expect(parseWholeNumber('0')).toBe(0);
    for (const bad of [...NUMBER_TRICKS, '80.0', '٨٠', '9'.repeat(20)])
      expect(parseWholeNumber(bad), JSON.stringify(bad)).toBeUndefined();
  });
});

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

  it('refuses what is not a duration, and the spellings Number() would read', () => {
    for (const bad of [
      '',
      'soon',
      '5 minutes',
      '-1s',
      '5x',
      'm5',
      '5m junk',
      ...NUMBER_TRICKS,
      ' 5s',
      '5s ',
      '1e3ms',
    ])
      expect(parseDuration(bad), JSON.stringify(bad)).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it('gives whole milliseconds, unbounded: callers refuse what is out of their range', () => {
    expect(parseDuration('1.5')).toBe(2);
    expect(parseDuration(2.4)).toBe(2);
    expect(parseDuration('100000000000000d')).toBe(8.64e21);
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
    for (const bad of ['', 'lots', '-5mb', '0', '5tb', ...NUMBER_TRICKS, ' 8mb', '8mb ', '8  mb', '1e3kb'])
      expect(parseBytes(bad), JSON.stringify(bad)).toBeUndefined();
    expect(parseBytes(`${'9'.repeat(20)}gb`)).toBeUndefined();
    expect(formatBytes(256 * 1024 * 1024)).toBe('256 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });
});
