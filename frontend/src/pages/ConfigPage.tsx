import { useState } from 'react';
import { getRouteApi, useNavigate } from '@tanstack/react-router';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App,
  Badge,
  Button,
  Calendar,
  Form,
  Image,
  Input,
  Select,
  Space,
  Switch,
  Table,
  Tabs,
  Tag,
  Typography,
} from 'antd';
import { api, unwrap, upload, type Schemas } from '../api/client';
import { can, useMe } from '../auth';
import { dayjs, fmtTime, yuan } from '../format';
import { useKeyedMutation } from '../hooks';
import { ErrorText, fieldData } from '../components/ErrorText';
import { ImagePicker } from '../components/ImagePicker';
import { JsonBlock } from '../components/JsonBlock';
import { SEASON_LABEL, seasonFor, type Season } from '../season';

const route = getRouteApi('/config');
const SEASON_COLOR: Record<Season, string> = { low: 'blue', mid: 'gold', high: 'red' };

function useConfig<T>(key: string, fn: () => Promise<T>) {
  return useQuery({ queryKey: ['config', key], queryFn: fn });
}

export default function ConfigPage() {
  const { tab } = route.useSearch();
  const navigate = useNavigate({ from: '/config' });
  const admin = can(useMe()).admin;
  const items = [
    { key: 'goods', label: '商品', children: <GoodsTab admin={admin} /> },
    { key: 'ticket-types', label: '票种', children: <TicketTypesTab admin={admin} /> },
    { key: 'calendar', label: '季节日历', children: <CalendarTab admin={admin} /> },
    { key: 'prices', label: '价格表', children: <PricesTab admin={admin} /> },
    { key: 'settings', label: '费率', children: <SettingsTab admin={admin} /> },
    { key: 'qr', label: '二维码', children: <QrTab admin={admin} /> },
    { key: 'agent-groups', label: '代理群', children: <AgentGroupsTab admin={admin} /> },
    { key: 'targets', label: '通知目标', children: <TargetsTab admin={admin} /> },
    { key: 'history', label: '变更记录', children: <HistoryTab /> },
  ];
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={3} style={{ margin: 0 }}>
        配置中心
      </Typography.Title>
      {!admin ? (
        <Alert type="info" showIcon title="只读:只有管理员可以修改配置。" data-testid="config-readonly" />
      ) : null}
      <Tabs
        activeKey={tab ?? 'goods'}
        onChange={(k) => void navigate({ search: { tab: k } })}
        items={items}
        destroyOnHidden
      />
    </Space>
  );
}


/** An admin's create/update form above a table: field errors from a 422 land on their fields. */
function AdminForm<V extends object>({
  admin,
  submit,
  label,
  children,
  toBody = (v) => v,
}: {
  admin: boolean;
  submit: (body: V, key: string) => Promise<unknown>;
  label: string;
  children: React.ReactNode;
  toBody?: (v: V) => V;
}) {
  const qc = useQueryClient();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const m = useKeyedMutation(
    (v: V, key: string) => submit(toBody(v), key),
    () => {
      form.resetFields();
      void message.success('已保存');
      void qc.invalidateQueries({ queryKey: ['config'] });
    },
  );
  if (!admin) return null;
  return (
    <>
      <Form
        form={form}
        layout="inline"
        style={{ marginBottom: 12, rowGap: 8 }}
        onFinish={(v: V) => m.mutate(v, { onError: (e) => form.setFields(fieldData(e)) })}
      >
        {children}
        <Button htmlType="submit" loading={m.isPending}>
          {label}
        </Button>
      </Form>
      {m.error && fieldData(m.error).length === 0 ? <ErrorText error={m.error} /> : null}
    </>
  );
}

