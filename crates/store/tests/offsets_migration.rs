//! The offsets' move to one row per order keeps what the old rows (one per projection) said: an
//! order's views keep the lowest of their three versions, one that lacked any of them keeps none
//! (and is refreshed whole), and the deliveries keep theirs. Needs PostgreSQL at
//! XYT_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); creates and
//! drops its own database.

mod common;

use std::borrow::Cow;

use sqlx::migrate::Migrator;

const ONE_ROW_PER_ORDER: i64 = 20261202120001;

#[tokio::test]
async fn old_offsets_move_to_one_row_per_order_without_running_ahead() {
    let db = common::TestDatabase::empty("offsets").await;
    let pool = db.pool.clone();

    // The schema as it stood before the move, with offsets as older code wrote them.
    let all = sqlx::migrate!("../../migrations");
    assert!(all.version_exists(ONE_ROW_PER_ORDER));
    let before = Migrator {
        migrations: Cow::Owned(all.iter().filter(|m| m.version < ONE_ROW_PER_ORDER).cloned().collect()),
        ..Migrator::DEFAULT
    };
    before.run(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO projection_offsets (projection, order_no, version) VALUES
           ('order_list', 'XYA', 3), ('order_detail', 'XYA', 3), ('order_event_log', 'XYA', 2), ('deliveries', 'XYA', 3),
           ('order_list', 'XYB', 2), ('order_detail', 'XYB', 2), ('deliveries', 'XYB', 1),
           ('deliveries', 'XYC', 5)",
    )
    .execute(&pool)
    .await
    .unwrap();

    xyt_store::db::migrate(&pool).await.unwrap();
    let views: Vec<(String, i64)> = sqlx::query_as("SELECT order_no, version FROM view_offsets ORDER BY 1")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(views, [("XYA".to_string(), 2)]);
    let deliveries: Vec<(String, i64)> = sqlx::query_as("SELECT order_no, version FROM delivery_offsets ORDER BY 1")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        deliveries,
        [("XYA".to_string(), 3), ("XYB".to_string(), 1), ("XYC".to_string(), 5)]
    );
    let old: bool = sqlx::query_scalar("SELECT to_regclass('projection_offsets') IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(old, "the old table is gone");

    db.drop().await;
}
