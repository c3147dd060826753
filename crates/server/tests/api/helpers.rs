use std::net::TcpListener;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use xyt_integrations::xgj::{SignedCall, SupplyCredentials, XgjSupplyClient};
use xyt_server::app::{self, Running};
use xyt_server::env_config::EnvConfig;

pub const APP_ID: &str = "677859093659717";
pub const APP_SECRET: &str = "test-app-secret";
pub const MCH_ID: &str = "xy-ticket-mvp-001";
pub const MCH_SECRET: &str = "test-mch-secret";
pub const PURCHASE: &str = "/goofish/order/purchase/create";

pub fn admin_url() -> String {
    std::env::var("XYT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn creds() -> SupplyCredentials {
    SupplyCredentials {
        app_id: APP_ID.into(),
        app_secret: SecretString::from(APP_SECRET),
        mch_id: MCH_ID.into(),
        mch_secret: SecretString::from(MCH_SECRET),
    }
}

pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub xgj: XgjSupplyClient,
    /// Signed with the admin API key `test-admin` (events say `api:test-admin`).
    pub http: reqwest::Client,
    /// No credentials at all.
    pub anonymous: reqwest::Client,
    sessions: tokio::sync::Mutex<std::collections::HashMap<String, Session>>,
    pub db_name: String,
    pub database_url: String,
    running: Option<Running>,
}

/// A fresh database on the test server, named `xyt_test_*` (`just test` drops leftovers).
pub async fn fresh_database() -> (String, String) {
    let admin = admin_url();
    let name = format!("xyt_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("the test PostgreSQL answers (XYT_TEST_DATABASE_URL)");
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .unwrap();
    let (prefix, _) = admin.rsplit_once('/').unwrap();
    (name.clone(), format!("{prefix}/{name}"))
}

pub fn config(database_url: &str) -> EnvConfig {
    EnvConfig {
        database_url: database_url.into(),
        bind: "127.0.0.1:0".into(),
        public_base_url: "https://tickets.example.test".into(),
        xgj: creds(),
        catchup_interval: Duration::from_millis(300),
        xgj_max_body_bytes: 64 * 1024,
        xgj_balance_cent: 100_000_000,
        public_rate_limit_per_minute: 1000,
        delivery: xyt_server::delivery_worker::DeliveryConfig {
            poll: Duration::from_millis(100),
            backoff_base: Duration::from_millis(300),
            ..Default::default()
        },
        file_dir: std::env::temp_dir().join(format!("xyt-test-files-{}", uuid::Uuid::new_v4().simple())),
        ocr_engine: "mock".into(),
        wecom_corp_id: None,
        wecom_corp_secret: None,
        wecom_base_url: None,
        send_timeout: Duration::from_millis(1500),
        auth: xyt_server::auth::AuthConfig::default(),
        console_dir: std::env::temp_dir().join("xyt-test-no-console"),
    }
}

/// The one way a test starts the app: `Spawn::new()` (a fresh database) or `Spawn::on(..)` (a
/// restart on an existing one), optionally `.with(..)` a changed configuration and `.seeded(..)`
/// with less than the demo config, then `.start()`. `spawn()` is the common case.
pub struct Spawn {
    database: Option<(String, String)>,
    seed: Seed,
    changes: Vec<ConfigChange>,
}

/// A change to the environment configuration a test starts the app with.
pub type ConfigChange = Box<dyn FnOnce(&mut EnvConfig)>;

/// What a started app finds in its config centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// The demo config (goods, ticket type, prices, calendar, agent group, targets).
    Demo,
    /// Only the demo goods: no ticket type, prices, calendar, agent group or targets (the config
    /// centre's tests build those through the API), and an empty history, so that those tests
    /// count their own changes only.
    GoodsOnly,
    /// Nothing at all: an empty database, as `xyt serve --demo` finds it.
    Nothing,
}

impl Spawn {
    pub fn new() -> Self {
        Self {
            database: None,
            seed: Seed::Demo,
            changes: vec![],
        }
    }

    /// A restart on an existing database.
    pub fn on(db_name: String, database_url: String) -> Self {
        Self {
            database: Some((db_name, database_url)),
            ..Self::new()
        }
    }

    /// With a changed configuration.
    pub fn with(mut self, change: impl FnOnce(&mut EnvConfig) + 'static) -> Self {
        self.changes.push(Box::new(change));
        self
    }

    pub fn seeded(mut self, seed: Seed) -> Self {
        self.seed = seed;
        self
    }

    pub async fn start(self) -> TestApp {
        let (db_name, database_url) = match self.database {
            Some(d) => d,
            None => fresh_database().await,
        };
        let mut c = config(&database_url);
        for change in self.changes {
            change(&mut c);
        }
        let app = start_app(db_name, database_url, c).await;
        match self.seed {
            Seed::Demo => app.seed_goods().await,
            Seed::GoodsOnly => {
                xyt_store::config_centre::load_demo_goods(&app.pool).await.unwrap();
                sqlx::query("TRUNCATE config_changes").execute(&app.pool).await.unwrap();
            }
            Seed::Nothing => {}
        }
        app
    }
}

