import { Link, Outlet, useRouterState } from '@tanstack/react-router';
import { Button, Layout, Menu, Space, Tag, Typography } from 'antd';
import { useQueryClient } from '@tanstack/react-query';
import { can, logout, ROLE_LABEL, useMe } from './auth';

export function Shell() {
  const me = useMe();
  const qc = useQueryClient();
  const path = useRouterState({ select: (s) => s.location.pathname });
  if (path === '/login' || !me) return <Outlet />;
  const selected = path.startsWith('/deliveries')
    ? 'deliveries'
    : path.startsWith('/config')
      ? 'config'
      : path.startsWith('/admin/users')
        ? 'users'
        : 'orders';
  const items = [
    { key: 'orders', label: <Link to="/">订单列表</Link> },
    { key: 'deliveries', label: <Link to="/deliveries">通知投递</Link> },
    { key: 'config', label: <Link to="/config">配置中心</Link> },
    ...(can(me).admin ? [{ key: 'users', label: <Link to="/admin/users">用户与密钥</Link> }] : []),
  ];
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Header style={{ display: 'flex', alignItems: 'center', gap: 24, background: '#001529' }}>
        <Typography.Text strong style={{ color: '#fff', fontSize: 16, whiteSpace: 'nowrap' }}>
          闲鱼票务后台
        </Typography.Text>
        <Menu theme="dark" mode="horizontal" selectedKeys={[selected]} items={items} style={{ flex: 1, minWidth: 0 }} />
        <Space data-testid="current-user">
          <Typography.Text style={{ color: '#fff' }}>{me.displayName || me.username}</Typography.Text>
          <Tag color="blue" data-testid="current-role">
            {ROLE_LABEL[me.role] ?? me.role}
          </Tag>
          <Button
            size="small"
            onClick={async () => {
              await logout();
              qc.clear();
              window.location.assign('/login');
            }}
          >
            退出
          </Button>
        </Space>
      </Layout.Header>
      <Layout.Content style={{ padding: 24, maxWidth: 1400, width: '100%', margin: '0 auto' }}>
        <Outlet />
      </Layout.Content>
    </Layout>
  );
}
