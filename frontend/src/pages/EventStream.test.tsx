import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { EventStream } from './OrderDetailPage';
import type { OrderEventEntry } from '../api/client';

const ev = (over: Partial<OrderEventEntry>): OrderEventEntry => ({
  sequence: 1,
  eventType: 'user_form_submitted',
  eventVersion: '1',
  source: 'public',
  result: 'accepted',
  createdAt: '2026-03-21T03:52:54Z',
  processedAt: '2026-03-21T03:52:54Z',
  requestId: 'r',
  errorCode: null,
  errorMessage: null,
  before: {},
  after: {},
  payload: {},
  ...over,
});

describe('EventStream (事件流)', () => {
  it('shows each event as on the seed page: name, source and result, Shanghai times, error, before/after', () => {
    render(
      <EventStream
        items={[
          ev({
            sequence: 5,
            eventType: 'user_price_exception_notified',
            source: 'system',
            result: 'rejected',
            errorCode: 'UNEXPECTED_ERROR',
            errorMessage: 'fetch failed',
            before: { orderStatus: '待人工审核' },
            after: { orderStatus: '待人工审核' },
            payload: { reason: 'price_check_failed' } as unknown as OrderEventEntry['payload'],
          }),
          ev({ sequence: 3 }),
        ]}
      />,
    );
    const events = screen.getAllByTestId('event');
    expect(events.map((e) => e.getAttribute('data-event'))).toEqual([
      'user_price_exception_notified',
      'user_form_submitted',
    ]);
    expect(events[0].textContent).toContain('source: system · result: rejected');
    expect(events[0].textContent).toContain('创建:2026/03/21 11:52:54');
    expect(events[0].textContent).toContain('错误码:UNEXPECTED_ERROR');
    expect(events[0].textContent).toContain('错误信息:fetch failed');
    expect(events[0].textContent).toContain('处理前状态');
    expect(events[0].textContent).toContain('处理后状态');
    expect(events[1].textContent).not.toContain('处理前状态');
  });

  it('opens the raw payload as formatted JSON on demand', () => {
    render(<EventStream items={[ev({ payload: { certificateType: 'id_card', phone: '18852341234' } as unknown as OrderEventEntry['payload'] })]} />);
    expect(screen.queryByText(/"certificateType": "id_card"/)).toBeNull();
    fireEvent.click(screen.getByText('查看原始载荷'));
    expect(screen.getByText(/"certificateType": "id_card"/).textContent).toContain('{\n  "certificateType"');
  });
});