/// `Spawn::new().with(..).await` starts it, like `.start().await`.
impl std::future::IntoFuture for Spawn {
    type Output = TestApp;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = TestApp>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.start())
    }
}

impl Default for Spawn {
    fn default() -> Self {
        Self::new()
    }
}

/// A fresh database with the demo config: `Spawn::new().start()`.
pub async fn spawn() -> TestApp {
    Spawn::new().start().await
}

async fn start_app(db_name: String, database_url: String, config: EnvConfig) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let running = app::start(config, listener).await.expect("the app starts");
    let base = format!("http://{}", running.addr);
    let pool = running.state.pool.clone();
    // A restart on the same database already has `test-admin`: the new process gets its own key.
    let key = match xyt_server::auth::accounts::create_key(&pool, "test", "test-admin", "admin").await {
        Ok((_, key)) => key,
        Err(_) => {
            let name = format!("test-admin-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            xyt_server::auth::accounts::create_key(&pool, "test", &name, "admin")
                .await
                .expect("the test admin key")
                .1
        }
    };
    TestApp {
        xgj: XgjSupplyClient::new(format!("{base}/xgj"), creds()),
        base,
        pool,
        http: client_with(&[("authorization", &format!("Bearer {key}"))]),
        anonymous: reqwest::Client::new(),
        sessions: Default::default(),
        db_name,
        database_url,
        running: Some(running),
    }
}

/// A client that sends these headers on every request.
pub fn client_with(headers: &[(&str, &str)]) -> reqwest::Client {
    let mut map = reqwest::header::HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            reqwest::header::HeaderValue::from_str(v).unwrap(),
        );
    }
    reqwest::Client::builder().default_headers(map).build().unwrap()
}

/// A signed-in console session: its cookie and CSRF token on every request.
#[derive(Clone)]
pub struct Session {
    pub http: reqwest::Client,
}

