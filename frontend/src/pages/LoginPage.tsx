import { useState } from 'react';
import { Button, Card, Form, Input, Typography } from 'antd';
import { useQueryClient } from '@tanstack/react-query';
import { getRouteApi } from '@tanstack/react-router';
import { ApiError } from '../api/client';
import { login } from '../auth';
import { ErrorText } from '../components/ErrorText';

const route = getRouteApi('/login');

/** Only a path of this site: never an open redirect. */
export function safeRedirect(r?: string): string {
  return r && r.startsWith('/') && !r.startsWith('//') && !r.startsWith('/login') ? r : '/';
}

export default function LoginPage() {
  const { redirect } = route.useSearch();
  const qc = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const onFinish = async (v: { username: string; password: string }) => {
    setBusy(true);
    setError(null);
    try {
      const me = await login(v.username, v.password);
      qc.setQueryData(['me'], me);
      // A full load: every query starts again under the new session.
      window.location.assign(safeRedirect(redirect));
    } catch (e) {
      setError(
        e instanceof ApiError && e.code === 'LOGIN_FAILED'
          ? new ApiError(401, e.code, e.message || '用户名或密码错误')
          : e,
      );
      setBusy(false);
    }
  };
  return (
    <div style={{ minHeight: '100vh', display: 'grid', placeItems: 'center', background: '#f0f2f5' }}>
      <Card style={{ width: 360 }}>
        <Typography.Title level={3} style={{ textAlign: 'center' }}>
          登录
        </Typography.Title>
        <Typography.Paragraph type="secondary" style={{ textAlign: 'center' }}>
          闲鱼票务订单后台
        </Typography.Paragraph>
        {redirect ? (
          <Typography.Paragraph type="warning" style={{ textAlign: 'center' }}>
            登录后回到刚才的页面
          </Typography.Paragraph>
        ) : null}
        <Form layout="vertical" onFinish={onFinish} requiredMark={false}>
          <Form.Item label="用户名" name="username" rules={[{ required: true, message: '请输入用户名' }]}>
            <Input autoComplete="username" autoFocus />
          </Form.Item>
          <Form.Item label="密码" name="password" rules={[{ required: true, message: '请输入密码' }]}>
            <Input.Password autoComplete="current-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy}>
            登录
          </Button>
          <ErrorText error={error} />
        </Form>
      </Card>
    </div>
  );
}
