//! Configuration from the environment (a `.env` file is read when present), validated once at
//! start-up so a typo fails the start, not the first order.

use std::time::Duration;

use secrecy::SecretString;
use xyt_integrations::xgj::SupplyCredentials;

#[derive(Debug, Clone)]
pub struct EnvConfig {
    pub database_url: String,
    pub bind: String,
    /// Base of the links we hand out (`{public_base_url}/f/{token}`), no trailing slash.
    pub public_base_url: String,
    pub xgj: SupplyCredentials,
    pub catchup_interval: Duration,
    pub xgj_max_body_bytes: usize,
    /// What `/goofish/user/info` reports as our balance, in cents.
    pub xgj_balance_cent: i64,
    /// Requests per minute one client address may make to the public form API.
    pub public_rate_limit_per_minute: u32,
    pub delivery: crate::delivery_worker::DeliveryConfig,
    /// Where uploaded images are kept, content-addressed by sha256.
    pub file_dir: std::path::PathBuf,
    /// `mock` (default; reads the PNG iTXt chunk `xyt-ocr`) or `tesseract`.
    pub ocr_engine: String,
    /// WeCom app-chat credentials and base URL (`wecom-app:` targets); absent: not configured.
    pub wecom_corp_id: Option<String>,
    pub wecom_corp_secret: Option<String>,
    pub wecom_base_url: Option<String>,
    /// Total time one outgoing HTTP call (WeCom, XGJ) may take.
    pub send_timeout: Duration,
    /// Session lifetimes and sign-in throttling.
    pub auth: crate::auth::AuthConfig,
    /// The built operator console served at `/` (`XYT_CONSOLE_DIR`, default `frontend/dist`).
    pub console_dir: std::path::PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn required(name: &str) -> Result<String, ConfigError> {
    var(name).ok_or_else(|| ConfigError(format!("{name} is not set (see .env.example)")))
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ConfigError(format!("{name}={v} is not a valid number"))),
    }
}

/// `DATABASE_URL` alone, for the tools that need nothing else (`xyt user`, `xyt api-key`).
pub fn database_url_from_env() -> Result<String, ConfigError> {
    required("DATABASE_URL")
}

impl EnvConfig {
    /// How long a request waits for a send a worker took first (its outcome shown in the answer):
    /// the worker's own send plus its bookkeeping, never less than 10 s so a busy machine does
    /// not answer before the outcome is on the order.
    pub fn settle_wait(&self) -> Duration {
        (self.send_timeout * 3).max(Duration::from_secs(10))
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let public_base_url = var("XYT_PUBLIC_BASE_URL").unwrap_or_else(|| "http://127.0.0.1:8080".into());
        if !(public_base_url.starts_with("http://") || public_base_url.starts_with("https://")) {
            return Err(ConfigError(format!(
                "XYT_PUBLIC_BASE_URL={public_base_url} must start with http:// or https://"
            )));
        }
        let app_id = required("XYT_XGJ_APP_ID")?;
        // XGJ's open/info answers app_id as an int64 that must equal the XGJ AppKey.
        if app_id.parse::<i64>().is_err() {
            return Err(ConfigError(format!(
                "XYT_XGJ_APP_ID={app_id} must be XGJ's numeric AppKey"
            )));
        }
        let config = Self {
            database_url: required("DATABASE_URL")?,
            bind: var("XYT_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            public_base_url: public_base_url.trim_end_matches('/').to_string(),
            xgj: SupplyCredentials {
                app_id,
                app_secret: SecretString::from(required("XYT_XGJ_APP_SECRET")?),
                mch_id: required("XYT_XGJ_MCH_ID")?,
                mch_secret: SecretString::from(required("XYT_XGJ_MCH_SECRET")?),
            },
            catchup_interval: Duration::from_secs(number("XYT_CATCHUP_INTERVAL_SECS", 5u64)?.max(1)),
            xgj_max_body_bytes: number("XYT_XGJ_MAX_BODY_BYTES", 64 * 1024usize)?,
            xgj_balance_cent: number("XYT_XGJ_BALANCE_CENT", 100_000_000i64)?,
            public_rate_limit_per_minute: number("XYT_PUBLIC_RATE_LIMIT_PER_MIN", 30u32)?.max(1),
            delivery: crate::delivery_worker::DeliveryConfig {
                poll: Duration::from_millis(number("XYT_DELIVERY_POLL_MS", 1000u64)?.max(10)),
                backoff_base: Duration::from_millis(number("XYT_DELIVERY_BACKOFF_BASE_MS", 10_000u64)?.max(1)),
                ..Default::default()
            },
            file_dir: var("XYT_FILE_DIR").unwrap_or_else(|| ".data/files".into()).into(),
            ocr_engine: {
                let e = var("XYT_OCR_ENGINE").unwrap_or_else(|| "mock".into());
                xyt_integrations::ocr::engine_from_name(&e).map_err(ConfigError)?;
                e
            },
            wecom_corp_id: var("XYT_WECOM_CORP_ID"),
            wecom_corp_secret: var("XYT_WECOM_CORP_SECRET"),
            wecom_base_url: var("XYT_WECOM_BASE_URL"),
            send_timeout: Duration::from_millis(number("XYT_SEND_TIMEOUT_MS", 10_000u64)?.max(100)),
            auth: crate::auth::AuthConfig {
                session_idle: Duration::from_secs(60 * number("XYT_SESSION_IDLE_MINUTES", 480u64)?.max(1)),
                session_absolute: Duration::from_secs(3600 * number("XYT_SESSION_MAX_HOURS", 168u64)?.max(1)),
                ..Default::default()
            },
            console_dir: var("XYT_CONSOLE_DIR").unwrap_or_else(|| "frontend/dist".into()).into(),
        };
        Ok(config)
    }
}
