import { useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Alert, Button, Form, Input, Modal, Popconfirm, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { call } from '../api/client';
import { can, ROLE_LABEL, useMe, type Role } from '../auth';
import { fmtTime } from '../format';
import { useKeyedMutation } from '../hooks';
import { ErrorText, fieldData } from '../components/ErrorText';

// The Access API (users, API keys) is typed here until it is in openapi/openapi.json.
interface User {
  username: string;
  displayName?: string | null;
  role: Role;
  disabled?: boolean;
  createdAt?: string;
  lastLoginAt?: string | null;
}
interface ApiKey {
  name: string;
  role: Role;
  createdAt?: string;
  createdBy?: string;
  revokedAt?: string | null;
  lastUsedAt?: string | null;
  prefix?: string;
}
const items = <T,>(r: T[] | { items: T[] }): T[] => (Array.isArray(r) ? r : r.items);
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
    </Space>
  );
}

function Users({ self }: { self?: string }) {
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['admin', 'users'],
    queryFn: async () => items(await call<User[] | { items: User[] }>('GET', '/api/admin/users')),
  });
  const [form] = Form.useForm();
  const refresh = () => void qc.invalidateQueries({ queryKey: ['admin', 'users'] });
  const create = useKeyedMutation(
    (v: { username: string; displayName?: string; role: Role; password: string }, key: string) =>
      call<User>('POST', '/api/admin/users', v, key),
    () => {
      form.resetFields();
      refresh();
    },
  );
  const patch = useKeyedMutation(
    (v: { username: string; body: Partial<User> & { password?: string } }, key: string) =>
      call<User>('PATCH', `/api/admin/users/${encodeURIComponent(v.username)}`, v.body, key),
    refresh,
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4}>用户</Typography.Title>
      <Form form={form} layout="inline" onFinish={(v) => create.mutate(v, { onError: (e) => form.setFields(fieldData(e)) })}>
        <Form.Item name="username" rules={[{ required: true, message: '请填写用户名' }]}>
          <Input placeholder="用户名" autoComplete="off" />
        </Form.Item>
        <Form.Item name="displayName">
          <Input placeholder="显示名(可选)" />
        </Form.Item>
        <Form.Item name="role" initialValue="operator" rules={[{ required: true }]}>
          <Select style={{ width: 150 }} options={ROLES} />
        </Form.Item>
        <Form.Item name="password" rules={[{ required: true, message: '请设置初始密码' }]}>
          <Input.Password placeholder="初始密码" autoComplete="new-password" />
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
        dataSource={q.data ?? []}
        pagination={false}
        columns={[
          { title: '用户名', dataIndex: 'username' },
          { title: '显示名', dataIndex: 'displayName', render: (v?: string | null) => v || '-' },
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
          { title: '最近登录', dataIndex: 'lastLoginAt', render: (v?: string | null) => fmtTime(v) },
        ]}
      />
    </Space>
  );
}

function Keys() {
  const qc = useQueryClient();
  const [shown, setShown] = useState<string | null>(null);
  const [form] = Form.useForm();
  const q = useQuery({
    queryKey: ['admin', 'api-keys'],
    queryFn: async () => items(await call<ApiKey[] | { items: ApiKey[] }>('GET', '/api/admin/api-keys')),
  });
  const refresh = () => void qc.invalidateQueries({ queryKey: ['admin', 'api-keys'] });
  const create = useKeyedMutation(
    (v: { name: string; role: Role }, key: string) => call<ApiKey & { key: string }>('POST', '/api/admin/api-keys', v, key),
    (k) => {
      form.resetFields();
      setShown(k.key);
      refresh();
    },
  );
  const revoke = useKeyedMutation(
    (name: string, key: string) => call<void>('DELETE', `/api/admin/api-keys/${encodeURIComponent(name)}`, undefined, key),
    refresh,
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Title level={4}>API 密钥</Typography.Title>
      <Form form={form} layout="inline" onFinish={(v) => create.mutate(v, { onError: (e) => form.setFields(fieldData(e)) })}>
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
        dataSource={q.data ?? []}
        pagination={false}
        columns={[
          { title: '名称', dataIndex: 'name' },
          { title: '角色', dataIndex: 'role', render: (r: Role) => ROLE_LABEL[r] ?? r },
          { title: '创建', render: (_: unknown, k) => `${fmtTime(k.createdAt)}${k.createdBy ? ` · ${k.createdBy}` : ''}` },
          { title: '最近使用', dataIndex: 'lastUsedAt', render: (v?: string | null) => fmtTime(v) },
          {
            title: '状态',
            render: (_: unknown, k) => (k.revokedAt ? <Tag>已吊销 {fmtTime(k.revokedAt)}</Tag> : <Tag color="green">有效</Tag>),
          },
          {
            title: '操作',
            render: (_: unknown, k) =>
              k.revokedAt ? null : (
                <Popconfirm title={`吊销密钥 ${k.name}?使用它的程序将立即失去访问权限。`} okText="吊销" cancelText="取消" onConfirm={() => revoke.mutate(k.name)}>
                  <Button size="small" danger>
                    吊销
                  </Button>
                </Popconfirm>
              ),
          },
        ]}
      />
      <Modal open={!!shown} title="新密钥(只显示这一次)" okText="我已保存" cancelButtonProps={{ style: { display: 'none' } }} onOk={() => setShown(null)} onCancel={() => setShown(null)}>
        <Typography.Paragraph>请立即复制保存,关闭后无法再次查看:</Typography.Paragraph>
        <Typography.Paragraph copyable code data-testid="new-api-key">
          {shown}
        </Typography.Paragraph>
      </Modal>
    </Space>
  );
}
