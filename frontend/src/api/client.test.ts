import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, onUnauthenticated, sessionMiddleware, setCsrfToken, toApiError, unwrap } from './client';

type Hook = (o: { request: Request; response?: Response }) => Request | Response | undefined;
const onRequest = sessionMiddleware.onRequest as unknown as Hook;
const onResponse = sessionMiddleware.onResponse as unknown as Hook;

afterEach(() => setCsrfToken(null));

describe('session middleware', () => {
  it('sends the CSRF token on state-changing requests only', () => {
    setCsrfToken('tok-1');
    const post = onRequest({ request: new Request('http://x/api/orders/XY1/review', { method: 'POST' }) }) as Request;
    expect(post.headers.get('X-CSRF-Token')).toBe('tok-1');
    const get = onRequest({ request: new Request('http://x/api/orders') }) as Request;
    expect(get.headers.get('X-CSRF-Token')).toBeNull();
  });

  it('reports a lost session on a 401, but not for the sign-in calls themselves', () => {
    const lost = vi.fn();
    const off = onUnauthenticated(lost);
    onResponse({ request: new Request('http://x/api/orders'), response: new Response(null, { status: 401 }) });
    expect(lost).toHaveBeenCalledOnce();
    onResponse({
      request: new Request('http://x/api/auth/login', { method: 'POST' }),
      response: new Response(null, { status: 401 }),
    });
    onResponse({ request: new Request('http://x/api/orders'), response: new Response(null, { status: 200 }) });
    expect(lost).toHaveBeenCalledOnce();
    off();
  });
});

describe('errors', () => {
  it("keep the server's Chinese message and field errors", () => {
    const e = toApiError(422, {
      code: 'VALIDATION_FAILED',
      message: '请求参数有误,请按字段提示修改',
      fieldErrors: { amount: '金额必须是大于 0、最多两位小数的数字,例如 426.00' },
    });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.message).toBe('请求参数有误,请按字段提示修改');
    expect(e.fieldErrors.amount).toContain('426.00');
  });

  it('fall back to a Chinese text by status when the body has none', () => {
    expect(toApiError(403, null).message).toBe('没有权限执行这个操作');
    expect(toApiError(502, undefined).message).toBe('服务暂时不可用,请稍后重试');
  });

  it('unwrap throws the envelope of a failed answer and returns the data of a good one', async () => {
    const bad = unwrap(
      Promise.resolve({
        error: { code: 'INVALID_STATE', message: '订单当前状态不允许此操作' },
        response: new Response(null, { status: 409 }),
      }),
    );
    await expect(bad).rejects.toMatchObject({ status: 409, code: 'INVALID_STATE' });
    await expect(unwrap(Promise.resolve({ data: { ok: 1 }, response: new Response('{}') }))).resolves.toEqual({ ok: 1 });
    await expect(unwrap(Promise.reject(new TypeError('fetch failed')))).rejects.toMatchObject({ code: 'NETWORK' });
  });
});
