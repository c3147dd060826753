//! The order service's contract with the store: the state a command answers is the state the
//! stream holds (so nothing is read back), and a command decided on an order that changed
//! meanwhile is decided again on the new state, never committed on the old one.

use xyt_domain::order::{EventMeta, OrderCommand, OrderStatus};
use xyt_domain::OrderNo;
use xyt_store::orders::{ExecuteError, OnConflict, OrderStore};

use crate::helpers::*;

fn form() -> xyt_domain::buyer::BuyerForm {
    let input = serde_json::from_value(good_form(next_date_in(xyt_domain::pricing::SeasonType::Mid))).unwrap();
    xyt_domain::buyer::validate(&input, today(), 180).unwrap()
}

fn meta() -> EventMeta {
    EventMeta::accepted("admin:test", "req-service", chrono::Utc::now())
}

/// A fresh order, taken in through the gateway, and a store of its own.
async fn order(app: &TestApp, external: &str) -> (OrderNo, OrderStore) {
    let (no, _) = app.order_with_token(external, "初级道 3 小时-平季").await;
    (OrderNo::parse(&no).unwrap(), OrderStore::new(app.pool.clone()))
}

fn submit() -> OrderCommand {
    OrderCommand::SubmitUserForm { form: form() }
}

#[tokio::test]
async fn the_state_a_command_answers_is_the_state_the_stream_holds() {
    let app = spawn().await;
    let (no, store) = order(&app, "4502196109060000101").await;
    let done = store.execute(&no, submit(), &meta(), OnConflict::Report).await.unwrap();
    assert_eq!(done.events.len(), 1);
    assert_eq!(done.current.order(), &store.load(&no).await.unwrap());
    assert_eq!(done.current.order().form_submissions, 1);
    // The next command on the state in hand commits after it, without a conflict.
    let cancel = OrderCommand::Cancel {
        reason: "测试".into(),
        at: chrono::Utc::now(),
    };
    let done = store
        .execute_on(done.current, cancel, &meta(), OnConflict::Report)
        .await
        .unwrap();
    assert_eq!(done.events.len(), 1);
    assert_eq!(done.current.order().status, Some(OrderStatus::Cancelled));
    assert_eq!(done.current.order(), &store.load(&no).await.unwrap());
    app.finish().await;
}

#[tokio::test]
async fn a_command_on_an_order_that_changed_meanwhile_is_decided_again_or_reported() {
    let app = spawn().await;
    let (no, store) = order(&app, "4502196109060000102").await;
    let stale = store.current(&no).await.unwrap();
    let also_stale = store.current(&no).await.unwrap();
    store.execute(&no, submit(), &meta(), OnConflict::Report).await.unwrap();
    let before = app.event_count().await;
    // Reported: an operator's view of the order is out of date.
    let reported = store.execute_on(stale, submit(), &meta(), OnConflict::Report).await;
    assert!(
        matches!(reported, Err(ExecuteError::Conflict)),
        "a stale commit is refused"
    );
    // Retried: decided again on the new state, where the same form is already there.
    let retried = store
        .execute_on(also_stale, submit(), &meta(), OnConflict::Retry)
        .await
        .unwrap();
    assert!(retried.events.is_empty(), "the same form twice is stored once");
    assert_eq!(retried.current.order().form_submissions, 1);
    assert_eq!(app.event_count().await, before, "nothing written twice");
    app.finish().await;
}
