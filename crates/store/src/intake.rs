//! Idempotency of XGJ's 创建卡密订单 on its `order_no` (see the migration for the strategy).

use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Intake {
    pub external_order_no: String,
    pub order_no: String,
    pub answer: Option<String>,
}

pub async fn find<'c>(conn: impl sqlx::PgExecutor<'c>, external_order_no: &str) -> Result<Option<Intake>, sqlx::Error> {
    sqlx::query_as("SELECT external_order_no, order_no, answer FROM xgj_intake WHERE external_order_no = $1")
        .bind(external_order_no)
        .fetch_optional(conn)
        .await
}

/// What a claim found: the order number every copy of the call uses, the answer kept for it
/// (a repeat), and whether this call's candidate became the number (nothing of the order can
/// exist yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub order_no: String,
    pub answer: Option<String>,
    pub won: bool,
}

/// Claims `candidate` as the order number of `external_order_no`, with `answer` kept for it when
/// the caller built it already, or returns the number (and answer) an earlier or concurrent
/// call claimed. Either way every caller gets the same one; one round trip unless a concurrent
/// claim is still committing. In a transaction, a concurrent copy waits for it to end: the claim
/// and the order it names commit together, or neither does.
pub async fn claim<'c>(
    conn: impl sqlx::Acquire<'c, Database = sqlx::Postgres>,
    external_order_no: &str,
    biz_order_no: &str,
    candidate: &str,
    answer: Option<&str>,
) -> Result<Claim, sqlx::Error> {
    let mut conn = conn.acquire().await?;
    let row: Option<(String, Option<String>, bool)> = sqlx::query_as(
        "WITH ins AS (
             INSERT INTO xgj_intake (external_order_no, biz_order_no, order_no, answer, answered_at)
             VALUES ($1, $2, $3, $4, CASE WHEN $4 IS NOT NULL THEN now() END)
             ON CONFLICT (external_order_no) DO NOTHING RETURNING order_no)
         SELECT order_no, NULL::text, true FROM ins
         UNION ALL
         SELECT order_no, answer, false FROM xgj_intake
         WHERE external_order_no = $1 AND NOT EXISTS (SELECT 1 FROM ins)",
    )
    .bind(external_order_no)
    .bind(biz_order_no)
    .bind(candidate)
    .bind(answer)
    .fetch_optional(&mut *conn)
    .await?;
    let (order_no, answer, won) = match row {
        Some(r) => r,
        // A concurrent claim committed while the statement ran: its snapshot predates that
        // commit, a new statement's does not.
        None => {
            let i = find(&mut *conn, external_order_no)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
            (i.order_no, i.answer, false)
        }
    };
    Ok(Claim { order_no, answer, won })
}

/// Keeps the first answer given and returns the one kept, so concurrent callers that built
/// their answers independently all send the same bytes.
pub async fn keep_answer(pool: &PgPool, external_order_no: &str, answer: &str) -> Result<String, sqlx::Error> {
    let kept: Option<String> = sqlx::query_scalar(
        "UPDATE xgj_intake SET answer = $2, answered_at = now() WHERE external_order_no = $1 AND answer IS NULL
         RETURNING answer",
    )
    .bind(external_order_no)
    .bind(answer)
    .fetch_optional(pool)
    .await?;
    if let Some(kept) = kept {
        return Ok(kept);
    }
    // Another call kept its answer first. A second statement, not one: under READ COMMITTED a
    // single statement's snapshot predates a concurrent winner's commit.
    sqlx::query_scalar("SELECT answer FROM xgj_intake WHERE external_order_no = $1 AND answer IS NOT NULL")
        .bind(external_order_no)
        .fetch_one(pool)
        .await
}

/// The order number for a Xianyu order number as XGJ's ERP push names it: XGJ's `order_no`
/// or, failing that, its `biz_order_no` (the two are equal in every order seen so far).
pub async fn order_no_for(pool: &PgPool, xianyu_order_no: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT order_no FROM xgj_intake WHERE external_order_no = $1
         UNION ALL SELECT order_no FROM xgj_intake WHERE biz_order_no = $1 LIMIT 1",
    )
    .bind(xianyu_order_no)
    .fetch_optional(pool)
    .await
}

/// The kept answer of the order whose virtual card order number is `out_order_no`.
pub async fn answer_for_out_order_no(pool: &PgPool, out_order_no: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT i.answer FROM xgj_intake i JOIN order_list l ON l.order_no = i.order_no WHERE l.out_order_no = $1",
    )
    .bind(out_order_no)
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// Our order number for its virtual card order number `out_order_no`.
pub async fn order_no_for_out_order_no(pool: &PgPool, out_order_no: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT order_no FROM order_list WHERE out_order_no = $1")
        .bind(out_order_no)
        .fetch_optional(pool)
        .await
}
