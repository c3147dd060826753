import { useState, type ReactNode } from 'react';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useQuery } from '@tanstack/react-query';
import {
  Alert,
  Breadcrumb,
  Button,
  Card,
  Collapse,
  Descriptions,
  Empty,
  Image,
  Input,
  Modal,
  Result,
  Select,
  Space,
  Spin,
  Table,
  Tag,
  Typography,
} from 'antd';
import {
  api,
  ApiError,
  unwrap,
  upload,
  type OrderDetail,
  type OrderEventEntry,
} from '../api/client';
import { can, useMe } from '../auth';
import { fmtTime, yuan } from '../format';
import { LIVE_MS, useOrderAction } from '../hooks';
import { ActionButton, findAction } from '../components/ActionButton';
import { StatusTag } from '../components/StatusTag';
import { ErrorText } from '../components/ErrorText';
import { JsonBlock } from '../components/JsonBlock';
import { DeliveryCard } from '../components/Delivery';
import { ImagePicker } from '../components/ImagePicker';

const route = getRouteApi('/orders/$orderNo');

function Section({ title, id, children, extra }: { title: string; id: string; children: ReactNode; extra?: ReactNode }) {
  return (
    <Card title={title} id={id} data-section={title} extra={extra} style={{ marginBottom: 16 }}>
      {children}
    </Card>
  );
}

const Muted = ({ children }: { children: ReactNode }) => (
  <Typography.Paragraph type="secondary" style={{ marginBottom: 8 }}>
    {children}
  </Typography.Paragraph>
);

export default function OrderDetailPage() {
  const { orderNo } = route.useParams();
  const me = useMe();
  const canAct = can(me).act;
  const order = useQuery({
    queryKey: ['order', orderNo],
    queryFn: () => unwrap(api.GET('/api/orders/{orderNo}', { params: { path: { orderNo } } })),
    refetchInterval: LIVE_MS,
  });
  const events = useQuery({
    queryKey: ['order-events', orderNo],
    queryFn: () => unwrap(api.GET('/api/orders/{orderNo}/events', { params: { path: { orderNo } } })),
    refetchInterval: LIVE_MS,
    enabled: order.isSuccess,
  });
  const deliveries = useQuery({
    queryKey: ['order-deliveries', orderNo],
    queryFn: () => unwrap(api.GET('/api/orders/{orderNo}/deliveries', { params: { path: { orderNo } } })),
    refetchInterval: LIVE_MS,
    enabled: order.isSuccess,
  });
  if (order.isPending) return <Spin style={{ display: 'block', marginTop: 80 }} />;
  if (order.isError) {
    const e = order.error;
    return (
      <Result
        status={e instanceof ApiError && e.status === 404 ? '404' : 'error'}
        title={e instanceof ApiError ? e.message : '加载失败'}
        extra={<Link to="/">返回列表</Link>}
      />
    );
  }
  const d = order.data;
  return (
    <div data-testid="order-detail">
      <Breadcrumb items={[{ title: 'Admin' }, { title: '订单详情' }]} />
      <Space style={{ margin: '8px 0 16px', width: '100%', justifyContent: 'space-between' }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }} copyable>
          {d.orderNo}
        </Typography.Title>
        <Link to="/">返回列表</Link>
      </Space>
      {!canAct ? (
        <Alert type="info" showIcon style={{ marginBottom: 16 }} title="只读:当前角色可以查看订单,不能操作。" />
      ) : null}
      <Overview d={d} />
      <KeyStatuses d={d} />
      <Operations d={d} canAct={canAct} />
      <Section title="通知投递" id="deliveries">
        <Muted>展示真实发送结果、错误信息和人工补发入口。</Muted>
        <ErrorText error={deliveries.error} />
        {deliveries.data?.items.length ? (
          [...deliveries.data.items].reverse().map((x) => <DeliveryCard key={x.id} d={x} canAct={canAct} />)
        ) : (
          <Empty description="还没有投递记录" />
        )}
      </Section>
      <Section title="异常概览" id="exception">
        {d.exceptionOverview ? (
          <div data-testid="exception-overview">
            <Typography.Title level={5}>{d.exceptionOverview.title}</Typography.Title>
            <Typography.Paragraph>原因:{d.exceptionOverview.reason}</Typography.Paragraph>
            <Typography.Paragraph>建议动作:{d.exceptionOverview.nextStep}</Typography.Paragraph>
          </div>
        ) : (
          <Typography.Paragraph>当前没有异常。</Typography.Paragraph>
        )}
        <Typography.Paragraph>当前建议:{d.suggestedActionLabel}</Typography.Paragraph>
      </Section>
      <PaymentSection d={d} canAct={canAct} />
      <PushSection d={d} canAct={canAct} />
      <MatchSection d={d} canAct={canAct} />
      <ScreenshotSection d={d} canAct={canAct} />
      <Section title="用户表单" id="user-form">
        {d.userForm ? (
          <Descriptions size="small" column={{ xs: 1, md: 2 }} bordered>
            <Descriptions.Item label="姓名">{d.userForm.name}</Descriptions.Item>
            <Descriptions.Item label="手机号">
              {d.userForm.phoneCountryCode}
              {d.userForm.phone}
            </Descriptions.Item>
            <Descriptions.Item label="证件类型">
              {d.userForm.certificateTypeLabel}({d.userForm.certificateType})
            </Descriptions.Item>
            <Descriptions.Item label="证件号">{d.userForm.certificateNo}</Descriptions.Item>
            {d.userForm.gender ? <Descriptions.Item label="性别">{d.userForm.gender}</Descriptions.Item> : null}
            {d.userForm.birthday ? <Descriptions.Item label="生日">{d.userForm.birthday}</Descriptions.Item> : null}
            <Descriptions.Item label="游玩日">{d.userForm.playDate}</Descriptions.Item>
            <Descriptions.Item label="提交">
              {fmtTime(d.userForm.submittedAt)}(第 {d.userForm.submissions} 次)
            </Descriptions.Item>
          </Descriptions>
        ) : (
          <Typography.Paragraph>
            买家还没有提交资料。表单链接:
            {d.formLink ? (
              <Typography.Text copyable data-testid="form-link">
                {d.formLink}
              </Typography.Text>
            ) : (
              '-'
            )}
          </Typography.Paragraph>
        )}
      </Section>
      <LatestRecords d={d} />
      <Section title="事件流" id="events">
        <ErrorText error={events.error} />
        <EventStream items={events.data?.items ?? []} />
      </Section>
    </div>
  );
}