pub const TEST_PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// Adds a user with [`TEST_PASSWORD`].
    pub async fn add_user(&self, username: &str, role: &str) {
        xyt_server::auth::accounts::add_user(
            &self.pool,
            "test",
            xyt_server::auth::accounts::NewUser {
                username: username.into(),
                display_name: None,
                role: role.into(),
                password: TEST_PASSWORD.into(),
            },
        )
        .await
        .expect("the user is added");
    }

    /// Signs in through `POST /api/auth/login`; the raw answer.
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.anonymous
            .post(format!("{}/api/auth/login", self.base))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// A session of `username` (an admin, added on first use): its events say `admin:<username>`.
    pub async fn signed_in(&self, username: &str) -> reqwest::Client {
        self.session(username, "admin").await.http
    }

    /// A session of `username` with `role` (added on first use).
    pub async fn session(&self, username: &str, role: &str) -> Session {
        let mut sessions = self.sessions.lock().await;
        if let Some(s) = sessions.get(username) {
            return s.clone();
        }
        self.add_user(username, role).await;
        let r = self.login(username, TEST_PASSWORD).await;
        assert_eq!(r.status(), 200, "sign-in of {username}");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("xyt_session="))
            .expect("a session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let me: Value = r.json().await.unwrap();
        let csrf = me["csrfToken"].as_str().unwrap().to_string();
        let s = Session {
            http: client_with(&[("cookie", &cookie), ("x-csrf-token", &csrf)]),
        };
        sessions.insert(username.into(), s.clone());
        s
    }

    /// A new API key with `role`.
    pub async fn api_key(&self, name: &str, role: &str) -> String {
        xyt_server::auth::accounts::create_key(&self.pool, "test", name, role)
            .await
            .expect("the key is created")
            .1
    }

    /// The demo config but its QR code (see [`Self::activate_qr`]): goods, price table
    /// (初级道 3 小时: 380 / 426 / 498), season calendar, agent group and price-alert target.
    async fn seed_goods(&self) {
        xyt_store::config_centre::load_demo(&self.pool, None).await.unwrap();
    }

    /// The running app's config cache.
    pub fn config_cache(&self) -> std::sync::Arc<xyt_store::config_centre::cache::ConfigCache> {
        self.running.as_ref().expect("the app runs").state.config_cache.clone()
    }

    /// Waits (up to 10 s) until the app's config cache listens, so that it serves from memory.
    pub async fn cache_listening(&self) {
        let cache = self.config_cache();
        for _ in 0..200 {
            if cache.is_listening() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the config listener never connected");
    }

    /// An active payment QR code, unless one is active already.
    pub async fn activate_qr(&self) {
        let png = xyt_integrations::ocr::png_with_ocr_text(64, 64, "qr");
        sqlx::query(
            "INSERT INTO payment_qr_codes (id, label, content_type, sha256, size, image, active, created_by)
             SELECT $1, '收款码', 'image/png', 'x', $2, $3, true, 'test'
             WHERE NOT EXISTS (SELECT 1 FROM payment_qr_codes WHERE active)",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(png.len() as i32)
        .bind(&png)
        .execute(&self.pool)
        .await
        .unwrap();
    }

    /// Puts an image into the running app's file store; its sha256.
    pub async fn running_files_put(&self, bytes: &[u8]) -> String {
        let checked = xyt_integrations::files::check_image(bytes, &Default::default()).expect("a valid image");
        let state = &self.running.as_ref().expect("the app runs").state;
        state.files.put(bytes, &checked).await.unwrap();
        checked.sha256
    }

    /// Stops the server (the database stays, for a restart on it). What the test does next goes
    /// through a pool of its own: the server's pool holds connections that its workers' runtimes
    /// opened, which die with them ("a Tokio context ... is being shutdown").
    pub async fn stop_server(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
            self.pool = xyt_store::db::pool(&self.database_url, 10).expect("a pool for the test");
        }
    }

    /// Stops the app and drops its database.
    pub async fn finish(mut self) {
        self.stop_server().await;
        self.pool.close().await;
        let mut conn = PgConnection::connect(&admin_url()).await.unwrap();
        let _ = conn
            .execute(format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.db_name).as_str())
            .await;
    }

    pub fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    pub fn purchase_call(&self, body: &Value) -> SignedCall {
        self.xgj.supply_call(PURCHASE, body, Self::now())
    }

    /// Posts raw bytes to a full URL and returns (HTTP status, body text).
    pub async fn post_raw(&self, url: &str, body: Vec<u8>) -> (u16, String) {
        let r = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    /// Sends a signed call; asserts HTTP 200 (XGJ's calls always get 200) and returns the body.
    pub async fn send(&self, call: &SignedCall) -> (String, Value) {
        let (status, text) = self.post_raw(&call.url, call.body.clone()).await;
        assert_eq!(status, 200, "XGJ calls are answered with HTTP 200: {text}");
        let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON answer: {text}"));
        (text, v)
    }

    pub async fn purchase(&self, body: &Value) -> Value {
        self.send(&self.purchase_call(body)).await.1
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text })),
        )
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    pub async fn event_count(&self) -> i64 {
        self.count("SELECT count(*) FROM events").await
    }

    /// The order number we gave the XGJ order, via the list API.
    pub async fn order_no_of(&self, external: &str) -> String {
        let (status, page) = self.get(&format!("/api/orders?keyword={external}")).await;
        assert_eq!(status, 200, "{page}");
        page["items"][0]["orderNo"]
            .as_str()
            .unwrap_or_else(|| panic!("no order for {external}: {page}"))
            .to_string()
    }
}

pub fn seed() -> Value {
    xyt_server::demo::seed_purchase()
}

pub fn purchase(order_no: &str, goods_no: &str, quantity: i64) -> Value {
    xyt_server::demo::purchase(order_no, goods_no, quantity)
}

pub fn md5_hex(b: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(b))
}

/// Today in Asia/Shanghai, as the form validation sees it.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// The first date from `today + 1` on that the demo calendar puts in `season`.
pub fn next_date_in(season: xyt_domain::pricing::SeasonType) -> chrono::NaiveDate {
    let cal = xyt_domain::pricing::SeasonCalendar::demo();
    (1..170)
        .map(|d| today() + chrono::Days::new(d))
        .find(|d| cal.season_for(*d) == season)
        .expect("a date in the season within the horizon")
}

/// A valid form (the seed's buyer with the check digit corrected).
pub fn good_form(play_date: chrono::NaiveDate) -> Value {
    json!({
        "name": "马上到",
        "phoneCountryCode": "+86",
        "phone": "18852341234",
        "certificateType": "id_card",
        "certificateNo": "320911198804223314",
        "playDate": play_date.to_string()
    })
}

impl TestApp {
    /// The token of the order's card link.
    pub async fn form_token(&self, order_no: &str) -> String {
        let (_, d) = self.get(&format!("/api/orders/{order_no}")).await;
        d["formLink"].as_str().unwrap().rsplit('/').next().unwrap().to_string()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text })),
        )
    }

    /// Takes an order in through the gateway and returns its order number and form token.
    pub async fn order_with_token(&self, external: &str, goods_no: &str) -> (String, String) {
        let v = self.purchase(&purchase(external, goods_no, 1)).await;
        assert_eq!(v["code"], 0, "{v}");
        let no = self.order_no_of(external).await;
        let token = self.form_token(&no).await;
        (no, token)
    }
}