function GoodsTab({ admin }: { admin: boolean }) {
  const q = useConfig('goods', () => unwrap(api.GET('/api/config/goods')));
  const types = useConfig('ticket-types', () => unwrap(api.GET('/api/config/ticket-types')));
  return (
    <>
      <AdminForm<Schemas['GoodsCreate'] & { price: string }>
        admin={admin}
        label="新增 / 更新商品"
        submit={async (v, key) => {
          const { price, goodsNo, ...rest } = v;
          const body = { ...rest, priceCent: Math.round(Number(price) * 100) };
          const exists = (q.data ?? []).some((g) => g.goodsNo === goodsNo.trim());
          return exists
            ? unwrap(
                api.PUT('/api/config/goods/{goodsNo}', {
                  params: { path: { goodsNo: goodsNo.trim() } },
                  body,
                  headers: { 'Idempotency-Key': key },
                }),
              )
            : unwrap(api.POST('/api/config/goods', { body: { ...body, goodsNo }, headers: { 'Idempotency-Key': key } }));
        }}
      >
        <Form.Item name="goodsNo" rules={[{ required: true, message: '请填写商品编码' }]}>
          <Input placeholder="商品编码(闲管家 goods_no)" style={{ width: 200 }} />
        </Form.Item>
        <Form.Item name="goodsName">
          <Input placeholder="商品名(默认同编码)" style={{ width: 180 }} />
        </Form.Item>
        <Form.Item name="ticketType" rules={[{ required: true, message: '请选择票种' }]}>
          <Select
            placeholder="票种"
            style={{ width: 160 }}
            options={(types.data ?? []).map((t) => ({ value: t.name, label: t.name }))}
          />
        </Form.Item>
        <Form.Item name="seasonLabel" rules={[{ required: true, message: '请选择季节' }]}>
          <Select placeholder="季节" style={{ width: 100 }} options={['淡季', '平季', '旺季'].map((v) => ({ value: v, label: v }))} />
        </Form.Item>
        <Form.Item name="price" rules={[{ required: true, message: '请填写售价' }]}>
          <Input prefix="¥" placeholder="售价" style={{ width: 120 }} />
        </Form.Item>
      </AdminForm>
      <ErrorText error={q.error} />
      <Table<Schemas['GoodsItem']>
        rowKey="goodsNo"
        size="small"
        loading={q.isPending}
        dataSource={q.data ?? []}
        pagination={false}
        columns={[
          { title: '商品编码', dataIndex: 'goodsNo' },
          { title: '商品名', dataIndex: 'goodsName' },
          { title: '票种', dataIndex: 'ticketType' },
          { title: '季节', dataIndex: 'seasonLabel' },
          { title: '售价', dataIndex: 'priceCent', render: (c: number) => yuan((c / 100).toFixed(2)) },
          { title: '库存', dataIndex: 'stock' },
          { title: '状态', dataIndex: 'status', render: (s: number) => (s === 1 ? '上架' : '下架') },
          { title: '更新时间', dataIndex: 'updatedAt', render: fmtTime },
        ]}
      />
    </>
  );
}

function TicketTypesTab({ admin }: { admin: boolean }) {
  const q = useConfig('ticket-types', () => unwrap(api.GET('/api/config/ticket-types')));
  return (
    <>
      <AdminForm<{ name: string; description?: string }>
        admin={admin}
        label="新增 / 更新票种"
        submit={(v, key) =>
          unwrap(
            api.PUT('/api/config/ticket-types/{name}', {
              params: { path: { name: v.name.trim() } },
              body: { description: v.description ?? null },
              headers: { 'Idempotency-Key': key },
            }),
          )
        }
      >
        <Form.Item name="name" rules={[{ required: true, message: '请填写票种' }]}>
          <Input placeholder="票种,例如 初级道 3 小时" style={{ width: 220 }} />
        </Form.Item>
        <Form.Item name="description">
          <Input placeholder="说明" style={{ width: 280 }} />
        </Form.Item>
      </AdminForm>
    <Table<Schemas['TicketType']>
      rowKey="name"
      size="small"
      loading={q.isPending}
      dataSource={q.data ?? []}
      pagination={false}
      columns={[
        { title: '票种', dataIndex: 'name' },
        { title: '说明', dataIndex: 'description' },
        { title: '更新时间', dataIndex: 'updatedAt', render: fmtTime },
      ]}
    />
    </>
  );
}

