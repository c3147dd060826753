import { useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Alert, Button, Form, Input, Modal, Popconfirm, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { api, unwrap, type Schemas } from '../api/client';
import { can, ROLE_LABEL, useMe, type Role } from '../auth';
import { fmtTime } from '../format';
import { useKeyedMutation } from '../hooks';
import { ErrorText, fieldData } from '../components/ErrorText';

type User = Schemas['User'];
type ApiKey = Schemas['ApiKey'];
const ROLES = (Object.keys(ROLE_LABEL) as Role[]).map((r) => ({ value: r, label: `${ROLE_LABEL[r]}(${r})` }));

export default function UsersPage() {
  const me = useMe();
  if (!can(me).admin) return <Alert type="warning" showIcon title="只有管理员可以管理用户与密钥。" />;
  return (
    <Space direction="vertical" size="large" style={{ width: '100%' }}>
      <Typography.Title level={3} style={{ margin: 0 }}>
        用户与密钥
      </Typography.Title>
      <Users self={me?.username} />
      <Keys />
      <SecurityLog />
    </Space>
  );
}

function Users({ self }: { self?: string }) {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: ['admin', 'users'], queryFn: () => unwrap(api.GET('/api/admin/users')) });
  const [form] = Form.useForm();
  const refresh = () => void qc.invalidateQueries({ queryKey: ['admin'] });
  const create = useKeyedMutation(
    (body: Schemas['CreateUserRequest'], key: string) =>
      unwrap(api.POST('/api/admin/users', { body, headers: { 'Idempotency-Key': key } })),
    () => {
      form.resetFields();
      refresh();
    },
  );
  const patch = useKeyedMutation(
    (v: { username: string; body: Schemas['UpdateUserRequest'] }, key: string) =>
      unwrap(
        api.PATCH('/api/admin/users/{username}', {
          params: { path: { username: v.username } },
          body: v.body,
          headers: { 'Idempotency-Key': key },
        }),
      ),
    refresh,
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4}>用户</Typography.Title>
      <Form
        form={form}
        layout="inline"
        onFinish={(v) => create.mutate(v, { onError: (e) => form.setFields(fieldData(e)) })}
      >
        <Form.Item name="username" rules={[{ required: true, message: '请填写用户名' }]}>
          <Input placeholder="用户名" autoComplete="off" />
        </Form.Item>
        <Form.Item name="displayName">
          <Input placeholder="显示名(可选)" />
        </Form.Item>
        <Form.Item name="role" initialValue="operator" rules={[{ required: true }]}>
          <Select style={{ width: 150 }} options={ROLES} />
        </Form.Item>
        <Form.Item name="password" rules={[{ required: true, message: '请设置初始密码(至少 10 位)' }]}>
          <Input.Password placeholder="初始密码(至少 10 位)" autoComplete="new-password" />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={create.isPending}>
          新建用户
        </Button>
      </Form>
      {create.error && fieldData(create.error).length === 0 ? <ErrorText error={create.error} /> : null}
      <ErrorText error={q.error ?? patch.error} />
      <Table<User>
        rowKey="username"
        size="small"
        loading={q.isPending}
        dataSource={q.data?.items ?? []}
        pagination={false}
        columns={[
          { title: '用户名', dataIndex: 'username' },
          { title: '显示名', dataIndex: 'displayName' },
          {
            title: '角色',
            render: (_: unknown, u) => (
              <Select
                size="small"
                style={{ width: 150 }}
                value={u.role}
                disabled={u.username === self}
                options={ROLES}
                onChange={(role) => patch.mutate({ username: u.username, body: { role } })}
              />
            ),
          },
          {
            title: '启用',
            render: (_: unknown, u) => (
              <Switch
                checked={!u.disabled}
                disabled={u.username === self}
                onChange={(on) => patch.mutate({ username: u.username, body: { disabled: !on } })}
              />
            ),
          },
          { title: '创建时间', dataIndex: 'createdAt', render: (v?: string) => fmtTime(v) },
          { title: '更新时间', dataIndex: 'updatedAt', render: (v?: string) => fmtTime(v) },
        ]}
      />
    </Space>
  );
}

