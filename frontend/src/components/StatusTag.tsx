import { Tag } from 'antd';
import type { OrderStatus } from '../api/client';

const COLOR: Record<OrderStatus, string> = {
  awaiting_user_form: 'default',
  pending_manual_review: 'orange',
  awaiting_payment: 'gold',
  awaiting_push: 'blue',
  awaiting_ticket: 'geekblue',
  pending_match_review: 'volcano',
  awaiting_user_notification: 'cyan',
  completed: 'green',
  cancelled: 'red',
};

export const STATUS_LABEL: Record<OrderStatus, string> = {
  awaiting_user_form: '待补用户资料',
  pending_manual_review: '待人工审核',
  awaiting_payment: '待代付',
  awaiting_push: '待推单',
  awaiting_ticket: '待出票',
  pending_match_review: '待复核',
  awaiting_user_notification: '待通知用户',
  completed: '已完成',
  cancelled: '已取消',
};

export const STATUSES = Object.keys(STATUS_LABEL) as OrderStatus[];

export function StatusTag({ status, label }: { status: OrderStatus; label?: string }) {
  return (
    <Tag color={COLOR[status]} data-testid="status-tag">
      {label ?? STATUS_LABEL[status]}
    </Tag>
  );
}

const DELIVERY_COLOR: Record<string, string> = {
  pending: 'default',
  sending: 'processing',
  sent: 'green',
  failed_retryable: 'orange',
  failed_permanent: 'red',
};
export const DELIVERY_STATUS_LABEL: Record<string, string> = {
  pending: '待发送',
  sending: '发送中',
  sent: '已发送',
  failed_retryable: '失败,将重试',
  failed_permanent: '失败,不再重试',
};

export function DeliveryStatusTag({ status }: { status: string }) {
  return (
    <Tag color={DELIVERY_COLOR[status] ?? 'default'} title={DELIVERY_STATUS_LABEL[status]}>
      {status}
    </Tag>
  );
}