function CalendarTab({ admin }: { admin: boolean }) {
  const q = useConfig('season-calendar', () => unwrap(api.GET('/api/config/season-calendar')));
  if (!q.data) return <ErrorText error={q.error} />;
  const cal = q.data;
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Space>
        {(['low', 'mid', 'high'] as Season[]).map((s) => (
          <Tag key={s} color={SEASON_COLOR[s]}>
            {SEASON_LABEL[s]}
          </Tag>
        ))}
        <Typography.Text type="secondary">未被规则覆盖的日期:{SEASON_LABEL[cal.default]}</Typography.Text>
      </Space>
      <Calendar
        fullscreen={false}
        style={{ maxWidth: 520 }}
        fullCellRender={(date) => {
          const s = seasonFor(cal, date.format('YYYY-MM-DD'));
          return (
            <div style={{ textAlign: 'center' }} title={SEASON_LABEL[s]} data-season={s}>
              <div>{date.date()}</div>
              <Badge color={SEASON_COLOR[s]} text={<span style={{ fontSize: 10 }}>{SEASON_LABEL[s]}</span>} />
            </div>
          );
        }}
        defaultValue={dayjs()}
      />
      <Typography.Title level={5}>规则</Typography.Title>
      {admin ? <CalendarEditor cal={cal} /> : <JsonBlock value={cal.rules} />}
    </Space>
  );
}

/** The calendar as JSON for admins: each rule `{kind: recurring|dated, from, to, season}`. */
function CalendarEditor({ cal }: { cal: Schemas['SeasonCalendar'] }) {
  const qc = useQueryClient();
  const { message } = App.useApp();
  const [text, setText] = useState(JSON.stringify(cal, null, 2));
  const [parseError, setParseError] = useState<string | null>(null);
  const m = useKeyedMutation(
    (body: Schemas['SeasonCalendar'], key: string) =>
      unwrap(api.PUT('/api/config/season-calendar', { body, headers: { 'Idempotency-Key': key } })),
    () => {
      void message.success('季节日历已保存');
      void qc.invalidateQueries({ queryKey: ['config'] });
    },
  );
  return (
    <Space direction="vertical" style={{ width: '100%', maxWidth: 720 }}>
      <Input.TextArea
        rows={12}
        value={text}
        onChange={(e) => setText(e.target.value)}
        style={{ fontFamily: 'monospace' }}
        aria-label="季节日历 JSON"
      />
      <Button
        type="primary"
        loading={m.isPending}
        onClick={() => {
          try {
            const body = JSON.parse(text) as Schemas['SeasonCalendar'];
            setParseError(null);
            m.mutate(body);
          } catch {
            setParseError('不是合法的 JSON,请检查括号和引号');
          }
        }}
      >
        保存季节日历
      </Button>
      {parseError ? <Typography.Text type="danger">{parseError}</Typography.Text> : <ErrorText error={m.error} />}
    </Space>
  );
}

