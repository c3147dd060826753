import { describe, expect, it } from 'vitest';
import { safeRedirect } from './LoginPage';

describe('safeRedirect', () => {
  it('returns to a page of this site after sign-in', () => {
    expect(safeRedirect('/orders/XY20260321035147663EN6S')).toBe('/orders/XY20260321035147663EN6S');
    expect(safeRedirect('/?status=awaiting_payment')).toBe('/?status=awaiting_payment');
  });
  it('never leaves the site or loops to 登录', () => {
    expect(safeRedirect('//evil.example/x')).toBe('/');
    expect(safeRedirect('https://evil.example')).toBe('/');
    expect(safeRedirect('/login?redirect=/')).toBe('/');
    expect(safeRedirect(undefined)).toBe('/');
  });
});
