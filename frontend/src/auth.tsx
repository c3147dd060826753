import { createContext, useContext, useEffect, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, call, onUnauthenticated, setCsrfToken, unwrap, type Schemas } from './api/client';

export type Role = Schemas['Role'];
export type Me = Schemas['Me'];

export const ROLE_LABEL: Record<Role, string> = { admin: '管理员', operator: '运营', auditor: '审计' };

/** What a role may do in the console; the server checks the same on every request. */
export function can(me: Me | null | undefined) {
  const role = me?.role;
  return {
    /** Order commands, fulfilment, resends. */
    act: role === 'admin' || role === 'operator',
    /** Config centre writes, users and keys. */
    admin: role === 'admin',
  };
}

const MeContext = createContext<Me | null>(null);
export const useMe = () => useContext(MeContext);

export async function fetchMe(): Promise<Me | null> {
  try {
    const me = await unwrap(api.GET('/api/auth/me'));
    setCsrfToken(me.csrfToken ?? null);
    return me;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setCsrfToken(null);
      return null;
    }
    throw e;
  }
}

export async function login(username: string, password: string): Promise<Me> {
  const me = await unwrap(api.POST('/api/auth/login', { body: { username, password } }));
  setCsrfToken(me.csrfToken ?? null);
  return me;
}

export async function logout(): Promise<void> {
  await call<void>('POST', '/api/auth/logout').catch(() => undefined);
  setCsrfToken(null);
}

/** The current location, to come back to after signing in. */
export function here(): string {
  return window.location.pathname + window.location.search;
}

let leaving = false;
/** To 登录, once: several polls may find the session gone at the same moment. */
export function goToLogin() {
  if (leaving || window.location.pathname === '/login') return;
  leaving = true;
  window.location.assign(`/login?redirect=${encodeURIComponent(here())}`);
}

/** Loads the signed-in user; a missing or lost session goes to 登录 and back afterwards. */
export function AuthProvider({ children, fallback }: { children: ReactNode; fallback: ReactNode }) {
  const qc = useQueryClient();
  const me = useQuery({ queryKey: ['me'], queryFn: fetchMe, staleTime: 60_000, retry: false });
  useEffect(
    () =>
      onUnauthenticated(() => {
        qc.setQueryData(['me'], null);
        goToLogin();
      }),
    [qc],
  );
  const onLogin = window.location.pathname === '/login';
  useEffect(() => {
    if (me.data === null && !onLogin) goToLogin();
  }, [me.data, onLogin]);
  if (me.isPending) return <>{fallback}</>;
  if (me.isError && !onLogin) {
    return <>{fallback}</>;
  }
  return <MeContext.Provider value={me.data ?? null}>{children}</MeContext.Provider>;
}
