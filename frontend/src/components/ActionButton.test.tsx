import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { ActionButton } from './ActionButton';
import type { AvailableAction } from '../api/client';

const actions: AvailableAction[] = [
  { action: 'manual_review', label: '人工审核', enabled: true, reason: null },
  {
    action: 'upload_payment_proof',
    label: '上传付款凭证',
    enabled: false,
    reason: '当前还没有付款记录,先点上面的「确认付款」。',
  },
];

describe('ActionButton', () => {
  it('is enabled and clickable when the server says the action is possible', () => {
    const onClick = vi.fn();
    render(<ActionButton action="manual_review" actions={actions} onClick={onClick} />);
    const b = screen.getByRole('button', { name: '人工审核' });
    expect(b).not.toBeDisabled();
    fireEvent.click(b);
    expect(onClick).toHaveBeenCalledOnce();
  });

  it('is disabled and says why, in the words the server gave', () => {
    const onClick = vi.fn();
    render(<ActionButton action="upload_payment_proof" actions={actions} onClick={onClick} />);
    const b = screen.getByRole('button', { name: '上传付款凭证' });
    expect(b).toBeDisabled();
    fireEvent.click(b);
    expect(onClick).not.toHaveBeenCalled();
    expect(screen.getByTestId('reason-upload_payment_proof').textContent).toBe(
      '当前还没有付款记录,先点上面的「确认付款」。',
    );
  });

  it('is disabled for an action the server did not list', () => {
    render(<ActionButton action="cancel" actions={actions}>取消订单</ActionButton>);
    expect(screen.getByRole('button', { name: '取消订单' })).toBeDisabled();
  });
});
