import { describe, expect, it } from 'vitest';
import { act, renderHook, waitFor } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { App } from 'antd';
import type { ReactNode } from 'react';
import { ApiError, type OrderDetail } from './api/client';
import { useOrderAction } from './hooks';

function wrapper(qc: QueryClient) {
  return ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={qc}>
      <App>{children}</App>
    </QueryClientProvider>
  );
}

describe('useOrderAction', () => {
  it('sends one Idempotency-Key for a double click and a fresh one for the next action', async () => {
    const qc = new QueryClient();
    const keys: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { result } = renderHook(
      () =>
        useOrderAction('XY1', async (_: void, key) => {
          keys.push(key);
          await gate;
          return { orderNo: 'XY1' } as OrderDetail;
        }),
      { wrapper: wrapper(qc) },
    );
    act(() => {
      result.current.mutate();
      result.current.mutate();
    });
    release();
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    expect(keys.length).toBe(2);
    expect(keys[0]).toBe(keys[1]);
    expect(qc.getQueryData(['order', 'XY1'])).toEqual({ orderNo: 'XY1' });
    act(() => result.current.mutate());
    await waitFor(() => expect(keys.length).toBe(3));
    expect(keys[2]).not.toBe(keys[0]);
  });

  it('reloads the order after a 409 and says that it changed', async () => {
    const qc = new QueryClient();
    qc.setQueryData(['order', 'XY2'], { orderNo: 'XY2', version: 3 });
    const { result } = renderHook(
      () =>
        useOrderAction('XY2', async () => {
          throw new ApiError(409, 'INVALID_STATE', '订单当前不在待人工审核状态');
        }),
      { wrapper: wrapper(qc) },
    );
    act(() => result.current.mutate(undefined as never));
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.changed).toBe('订单已变化,已重新加载:订单当前不在待人工审核状态');
    expect(qc.getQueryState(['order', 'XY2'])?.isInvalidated).toBe(true);
  });

  it('says what is missing, not that the order changed, for a 409 about the config', async () => {
    const qc = new QueryClient();
    const { result } = renderHook(
      () =>
        useOrderAction('XY3', async () => {
          throw new ApiError(409, 'NO_AGENT_GROUP', '当前没有启用的代理群,请先在配置中心添加');
        }),
      { wrapper: wrapper(qc) },
    );
    act(() => result.current.mutate(undefined as never));
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.changed).toBe('当前没有启用的代理群,请先在配置中心添加');
  });
});
