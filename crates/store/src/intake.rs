//! Idempotency of XGJ's 创建卡密订单 on its `order_no` (see the migration for the strategy).

use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Intake {
    pub external_order_no: String,
    pub order_no: String,
    pub answer: Option<String>,
}

pub async fn find(pool: &PgPool, external_order_no: &str) -> Result<Option<Intake>, sqlx::Error> {
    sqlx::query_as("SELECT external_order_no, order_no, answer FROM xgj_intake WHERE external_order_no = $1")
        .bind(external_order_no)
        .fetch_optional(pool)
        .await
}

/// A claim of a new order's number for XGJ's `order_no`, with the answer built for it, made by
/// the statement that appends the order's events ([`crate::orders::OrderStore::commit_claimed`]).
pub struct NewClaim<'a> {
    pub external_order_no: &'a str,
    pub biz_order_no: &'a str,
    pub answer: &'a str,
}

/// The claim as the guard of a batch write: the order's events and views are written only when
/// it inserted the row (no earlier or concurrent call claimed `external_order_no`; a concurrent
/// one is waited for).
pub(crate) fn claim_part(
    w: &mut crate::projections::BatchWrite,
    claim: &NewClaim<'_>,
    order_no: &str,
) -> Result<(), sqlx::Error> {
    let external = w.bind(claim.external_order_no.to_string())?;
    let biz = w.bind(claim.biz_order_no.to_string())?;
    let order_no = w.bind(order_no.to_string())?;
    let answer = w.bind(claim.answer.to_string())?;
    w.guard(format!(
        "INSERT INTO xgj_intake (external_order_no, biz_order_no, order_no, answer, answered_at)
         VALUES ({external}, {biz}, {order_no}, {answer}, now())
         ON CONFLICT (external_order_no) DO NOTHING RETURNING order_no"
    ));
    Ok(())
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