function Overview({ d }: { d: OrderDetail }) {
  return (
    <Section title="订单概览" id="overview">
      <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 4 }} bordered>
        <Descriptions.Item label="外部订单号">{d.externalOrderNo ?? '-'}</Descriptions.Item>
        <Descriptions.Item label="商品名">
          {d.goodsName ?? (d.unknownGoods ? <Tag color="red">商品未配置:{d.goodsNo}</Tag> : '-')}
        </Descriptions.Item>
        <Descriptions.Item label="票种">{d.ticketType ?? '-'}</Descriptions.Item>
        <Descriptions.Item label="游玩日">{d.playDate ?? '-'}</Descriptions.Item>
        <Descriptions.Item label="支付金额">{yuan(d.paidAmount)}</Descriptions.Item>
        <Descriptions.Item label="应付代下单金额">{yuan(d.payableAmount)}</Descriptions.Item>
        <Descriptions.Item label="订单状态">
          <StatusTag status={d.status} label={d.statusLabel} />
        </Descriptions.Item>
        <Descriptions.Item label="建议动作">{d.suggestedActionLabel}</Descriptions.Item>
      </Descriptions>
      {d.cancelReason ? (
        <Alert type="warning" style={{ marginTop: 8 }} showIcon title={`取消原因:${d.cancelReason}`} />
      ) : null}
    </Section>
  );
}

function KeyStatuses({ d }: { d: OrderDetail }) {
  return (
    <Section title="关键状态" id="key-statuses">
      <ul style={{ margin: 0, paddingLeft: 20 }} data-testid="key-statuses">
        {d.keyStatuses.map((k) => (
          <li key={k.stage} data-stage={k.stage} data-status={k.status}>
            {k.stageLabel}
            {k.stage === 'profit_share' ? k.status : k.statusLabel}
            {k.stage === 'profit_share' ? (
              <Typography.Text type="secondary">({k.statusLabel})</Typography.Text>
            ) : null}
          </li>
        ))}
      </ul>
    </Section>
  );
}

