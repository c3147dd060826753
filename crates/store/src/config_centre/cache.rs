//! The config cache: the reads on the intake and price-check path (goods by goods no, fee rate,
//! season calendar, settlement amount, play-date horizon) served from memory.
//!
//! Invalidation (docs/decisions/0007-config-cache.md): a statement trigger on `goods`,
//! `settings` and `price_table` calls `pg_notify(CHANNEL)` in the writing transaction, so every
//! committed change, by any process and through any path, reaches every instance that LISTENs.
//! - Each notification clears the whole cache (config changes are rare; reads are not).
//! - The cache serves from memory only while its listener is connected. A (re)connect clears
//!   everything, since notifications sent while it was down are lost; while it is down every read
//!   goes to the database.
//! - A read that started before an invalidation does not store its answer (a generation count),
//!   so a value read just before a change cannot outlive the change's notification.
//! - The writing instance also clears its cache itself ([`ConfigCache::invalidate`]) when its own
//!   write returns, so it reads its own writes without waiting for the notification.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use xyt_domain::pricing::{SeasonCalendar, SeasonType};

use super::Goods;

/// The channel the config tables' trigger notifies (migration `20261129120001_config_notify`).
pub const CHANNEL: &str = "xyt_config_changed";
/// Keyed entries kept at most (goods, settlement amounts); past it the map starts over, so no
/// caller can grow memory by asking for many different keys.
const MAX_KEYED: usize = 10_000;
const RECONNECT_MAX: Duration = Duration::from_secs(5);

#[derive(Default)]
struct State {
    /// Whether the listener is connected: only then may a value be served from memory.
    listening: bool,
    /// Bumped by every invalidation.
    generation: u64,
    goods: HashMap<String, Option<Goods>>,
    settlements: HashMap<(String, SeasonType), Option<Decimal>>,
    fee_rate: Option<Decimal>,
    calendar: Option<SeasonCalendar>,
    horizon: Option<i64>,
}

impl State {
    fn clear(&mut self) {
        self.generation += 1;
        self.goods.clear();
        self.settlements.clear();
        self.fee_rate = None;
        self.calendar = None;
        self.horizon = None;
    }
}

pub struct ConfigCache {
    pool: PgPool,
    state: Mutex<State>,
}

fn count(outcome: &str) {
    crate::metrics::inc(
        "xyt_config_cache_reads_total",
        "Config reads on the order path: hit (memory), miss (read and kept), through (listener down or raced)",
        &[("outcome", outcome)],
    );
}

impl ConfigCache {
    /// A cache that reads through until [`ConfigCache::spawn_listener`] has connected.
    pub fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            state: Mutex::default(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets everything cached.
    pub fn invalidate(&self) {
        self.state().clear();
    }

    /// Whether reads may be served from memory (the listener is connected).
    pub fn is_listening(&self) -> bool {
        self.state().listening
    }

    /// Whether `goods_no` is served from memory now (for tests and diagnostics).
    pub fn holds_goods(&self, goods_no: &str) -> bool {
        let s = self.state();
        s.listening && s.goods.contains_key(goods_no)
    }

    fn set_listening(&self, listening: bool) {
        let mut s = self.state();
        s.clear();
        s.listening = listening;
    }

    /// Listens for config changes until aborted, reconnecting (with back-off up to 5 s) whenever
    /// the connection is lost.
    pub fn spawn_listener(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match cache.listen().await {
                    Ok(()) => {
                        tracing::warn!("config listener lost its connection; reading config through until it is back");
                        backoff = Duration::from_millis(100);
                    }
                    Err(e) => tracing::warn!(error = %e, "config listener failed; reading config through"),
                }
                cache.set_listening(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RECONNECT_MAX);
            }
        })
    }

    /// One connection's worth of listening: returns when it is lost.
    async fn listen(&self) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        // Whatever changed before this point is forgotten; from here on every change is heard.
        self.set_listening(true);
        tracing::info!(channel = CHANNEL, "config listener connected");
        while listener.try_recv().await?.is_some() {
            self.invalidate();
        }
        Ok(())
    }

    /// Serves `get` from memory when allowed, else runs `load` and keeps its answer unless an
    /// invalidation came in meanwhile.
    async fn read<T: Clone, F>(
        &self,
        get: impl FnOnce(&State) -> Option<T>,
        put: impl FnOnce(&mut State, T),
        load: F,
    ) -> Result<T, sqlx::Error>
    where
        F: Future<Output = Result<T, sqlx::Error>>,
    {
        let generation = {
            let s = self.state();
            if s.listening {
                if let Some(v) = get(&s) {
                    count("hit");
                    return Ok(v);
                }
            }
            s.generation
        };
        let v = load.await?;
        let mut s = self.state();
        if s.listening && s.generation == generation {
            count("miss");
            put(&mut s, v.clone());
        } else {
            count("through");
        }
        Ok(v)
    }

    /// [`super::get_goods`], cached.
    pub async fn goods(&self, goods_no: &str) -> Result<Option<Goods>, sqlx::Error> {
        self.read(
            |s| s.goods.get(goods_no).cloned(),
            |s, v| {
                if s.goods.len() >= MAX_KEYED {
                    s.goods.clear();
                }
                s.goods.insert(goods_no.to_string(), v);
            },
            super::get_goods(&self.pool, goods_no),
        )
        .await
    }

    /// [`super::fee_rate`], cached.
    pub async fn fee_rate(&self) -> Result<Decimal, sqlx::Error> {
        self.read(|s| s.fee_rate, |s, v| s.fee_rate = Some(v), super::fee_rate(&self.pool))
            .await
    }

    /// [`super::season_calendar`], cached.
    pub async fn season_calendar(&self) -> Result<SeasonCalendar, sqlx::Error> {
        self.read(
            |s| s.calendar.clone(),
            |s, v| s.calendar = Some(v),
            super::season_calendar(&self.pool),
        )
        .await
    }

    /// [`super::play_date_horizon_days`], cached.
    pub async fn play_date_horizon_days(&self) -> Result<i64, sqlx::Error> {
        self.read(
            |s| s.horizon,
            |s, v| s.horizon = Some(v),
            super::play_date_horizon_days(&self.pool),
        )
        .await
    }

    /// [`super::settlement_amount`], cached.
    pub async fn settlement_amount(
        &self,
        ticket_type: &str,
        season: SeasonType,
    ) -> Result<Option<Decimal>, sqlx::Error> {
        let key = (ticket_type.to_string(), season);
        self.read(
            |s| s.settlements.get(&key).cloned(),
            |s, v| {
                if s.settlements.len() >= MAX_KEYED {
                    s.settlements.clear();
                }
                s.settlements.insert(key.clone(), v);
            },
            super::settlement_amount(&self.pool, ticket_type, season),
        )
        .await
    }
}
