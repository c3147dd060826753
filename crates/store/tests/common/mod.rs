//! A database of the store's tests' own: created empty at XYT_TEST_DATABASE_URL's server
//! (default postgres://postgres@127.0.0.1:5432/postgres) and dropped afterwards.

use sqlx::{Connection, Executor, PgConnection, PgPool};

pub struct TestDatabase {
    admin: String,
    name: String,
    pub pool: PgPool,
}

impl TestDatabase {
    /// A new database with no tables: migrate it (or part of the way) yourself.
    pub async fn empty(prefix: &str) -> Self {
        let admin = std::env::var("XYT_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("xyt_test_{prefix}_{}", uuid::Uuid::new_v4().simple());
        PgConnection::connect(&admin)
            .await
            .unwrap()
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        let pool = xyt_store::db::pool(&url, 4).unwrap();
        Self { admin, name, pool }
    }

    pub async fn drop(self) {
        self.pool.close().await;
        let _ = PgConnection::connect(&self.admin)
            .await
            .unwrap()
            .execute(format!(r#"DROP DATABASE "{}" WITH (FORCE)"#, self.name).as_str())
            .await;
    }
}