/** A command that needs a note (人工审核 reject, 取消订单, 截图驳回). */
function NoteModal({
  open,
  title,
  label,
  required,
  busy,
  error,
  onOk,
  onCancel,
}: {
  open: boolean;
  title: string;
  label: string;
  required: boolean;
  busy: boolean;
  error: unknown;
  onOk: (note: string) => void;
  onCancel: () => void;
}) {
  const [note, setNote] = useState('');
  const fieldError = error instanceof ApiError ? (error.fieldErrors.note ?? error.fieldErrors.reason) : undefined;
  return (
    <Modal
      title={title}
      open={open}
      okText="提交"
      cancelText="取消"
      confirmLoading={busy}
      okButtonProps={{ disabled: required && !note.trim() }}
      onOk={() => onOk(note)}
      onCancel={onCancel}
      destroyOnHidden
    >
      <Typography.Paragraph>{label}</Typography.Paragraph>
      <Input.TextArea
        rows={3}
        maxLength={500}
        showCount
        value={note}
        onChange={(e) => setNote(e.target.value)}
        status={fieldError ? 'error' : undefined}
        data-testid="note-input"
      />
      {fieldError ? <Typography.Text type="danger">{fieldError}</Typography.Text> : <ErrorText error={error} />}
    </Modal>
  );
}

function Operations({ d, canAct }: { d: OrderDetail; canAct: boolean }) {
  const no = d.orderNo;
  const [modal, setModal] = useState<null | 'approve' | 'reject' | 'cancel'>(null);
  const review = useOrderAction(no, (v: { decision: 'approve' | 'reject'; note: string }, key) =>
    unwrap(
      api.POST('/api/orders/{orderNo}/review', {
        params: { path: { orderNo: no } },
        body: { decision: v.decision, note: v.note || null },
        headers: { 'Idempotency-Key': key },
      }),
    ),
  );
  const cancel = useOrderAction(no, (reason: string, key) =>
    unwrap(
      api.POST('/api/orders/{orderNo}/cancel', {
        params: { path: { orderNo: no } },
        body: { reason },
        headers: { 'Idempotency-Key': key },
      }),
    ),
  );
  const settle = useOrderAction(no, (_: void, key) =>
    unwrap(
      api.POST('/api/orders/{orderNo}/profit-share/settle', {
        params: { path: { orderNo: no } },
        headers: { 'Idempotency-Key': key },
      }),
    ),
  );
  const close = () => {
    setModal(null);
    review.reset();
    cancel.reset();
  };
  const p = d.profitShare;
  return (
    <Section title="订单操作" id="operations">
      <Typography.Paragraph>当前建议动作:{d.suggestedAction}</Typography.Paragraph>
      {canAct ? (
        <Space direction="vertical" style={{ width: '100%' }} data-testid="operation-buttons">
          <Space wrap>
            <Typography.Text strong>人工审核</Typography.Text>
            <ActionButton action="manual_review" actions={d.availableActions} type="primary" onClick={() => setModal('approve')}>
              审核通过
            </ActionButton>
            {findAction(d.availableActions, 'manual_review')?.enabled ? (
              <Button danger onClick={() => setModal('reject')} data-action="manual_review_reject">
                审核拒绝
              </Button>
            ) : null}
          </Space>
          <Space wrap>
            <Typography.Text strong>分润结算</Typography.Text>
            <Typography.Text>
              收入 {yuan(p.revenue)} · 成本 {yuan(p.cost)} · 利润 {yuan(p.profit)} · 状态 {p.status}
            </Typography.Text>
            <ActionButton
              action="settle_profit_share"
              actions={d.availableActions}
              loading={settle.isPending}
              onClick={() => settle.mutate()}
            />
          </Space>
          <ErrorText error={settle.error} />
          <Space wrap>
            <Typography.Text strong>取消订单</Typography.Text>
            <ActionButton action="cancel" actions={d.availableActions} danger onClick={() => setModal('cancel')} />
          </Space>
          {review.changed || cancel.changed || settle.changed ? (
            <Alert type="warning" showIcon title={review.changed ?? cancel.changed ?? settle.changed} />
          ) : null}
        </Space>
      ) : null}
      <NoteModal
        open={modal === 'approve' || modal === 'reject'}
        title={modal === 'reject' ? '人工审核:拒绝' : '人工审核:通过'}
        label={modal === 'reject' ? '拒绝原因(必填,订单将被取消):' : '备注(可选):'}
        required={modal === 'reject'}
        busy={review.isPending}
        error={review.error}
        onOk={(note) =>
          review.mutate({ decision: modal === 'reject' ? 'reject' : 'approve', note }, { onSuccess: close })
        }
        onCancel={close}
      />
      <NoteModal
        open={modal === 'cancel'}
        title="取消订单"
        label="取消原因(必填):"
        required
        busy={cancel.isPending}
        error={cancel.error}
        onOk={(reason) => cancel.mutate(reason, { onSuccess: close })}
        onCancel={close}
      />
    </Section>
  );
}

