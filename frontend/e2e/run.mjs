// End-to-end: the whole order life through the console, against the real `xyt serve` and
// PostgreSQL, driven by playwright-core with Debian's chromium (never a downloaded browser).
//
//   npm run e2e      (after `npm run build`; builds the server with cargo when its binary is missing)
//
// Env: XYT_TEST_DATABASE_URL (a server where a fresh `xyt_e2e_*` database is made and dropped),
// CARGO_TARGET_DIR, CHROMIUM (default /usr/bin/chromium). Screenshots go to e2e/screenshots/.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { png } from './png.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const frontend = resolve(here, '..');
const repo = resolve(frontend, '..');
const shots = join(here, 'screenshots');
mkdirSync(shots, { recursive: true });

const adminUrl = process.env.XYT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(repo, process.env.CARGO_TARGET_DIR) : join(repo, 'target');
const xyt = join(targetDir, 'debug', 'xyt');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const STEP_MS = 15_000;

let current; // the page a failure is photographed from
let passed = 0;
let failed = 0;
const log = (...a) => console.log('e2e:', ...a);

async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    passed++;
    log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failed++;
    log(`FAIL ${name}: ${e?.message ?? e}`);
    await current?.screenshot({ path: join(shots, 'FAILED.png'), fullPage: true }).catch(() => {});
    if (process.env.E2E_DEBUG) {
      const html = await current?.locator('.ant-modal-root').evaluateAll((els) => els.map((e) => e.outerHTML.slice(0, 3000)));
      log(`modals: ${JSON.stringify(html)}`);
    }
    throw e;
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

const psql = (sql) => execFileSync('psql', [adminUrl, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: 'pipe' });

