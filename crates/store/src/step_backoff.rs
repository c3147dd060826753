//! The back-off of system steps that keep failing (see the `system_step_backoff` migration).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// How an order's failing steps stand after one more failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    pub failures: i32,
    pub next_attempt_at: DateTime<Utc>,
}

/// Records one more failure: the next attempt waits `base × 2^(failures - 1)`, at most `max`.
/// The error is kept for the operator (control characters dropped, at most 500 characters).
pub async fn record_failure(
    pool: &PgPool,
    order_no: &str,
    error: &str,
    base: Duration,
    max: Duration,
) -> Result<Backoff, sqlx::Error> {
    let error: String = error.chars().filter(|c| !c.is_control()).take(500).collect();
    let (failures, next_attempt_at): (i32, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO system_step_backoff AS b (order_no, failures, next_attempt_at, last_error)
         VALUES ($1, 1, now() + make_interval(secs => LEAST($2, $3)), $4)
         ON CONFLICT (order_no) DO UPDATE SET
             failures = b.failures + 1,
             next_attempt_at = now() + make_interval(secs => LEAST($3, $2 * power(2, LEAST(b.failures, 30)))),
             last_error = EXCLUDED.last_error,
             updated_at = now()
         RETURNING failures, next_attempt_at",
    )
    .bind(order_no)
    .bind(base.as_secs_f64())
    .bind(max.as_secs_f64())
    .bind(error)
    .fetch_one(pool)
    .await?;
    Ok(Backoff {
        failures,
        next_attempt_at,
    })
}

/// The order's steps went through: its back-off, if any, is over.
pub async fn clear(pool: &PgPool, order_no: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM system_step_backoff WHERE order_no = $1")
        .bind(order_no)
        .execute(pool)
        .await?;
    Ok(())
}

/// The orders owing a system step whose back-off (if any) is over and that have not changed for
/// `grace` (the request that caused a step runs it itself; the sweep is for what a crash left):
/// those never failed first, then the longest waiting, so a batch of failing orders cannot
/// crowd out the rest.
pub async fn due_orders(pool: &PgPool, limit: i64, grace: Duration) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT l.order_no FROM order_list l
         LEFT JOIN system_step_backoff b ON b.order_no = l.order_no
         WHERE l.system_step_owed AND (b.next_attempt_at IS NULL OR b.next_attempt_at <= now())
           AND l.updated_at <= now() - make_interval(secs => $2)
         ORDER BY b.next_attempt_at NULLS FIRST, l.order_no
         LIMIT $1",
    )
    .bind(limit)
    .bind(grace.as_secs_f64())
    .fetch_all(pool)
    .await
}
