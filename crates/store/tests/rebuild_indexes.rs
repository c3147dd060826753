//! A replace rebuild drops the views' secondary indexes while it refills them and builds them
//! again at the end; one that stopped half way leaves their definitions behind, and the next
//! rebuild (of either mode) builds them. Needs PostgreSQL at XYT_TEST_DATABASE_URL (default
//! postgres://postgres@127.0.0.1:5432/postgres); creates and drops its own database.

mod common;

use sqlx::PgPool;
use xyt_store::projections::{Projections, RebuildMode};

/// Every index of the view tables, with its definition.
async fn view_indexes(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes
         WHERE tablename IN ('order_list', 'order_detail', 'view_offsets')
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_rebuild_leaves_the_views_indexed_as_before_and_heals_one_that_stopped_half_way() {
    let db = common::TestDatabase::empty("rebuild").await;
    let pool = db.pool.clone();
    xyt_store::db::migrate(&pool).await.unwrap();
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

    db.drop().await;
}
