import { useState } from 'react';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Button, Card, DatePicker, Input, Select, Space, Table, Tag, Typography } from 'antd';
import { api, unwrap, type OrderListItem, type OrderStatus } from '../api/client';
import { dayjs, fmtTime, yuan } from '../format';
import { LIVE_MS } from '../hooks';
import { STATUSES, STATUS_LABEL, StatusTag } from '../components/StatusTag';
import { ErrorText } from '../components/ErrorText';
import type { OrdersSearch } from '../router';

const route = getRouteApi('/');

export default function OrdersPage() {
  const search = route.useSearch();
  const navigate = useNavigate({ from: '/' });
  // Cursors of the pages before this one, to go back (keyset paging has no page numbers).
  const [history, setHistory] = useState<string[]>([]);
  const filters = {
    status: search.status as OrderStatus | undefined,
    keyword: search.keyword,
    createdFrom: search.from,
    createdTo: search.to,
  };
  const set = (patch: Partial<OrdersSearch>, keepCursor = false) => {
    if (!keepCursor) setHistory([]);
    void navigate({ search: (s: OrdersSearch) => ({ ...s, ...patch, ...(keepCursor ? {} : { cursor: undefined }) }) });
  };
  const counts = useQuery({
    queryKey: ['orders', 'counts', search.keyword, search.from, search.to],
    queryFn: () =>
      unwrap(
        api.GET('/api/orders/counts', {
          params: { query: { keyword: filters.keyword, createdFrom: filters.createdFrom, createdTo: filters.createdTo } },
        }),
      ),
    refetchInterval: LIVE_MS,
  });
  const page = useQuery({
    queryKey: ['orders', 'list', search],
    queryFn: () =>
      unwrap(api.GET('/api/orders', { params: { query: { ...filters, cursor: search.cursor, limit: 20 } } })),
    refetchInterval: LIVE_MS,
    placeholderData: keepPreviousData,
  });
  const columns = [
    {
      title: '订单号',
      dataIndex: 'orderNo',
      render: (no: string) => (
        <Link to="/orders/$orderNo" params={{ orderNo: no }} onClick={(e) => e.stopPropagation()}>
          {no}
        </Link>
      ),
    },
    { title: '外部订单号', dataIndex: 'externalOrderNo', render: (v?: string | null) => v ?? '-' },
    {
      title: '商品名',
      dataIndex: 'goodsName',
      render: (v: string | null | undefined, r: OrderListItem) =>
        v ?? (r.unknownGoods ? <Tag color="red">商品未配置:{r.goodsNo}</Tag> : '-'),
    },
    { title: '游玩日', dataIndex: 'playDate', render: (v?: string | null) => v ?? '-' },
    { title: '支付金额', dataIndex: 'paidAmount', render: (v?: string | null) => yuan(v) },
    {
      title: '订单状态',
      dataIndex: 'status',
      render: (s: OrderStatus, r: OrderListItem) => <StatusTag status={s} label={r.statusLabel} />,
    },
    { title: '建议动作', dataIndex: 'suggestedActionLabel' },
    { title: '买家', dataIndex: 'buyerName', render: (v?: string | null) => v ?? '-' },
    { title: '手机号', dataIndex: 'phone', render: (v?: string | null) => v ?? '-' },
    { title: '创建时间', dataIndex: 'createdAt', render: (v: string) => fmtTime(v) },
  ];
  const range: [dayjs.Dayjs, dayjs.Dayjs] | null =
    search.from && search.to ? [dayjs(search.from), dayjs(search.to).subtract(1, 'day')] : null;
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={3} style={{ margin: 0 }}>
        订单列表
      </Typography.Title>
      <Card size="small">
        <Space wrap data-testid="quick-filters">
          <Tag.CheckableTag checked={!search.status} onChange={() => set({ status: undefined })}>
            全部 {counts.data?.total ?? ''}
          </Tag.CheckableTag>
          {(counts.data?.items ?? STATUSES.map((s) => ({ status: s, label: STATUS_LABEL[s], count: undefined }))).map((c) => (
            <Tag.CheckableTag
              key={c.status}
              checked={search.status === c.status}
              onChange={(on) => set({ status: on ? c.status : undefined })}
              data-testid={`count-${c.status}`}
            >
              {c.label} {c.count ?? ''}
            </Tag.CheckableTag>
          ))}
        </Space>
      </Card>
      <Space wrap>
        <Select
          allowClear
          placeholder="订单状态"
          style={{ width: 160 }}
          value={search.status}
          onChange={(v) => set({ status: v })}
          options={STATUSES.map((s) => ({ value: s, label: STATUS_LABEL[s] }))}
        />
        <Input.Search
          allowClear
          placeholder="订单号 / 外部订单号 / 手机尾号"
          defaultValue={search.keyword}
          style={{ width: 300 }}
          onSearch={(v) => set({ keyword: v.trim() || undefined })}
        />
        <DatePicker.RangePicker
          value={range}
          placeholder={['创建开始', '创建结束']}
          onChange={(v) =>
            set({
              from: v?.[0] ? v[0].tz('Asia/Shanghai', true).startOf('day').toISOString() : undefined,
              to: v?.[1] ? v[1].tz('Asia/Shanghai', true).startOf('day').add(1, 'day').toISOString() : undefined,
            })
          }
        />
      </Space>
      <ErrorText error={page.error ?? counts.error} />
      <Table<OrderListItem>
        rowKey="orderNo"
        size="middle"
        loading={page.isPending}
        dataSource={page.data?.items ?? []}
        columns={columns}
        pagination={false}
        scroll={{ x: 1100 }}
        onRow={(r) => ({
          onClick: () => void navigate({ to: '/orders/$orderNo', params: { orderNo: r.orderNo } }),
          style: { cursor: 'pointer' },
        })}
        locale={{ emptyText: '没有符合条件的订单' }}
      />
      <Space>
        <Button
          disabled={!search.cursor}
          onClick={() => {
            const prev = history.slice(0, -1);
            const cursor = history[history.length - 1];
            setHistory(prev);
            set({ cursor: cursor || undefined }, true);
          }}
        >
          上一页
        </Button>
        <Button
          disabled={!page.data?.nextCursor}
          onClick={() => {
            setHistory([...history, search.cursor ?? '']);
            set({ cursor: page.data?.nextCursor ?? undefined }, true);
          }}
        >
          下一页
        </Button>
      </Space>
    </Space>
  );
}
