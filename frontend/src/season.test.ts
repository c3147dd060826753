import { describe, expect, it } from 'vitest';
import { seasonFor } from './season';

describe('seasonFor', () => {
  const cal = {
    default: 'mid' as const,
    rules: [
      { kind: 'recurring' as const, from: '12-24', to: '01-03', season: 'high' as const },
      { kind: 'recurring' as const, from: '03-01', to: '04-30', season: 'low' as const },
      { kind: 'dated' as const, from: '2027-03-10', to: '2027-03-12', season: 'high' as const },
    ],
  };
  it('wraps a recurring rule over the year end', () => {
    expect(seasonFor(cal, '2026-12-31')).toBe('high');
    expect(seasonFor(cal, '2027-01-02')).toBe('high');
    expect(seasonFor(cal, '2027-01-04')).toBe('mid');
  });
  it('lets a dated rule win over a recurring one', () => {
    expect(seasonFor(cal, '2027-03-09')).toBe('low');
    expect(seasonFor(cal, '2027-03-11')).toBe('high');
  });
  it('falls back to the default', () => {
    expect(seasonFor(cal, '2027-06-01')).toBe('mid');
  });
});
