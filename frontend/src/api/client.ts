// The one HTTP client of the console: generated types (schema.d.ts from openapi/openapi.json)
// through openapi-fetch, with the session's CSRF token on every state-changing request, an
// Idempotency-Key per user action, and a lost session sent back to 登录.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type OrderDetail = Schemas['OrderDetail'];
export type OrderListItem = Schemas['OrderListItem'];
export type OrderEventEntry = Schemas['OrderEventEntry'];
export type DeliveryView = Schemas['DeliveryView'];
export type AvailableAction = Schemas['AvailableAction'];
export type OrderAction = Schemas['OrderAction'];
export type OrderStatus = Schemas['OrderStatus'];

/** An API error envelope `{code, message, fieldErrors?, requestId}` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public fieldErrors: Record<string, string> = {},
    public requestId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;
export function setCsrfToken(token: string | null) {
  csrfToken = token;
}

type Listener = () => void;
const unauthenticatedListeners = new Set<Listener>();
/** Called whenever an /api call answers 401 (the session is gone). */
export function onUnauthenticated(l: Listener): () => void {
  unauthenticatedListeners.add(l);
  return () => unauthenticatedListeners.delete(l);
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export const sessionMiddleware: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method) && csrfToken) {
      request.headers.set('X-CSRF-Token', csrfToken);
    }
    return request;
  },
  onResponse({ request, response }) {
    const path = new URL(request.url, 'http://x').pathname;
    if (response.status === 401 && path !== '/api/auth/login' && path !== '/api/auth/me') {
      unauthenticatedListeners.forEach((l) => l());
    }
    return response;
  },
};

const base = typeof window === 'undefined' ? 'http://localhost' : window.location.origin;
export const api = createClient<paths>({ baseUrl: base, credentials: 'same-origin' });
api.use(sessionMiddleware);

/** A fresh key for one user action (a double click or a retry sends the same one). */
export function newIdempotencyKey(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

const STATUS_TEXT: Record<number, string> = {
  401: '登录已失效,请重新登录',
  403: '没有权限执行这个操作',
  404: '找不到要操作的对象',
  409: '订单状态已变化',
  413: '文件太大',
  415: '文件类型不支持',
  422: '请求参数有误,请按字段提示修改',
  429: '操作太频繁,请稍后再试',
};

/** Turns any failed answer into an ApiError whose message is the server's Chinese text. */
export function toApiError(status: number, body: unknown): ApiError {
  const b = (body ?? {}) as { code?: string; message?: string; fieldErrors?: Record<string, string>; requestId?: string };
  const message = b.message || STATUS_TEXT[status] || (status >= 500 ? '服务暂时不可用,请稍后重试' : `请求失败(${status})`);
  return new ApiError(status, b.code ?? `HTTP_${status}`, message, b.fieldErrors ?? {}, b.requestId);
}

/** Unwraps an openapi-fetch result: the data, or a thrown ApiError. */
export async function unwrap<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r: { data?: T; error?: unknown; response: Response };
  try {
    r = await p;
  } catch {
    throw new ApiError(0, 'NETWORK', '网络不通,请检查连接后重试');
  }
  if (!r.response.ok) throw toApiError(r.response.status, r.error);
  return r.data as T;
}

/** A multipart upload (payment proof, screenshot, QR code) with the same headers as `api`. */
export async function upload<T>(path: string, form: FormData, idempotencyKey?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let res: Response;
  try {
    res = await fetch(path, { method: 'POST', body: form, headers, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'NETWORK', '网络不通,请检查连接后重试');
  }
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) unauthenticatedListeners.forEach((l) => l());
  if (!res.ok) throw toApiError(res.status, body);
  return body as T;
}

/** Plain JSON calls for the sign-in and admin APIs (typed by hand until they are in the document). */
export async function call<T>(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!SAFE.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', '网络不通,请检查连接后重试');
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (res.status === 401 && path !== '/api/auth/login' && path !== '/api/auth/me') {
    unauthenticatedListeners.forEach((l) => l());
  }
  if (!res.ok) throw toApiError(res.status, data);
  return data as T;
}