// ---------------------------------------------------------------- server
if (!existsSync(join(frontend, 'dist', 'index.html'))) {
  log('building the console');
  execFileSync('npx', ['vite', 'build'], { cwd: frontend, stdio: 'inherit' });
}
if (!existsSync(xyt)) {
  log('building the server');
  execFileSync('cargo', ['build', '-q', '-p', 'xyt-server'], { cwd: repo, stdio: 'inherit' });
}
const dbName = `xyt_test_e2e_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
psql(`CREATE DATABASE "${dbName}"`);
const databaseUrl = adminUrl.replace(/\/[^/]*$/, `/${dbName}`);
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const fileDir = mkdtempSync(join(tmpdir(), 'xyt-e2e-files-'));
const env = {
  ...process.env,
  DATABASE_URL: databaseUrl,
  XYT_BIND: `127.0.0.1:${port}`,
  XYT_PUBLIC_BASE_URL: base,
  XYT_XGJ_APP_ID: '677859093659717',
  XYT_XGJ_APP_SECRET: 'e2e-app-secret',
  XYT_XGJ_MCH_ID: 'xy-ticket-mvp-001',
  XYT_XGJ_MCH_SECRET: 'e2e-mch-secret',
  XYT_CONSOLE_DIR: join(frontend, 'dist'),
  XYT_FILE_DIR: fileDir,
  XYT_CATCHUP_INTERVAL_SECS: '1',
  XYT_DELIVERY_POLL_MS: '200',
  XYT_DELIVERY_BACKOFF_BASE_MS: '60000',
  XYT_OCR_ENGINE: 'mock',
  // Request lines (status per request) to count the polls answered 304.
  RUST_LOG: process.env.RUST_LOG ?? 'warn,xyt_server::request_id=info',
};
const run = (args, input) => execFileSync(xyt, args, { env, input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();

// Users through the CLI, when the server has sign-in (Access).
const ADMIN_PW = 'e2e-Admin-pass-1';
const AUDITOR_PW = 'e2e-Auditor-pass-1';
const withAccess = true;
run(['migrate']);
run(['user', 'add', 'admin', '--role', 'admin'], `${ADMIN_PW}\n`);
run(['user', 'add', 'auditor', '--role', 'auditor'], `${AUDITOR_PW}\n`);

const server = spawn(xyt, ['serve', '--demo'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
let serverLog = '';
server.stdout.on('data', (d) => (serverLog += d));
server.stderr.on('data', (d) => (serverLog += d));
let browser;

async function cleanup() {
  await browser?.close().catch(() => {});
  server.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  try {
    psql(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  } catch {}
  rmSync(fileDir, { recursive: true, force: true });
}

try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    if (i > 150 || server.exitCode !== null) throw new Error(`server did not start:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  log(`server on ${base} (database ${dbName}, sign-in ${withAccess ? 'on' : 'off'})`);

  browser = await chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--lang=zh-CN',
    ],
  });
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  ctx.setDefaultTimeout(STEP_MS);
  const page = await ctx.newPage();
  current = page;
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  const shot = (name, p = page) => p.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const section = (title) => page.locator(`[data-section="${title}"]`);
  const event = (type) => page.locator(`[data-testid="event"][data-event="${type}"]`);
  const expectEvent = async (type, source) => {
    const e = event(type).first();
    await e.waitFor();
    if (source && !(await e.innerText()).includes(`source: ${source}`)) {
      throw new Error(`${type} is not from ${source}: ${await e.innerText()}`);
    }
  };
  const status = async (label) => {
    await section('订单概览').locator('[data-testid="status-tag"]', { hasText: label }).waitFor();
  };
  const signIn = async (user, pw) => {
    await page.getByLabel('用户名').fill(user);
    await page.getByLabel('密码').fill(pw);
    await page.getByRole('button', { name: /登录$/ }).click();
  };

  await step('an unsigned visit goes to 登录 and back after signing in', async () => {
    await page.goto(`${base}/deliveries`);
    if (withAccess) {
      await page.waitForURL(/\/login\?redirect=/);
      await shot('01-login');
      await signIn('wrong', 'nope-nope');
      await page.getByRole('alert').waitFor();
      await signIn('admin', ADMIN_PW);
      await page.waitForURL(`${base}/deliveries`);
      await page.getByTestId('current-user').getByText('admin').waitFor();
      await page.getByTestId('current-role').getByText('管理员').waitFor();
    } else {
      await page.getByRole('heading', { name: '通知投递' }).waitFor();
    }
  });

  const external = `45${Date.now()}${Math.floor(Math.random() * 90 + 10)}`.slice(0, 19);
  let orderNo;
  await step('a signed XGJ order shows in the open list without a reload', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: '订单列表' }).waitFor();
    await page.getByTestId('count-pending_manual_review').waitFor();
    run(['xgj', 'send-test-order', '--gateway', `${base}/xgj`, '--order-no', external, '--goods-no', '初级道 3 小时-淡季']);
    // XGJ has its answer: the order is committed. The open list must show it within 2 s.
    const committed = Date.now();
    const row = page.locator('tr', { hasText: external });
    await row.waitFor({ timeout: 5000 });
    const lag = Date.now() - committed;
    log(`  the new order appeared ${lag} ms after it was committed`);
    if (lag > 2000) throw new Error(`the list showed the new order after ${lag} ms (more than 2 s)`);
    await shot('02-orders');
    await row.click();
    await page.waitForURL(/\/orders\/XY/);
    orderNo = page.url().split('/orders/')[1];
    await status('待补用户资料');
    await expectEvent('xgj_virtual_order_received', 'xgj_virtual');
    await expectEvent('xgj_virtual_card_order_created', 'xgj_virtual');
  });

  await step('the buyer fills the form on /f/{token} on a phone', async () => {
    const link = await page.getByTestId('form-link').innerText();
    const url = link.match(/https?:\/\/\S+\/f\/[A-Za-z0-9_-]+/)?.[0];
    if (!url) throw new Error(`no form link in 用户表单: ${link}`);
    const phone = await ctx.newPage();
    await phone.setViewportSize({ width: 360, height: 740 });
    await phone.goto(url);
    if ((await phone.getAttribute('html', 'lang')) !== 'zh-CN') throw new Error('buyer page is not lang=zh-CN');
    await phone.locator('#name').fill('马上到');
    await phone.locator('#phone').fill('18852341234');
    await phone.locator('#certificateType').selectOption('id_card');
    await phone.locator('#certificateNo').fill('320911198804223314');
    const play = new Date(Date.now() + 10 * 86400_000).toISOString().slice(0, 10);
    await phone.locator('#playDate').fill(play);
    // On a 360 px screen the country-code choice shows whole.
    const cut = await phone.locator('#phoneCountryCode').evaluate((el) => {
      const style = getComputedStyle(el);
      const ctx2d = document.createElement('canvas').getContext('2d');
      ctx2d.font = `${style.fontSize} ${style.fontFamily}`;
      const text = ctx2d.measureText(el.options[el.selectedIndex].text).width;
      const inner = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return text > inner ? `${text.toFixed(0)} px of text in ${inner.toFixed(0)} px` : null;
    });
    if (cut) throw new Error(`country code cut off: ${cut}`);
    await shot('03-buyer-form-360px', phone);
    await phone.locator('#submit').click();
    await phone.locator('#submitted').waitFor({ state: 'visible' });
    await phone.locator('#done').getByText('资料已提交').waitFor();
    await shot('04-buyer-submitted-360px', phone);
    await phone.close();
    // The detail page open in the console follows by itself.
    await status('待人工审核');
    await expectEvent('user_form_submitted', 'public');
    await expectEvent('price_check_failed', 'system');
  });

  await step('disabled actions say why, in the seed words', async () => {
    const reason = await page.getByTestId('reason-upload_payment_proof').first().innerText();
    if (!reason.includes('当前还没有付款记录')) throw new Error(reason);
    const push = await page.getByTestId('reason-push_to_agent').first().innerText();
    if (!push.includes('当前不满足推送条件')) throw new Error(push);
    await shot('05-detail-pending-review');
  });

  await step('人工审核: approve with a note', async () => {
    await page.getByRole('button', { name: '审核通过' }).click();
    await page.getByTestId('note-input').fill('价格已与买家确认');
    await page.getByRole('button', { name: '提交' }).click();
    await status('待代付');
    await expectEvent('manual_review_approved', withAccess ? 'admin:admin' : undefined);
  });

  await step('确认付款 with the amount, against the active QR code', async () => {
    await section('上传付款凭证').getByTestId('active-qr').waitFor();
    const amount = page.getByTestId('payment-amount');
    await amount.fill('abc');
    await section('上传付款凭证').getByRole('button', { name: /确认付款$/ }).click();
    await section('上传付款凭证').getByText('金额:').waitFor();
    await amount.fill('380.00');
    await section('上传付款凭证').getByRole('button', { name: /确认付款$/ }).click();
    await expectEvent('payment_confirmed');
    await section('上传付款凭证').getByTestId('payment-record').waitFor();
  });

  await step('上传付款凭证 with a preview', async () => {
    const s = section('上传付款凭证');
    await s.locator('input[type=file]').setInputFiles({ name: 'proof.png', mimeType: 'image/png', buffer: png(120, 80, [30, 160, 60]) });
    await s.getByTestId('proof-preview').waitFor();
    await s.getByTestId('proof-upload').click();
    await expectEvent('payment_proof_uploaded');
    await status('待推单');
    await s.getByTestId('payment-proof').waitFor();
  });

  await step('推送代理群', async () => {
    await section('推送代理群').getByRole('button', { name: '推送代理群' }).click();
    await expectEvent('order_push_requested');
    await expectEvent('order_pushed_to_agent');
    await status('待出票');
  });

  await step('截图上传: OCR reads it, a mismatch waits for 待复核', async () => {
    const s = section('截图上传 + OCR');
    const text = '预订成功\n姓名:马上走\n证件号:320911198804223314\n游玩日期:2030-01-01\n票种:初级道 3 小时\n';
    await s.locator('input[type=file]').setInputFiles({ name: 'ticket.png', mimeType: 'image/png', buffer: png(200, 300, [240, 240, 240], text) });
    await s.getByTestId('screenshot-preview').waitFor();
    await s.getByTestId('screenshot-upload').click();
    await expectEvent('agent_screenshot_uploaded');
    await expectEvent('screenshot_ocr_completed', 'system');
    await expectEvent('screenshot_mismatched', 'system');
    await status('待复核');
    await s.getByTestId('ocr-text').getByText('马上走').waitFor();
    await s.getByTestId('comparisons').getByText('不符').first().waitFor();
    await shot('06-detail-match-review');
  });

  await step('待复核: confirm the match; the buyer is told, the profit share computed', async () => {
    await section('异常处理').getByRole('button', { name: '确认匹配' }).click();
    await expectEvent('screenshot_match_confirmed');
    await expectEvent('user_notified', 'system');
    await expectEvent('profit_share_calculated', 'system');
    await status('已完成');
  });

  await step('分润结算', async () => {
    await section('订单操作').getByRole('button', { name: '结算分润' }).click();
    await expectEvent('profit_share_settled');
    await page.getByTestId('reason-settle_profit_share').getByText('分润已结算').waitFor();
    await shot('07-order-detail');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(shots, '07-order-detail-top.png'), fullPage: true, clip: { x: 0, y: 0, width: 1400, height: 1500 } });
    for (const [i, title] of ['订单操作', '上传付款凭证', '截图上传 + OCR', '事件流'].entries()) {
      await section(title).screenshot({ path: join(shots, `07-order-detail-section-${i + 1}.png`) });
    }
  });

  await step('raw payloads open as formatted JSON, newest event first', async () => {
    const first = page.locator('[data-testid="event"]').first();
    if ((await first.getAttribute('data-event')) !== 'profit_share_settled') {
      throw new Error(`newest event is ${await first.getAttribute('data-event')}`);
    }
    await event('user_form_submitted').getByText('查看原始载荷').click();
    await event('user_form_submitted').getByText('"certificateType": "id_card"').waitFor();
  });

  await step('通知投递: 人工补发 to another target', async () => {
    await page.goto(`${base}/deliveries?orderNo=${orderNo}`);
    const row = page.locator('tr', { hasText: '推单' }).first();
    await row.waitFor();
    await shot('08-deliveries');
    await row.getByRole('button', { name: '人工补发' }).click();
    await page.getByTestId('resend-target').fill('not a target');
    await page.locator('.ant-modal').getByRole('button', { name: /补发$/ }).click();
    await page.locator('.ant-modal').getByRole('alert').waitFor();
    await page.getByTestId('resend-target').fill('mock://agent-group/backup');
    // Editing the target clears the error that was about it.
    await page.locator('.ant-modal').getByRole('alert').waitFor({ state: 'detached' });
    await page.locator('.ant-modal').getByRole('button', { name: /补发$/ }).click();
    await page.locator('.ant-modal').waitFor({ state: 'hidden' });
    await page.locator('tr', { hasText: 'mock://agent-group/backup' }).first().waitFor();
    await page.goto(`${base}/orders/${orderNo}`);
    await expectEvent('delivery_resend_requested');
  });

  await step('配置中心: a price change is saved and recorded in the history', async () => {
    await page.goto(`${base}/config?tab=prices`);
    const input = page.getByTestId('price-初级道 3 小时-mid');
    await input.fill('-1');
    await page.getByTestId('price-save-初级道 3 小时-mid').click();
    await page.locator('.ant-typography-danger').first().waitFor();
    await input.fill('428.00');
    await page.getByTestId('price-save-初级道 3 小时-mid').click();
    await page.getByText('已保存').waitFor();
    await shot('09-config-prices');
    await page.goto(`${base}/config?tab=history`);
    await page.locator('tr', { hasText: 'price' }).first().waitFor();
    await page.goto(`${base}/config?tab=ticket-types`);
    await page.getByPlaceholder('票种,例如 初级道 3 小时').fill('中级道 全天');
    await page.getByPlaceholder('说明').fill('e2e 新增');
    await page.getByRole('button', { name: '新增 / 更新票种' }).click();
    await page.locator('tr', { hasText: 'e2e 新增' }).waitFor();
    await page.goto(`${base}/config?tab=calendar`);
    await page.locator('[data-season]').first().waitFor();
    await shot('10-config-calendar');
  });

  if (withAccess) {
    await step('用户与密钥: a key is shown once', async () => {
      await page.goto(`${base}/admin/users`);
      await page.locator('tr', { hasText: 'auditor' }).first().waitFor();
      await page.getByPlaceholder('名称,例如 erp-sync').fill('e2e-key');
      await page.getByRole('button', { name: '新建密钥' }).click();
      const key = await page.getByTestId('new-api-key').innerText();
      if (key.trim().length < 16) throw new Error(`key shown: ${key}`);
      await shot('11-users-keys');
      await page.getByRole('button', { name: '我已保存' }).click();
    });

    await step('a session lost mid-page goes to 登录 and back to the same order', async () => {
      await page.goto(`${base}/orders/${orderNo}`);
      await status('已完成');
      await ctx.clearCookies();
      // The next poll answers 401: the page sends the operator to sign in, then back here.
      await page.waitForURL(/\/login\?redirect=/, { timeout: 5000 });
      await signIn('admin', ADMIN_PW);
      await page.waitForURL(`${base}/orders/${orderNo}`);
      await status('已完成');
    });

    await step('an auditor sees the order and no action button', async () => {
      await page.getByRole('button', { name: '退出' }).click();
      await page.waitForURL(/\/login/);
      await page.goto(`${base}/orders/${orderNo}`);
      await page.waitForURL(/\/login\?redirect=/);
      await signIn('auditor', AUDITOR_PW);
      await page.waitForURL(`${base}/orders/${orderNo}`);
      await page.getByTestId('current-role').getByText('审计').waitFor();
      await status('已完成');
      await page.getByText('只读:当前角色可以查看订单,不能操作。').waitFor();
      const buttons = await page.locator('[data-action], [data-testid^="resend-"]').count();
      if (buttons !== 0) throw new Error(`${buttons} action buttons shown to an auditor`);
      await shot('12-auditor-detail');
      await page.goto(`${base}/config?tab=prices`);
      await page.getByTestId('config-readonly').waitFor();
      if ((await page.getByRole('button', { name: '保存' }).count()) !== 0) throw new Error('auditor can save prices');
    });
  }
} catch (e) {
  if (failed === 0) {
    failed++;
    log(`FAIL setup: ${e?.message ?? e}`);
  }
  log(`server log (tail):\n${serverLog.split('\n').slice(-30).join('\n')}`);
} finally {
  const plain = serverLog.replace(/\x1b\[[0-9;]*m/g, '');
  const gets = plain.match(/method=GET path=\/api\/\S+ .*?status=\d+/g) ?? [];
  const notModified = gets.filter((l) => l.endsWith('status=304')).length;
  if (gets.length) log(`live polling: ${notModified} of ${gets.length} API reads answered 304 Not Modified`);
  await cleanup();
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
