import { createRootRoute, createRoute, createRouter, lazyRouteComponent, redirect } from '@tanstack/react-router';
import { Shell } from './Shell';

export interface OrdersSearch {
  status?: string;
  keyword?: string;
  from?: string;
  to?: string;
  cursor?: string;
}
export interface DeliveriesSearch {
  status?: string;
  channel?: string;
  type?: string;
  orderNo?: string;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

const rootRoute = createRootRoute({ component: Shell });

// Every page is its own chunk: the first load carries only the shell.
const loginRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/login',
  validateSearch: (s: Record<string, unknown>): { redirect?: string } => ({ redirect: str(s.redirect) }),
  component: lazyRouteComponent(() => import('./pages/LoginPage')),
});
const ordersRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/',
  validateSearch: (s: Record<string, unknown>): OrdersSearch => ({
    status: str(s.status),
    keyword: str(s.keyword),
    from: str(s.from),
    to: str(s.to),
    cursor: str(s.cursor),
  }),
  component: lazyRouteComponent(() => import('./pages/OrdersPage')),
});
const orderRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/orders/$orderNo',
  component: lazyRouteComponent(() => import('./pages/OrderDetailPage')),
});
const deliveriesRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/deliveries',
  validateSearch: (s: Record<string, unknown>): DeliveriesSearch => ({
    status: str(s.status),
    channel: str(s.channel),
    type: str(s.type),
    orderNo: str(s.orderNo),
  }),
  component: lazyRouteComponent(() => import('./pages/DeliveriesPage')),
});
const configRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/config',
  validateSearch: (s: Record<string, unknown>): { tab?: string } => ({ tab: str(s.tab) }),
  component: lazyRouteComponent(() => import('./pages/ConfigPage')),
});
// The old system's address for the QR codes (the seed page: 二维码维护入口:/admin/config).
const oldConfigRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/admin/config',
  beforeLoad: () => {
    throw redirect({ to: '/config', search: { tab: 'qr' } });
  },
});
const usersRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/admin/users',
  component: lazyRouteComponent(() => import('./pages/UsersPage')),
});

const routeTree = rootRoute.addChildren([
  loginRoute,
  ordersRoute,
  orderRoute,
  deliveriesRoute,
  configRoute,
  oldConfigRoute,
  usersRoute,
]);

export const router = createRouter({ routeTree, defaultPreload: 'intent' });
export const routes = { ordersRoute, orderRoute, deliveriesRoute, configRoute, loginRoute };

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