function PaymentSection({ d, canAct }: { d: OrderDetail; canAct: boolean }) {
  const no = d.orderNo;
  const suggested = d.priceCheck?.settlementAmount ?? d.payableAmount ?? '';
  const [amount, setAmount] = useState<string>(suggested ? Number(suggested).toFixed(2) : '');
  const confirm = useOrderAction(no, (a: string, key) =>
    unwrap(
      api.POST('/api/orders/{orderNo}/payment', {
        params: { path: { orderNo: no } },
        body: { amount: a },
        headers: { 'Idempotency-Key': key },
      }),
    ),
  );
  const proof = useOrderAction(no, (file: File, key) => {
    const form = new FormData();
    form.append('file', file);
    return upload<OrderDetail>(`/api/orders/${encodeURIComponent(no)}/payment/proof`, form, key);
  });
  const amountError = confirm.error instanceof ApiError ? confirm.error.fieldErrors.amount : undefined;
  const proofAction = findAction(d.availableActions, 'upload_payment_proof');
  return (
    <Section title="上传付款凭证" id="payment">
      <Muted>
        先让运营手动扫码付款,再确认付款并上传截图/凭证文件;如果当前凭证有误,可直接重新上传覆盖最新记录。
      </Muted>
      <Space align="start" wrap size="large">
        <div>
          {d.activeQrCode ? (
            <Space direction="vertical">
              <Image
                src={d.activeQrCode.imageUrl}
                width={180}
                alt={`收款码:${d.activeQrCode.label}`}
                data-testid="active-qr"
              />
              <Typography.Text type="secondary">生效二维码:{d.activeQrCode.label}</Typography.Text>
            </Space>
          ) : (
            <Typography.Paragraph>
              当前还没有生效二维码。请先到配置中心上传或登记二维码。
              <br />
              二维码维护入口:<Link to="/config" search={{ tab: 'qr' }}>配置中心 · 二维码</Link>
            </Typography.Paragraph>
          )}
        </div>
        <Space direction="vertical">
          {d.payment ? (
            <Descriptions size="small" column={1} bordered data-testid="payment-record">
              <Descriptions.Item label="已付款">{yuan(d.payment.amount)}</Descriptions.Item>
              <Descriptions.Item label="二维码">{d.payment.qrCodeLabel}</Descriptions.Item>
              <Descriptions.Item label="付款时间">{fmtTime(d.payment.paidAt)}</Descriptions.Item>
              <Descriptions.Item label="确认人">{d.payment.confirmedBy ?? '-'}</Descriptions.Item>
            </Descriptions>
          ) : null}
          {canAct ? (
            <Space wrap align="start">
              <Input
                addonBefore="¥"
                style={{ width: 180 }}
                value={amount}
                onChange={(e) => setAmount(e.target.value)}
                status={amountError ? 'error' : undefined}
                disabled={!findAction(d.availableActions, 'confirm_payment')?.enabled}
                data-testid="payment-amount"
                aria-label="付款金额"
              />
              <ActionButton
                action="confirm_payment"
                actions={d.availableActions}
                type="primary"
                loading={confirm.isPending}
                onClick={() => confirm.mutate(amount.trim())}
              />
            </Space>
          ) : null}
          {amountError ? <Typography.Text type="danger">金额:{amountError}</Typography.Text> : null}
          {!amountError ? <ErrorText error={confirm.error} /> : null}
        </Space>
      </Space>
      <div style={{ marginTop: 16 }}>
        <Typography.Title level={5}>付款凭证</Typography.Title>
        {d.paymentProof ? (
          <Space align="start" wrap>
            <Image src={d.paymentProof.url} width={160} alt="付款凭证" data-testid="payment-proof" />
            <Typography.Text type="secondary">
              上传于 {fmtTime(d.paymentProof.uploadedAt)} · {Math.round(d.paymentProof.size / 1024)} KB
            </Typography.Text>
          </Space>
        ) : !d.payment ? (
          <Typography.Paragraph>当前还没有付款记录,先点上面的「确认付款」。</Typography.Paragraph>
        ) : (
          <Typography.Paragraph>已确认付款,还没有上传付款凭证。</Typography.Paragraph>
        )}
        {canAct ? (
          <div style={{ marginTop: 8 }}>
            {proofAction?.enabled ? (
              <ImagePicker
                key={d.paymentProof?.sha256 ?? 'none'}
                label={proofAction.label}
                busy={proof.isPending}
                onUpload={(f) => proof.mutate(f)}
                testId="proof"
              />
            ) : (
              <ActionButton action="upload_payment_proof" actions={d.availableActions} />
            )}
            <ErrorText error={proof.error} />
          </div>
        ) : null}
      </div>
      {confirm.changed || proof.changed ? (
        <Alert type="warning" showIcon style={{ marginTop: 8 }} title={confirm.changed ?? proof.changed} />
      ) : null}
    </Section>
  );
}

