import { useState } from 'react';
import { Button, Descriptions, Input, Modal, Space, Typography } from 'antd';
import { useQueryClient } from '@tanstack/react-query';
import { api, unwrap, type DeliveryView } from '../api/client';
import { fmtTime } from '../format';
import { useKeyedMutation } from '../hooks';
import { DeliveryStatusTag } from './StatusTag';
import { ErrorText } from './ErrorText';

/** 人工补发, optionally to another target. */
export function ResendButton({ delivery, disabled }: { delivery: DeliveryView; disabled?: boolean }) {
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState('');
  const m = useKeyedMutation(
    (t: string, key: string) =>
      unwrap(
        api.POST('/api/deliveries/{id}/resend', {
          params: { path: { id: delivery.id } },
          body: { target: t.trim() || null },
          headers: { 'Idempotency-Key': key },
        }),
      ),
    () => {
      setOpen(false);
      setTarget('');
      void qc.invalidateQueries({ queryKey: ['order-deliveries'] });
      void qc.invalidateQueries({ queryKey: ['deliveries'] });
      void qc.invalidateQueries({ queryKey: ['order-events'] });
      void qc.invalidateQueries({ queryKey: ['order'] });
    },
  );
  return (
    <>
      <Button size="small" disabled={disabled} onClick={() => setOpen(true)} data-testid={`resend-${delivery.id}`}>
        人工补发
      </Button>
      <Modal
        title="人工补发"
        open={open}
        okText="补发"
        cancelText="取消"
        confirmLoading={m.isPending}
        onOk={() => m.mutate(target)}
        onCancel={() => {
          setOpen(false);
          m.reset();
        }}
        destroyOnHidden
      >
        <Typography.Paragraph>
          当前目标:<Typography.Text code>{delivery.target}</Typography.Text>
        </Typography.Paragraph>
        <Input
          placeholder="换一个目标(留空则发往原目标):mock://…、wecom-app:…、机器人 Webhook URL"
          value={target}
          onChange={(e) => {
            setTarget(e.target.value);
            if (m.isError) m.reset();
          }}
          status={m.error ? 'error' : undefined}
          data-testid="resend-target"
        />
        <ErrorText error={m.error} />
      </Modal>
    </>
  );
}

/** One delivery as on the seed page: type, channel · 重试 N, status, target, message, error. */
export function DeliveryCard({ d, canAct }: { d: DeliveryView; canAct: boolean }) {
  return (
    <div
      style={{ border: '1px solid #f0f0f0', borderRadius: 8, padding: 12, marginBottom: 12 }}
      data-testid="delivery"
    >
      <Space wrap style={{ marginBottom: 8 }}>
        <Typography.Text strong>{d.type}</Typography.Text>
        <Typography.Text type="secondary">
          {d.channel} · 重试 {d.retryCount}
        </Typography.Text>
        <DeliveryStatusTag status={d.status} />
        {canAct ? <ResendButton delivery={d} disabled={d.status === 'sending' || d.status === 'pending'} /> : null}
      </Space>
      <Descriptions size="small" column={1} bordered>
        <Descriptions.Item label="目标">{d.target}</Descriptions.Item>
        <Descriptions.Item label="更新时间">{fmtTime(d.updatedAt)}</Descriptions.Item>
        <Descriptions.Item label="消息内容">
          <span style={{ whiteSpace: 'pre-wrap' }}>{d.messageText}</span>
        </Descriptions.Item>
        {d.lastErrorCode ? <Descriptions.Item label="错误码">{d.lastErrorCode}</Descriptions.Item> : null}
        {d.lastErrorMessage ? <Descriptions.Item label="错误信息">{d.lastErrorMessage}</Descriptions.Item> : null}
        {d.lastErrorHint ? (
          <Descriptions.Item label="怎么处理">
            <Typography.Text type="warning">{d.lastErrorHint}</Typography.Text>
          </Descriptions.Item>
        ) : null}
        <Descriptions.Item label="创建时间">{fmtTime(d.createdAt)}</Descriptions.Item>
      </Descriptions>
    </div>
  );
}