function PriceCell({ p, admin }: { p: Schemas['PriceEntry']; admin: boolean }) {
  const qc = useQueryClient();
  const { message } = App.useApp();
  const [value, setValue] = useState(p.settlementAmount);
  const m = useKeyedMutation(
    (v: string, key: string) =>
      unwrap(
        api.PUT('/api/config/price-table/{ticketType}/{season}', {
          params: { path: { ticketType: p.ticketType, season: p.season } },
          body: { settlementAmount: v },
          headers: { 'Idempotency-Key': key },
        }),
      ),
    (saved) => {
      void message.success(`已保存:${saved.ticketType} ${saved.seasonLabel} 结算价 ${yuan(saved.settlementAmount)}`);
      void qc.invalidateQueries({ queryKey: ['config'] });
    },
  );
  if (!admin) return <>{yuan(p.settlementAmount)}</>;
  const err = m.error ? fieldData(m.error)[0]?.errors[0] : undefined;
  return (
    <Space direction="vertical" size={0}>
      <Space.Compact>
        <Input
          prefix="¥"
          style={{ width: 140 }}
          value={value}
          onChange={(e) => setValue(e.target.value)}
          status={m.error ? 'error' : undefined}
          aria-label={`${p.ticketType} ${p.seasonLabel} 结算价`}
          data-testid={`price-${p.ticketType}-${p.season}`}
        />
        <Button
          loading={m.isPending}
          disabled={value === p.settlementAmount}
          onClick={() => m.mutate(value.trim())}
          data-testid={`price-save-${p.ticketType}-${p.season}`}
        >
          保存
        </Button>
      </Space.Compact>
      {m.error ? <Typography.Text type="danger">{err ?? (m.error as Error).message}</Typography.Text> : null}
    </Space>
  );
}

function PricesTab({ admin }: { admin: boolean }) {
  const q = useConfig('prices', () => unwrap(api.GET('/api/config/price-table')));
  return (
    <>
      <Typography.Paragraph type="secondary">
        结算价:代理向我们收取的价格,按票种和游玩日所在季节取。价格校验要求应付代下单金额不低于结算价。
      </Typography.Paragraph>
      <ErrorText error={q.error} />
      <Table<Schemas['PriceEntry']>
        rowKey={(p) => `${p.ticketType}/${p.season}`}
        size="small"
        loading={q.isPending}
        dataSource={q.data ?? []}
        pagination={false}
        columns={[
          { title: '票种', dataIndex: 'ticketType' },
          { title: '季节', dataIndex: 'seasonLabel' },
          {
            title: '结算价',
            render: (_: unknown, p) => <PriceCell key={p.updatedAt} p={p} admin={admin} />,
          },
          { title: '更新时间', dataIndex: 'updatedAt', render: fmtTime },
        ]}
      />
    </>
  );
}

function SettingsTab({ admin }: { admin: boolean }) {
  const qc = useQueryClient();
  const q = useConfig('settings', () => unwrap(api.GET('/api/config/settings')));
  const [form] = Form.useForm();
  const m = useKeyedMutation(
    (v: { feeRate: string; playDateHorizonDays: number }, key: string) =>
      unwrap(
        api.PUT('/api/config/settings', {
          body: { feeRate: v.feeRate, playDateHorizonDays: Number(v.playDateHorizonDays) },
          headers: { 'Idempotency-Key': key },
        }),
      ),
    () => void qc.invalidateQueries({ queryKey: ['config'] }),
  );
  if (!q.data) return <ErrorText error={q.error} />;
  return (
    <Form
      form={form}
      layout="vertical"
      style={{ maxWidth: 360 }}
      initialValues={q.data}
      disabled={!admin}
      onFinish={(v) =>
        m.mutate(v, {
          onError: (e) => form.setFields(fieldData(e)),
        })
      }
    >
      <Form.Item label="平台费率(应付代下单金额 = 支付金额 × (1 − 费率))" name="feeRate" extra="例如 0.02">
        <Input />
      </Form.Item>
      <Form.Item label="可选游玩日范围(天)" name="playDateHorizonDays">
        <Input type="number" />
      </Form.Item>
      {admin ? (
        <Button type="primary" htmlType="submit" loading={m.isPending}>
          保存
        </Button>
      ) : null}
      {m.isSuccess ? <Typography.Text type="success"> 已保存</Typography.Text> : null}
      {m.error && fieldData(m.error).length === 0 ? <ErrorText error={m.error} /> : null}
    </Form>
  );
}