function Keys() {
  const qc = useQueryClient();
  const [shown, setShown] = useState<string | null>(null);
  const [form] = Form.useForm();
  const q = useQuery({ queryKey: ['admin', 'api-keys'], queryFn: () => unwrap(api.GET('/api/admin/api-keys')) });
  const refresh = () => void qc.invalidateQueries({ queryKey: ['admin'] });
  const create = useKeyedMutation(
    (body: Schemas['CreateApiKeyRequest'], key: string) =>
      unwrap(api.POST('/api/admin/api-keys', { body, headers: { 'Idempotency-Key': key } })),
    (k) => {
      form.resetFields();
      setShown(k.key);
      refresh();
    },
  );
  const revoke = useKeyedMutation(
    (name: string, key: string) =>
      unwrap(
        api.DELETE('/api/admin/api-keys/{name}', { params: { path: { name } }, headers: { 'Idempotency-Key': key } }),
      ),
    refresh,
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4}>API 密钥</Typography.Title>
      <Form
        form={form}
        layout="inline"
        onFinish={(v) => create.mutate(v, { onError: (e) => form.setFields(fieldData(e)) })}
      >
        <Form.Item name="name" rules={[{ required: true, message: '请填写名称' }]}>
          <Input placeholder="名称,例如 erp-sync" />
        </Form.Item>
        <Form.Item name="role" initialValue="auditor">
          <Select style={{ width: 150 }} options={ROLES} />
        </Form.Item>
        <Button htmlType="submit" loading={create.isPending}>
          新建密钥
        </Button>
      </Form>
      {create.error && fieldData(create.error).length === 0 ? <ErrorText error={create.error} /> : null}
      <ErrorText error={q.error ?? revoke.error} />
      <Table<ApiKey>
        rowKey="name"
        size="small"
        loading={q.isPending}
        dataSource={q.data?.items ?? []}
        pagination={false}
        columns={[
          { title: '名称', dataIndex: 'name' },
          { title: '前缀', dataIndex: 'keyPrefix', render: (v: string) => <Typography.Text code>{v}…</Typography.Text> },
          { title: '角色', dataIndex: 'role', render: (r: Role) => ROLE_LABEL[r] ?? r },
          { title: '创建', render: (_: unknown, k) => `${fmtTime(k.createdAt)} · ${k.createdBy}` },
          { title: '最近使用', dataIndex: 'lastUsedAt', render: (v?: string | null) => fmtTime(v) },
          {
            title: '状态',
            render: (_: unknown, k) =>
              k.revokedAt ? <Tag>已吊销 {fmtTime(k.revokedAt)}</Tag> : <Tag color="green">有效</Tag>,
          },
          {
            title: '操作',
            render: (_: unknown, k) =>
              k.revokedAt ? null : (
                <Popconfirm
                  title={`吊销密钥 ${k.name}?使用它的程序将立即失去访问权限。`}
                  okText="吊销"
                  cancelText="取消"
                  onConfirm={() => revoke.mutate(k.name)}
                >
                  <Button size="small" danger data-testid={`revoke-${k.name}`}>
                    吊销
                  </Button>
                </Popconfirm>
              ),
          },
        ]}
      />
      <Modal
        open={!!shown}
        title="新密钥(只显示这一次)"
        okText="我已保存"
        cancelButtonProps={{ style: { display: 'none' } }}
        onOk={() => setShown(null)}
        onCancel={() => setShown(null)}
      >
        <Typography.Paragraph>请立即复制保存,关闭后无法再次查看:</Typography.Paragraph>
        <Typography.Paragraph copyable code data-testid="new-api-key">
          {shown}
        </Typography.Paragraph>
      </Modal>
    </Space>
  );
}

function SecurityLog() {
  const q = useQuery({
    queryKey: ['admin', 'security-log'],
    queryFn: () => unwrap(api.GET('/api/admin/security-log', { params: { query: { limit: 50 } } })),
  });
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4}>安全日志</Typography.Title>
      <ErrorText error={q.error} />
      <Table<Schemas['SecurityEvent']>
        rowKey="id"
        size="small"
        loading={q.isPending}
        dataSource={q.data?.items ?? []}
        pagination={{ pageSize: 10 }}
        columns={[
          { title: '时间', dataIndex: 'at', render: (v: string) => fmtTime(v) },
          { title: '事件', dataIndex: 'kind' },
          { title: '操作人', dataIndex: 'actor', render: (v?: string | null) => v ?? '-' },
          { title: '对象', dataIndex: 'subject', render: (v?: string | null) => v ?? '-' },
          { title: '地址', dataIndex: 'address', render: (v?: string | null) => v ?? '-' },
          { title: '详情', dataIndex: 'detail', render: (v?: string | null) => v ?? '-' },
        ]}
      />
    </Space>
  );
}
