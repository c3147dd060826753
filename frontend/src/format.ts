import dayjs from 'dayjs';
import utc from 'dayjs/plugin/utc';
import timezone from 'dayjs/plugin/timezone';
import 'dayjs/locale/zh-cn';

dayjs.extend(utc);
dayjs.extend(timezone);
dayjs.locale('zh-cn');
export const TZ = 'Asia/Shanghai';
dayjs.tz.setDefault(TZ);

/** `2026/03/21 11:52:54`, in Asia/Shanghai, as on the seed page. */
export function fmtTime(t?: string | null): string {
  if (!t) return '-';
  return dayjs(t).tz(TZ).format('YYYY/MM/DD HH:mm:ss');
}

/** `¥3.20` from the API's decimal string. */
export function yuan(v?: string | null): string {
  if (v === undefined || v === null || v === '') return '-';
  const n = Number(v);
  return Number.isFinite(n) ? `¥${n.toFixed(2)}` : `¥${v}`;
}

export { dayjs };