function QrTab({ admin }: { admin: boolean }) {
  const qc = useQueryClient();
  const q = useConfig('qr-codes', () => unwrap(api.GET('/api/config/qr-codes')));
  const [label, setLabel] = useState('');
  const add = useKeyedMutation(
    (file: File, key: string) => {
      const form = new FormData();
      form.append('label', label.trim());
      form.append('file', file);
      return upload<Schemas['QrCode']>('/api/config/qr-codes', form, key);
    },
    () => {
      setLabel('');
      void qc.invalidateQueries({ queryKey: ['config'] });
    },
  );
  const activate = useKeyedMutation(
    (id: string, key: string) =>
      unwrap(
        api.POST('/api/config/qr-codes/{id}/activate', {
          params: { path: { id } },
          headers: { 'Idempotency-Key': key },
        }),
      ),
    () => void qc.invalidateQueries({ queryKey: ['config'] }),
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      {admin ? (
        <Space direction="vertical">
          <Typography.Text strong>上传二维码</Typography.Text>
          <Input
            placeholder="名称,例如:支付宝收款码"
            value={label}
            onChange={(e) => setLabel(e.target.value)}
            style={{ width: 280 }}
            data-testid="qr-label"
          />
          <ImagePicker label="上传" busy={add.isPending} disabled={!label.trim()} onUpload={(f) => add.mutate(f)} testId="qr" />
          <ErrorText error={add.error} />
        </Space>
      ) : null}
      <ErrorText error={q.error ?? activate.error} />
      <Table<Schemas['QrCode']>
        rowKey="id"
        size="small"
        loading={q.isPending}
        dataSource={q.data ?? []}
        pagination={false}
        columns={[
          {
            title: '预览',
            render: (_: unknown, c) => <Image width={64} src={`/api/config/qr-codes/${c.id}/image`} alt={c.label} />,
          },
          { title: '名称', dataIndex: 'label' },
          { title: '状态', dataIndex: 'active', render: (a: boolean) => (a ? <Tag color="green">生效中</Tag> : '未生效') },
          { title: '上传', render: (_: unknown, c) => `${fmtTime(c.createdAt)} · ${c.createdBy}` },
          ...(admin
            ? [
                {
                  title: '操作',
                  render: (_: unknown, c: Schemas['QrCode']) => (
                    <Button size="small" disabled={c.active} onClick={() => activate.mutate(c.id)}>
                      设为生效
                    </Button>
                  ),
                },
              ]
            : []),
        ]}
      />
    </Space>
  );
}

function AgentGroupsTab({ admin }: { admin: boolean }) {
  const qc = useQueryClient();
  const q = useConfig('agent-groups', () => unwrap(api.GET('/api/config/agent-groups')));
  const [form] = Form.useForm();
  const create = useKeyedMutation(
    (v: { name: string; wecomTarget: string }, key: string) =>
      unwrap(api.POST('/api/config/agent-groups', { body: v, headers: { 'Idempotency-Key': key } })),
    () => {
      form.resetFields();
      void qc.invalidateQueries({ queryKey: ['config'] });
    },
  );
  const toggle = useKeyedMutation(
    (g: Schemas['AgentGroup'], key: string) =>
      unwrap(
        api.PUT('/api/config/agent-groups/{id}', {
          params: { path: { id: g.id } },
          body: { name: g.name, wecomTarget: g.wecomTarget, active: !g.active },
          headers: { 'Idempotency-Key': key },
        }),
      ),
    () => void qc.invalidateQueries({ queryKey: ['config'] }),
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      {admin ? (
        <Form
          form={form}
          layout="inline"
          onFinish={(v) => create.mutate(v, { onError: (e) => form.setFields(fieldData(e)) })}
        >
          <Form.Item name="name" rules={[{ required: true, message: '请填写群名' }]}>
            <Input placeholder="群名" />
          </Form.Item>
          <Form.Item name="wecomTarget" rules={[{ required: true, message: '请填写目标' }]}>
            <Input placeholder="wecom-app:群ID 或 机器人 Webhook URL" style={{ width: 320 }} />
          </Form.Item>
          <Button htmlType="submit" loading={create.isPending}>
            添加代理群
          </Button>
        </Form>
      ) : null}
      {create.error && fieldData(create.error).length === 0 ? <ErrorText error={create.error} /> : null}
      <ErrorText error={q.error ?? toggle.error} />
      <Table<Schemas['AgentGroup']>
        rowKey="id"
        size="small"
        loading={q.isPending}
        dataSource={q.data ?? []}
        pagination={false}
        columns={[
          { title: '群名', dataIndex: 'name' },
          { title: '目标', dataIndex: 'wecomTarget' },
          {
            title: '启用',
            render: (_: unknown, g) => (
              <Switch checked={g.active} disabled={!admin} loading={toggle.isPending} onChange={() => toggle.mutate(g)} />
            ),
          },
          { title: '更新时间', dataIndex: 'updatedAt', render: fmtTime },
        ]}
      />
    </Space>
  );
}