function PushSection({ d, canAct }: { d: OrderDetail; canAct: boolean }) {
  const no = d.orderNo;
  const [group, setGroup] = useState<string | undefined>(d.push?.agentGroupId);
  const groups = useQuery({
    queryKey: ['config', 'agent-groups'],
    queryFn: () => unwrap(api.GET('/api/config/agent-groups')),
    enabled: canAct,
  });
  const push = useOrderAction(no, (g: string | undefined, key) =>
    unwrap(
      api.POST('/api/orders/{orderNo}/push', {
        params: { path: { orderNo: no } },
        body: { agentGroupId: g ?? null },
        headers: { 'Idempotency-Key': key },
      }),
    ),
  );
  const groupError = push.error instanceof ApiError ? push.error.fieldErrors.agentGroupId : undefined;
  return (
    <Section title="推送代理群" id="push">
      <Muted>需要先有付款凭证,再推送给代理处理;若上次失败,可修改目标群后重试。</Muted>
      {d.push ? (
        <Descriptions size="small" column={{ xs: 1, md: 2 }} bordered style={{ marginBottom: 12 }} data-testid="push-record">
          <Descriptions.Item label="代理群">{d.push.agentGroupName}</Descriptions.Item>
          <Descriptions.Item label="目标">{d.push.target}</Descriptions.Item>
          <Descriptions.Item label="推单状态">{d.push.status}</Descriptions.Item>
          <Descriptions.Item label="推送时间">
            {fmtTime(d.push.requestedAt)} · {d.push.requestedBy ?? '-'}
          </Descriptions.Item>
        </Descriptions>
      ) : null}
      {canAct ? (
        <Space wrap align="start">
          <Select
            style={{ width: 240 }}
            placeholder="代理群(默认第一个启用的)"
            allowClear
            value={group}
            onChange={setGroup}
            status={groupError ? 'error' : undefined}
            options={(groups.data ?? []).filter((g) => g.active).map((g) => ({ value: g.id, label: g.name }))}
            data-testid="push-group"
            aria-label="代理群"
          />
          <ActionButton
            action="push_to_agent"
            actions={d.availableActions}
            type="primary"
            loading={push.isPending}
            onClick={() => push.mutate(group)}
          />
        </Space>
      ) : (
        !d.push && <Typography.Paragraph>{findAction(d.availableActions, 'push_to_agent')?.reason}</Typography.Paragraph>
      )}
      {groupError ? <Typography.Text type="danger">代理群:{groupError}</Typography.Text> : <ErrorText error={push.error} />}
      {push.changed ? <Alert type="warning" showIcon style={{ marginTop: 8 }} title={push.changed} /> : null}
    </Section>
  );
}

