import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Input, Select, Space, Table, Typography } from 'antd';
import { api, unwrap, type DeliveryView } from '../api/client';
import { can, useMe } from '../auth';
import { fmtTime } from '../format';
import { LIVE_MS } from '../hooks';
import { DELIVERY_STATUS_LABEL, DeliveryStatusTag } from '../components/StatusTag';
import { ErrorText } from '../components/ErrorText';
import { ResendButton } from '../components/Delivery';
import type { DeliveriesSearch } from '../router';

const route = getRouteApi('/deliveries');

const TYPE_LABEL: Record<string, string> = {
  price_exception: '价格异常提醒',
  user_form_group_push: '用户资料推送代理群',
  order_push: '推单',
  user_notify: '通知买家',
  refund_alert: '退款提醒',
  goods_change: '商品变更同步(闲管家)',
};
const CHANNELS = ['wecom_bot', 'wecom_app', 'xgj_notify', 'mock'];

export default function DeliveriesPage() {
  const search = route.useSearch();
  const navigate = useNavigate({ from: '/deliveries' });
  const canAct = can(useMe()).act;
  const set = (patch: Partial<DeliveriesSearch>) =>
    void navigate({ search: (s: DeliveriesSearch) => ({ ...s, ...patch }) });
  const byOrder = !!search.orderNo;
  const list = useQuery({
    queryKey: ['deliveries', search],
    queryFn: async () => {
      if (search.orderNo) {
        const r = await unwrap(
          api.GET('/api/orders/{orderNo}/deliveries', { params: { path: { orderNo: search.orderNo } } }),
        );
        // Same filters, applied here: the order's list is short.
        return r.items.filter(
          (d) =>
            (!search.status || d.status === search.status) &&
            (!search.channel || d.channel === search.channel) &&
            (!search.type || d.type === search.type),
        );
      }
      const r = await unwrap(
        api.GET('/api/deliveries', {
          params: { query: { status: search.status, channel: search.channel, type: search.type, limit: 100 } },
        }),
      );
      return r.items;
    },
    refetchInterval: LIVE_MS,
    placeholderData: keepPreviousData,
  });
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={3} style={{ margin: 0 }}>
        通知投递
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        每一条系统发出的消息(运营提醒、代理群、通知买家)都在这里:发送结果、每次尝试、错误与处理办法,以及人工补发。
        {byOrder ? '' : '列表里的个人信息已打码;在订单详情里查看完整消息。'}
      </Typography.Paragraph>
      <Space wrap>
        <Select
          allowClear
          placeholder="状态"
          style={{ width: 160 }}
          value={search.status}
          onChange={(v) => set({ status: v })}
          options={Object.entries(DELIVERY_STATUS_LABEL).map(([value, label]) => ({ value, label: `${label}(${value})` }))}
        />
        <Select
          allowClear
          placeholder="渠道"
          style={{ width: 140 }}
          value={search.channel}
          onChange={(v) => set({ channel: v })}
          options={CHANNELS.map((c) => ({ value: c, label: c }))}
        />
        <Select
          allowClear
          placeholder="类型"
          style={{ width: 180 }}
          value={search.type}
          onChange={(v) => set({ type: v })}
          options={Object.entries(TYPE_LABEL).map(([value, label]) => ({ value, label }))}
        />
        <Input.Search
          allowClear
          placeholder="订单号"
          defaultValue={search.orderNo}
          style={{ width: 260 }}
          onSearch={(v) => set({ orderNo: v.trim().toUpperCase() || undefined })}
        />
      </Space>
      <ErrorText error={list.error} />
      <Table<DeliveryView>
        rowKey="id"
        size="middle"
        loading={list.isPending}
        dataSource={list.data ?? []}
        pagination={{ pageSize: 20, showSizeChanger: false }}
        scroll={{ x: 1100 }}
        locale={{ emptyText: '没有符合条件的投递' }}
        expandable={{
          expandedRowRender: (d) => (
            <Space direction="vertical" style={{ width: '100%' }}>
              <Typography.Text strong>消息内容</Typography.Text>
              <pre style={{ whiteSpace: 'pre-wrap', margin: 0 }}>{d.messageText}</pre>
              <Typography.Text strong>每次尝试</Typography.Text>
              <Table
                size="small"
                rowKey="id"
                pagination={false}
                dataSource={d.attempts}
                columns={[
                  { title: '#', dataIndex: 'attempt' },
                  { title: '目标', dataIndex: 'target' },
                  { title: '开始', dataIndex: 'startedAt', render: (v: string) => fmtTime(v) },
                  { title: '结束', dataIndex: 'finishedAt', render: (v?: string | null) => fmtTime(v) },
                  { title: '结果', dataIndex: 'outcome', render: (v?: string | null) => v ?? '-' },
                  { title: '错误码', dataIndex: 'errorCode', render: (v?: string | null) => v ?? '-' },
                  { title: '错误信息', dataIndex: 'errorMessage', render: (v?: string | null) => v ?? '-' },
                ]}
              />
            </Space>
          ),
        }}
        columns={[
          {
            title: '订单号 / 商品',
            dataIndex: 'orderNo',
            // A goods-change notice to XGJ belongs to a goods, not an order.
            render: (no: string | null | undefined, d: DeliveryView) =>
              no ? (
                <Link to="/orders/$orderNo" params={{ orderNo: no }} hash="deliveries">
                  {no}
                </Link>
              ) : (
                `商品 ${d.goodsNo ?? '-'}`
              ),
          },
          { title: '类型', dataIndex: 'type', render: (t: string) => TYPE_LABEL[t] ?? t },
          { title: '渠道', dataIndex: 'channel' },
          { title: '目标', dataIndex: 'target', ellipsis: true },
          { title: '状态', dataIndex: 'status', render: (s: string) => <DeliveryStatusTag status={s} /> },
          {
            title: '重试',
            dataIndex: 'retryCount',
            render: (n: number, d) => `${n} / ${d.maxAttempts}`,
          },
          {
            title: '错误与处理',
            render: (_: unknown, d) =>
              d.lastErrorCode ? (
                <Space direction="vertical" size={0}>
                  <Typography.Text type="danger">
                    {d.lastErrorCode}:{d.lastErrorMessage}
                  </Typography.Text>
                  {d.lastErrorHint ? <Typography.Text type="warning">{d.lastErrorHint}</Typography.Text> : null}
                </Space>
              ) : (
                '-'
              ),
          },
          { title: '更新时间', dataIndex: 'updatedAt', render: (v: string) => fmtTime(v) },
          ...(canAct
            ? [
                {
                  title: '操作',
                  render: (_: unknown, d: DeliveryView) => (
                    <ResendButton delivery={d} disabled={d.status === 'sending' || d.status === 'pending'} />
                  ),
                },
              ]
            : []),
        ]}
      />
    </Space>
  );
}