function TargetsTab({ admin }: { admin: boolean }) {
  const q = useConfig('targets', () => unwrap(api.GET('/api/config/notification-targets')));
  return (
    <>
      <AdminForm<Schemas['NotificationTargetInput']>
        admin={admin}
        label="添加通知目标"
        submit={(body, key) =>
          unwrap(api.POST('/api/config/notification-targets', { body, headers: { 'Idempotency-Key': key } }))
        }
      >
        <Form.Item name="purpose" initialValue="price_alert">
          <Select style={{ width: 160 }} options={[{ value: 'price_alert', label: '价格异常提醒' }]} />
        </Form.Item>
        <Form.Item name="name" rules={[{ required: true, message: '请填写名称' }]}>
          <Input placeholder="名称" />
        </Form.Item>
        <Form.Item name="target" rules={[{ required: true, message: '请填写目标' }]}>
          <Input placeholder="wecom-app:群ID 或 机器人 Webhook URL" style={{ width: 320 }} />
        </Form.Item>
      </AdminForm>
    <Table<Schemas['NotificationTarget']>
      rowKey="id"
      size="small"
      loading={q.isPending}
      dataSource={q.data ?? []}
      pagination={false}
      columns={[
        { title: '用途', dataIndex: 'purpose' },
        { title: '名称', dataIndex: 'name' },
        { title: '目标', dataIndex: 'target' },
        { title: '启用', dataIndex: 'active', render: (a: boolean) => (a ? '是' : '否') },
        { title: '更新时间', dataIndex: 'updatedAt', render: fmtTime },
      ]}
    />
    </>
  );
}

function HistoryTab() {
  const q = useConfig('history', () => unwrap(api.GET('/api/config/history', { params: { query: { limit: 100 } } })));
  return (
    <Table<Schemas['ConfigChange']>
      rowKey="id"
      size="small"
      loading={q.isPending}
      dataSource={q.data?.items ?? []}
      pagination={{ pageSize: 20 }}
      expandable={{
        expandedRowRender: (c) => (
          <Space align="start" wrap>
            <div>
              <Typography.Text strong>修改前</Typography.Text>
              <JsonBlock value={c.before ?? null} />
            </div>
            <div>
              <Typography.Text strong>修改后</Typography.Text>
              <JsonBlock value={c.after ?? null} />
            </div>
          </Space>
        ),
      }}
      columns={[
        { title: '时间', dataIndex: 'changedAt', render: fmtTime },
        { title: '对象', dataIndex: 'entity' },
        { title: '键', dataIndex: 'entityKey' },
        { title: '操作', dataIndex: 'action' },
        { title: '操作人', dataIndex: 'actor' },
      ]}
    />
  );
}
