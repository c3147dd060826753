//! System steps of the order pipeline that follow from events: the price check after each form
//! submission. Each step is idempotent and re-derivable from the order's state, so the request
//! that caused it runs it at once and a sweep runs whatever a crash left undone.

use chrono::Utc;
use xyt_domain::order::{EventMeta, OrderCommand, OrderError};
use xyt_domain::pricing::{check_price, PriceCheckInput};
use xyt_domain::OrderNo;
use xyt_store::orders::{ExecuteError, OnConflict, OrderStore};
use xyt_store::{config, settings, views, PgPool};

/// Runs the price check an order owes, if any, with today's config; the event records every input.
pub async fn run_price_check(
    pool: &PgPool,
    orders: &OrderStore,
    order_no: &OrderNo,
    request_id: &str,
) -> anyhow::Result<()> {
    for _ in 0..5 {
        let order = orders.load(order_no).await?;
        let Some(form) = order.form.clone().filter(|_| order.price_check_pending) else {
            return Ok(());
        };
        let calendar = config::season_calendar(pool).await?;
        let season_type = calendar.season_for(form.play_date);
        let settlement_amount = match &order.ticket_type {
            Some(t) => config::settlement_amount(pool, t, season_type).await?,
            None => None,
        };
        let check = check_price(PriceCheckInput {
            play_date: form.play_date,
            ticket_type: order.ticket_type.clone(),
            goods_season_label: order.season_label.clone(),
            paid_amount: order.paid_amount,
            fee_rate: settings::fee_rate(pool).await?,
            season_type,
            settlement_amount,
        });
        let meta = EventMeta::accepted("system", request_id, Utc::now());
        match orders
            .execute(
                order_no,
                OrderCommand::RecordPriceCheck { check, for_form: form },
                &meta,
                OnConflict::Retry,
            )
            .await
        {
            Ok(_) => return Ok(()),
            // The buyer corrected the form meanwhile: check the new one.
            Err(ExecuteError::Domain(OrderError::StalePriceCheck)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("order {order_no}: the form kept changing during its price check")
}

/// Runs every price check still owed (after a crash between the form and its check).
pub async fn sweep(pool: &PgPool, orders: &OrderStore) -> anyhow::Result<usize> {
    let mut done = 0;
    for no in views::orders_with_pending_price_check(pool, 200).await? {
        let Ok(order_no) = OrderNo::parse(&no) else { continue };
        match run_price_check(pool, orders, &order_no, "sweep").await {
            Ok(()) => done += 1,
            Err(e) => tracing::warn!(order_no = %no, error = format!("{e:#}"), "owed price check failed; will retry"),
        }
    }
    Ok(done)
}
