//! A replace rebuild drops the views' secondary indexes while it refills them and builds them
//! again at the end; one that stopped half way leaves their definitions behind, and the next
//! rebuild (of either mode) builds them. Needs PostgreSQL at XYT_TEST_DATABASE_URL (default
//! postgres://postgres@127.0.0.1:5432/postgres); creates and drops its own database.

use sqlx::{Connection, Executor, PgConnection, PgPool};
use xyt_store::projections::{Projections, RebuildMode};

async fn fresh_database() -> (String, String, PgPool) {
    let admin =
        std::env::var("XYT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("xyt_test_rebuild_{}", uuid::Uuid::new_v4().simple());
    PgConnection::connect(&admin)
        .await
        .unwrap()
        .execute(format!(r#"CREATE DATABASE "{db}""#).as_str())
        .await
        .unwrap();
    let url = format!("{}/{db}", admin.rsplit_once('/').unwrap().0);
    let pool = xyt_store::db::pool(&url, 4).unwrap();
    xyt_store::db::migrate(&pool).await.unwrap();
    (admin, db, pool)
}

async fn drop_database(admin: &str, db: &str, pool: PgPool) {
    pool.close().await;
    let _ = PgConnection::connect(admin)
        .await
        .unwrap()
        .execute(format!(r#"DROP DATABASE "{db}" WITH (FORCE)"#).as_str())
        .await;
}

/// Every index of the view tables, with its definition.
async fn view_indexes(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes
         WHERE tablename IN ('order_list', 'order_detail', 'order_event_log', 'projection_offsets')
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_rebuild_leaves_the_views_indexed_as_before_and_heals_one_that_stopped_half_way() {
    let (admin, db, pool) = fresh_database().await;
    let before = view_indexes(&pool).await;
    assert!(before.iter().any(|i| i.0 == "order_list_status"), "{before:?}");
    let projections = Projections::new(pool.clone());

    projections.rebuild(RebuildMode::Replace, &mut |_| {}).await.unwrap();
    assert_eq!(view_indexes(&pool).await, before);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM rebuild_dropped_indexes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);

    // A replace rebuild that stopped after its truncate: the index is gone, its definition kept.
    let definition = &before.iter().find(|i| i.0 == "order_list_status").unwrap().1;
    sqlx::query("INSERT INTO rebuild_dropped_indexes (name, definition) VALUES ('order_list_status', $1)")
        .bind(definition)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DROP INDEX order_list_status")
        .execute(&pool)
        .await
        .unwrap();
    assert_ne!(view_indexes(&pool).await, before);

    let report = projections.rebuild(RebuildMode::Verify, &mut |_| {}).await.unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    assert_eq!(view_indexes(&pool).await, before);

    drop_database(&admin, &db, pool).await;
}