interface Comparison {
  field: string;
  expected: string;
  found?: string | null;
  ok: boolean;
}
const FIELD_LABEL: Record<string, string> = {
  name: '姓名',
  certificateNo: '证件号',
  playDate: '游玩日',
  ticketType: '票种',
};

function MatchSection({ d, canAct }: { d: OrderDetail; canAct: boolean }) {
  const no = d.orderNo;
  const [rejecting, setRejecting] = useState(false);
  const review = useOrderAction(no, (v: { decision: 'confirm' | 'reject'; note: string }, key) =>
    unwrap(
      api.POST('/api/orders/{orderNo}/screenshot/review', {
        params: { path: { orderNo: no } },
        body: { decision: v.decision, note: v.note || null },
        headers: { 'Idempotency-Key': key },
      }),
    ),
  );
  const s = d.screenshot;
  const matchStatus = d.keyStatuses.find((k) => k.stage === 'screenshot_match')?.status ?? 'not_started';
  return (
    <Section title="异常处理" id="exceptions">
      <Muted>处理推单失败、OCR 不匹配、待复核等异常情况。</Muted>
      <Typography.Paragraph data-testid="match-status">截图匹配状态:{matchStatus}</Typography.Paragraph>
      <Typography.Paragraph>
        异常/匹配原因:{s?.reasonLabels.length ? s.reasonLabels.join(';') : '-'}
      </Typography.Paragraph>
      {canAct ? (
        <Space wrap>
          <ActionButton
            action="review_screenshot_match"
            actions={d.availableActions}
            type="primary"
            loading={review.isPending}
            onClick={() => review.mutate({ decision: 'confirm', note: '' })}
          >
            确认匹配
          </ActionButton>
          {findAction(d.availableActions, 'review_screenshot_match')?.enabled ? (
            <Button danger onClick={() => setRejecting(true)} data-action="review_screenshot_reject">
              驳回,请代理重新出票截图
            </Button>
          ) : null}
        </Space>
      ) : null}
      {!rejecting ? <ErrorText error={review.error} /> : null}
      {review.changed ? <Alert type="warning" showIcon style={{ marginTop: 8 }} title={review.changed} /> : null}
      <NoteModal
        open={rejecting}
        title="驳回截图"
        label="驳回原因(必填):"
        required
        busy={review.isPending}
        error={review.error}
        onOk={(note) => review.mutate({ decision: 'reject', note }, { onSuccess: () => setRejecting(false) })}
        onCancel={() => {
          setRejecting(false);
          review.reset();
        }}
      />
    </Section>
  );
}

