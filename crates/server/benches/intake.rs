//! `just bench`: what taking an order in costs, as a ratio against a baseline measured in the
//! same run on the same machine (never an absolute time asserted anywhere).
//!
//! - baseline: a signed `/xgj/goofish/open/info` call: the same HTTP, body cap and signature
//!   check, no database write;
//! - intake: a signed `purchase/create` of a new order: claim, two events, three views;
//! - repeat: the same `purchase/create` again (XGJ's retry): the kept answer;
//! - list: `GET /api/orders?limit=50` over the orders taken in.
//!
//! Needs PostgreSQL at XYT_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
//! creates and drops its own database.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use sqlx::{Connection, Executor, PgConnection};
use xyt_integrations::xgj::{SupplyCredentials, XgjSupplyClient};
use xyt_server::config::Config;

fn creds() -> SupplyCredentials {
    SupplyCredentials {
        app_id: "677859093659717".into(),
        app_secret: SecretString::from("bench-app-secret"),
        mch_id: "bench-mch".into(),
        mch_secret: SecretString::from("bench-mch-secret"),
    }
}

async fn time<F, Fut>(n: usize, mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    for i in 0..n {
        f(i).await;
    }
    start.elapsed() / n as u32
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; test runners that list or run every target (cargo test
    // --all-targets, nextest) do not, and get nothing to run.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let n: usize = std::env::var("XYT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let admin =
        std::env::var("XYT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("xyt_test_bench_{}", uuid::Uuid::new_v4().simple());
    PgConnection::connect(&admin)
        .await?
        .execute(format!(r#"CREATE DATABASE "{db}""#).as_str())
        .await?;
    let url = format!("{}/{db}", admin.rsplit_once('/').unwrap().0);
    let config = Config {
        database_url: url,
        bind: "127.0.0.1:0".into(),
        public_base_url: "https://bench.example.test".into(),
        xgj: creds(),
        catchup_interval: Duration::from_secs(5),
        xgj_max_body_bytes: 64 * 1024,
        xgj_balance_cent: 1,
        public_rate_limit_per_minute: 1000,
        delivery: Default::default(),
        file_dir: std::env::temp_dir().join("xyt-bench-files"),
        ocr_engine: "mock".into(),
        wecom_corp_id: None,
        wecom_corp_secret: None,
        wecom_base_url: None,
        send_timeout: Duration::from_secs(5),
        auth: Default::default(),
        console_dir: std::env::temp_dir().join("xyt-bench-no-console"),
    };
    let running = xyt_server::app::start(config, TcpListener::bind("127.0.0.1:0")?).await?;
    for g in xyt_server::demo::demo_goods() {
        xyt_store::goods::upsert(&running.state.pool, &g).await?;
    }
    let base = format!("http://{}", running.addr);
    let client = XgjSupplyClient::new(format!("{base}/xgj"), creds());
    let (_, key) = xyt_server::auth::accounts::create_key(&running.state.pool, "bench", "bench", "auditor").await?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {key}").parse()?);
    let http = reqwest::Client::builder().default_headers(headers).build()?;
    let now = chrono::Utc::now().timestamp();
    // Warm up connections and caches.
    for _ in 0..20 {
        client
            .send(&client.supply_call("/goofish/open/info", &serde_json::json!({}), now))
            .await?;
    }
    let baseline = time(n, |_| {
        let call = client.supply_call("/goofish/open/info", &serde_json::json!({}), now);
        let c = client.clone();
        async move {
            c.send(&call).await.unwrap();
        }
    })
    .await;
    let intake = time(n, |i| {
        let body = xyt_server::demo::purchase(&format!("46{i:017}"), "初级道 3 小时-淡季", 1);
        let call = client.supply_call("/goofish/order/purchase/create", &body, now);
        let c = client.clone();
        async move {
            assert_eq!(c.send(&call).await.unwrap()["code"], 0);
        }
    })
    .await;
    let repeat = time(n, |i| {
        let body = xyt_server::demo::purchase(&format!("46{i:017}"), "初级道 3 小时-淡季", 1);
        let call = client.supply_call("/goofish/order/purchase/create", &body, now);
        let c = client.clone();
        async move {
            assert_eq!(c.send(&call).await.unwrap()["code"], 0);
        }
    })
    .await;
    let list = time(n, |_| {
        let h = http.clone();
        let url = format!("{base}/api/orders?limit=50");
        async move {
            assert!(h.get(url).send().await.unwrap().status().is_success());
        }
    })
    .await;
    running.stop().await;
    let _ = PgConnection::connect(&admin)
        .await?
        .execute(format!(r#"DROP DATABASE "{db}" WITH (FORCE)"#).as_str())
        .await;

    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64();
    println!("xy-ticket bench, {n} sequential requests each, ratios against the signed open/info baseline:");
    println!(
        "  baseline  open/info (signed, no write)   1.00x  ({:.2} ms)",
        baseline.as_secs_f64() * 1e3
    );
    println!("  intake    purchase/create, new order      {:.2}x", ratio(intake));
    println!("  repeat    purchase/create, same order_no  {:.2}x", ratio(repeat));
    println!("  list      GET /api/orders?limit=50        {:.2}x", ratio(list));
    Ok(())
}
