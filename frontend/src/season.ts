import type { Schemas } from './api/client';

export type Season = Schemas['SeasonType'];
export const SEASON_LABEL: Record<Season, string> = { low: '淡季', mid: '平季', high: '旺季' };

/** The season of a date (`YYYY-MM-DD`) by the calendar: dated rules win over recurring ones. */
export function seasonFor(cal: Schemas['SeasonCalendar'], date: string): Season {
  for (const r of cal.rules) {
    if (r.kind === 'dated' && r.from <= date && date <= r.to) return r.season;
  }
  const md = date.slice(5);
  for (const r of cal.rules) {
    if (r.kind !== 'recurring') continue;
    const inside = r.from <= r.to ? r.from <= md && md <= r.to : md >= r.from || md <= r.to;
    if (inside) return r.season;
  }
  return cal.default;
}