function ScreenshotSection({ d, canAct }: { d: OrderDetail; canAct: boolean }) {
  const no = d.orderNo;
  const shot = useOrderAction(no, (file: File, key) => {
    const form = new FormData();
    form.append('file', file);
    return upload<OrderDetail>(`/api/orders/${encodeURIComponent(no)}/screenshot`, form, key);
  });
  const s = d.screenshot;
  const comparisons = (Array.isArray(s?.comparisons) ? s?.comparisons : []) as Comparison[];
  const action = findAction(d.availableActions, 'upload_screenshot');
  return (
    <Section title="截图上传 + OCR" id="screenshot">
      <Muted>上传代理商截图后,系统会先走 OCR 识别,再进入自动匹配或人工复核。</Muted>
      {s ? (
        <Space align="start" wrap size="large">
          <Image src={s.image.url} width={200} alt="代理截图" data-testid="screenshot-image" />
          <Space direction="vertical" style={{ minWidth: 320 }}>
            <Typography.Text>
              识别引擎:{s.ocrEngine ?? '识别中'} · 置信度:{s.confidence != null ? s.confidence.toFixed(2) : '-'} · 状态:
              {s.status}
            </Typography.Text>
            <Typography.Text strong>OCR 文本</Typography.Text>
            <pre style={{ background: '#f6f8fa', padding: 8, margin: 0, whiteSpace: 'pre-wrap' }} data-testid="ocr-text">
              {s.ocrText ?? '识别中…'}
            </pre>
            <Table<Comparison>
              size="small"
              rowKey="field"
              pagination={false}
              dataSource={comparisons}
              data-testid="comparisons"
              columns={[
                { title: '字段', dataIndex: 'field', render: (f: string) => FIELD_LABEL[f] ?? f },
                { title: '订单', dataIndex: 'expected' },
                { title: '截图', dataIndex: 'found', render: (v?: string | null) => v ?? '(未识别)' },
                {
                  title: '结果',
                  dataIndex: 'ok',
                  render: (ok: boolean) => (ok ? <Tag color="green">一致</Tag> : <Tag color="red">不符</Tag>),
                },
              ]}
            />
          </Space>
        </Space>
      ) : (
        <Typography.Paragraph>当前还没有代理商截图。</Typography.Paragraph>
      )}
      {canAct ? (
        <div style={{ marginTop: 12 }}>
          {action?.enabled ? (
            <ImagePicker
              key={s?.image.sha256 ?? 'none'}
              label={action.label}
              busy={shot.isPending}
              onUpload={(f) => shot.mutate(f)}
              testId="screenshot"
            />
          ) : (
            <ActionButton action="upload_screenshot" actions={d.availableActions} />
          )}
          <ErrorText error={shot.error} />
          {shot.changed ? <Alert type="warning" showIcon style={{ marginTop: 8 }} title={shot.changed} /> : null}
        </div>
      ) : null}
    </Section>
  );
}

function LatestRecords({ d }: { d: OrderDetail }) {
  const r = d.latestRecords;
  const line = (label: string, rec?: { summary: string; by: string; at: string } | null) => (
    <li>
      {label}:{rec ? `${rec.summary}(${rec.by} · ${fmtTime(rec.at)})` : '-'}
    </li>
  );
  return (
    <Section title="最新记录" id="latest">
      <ul style={{ margin: 0, paddingLeft: 20 }}>
        {line('最新审核', r.review)}
        {line('最新付款', r.payment)}
        {line('最新推单', r.push)}
        {line('最新截图', r.screenshot)}
        {line('最新分润', r.profitShare)}
      </ul>
    </Section>
  );
}

function KeyValues({ title, values }: { title: string; values: Record<string, string> }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return null;
  return (
    <div style={{ flex: 1, minWidth: 220 }}>
      <Typography.Text strong>{title}</Typography.Text>
      <Descriptions size="small" column={1} bordered>
        {entries.map(([k, v]) => (
          <Descriptions.Item key={k} label={k}>
            {v}
          </Descriptions.Item>
        ))}
      </Descriptions>
    </div>
  );
}

export function EventStream({ items }: { items: OrderEventEntry[] }) {
  if (items.length === 0) return <Empty description="还没有事件" />;
  return (
    <div data-testid="event-stream">
      {items.map((e) => (
        <div
          key={e.sequence}
          data-testid="event"
          data-event={e.eventType}
          style={{ borderBottom: '1px solid #f0f0f0', padding: '12px 0' }}
        >
          <Typography.Text strong>{e.eventType}</Typography.Text>
          <br />
          <Typography.Text type={e.result === 'rejected' ? 'danger' : 'secondary'}>
            source: {e.source} · result: {e.result}
          </Typography.Text>
          <br />
          <Typography.Text type="secondary">
            创建:{fmtTime(e.createdAt)} 处理:{fmtTime(e.processedAt)}
          </Typography.Text>
          {e.errorCode ? <div>错误码:{e.errorCode}</div> : null}
          {e.errorMessage ? <div>错误信息:{e.errorMessage}</div> : null}
          {Object.keys(e.before).length || Object.keys(e.after).length ? (
            <div style={{ display: 'flex', gap: 16, flexWrap: 'wrap', marginTop: 8 }}>
              <KeyValues title="处理前状态" values={e.before} />
              <KeyValues title="处理后状态" values={e.after} />
            </div>
          ) : null}
          <Collapse
            ghost
            size="small"
            items={[{ key: 'p', label: '查看原始载荷', children: <JsonBlock value={e.payload} /> }]}
          />
        </div>
      ))}
    </div>
  );
}
