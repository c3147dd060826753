import { useRef, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { App } from 'antd';
import { ApiError, newIdempotencyKey, type OrderDetail } from './api/client';

/** 409 codes that say the configuration is missing something, not that the order changed. */
const CONFIG_CONFLICTS = new Set(['NO_AGENT_GROUP']);

/** How often open pages poll (the server answers 304 while nothing changed): a change shows within 2 s with room for a slow answer. */
export const LIVE_MS = 800;

/**
 * One user action on an order. The Idempotency-Key is made on the first click and kept until
 * the server gave a definitive answer, so a double click or a retry after a lost answer never
 * acts twice. A 409 reloads the order and says that it changed.
 */
export function useOrderAction<V>(orderNo: string, fn: (vars: V, idempotencyKey: string) => Promise<OrderDetail>) {
  const qc = useQueryClient();
  const { message } = App.useApp();
  const key = useRef<string | null>(null);
  const [changed, setChanged] = useState<string | null>(null);
  const m = useMutation({
    mutationFn: (vars: V) => {
      key.current ??= newIdempotencyKey();
      return fn(vars, key.current);
    },
    onSuccess: (detail) => {
      key.current = null;
      setChanged(null);
      qc.setQueryData(['order', orderNo], detail);
      void qc.invalidateQueries({ queryKey: ['order-events', orderNo] });
      void qc.invalidateQueries({ queryKey: ['order-deliveries', orderNo] });
      void qc.invalidateQueries({ queryKey: ['orders'] });
    },
    onError: (e) => {
      if (e instanceof ApiError && e.status > 0 && e.status < 500) key.current = null;
      if (e instanceof ApiError && e.status === 409) {
        // A 409 about the config (no active agent group) is not the order changing under the user.
        const text = CONFIG_CONFLICTS.has(e.code) ? e.message : `订单已变化,已重新加载:${e.message}`;
        setChanged(text);
        void message.warning(text);
        void qc.invalidateQueries({ queryKey: ['order', orderNo] });
        void qc.invalidateQueries({ queryKey: ['order-events', orderNo] });
      }
    },
  });
  return { ...m, changed };
}

/** Same key discipline for actions that are not about one order (config, users, resends). */
export function useKeyedMutation<V, R>(fn: (vars: V, idempotencyKey: string) => Promise<R>, onDone?: (r: R) => void) {
  const key = useRef<string | null>(null);
  return useMutation({
    mutationFn: (vars: V) => {
      key.current ??= newIdempotencyKey();
      return fn(vars, key.current);
    },
    onSuccess: (r) => {
      key.current = null;
      onDone?.(r);
    },
    onError: (e) => {
      if (e instanceof ApiError && e.status > 0 && e.status < 500) key.current = null;
    },
  });
}
