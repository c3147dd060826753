//! Given/when/then tests of every command, accepted and refused.

use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use rust_decimal_macros::dec;
use serde_json::json;

use super::*;
use crate::ids::{OrderNo, OutOrderNo};

type Fw = TestFramework<Order>;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 21, 3, 51, 47).unwrap()
}

fn seed_goods() -> GoodsSnapshot {
    GoodsSnapshot {
        goods_no: "初级道 3 小时-淡季".into(),
        goods_name: "初级道 3 小时-淡季".into(),
        goods_price_cent: 320,
        ticket_type: "初级道 3 小时".into(),
        season_label: "淡季".into(),
    }
}

fn seed_request() -> serde_json::Value {
    json!({
        "mchId": "xy-ticket-mvp-001",
        "item_id": 1032289603922u64,
        "goods_no": "初级道 3 小时-淡季",
        "order_no": "4502196109060005933",
        "notify_url": "https://open.goofish.pro/api/open/callback/virtual/order/notify/sXgaHmrtRI8f0rzQmcfxj7mWhRMFTK",
        "product_id": 1503090071635525u64,
        "product_sku": 1503090072880709u64,
        "biz_order_no": "4502196109060005933",
        "buy_quantity": 1
    })
}

fn take_in(goods: Option<GoodsSnapshot>, max_amount: Option<i64>, quantity: i64) -> TakeInXgjOrder {
    TakeInXgjOrder {
        order_no: OrderNo::parse("XY20260321035147663EN6S").unwrap(),
        out_order_no: OutOrderNo::parse("VS20260321035147718K6ZJ").unwrap(),
        form_token: "tok".into(),
        form_link: "https://x.test/f/tok".into(),
        request: seed_request(),
        purchase: XgjPurchase {
            order_no: "4502196109060005933".into(),
            goods_no: "初级道 3 小时-淡季".into(),
            buy_quantity: quantity,
            notify_url: "https://open.goofish.pro/notify/abc".into(),
            biz_order_no: "4502196109060005933".into(),
            max_amount,
        },
        goods,
        fee_rate: dec!(0.02),
        received_at: at(),
    }
}

fn cmd(c: TakeInXgjOrder) -> OrderCommand {
    OrderCommand::TakeInXgjOrder(Box::new(c))
}

fn intake_events(c: TakeInXgjOrder) -> Vec<OrderEvent> {
    Order::default().decide(cmd(c)).unwrap()
}

#[tokio::test]
async fn a_new_xgj_order_is_received_and_its_card_order_created() {
    let c = take_in(Some(seed_goods()), None, 1);
    let expected = vec![
        OrderEvent::XgjVirtualOrderReceived(XgjVirtualOrderReceived {
            order_no: c.order_no.clone(),
            external_order_no: "4502196109060005933".into(),
            biz_order_no: "4502196109060005933".into(),
            request: seed_request(),
            goods_no: "初级道 3 小时-淡季".into(),
            buy_quantity: 1,
            notify_url: "https://open.goofish.pro/notify/abc".into(),
            goods_snapshot: Some(seed_goods()),
            ticket_type: Some("初级道 3 小时".into()),
            season_label: Some("淡季".into()),
            paid_amount: Some(dec!(3.20)),
            fee_rate: dec!(0.02),
            payable_amount: Some(dec!(3.14)),
            unknown_goods: false,
        }),
        OrderEvent::XgjVirtualCardOrderCreated(XgjVirtualCardOrderCreated {
            request: seed_request(),
            out_order_no: c.out_order_no.clone(),
            virtual_order_status: 20,
            form_link: "https://x.test/f/tok".into(),
            form_token: "tok".into(),
            order_amount_cent: 320,
            order_time: at().timestamp(),
        }),
    ];
    Fw::with(())
        .given_no_previous_events()
        .when_async(cmd(c))
        .await
        .then_expect_events(expected);
}

#[tokio::test]
async fn a_repeated_intake_of_the_same_xgj_order_changes_nothing() {
    let given = intake_events(take_in(Some(seed_goods()), None, 1));
    let mut again = take_in(Some(seed_goods()), None, 1);
    again.order_no = OrderNo::parse("XY20260321035147999AAAA").unwrap();
    Fw::with(())
        .given(given)
        .when_async(cmd(again))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn another_xgj_order_on_a_taken_order_number_is_refused() {
    let given = intake_events(take_in(Some(seed_goods()), None, 1));
    let mut other = take_in(Some(seed_goods()), None, 1);
    other.purchase.order_no = "4502196109060009999".into();
    Fw::with(())
        .given(given)
        .when_async(cmd(other))
        .await
        .then_expect_error(OrderError::OtherExternalOrder {
            order_no: "XY20260321035147663EN6S".into(),
            existing: "4502196109060005933".into(),
            requested: "4502196109060009999".into(),
        });
}

#[tokio::test]
async fn unknown_goods_are_taken_in_and_flagged_for_review() {
    let events = intake_events(take_in(None, Some(1), 2));
    let OrderEvent::XgjVirtualOrderReceived(r) = &events[0] else {
        panic!()
    };
    assert!(r.unknown_goods);
    assert_eq!(r.paid_amount, None);
    assert_eq!(r.goods_snapshot, None);
    let mut o = Order::default();
    for e in events {
        o.apply(e);
    }
    assert_eq!(o.status, Some(OrderStatus::AwaitingUserForm));
    assert_eq!(o.key_statuses()[0].status, "flagged");
    assert_eq!(o.exception_overview().unwrap().title, "商品未配置");
}

#[tokio::test]
async fn max_amount_below_price_times_quantity_is_refused() {
    Fw::with(())
        .given_no_previous_events()
        .when_async(cmd(take_in(Some(seed_goods()), Some(639), 2)))
        .await
        .then_expect_error(OrderError::MaxAmountBelowPrice {
            amount_cent: 640,
            max_amount_cent: 639,
        });
}

#[tokio::test]
async fn max_amount_equal_to_the_price_is_accepted() {
    let events = Order::default()
        .decide(cmd(take_in(Some(seed_goods()), Some(640), 2)))
        .unwrap();
    let OrderEvent::XgjVirtualCardOrderCreated(c) = &events[1] else {
        panic!()
    };
    assert_eq!(c.order_amount_cent, 640);
}

#[tokio::test]
async fn a_zero_quantity_is_refused() {
    Fw::with(())
        .given_no_previous_events()
        .when_async(cmd(take_in(Some(seed_goods()), None, 0)))
        .await
        .then_expect_error(OrderError::InvalidQuantity(0));
}

#[tokio::test]
async fn a_fee_rate_of_one_is_refused() {
    let mut c = take_in(Some(seed_goods()), None, 1);
    c.fee_rate = dec!(1);
    Fw::with(())
        .given_no_previous_events()
        .when_async(cmd(c))
        .await
        .then_expect_error(OrderError::InvalidFeeRate(dec!(1)));
}

fn refund() -> OrderCommand {
    OrderCommand::CancelByXgj {
        reason: "闲鱼退款成功".into(),
        trade: XgjTradeChange {
            order_status: 23,
            refund_status: 5,
            modify_time: 1774065200,
        },
        at: at(),
    }
}

#[tokio::test]
async fn a_refund_cancels_a_taken_in_order() {
    Fw::with(())
        .given(intake_events(take_in(Some(seed_goods()), None, 1)))
        .when_async(refund())
        .await
        .then_expect_events(vec![OrderEvent::OrderCancelled(OrderCancelled {
            reason: "闲鱼退款成功".into(),
            cause: "xgj_trade".into(),
            xgj_trade: Some(XgjTradeChange {
                order_status: 23,
                refund_status: 5,
                modify_time: 1774065200,
            }),
            cancelled_at: Some(at()),
        })]);
}

#[tokio::test]
async fn a_second_refund_of_a_cancelled_order_changes_nothing() {
    let mut given = intake_events(take_in(Some(seed_goods()), None, 1));
    let mut o = Order::default();
    for e in given.clone() {
        o.apply(e);
    }
    given.extend(o.decide(refund()).unwrap());
    Fw::with(())
        .given(given)
        .when_async(refund())
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_refund_of_an_order_that_does_not_exist_is_refused() {
    Fw::with(())
        .given_no_previous_events()
        .when_async(refund())
        .await
        .then_expect_error(OrderError::NotFound);
}

#[test]
fn a_new_order_awaits_the_buyers_form() {
    let mut o = Order::default();
    for e in intake_events(take_in(Some(seed_goods()), None, 1)) {
        o.apply(e);
    }
    assert_eq!(o.status.unwrap().label(), "待补用户资料");
    assert_eq!(o.suggested_action(), SuggestedAction::AwaitUserForm);
    assert_eq!(o.exception_overview().unwrap().title, "待补用户资料");
    let f = o.tracked_fields();
    assert_eq!(f["orderStatus"], "待补用户资料");
    assert_eq!(f["virtualOrderNo"], "4502196109060005933");
    assert_eq!(f["virtualOrderStatus"], "20");
    let labels: Vec<_> = o
        .key_statuses()
        .iter()
        .map(|k| format!("{}{}", k.stage_label, k.status_label))
        .collect();
    assert_eq!(
        labels,
        [
            "审核未开始",
            "代付未开始",
            "推单未开始",
            "截图匹配未开始",
            "用户通知未开始",
            "分润未就绪"
        ]
    );
}

#[test]
fn every_event_serializes_under_its_wire_name() {
    for e in intake_events(take_in(Some(seed_goods()), None, 1)) {
        let v = serde_json::to_value(&e).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.keys().collect::<Vec<_>>(), vec![e.name()]);
        let back: OrderEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}

#[test]
fn event_metadata_round_trips_through_the_string_map() {
    let mut m = EventMeta::accepted("xgj_virtual", "req-1", at());
    m.error_code = Some("X".into());
    assert_eq!(EventMeta::from_map(&m.to_map()), m);
}

// ---- the buyer's form, the price check, manual review ----

use crate::buyer::{validate, BuyerForm, FormInput};
use crate::pricing::{check_price, PriceCheck, PriceCheckInput, SeasonCalendar};
use chrono::NaiveDate;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

fn form(play_date: &str) -> BuyerForm {
    let input = FormInput {
        name: Some("马上到".into()),
        phone_country_code: Some("+86".into()),
        phone: Some("18852341234".into()),
        certificate_type: Some("id_card".into()),
        certificate_no: Some("320911198804223314".into()),
        play_date: Some(play_date.into()),
        ..Default::default()
    };
    validate(&input, today(), 180).unwrap()
}

fn check_for(f: &BuyerForm, settlement: rust_decimal::Decimal) -> PriceCheck {
    let season_type = SeasonCalendar::demo().season_for(f.play_date);
    check_price(PriceCheckInput {
        play_date: f.play_date,
        ticket_type: Some("初级道 3 小时".into()),
        goods_season_label: Some("淡季".into()),
        paid_amount: Some(dec!(3.20)),
        fee_rate: dec!(0.02),
        season_type,
        settlement_amount: Some(settlement),
    })
}

fn fold(events: &[OrderEvent]) -> Order {
    let mut o = Order::default();
    for e in events {
        o.apply(e.clone());
    }
    o
}

fn taken_in() -> Vec<OrderEvent> {
    intake_events(take_in(Some(seed_goods()), None, 1))
}

fn with_form(play_date: &str) -> Vec<OrderEvent> {
    let mut e = taken_in();
    e.push(OrderEvent::UserFormSubmitted(form(play_date)));
    e
}

fn failed_check(play_date: &str) -> Vec<OrderEvent> {
    let mut e = with_form(play_date);
    e.push(OrderEvent::PriceCheckFailed(check_for(&form(play_date), dec!(426.00))));
    e
}

#[tokio::test]
async fn a_submitted_form_is_recorded_and_waits_for_its_price_check() {
    let f = form("2027-01-10");
    Fw::with(())
        .given(taken_in())
        .when_async(OrderCommand::SubmitUserForm { form: f.clone() })
        .await
        .then_expect_events(vec![OrderEvent::UserFormSubmitted(f)]);
    let o = fold(&with_form("2027-01-10"));
    assert!(o.price_check_pending);
    assert_eq!(o.status, Some(OrderStatus::AwaitingUserForm));
}

#[tokio::test]
async fn the_same_form_twice_is_one_submission() {
    Fw::with(())
        .given(with_form("2027-01-10"))
        .when_async(OrderCommand::SubmitUserForm {
            form: form("2027-01-10"),
        })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_corrected_form_is_a_new_submission() {
    Fw::with(())
        .given(failed_check("2027-01-10"))
        .when_async(OrderCommand::SubmitUserForm {
            form: form("2027-01-11"),
        })
        .await
        .then_expect_events(vec![OrderEvent::UserFormSubmitted(form("2027-01-11"))]);
}

#[tokio::test]
async fn the_form_of_a_cancelled_order_is_locked() {
    let mut given = taken_in();
    given.push(OrderEvent::OrderCancelled(OrderCancelled {
        reason: "x".into(),
        cause: "operator".into(),
        xgj_trade: None,
        cancelled_at: None,
    }));
    Fw::with(())
        .given(given)
        .when_async(OrderCommand::SubmitUserForm {
            form: form("2027-01-10"),
        })
        .await
        .then_expect_error(OrderError::FormLocked(OrderStatus::Cancelled));
}

#[tokio::test]
async fn a_form_for_an_order_that_does_not_exist_is_refused() {
    Fw::with(())
        .given_no_previous_events()
        .when_async(OrderCommand::SubmitUserForm {
            form: form("2027-01-10"),
        })
        .await
        .then_expect_error(OrderError::NotFound);
}

#[tokio::test]
async fn a_failed_price_check_sends_the_order_to_manual_review() {
    let f = form("2027-01-10");
    let check = check_for(&f, dec!(426.00));
    assert!(!check.passed);
    Fw::with(())
        .given(with_form("2027-01-10"))
        .when_async(OrderCommand::RecordPriceCheck {
            check: check.clone(),
            for_form: f,
        })
        .await
        .then_expect_events(vec![OrderEvent::PriceCheckFailed(check)]);
    let o = fold(&failed_check("2027-01-10"));
    assert_eq!(o.status, Some(OrderStatus::PendingManualReview));
    assert_eq!(o.suggested_action(), SuggestedAction::ManualReview);
    assert_eq!(o.key_statuses()[0].status_label, "待人工处理");
    let overview = o.exception_overview().unwrap();
    assert!(
        overview.reason.contains("¥3.14") && overview.reason.contains("¥426.00"),
        "{overview:?}"
    );
}

#[tokio::test]
async fn a_passed_price_check_moves_the_order_to_awaiting_payment() {
    let f = form("2027-03-10");
    let mut check = check_for(&f, dec!(1.00));
    check.goods_season_label = Some("淡季".into());
    assert!(check.passed, "{check:?}");
    let mut events = with_form("2027-03-10");
    events.push(OrderEvent::PriceCheckPassed(check.clone()));
    let o = fold(&events);
    assert_eq!(o.status, Some(OrderStatus::AwaitingPayment));
    assert_eq!(o.suggested_action(), SuggestedAction::UploadPaymentProof);
    assert_eq!(o.exception_overview().unwrap().title, "待上传付款凭证");
    Fw::with(())
        .given(with_form("2027-03-10"))
        .when_async(OrderCommand::RecordPriceCheck {
            check: check.clone(),
            for_form: f,
        })
        .await
        .then_expect_events(vec![OrderEvent::PriceCheckPassed(check)]);
}

#[tokio::test]
async fn a_price_check_for_an_older_form_is_refused() {
    let old = form("2027-01-10");
    let mut given = with_form("2027-01-10");
    given.push(OrderEvent::UserFormSubmitted(form("2027-01-12")));
    Fw::with(())
        .given(given)
        .when_async(OrderCommand::RecordPriceCheck {
            check: check_for(&old, dec!(426.00)),
            for_form: old,
        })
        .await
        .then_expect_error(OrderError::StalePriceCheck);
}

#[tokio::test]
async fn a_second_price_check_of_the_same_form_changes_nothing() {
    let f = form("2027-01-10");
    Fw::with(())
        .given(failed_check("2027-01-10"))
        .when_async(OrderCommand::RecordPriceCheck {
            check: check_for(&f, dec!(426.00)),
            for_form: f,
        })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn approving_a_review_moves_the_order_to_awaiting_payment() {
    let approve = OrderCommand::Review(ReviewDecision::Approve {
        note: " 价格已核对 ".into(),
    });
    Fw::with(())
        .given(failed_check("2027-01-10"))
        .when_async(approve)
        .await
        .then_expect_events(vec![OrderEvent::ManualReviewApproved(ManualReviewApproved {
            note: "价格已核对".into(),
        })]);
}

#[tokio::test]
async fn rejecting_a_review_cancels_the_order_with_the_reason() {
    let reject = OrderCommand::Review(ReviewDecision::Reject {
        reason: "价格不对".into(),
    });
    Fw::with(())
        .given(failed_check("2027-01-10"))
        .when_async(reject)
        .await
        .then_expect_events(vec![OrderEvent::ManualReviewRejected(ManualReviewRejected {
            reason: "价格不对".into(),
        })]);
    let mut events = failed_check("2027-01-10");
    events.push(OrderEvent::ManualReviewRejected(ManualReviewRejected {
        reason: "价格不对".into(),
    }));
    let o = fold(&events);
    assert_eq!(o.status, Some(OrderStatus::Cancelled));
    assert_eq!(o.cancel_reason.as_deref(), Some("人工审核拒绝:价格不对"));
    assert_eq!(o.key_statuses()[0].status, "rejected");
}

#[tokio::test]
async fn rejecting_without_a_reason_is_refused() {
    Fw::with(())
        .given(failed_check("2027-01-10"))
        .when_async(OrderCommand::Review(ReviewDecision::Reject { reason: "  ".into() }))
        .await
        .then_expect_error(OrderError::ReasonRequired);
}

#[tokio::test]
async fn a_review_outside_manual_review_is_refused() {
    Fw::with(())
        .given(with_form("2027-01-10"))
        .when_async(OrderCommand::Review(ReviewDecision::Approve { note: String::new() }))
        .await
        .then_expect_error(OrderError::InvalidState {
            action: "manual_review",
            status: OrderStatus::AwaitingUserForm,
        });
}

// ---- fulfilment: payment, proof, push, screenshot, notification, profit share, cancel ----

fn image(sha: &str) -> StoredImage {
    StoredImage {
        file_id: sha.into(),
        sha256: sha.into(),
        content_type: "image/png".into(),
        size: 100,
        width: 10,
        height: 10,
    }
}

fn payment() -> PaymentConfirmed {
    PaymentConfirmed {
        amount: dec!(426.00),
        qr_code_id: "qr-1".into(),
        qr_code_label: "收款码".into(),
        paid_at: at(),
    }
}

fn approved() -> Vec<OrderEvent> {
    let mut e = failed_check("2027-01-10");
    e.push(OrderEvent::ManualReviewApproved(ManualReviewApproved {
        note: String::new(),
    }));
    e
}

fn attempt(kind: &str, status: &str, id: i64) -> DeliveryAttempted {
    DeliveryAttempted {
        delivery_id: "d".into(),
        attempt_id: id,
        attempt: 1,
        notification_type: kind.into(),
        notification_channel: "mock".into(),
        notification_target: "mock://x".into(),
        message_text: "m".into(),
        delivery_status: status.into(),
        reason: None,
        paid_amount: None,
        settlement_amount: None,
        target_group_id: None,
    }
}

fn push_request() -> OrderPushRequested {
    OrderPushRequested {
        agent_group_id: "g".into(),
        agent_group_name: "代理群".into(),
        target_group_id: None,
        notification_target: "mock://agent".into(),
        message_text: "m".into(),
    }
}

fn paid_with_proof() -> Vec<OrderEvent> {
    let mut e = approved();
    e.push(OrderEvent::PaymentConfirmed(payment()));
    e.push(OrderEvent::PaymentProofUploaded(image("aa")));
    e
}

fn pushed() -> Vec<OrderEvent> {
    let mut e = paid_with_proof();
    e.push(OrderEvent::OrderPushRequested(push_request()));
    e.push(OrderEvent::OrderPushedToAgent(attempt("order_push", "sent", 1)));
    e
}

fn reading(sha: &str, matched: bool) -> OrderCommand {
    OrderCommand::RecordScreenshotReading {
        ocr: ScreenshotOcrCompleted {
            sha256: sha.into(),
            engine: "mock".into(),
            text: "t".into(),
            fields: serde_json::json!({}),
            confidence: 0.99,
        },
        outcome: ScreenshotMatch {
            sha256: sha.into(),
            comparisons: serde_json::json!([]),
            reasons: if matched { vec![] } else { vec!["name_mismatch".into()] },
            reason_labels: if matched { vec![] } else { vec!["姓名不符".into()] },
            confidence: 0.99,
        },
        matched,
    }
}

fn with_screenshot(sha: &str) -> Vec<OrderEvent> {
    let mut e = pushed();
    e.push(OrderEvent::AgentScreenshotUploaded(image(sha)));
    e
}

fn apply_cmd(mut events: Vec<OrderEvent>, c: OrderCommand) -> Vec<OrderEvent> {
    let o = fold(&events);
    events.extend(o.decide(c).unwrap());
    events
}

#[tokio::test]
async fn payment_is_confirmed_once_and_only_awaiting_payment() {
    Fw::with(())
        .given(approved())
        .when_async(OrderCommand::ConfirmPayment(payment()))
        .await
        .then_expect_events(vec![OrderEvent::PaymentConfirmed(payment())]);
    let mut given = approved();
    given.push(OrderEvent::PaymentConfirmed(payment()));
    Fw::with(())
        .given(given)
        .when_async(OrderCommand::ConfirmPayment(payment()))
        .await
        .then_expect_error(OrderError::PaymentAlreadyConfirmed);
    Fw::with(())
        .given(failed_check("2027-01-10"))
        .when_async(OrderCommand::ConfirmPayment(payment()))
        .await
        .then_expect_error(OrderError::InvalidState {
            action: "confirm_payment",
            status: OrderStatus::PendingManualReview,
        });
}

#[tokio::test]
async fn a_proof_needs_a_payment_and_a_new_one_supersedes_the_last() {
    Fw::with(())
        .given(approved())
        .when_async(OrderCommand::UploadPaymentProof(image("aa")))
        .await
        .then_expect_error(OrderError::PaymentNotConfirmed);
    let o = fold(&paid_with_proof());
    assert_eq!(o.status, Some(OrderStatus::AwaitingPush));
    assert_eq!(o.suggested_action(), SuggestedAction::PushToAgent);
    Fw::with(())
        .given(paid_with_proof())
        .when_async(OrderCommand::UploadPaymentProof(image("aa")))
        .await
        .then_expect_events(vec![]);
    Fw::with(())
        .given(paid_with_proof())
        .when_async(OrderCommand::UploadPaymentProof(image("bb")))
        .await
        .then_expect_events(vec![OrderEvent::PaymentProofUploaded(image("bb"))]);
}

#[tokio::test]
async fn a_push_needs_a_proof_and_waits_for_its_outcome() {
    let mut no_proof = approved();
    no_proof.push(OrderEvent::PaymentConfirmed(payment()));
    Fw::with(())
        .given(no_proof)
        .when_async(OrderCommand::RequestPush(push_request()))
        .await
        .then_expect_error(OrderError::InvalidState {
            action: "push_to_agent",
            status: OrderStatus::AwaitingPayment,
        });
    let requested = apply_cmd(paid_with_proof(), OrderCommand::RequestPush(push_request()));
    Fw::with(())
        .given(requested.clone())
        .when_async(OrderCommand::RequestPush(push_request()))
        .await
        .then_expect_error(OrderError::PushInFlight);
    // A failed push can be retried; the form is still the buyer's to correct.
    let failed = apply_cmd(
        requested,
        OrderCommand::RecordDeliveryAttempt(Box::new(attempt("order_push", "failed_permanent", 9))),
    );
    let o = fold(&failed);
    assert_eq!(o.suggested_action(), SuggestedAction::RetryPush);
    assert_eq!(o.key_statuses()[2].status, "failed");
    Fw::with(())
        .given(failed)
        .when_async(OrderCommand::RequestPush(push_request()))
        .await
        .then_expect_events(vec![OrderEvent::OrderPushRequested(push_request())]);
    let o = fold(&pushed());
    assert_eq!(o.status, Some(OrderStatus::AwaitingTicket));
    assert_eq!(o.suggested_action(), SuggestedAction::UploadScreenshot);
}

#[tokio::test]
async fn the_form_is_locked_once_the_order_is_pushed() {
    Fw::with(())
        .given(pushed())
        .when_async(OrderCommand::SubmitUserForm {
            form: form("2027-01-11"),
        })
        .await
        .then_expect_error(OrderError::FormLocked(OrderStatus::AwaitingTicket));
}

#[tokio::test]
async fn a_matching_screenshot_goes_on_and_a_mismatching_one_to_review() {
    Fw::with(())
        .given(with_screenshot("s1"))
        .when_async(reading("s1", true))
        .await
        .then_expect_events(fold(&with_screenshot("s1")).decide(reading("s1", true)).unwrap());
    let matched = apply_cmd(with_screenshot("s1"), reading("s1", true));
    assert_eq!(fold(&matched).status, Some(OrderStatus::AwaitingUserNotification));
    let mismatched = apply_cmd(with_screenshot("s1"), reading("s1", false));
    let o = fold(&mismatched);
    assert_eq!(o.status, Some(OrderStatus::PendingMatchReview));
    assert_eq!(o.suggested_action(), SuggestedAction::ReviewScreenshotMatch);
    assert!(o.exception_overview().unwrap().reason.contains("姓名不符"));
    // A reading of a replaced screenshot is refused.
    let replaced = apply_cmd(with_screenshot("s1"), OrderCommand::UploadScreenshot(image("s2")));
    Fw::with(())
        .given(replaced)
        .when_async(reading("s1", true))
        .await
        .then_expect_error(OrderError::StaleScreenshot);
}

#[tokio::test]
async fn an_operator_confirms_or_rejects_a_mismatch() {
    let mismatched = apply_cmd(with_screenshot("s1"), reading("s1", false));
    let confirmed = apply_cmd(
        mismatched.clone(),
        OrderCommand::ReviewScreenshot {
            confirm: true,
            note: "同名".into(),
        },
    );
    assert_eq!(fold(&confirmed).status, Some(OrderStatus::AwaitingUserNotification));
    Fw::with(())
        .given(mismatched.clone())
        .when_async(OrderCommand::ReviewScreenshot {
            confirm: false,
            note: " ".into(),
        })
        .await
        .then_expect_error(OrderError::ReasonRequired);
    let rejected = apply_cmd(
        mismatched,
        OrderCommand::ReviewScreenshot {
            confirm: false,
            note: "名字不对".into(),
        },
    );
    let o = fold(&rejected);
    assert_eq!(o.status, Some(OrderStatus::AwaitingTicket));
    assert_eq!(o.key_statuses()[3].status, "rejected");
}

#[tokio::test]
async fn notifying_the_buyer_completes_the_order_and_the_profit_share_can_be_settled() {
    let matched = apply_cmd(with_screenshot("s1"), reading("s1", true));
    let n = UserNotification {
        channel: "buyer_page".into(),
        target: "link".into(),
        delivery_id: None,
    };
    let completed = apply_cmd(
        matched,
        OrderCommand::RecordUserNotification {
            notification: n,
            ok: true,
        },
    );
    assert_eq!(fold(&completed).status, Some(OrderStatus::Completed));
    assert_eq!(fold(&completed).key_statuses()[5].status, "not_ready");
    Fw::with(())
        .given(completed.clone())
        .when_async(OrderCommand::SettleProfitShare)
        .await
        .then_expect_error(OrderError::ProfitShareNotReady);
    let share = ProfitShare {
        revenue: dec!(3.14),
        cost: dec!(426.00),
        profit: dec!(-422.86),
        cost_basis: "settlement_amount".into(),
    };
    let ready = apply_cmd(completed, OrderCommand::CalculateProfitShare(share.clone()));
    let o = fold(&ready);
    assert_eq!(o.key_statuses()[5].status, "ready");
    assert_eq!(o.suggested_action(), SuggestedAction::SettleProfit);
    let settled = apply_cmd(ready, OrderCommand::SettleProfitShare);
    assert_eq!(fold(&settled).key_statuses()[5].status, "settled");
    assert_eq!(fold(&settled).suggested_action(), SuggestedAction::None);
    Fw::with(())
        .given(settled.clone())
        .when_async(OrderCommand::SettleProfitShare)
        .await
        .then_expect_error(OrderError::ProfitShareAlreadySettled);
    Fw::with(())
        .given(settled)
        .when_async(OrderCommand::Cancel {
            reason: "晚了".into(),
            at: at(),
        })
        .await
        .then_expect_error(OrderError::AlreadyCompleted);
}

#[tokio::test]
async fn an_operator_cancels_with_a_reason_before_completion() {
    Fw::with(())
        .given(pushed())
        .when_async(OrderCommand::Cancel {
            reason: " ".into(),
            at: at(),
        })
        .await
        .then_expect_error(OrderError::ReasonRequired);
    Fw::with(())
        .given(pushed())
        .when_async(OrderCommand::Cancel {
            reason: "买家退款".into(),
            at: at(),
        })
        .await
        .then_expect_events(vec![OrderEvent::OrderCancelled(OrderCancelled {
            reason: "买家退款".into(),
            cause: "operator".into(),
            xgj_trade: None,
            cancelled_at: Some(at()),
        })]);
}

fn refund_apply() -> XgjRefundApplied {
    XgjRefundApplied {
        request: json!({"order_no": "4502196109060005933", "refund_reason": "不想要了"}),
        refund_amount_cent: Some(320),
        refund_reason: "不想要了".into(),
        refund_scene: "expire_refund".into(),
        decision: String::new(),
        decided_at: 1774065200,
    }
}

#[tokio::test]
async fn a_refund_application_before_the_agent_is_paid_is_agreed_and_cancels() {
    let mut agreed = refund_apply();
    agreed.decision = "agree".into();
    Fw::with(())
        .given(approved())
        .when_async(OrderCommand::ApplyXgjRefund {
            apply: refund_apply(),
            at: at(),
        })
        .await
        .then_expect_events(vec![
            OrderEvent::XgjRefundApplied(agreed.clone()),
            OrderEvent::OrderCancelled(OrderCancelled {
                reason: "闲管家自动撤单(代理未付款,同意退款):不想要了".into(),
                cause: "xgj_refund_apply".into(),
                xgj_trade: None,
                cancelled_at: Some(at()),
            }),
        ]);
    // A repeat: the first decision stands, nothing new.
    let mut given = approved();
    given.push(OrderEvent::XgjRefundApplied(agreed));
    Fw::with(())
        .given(given)
        .when_async(OrderCommand::ApplyXgjRefund {
            apply: refund_apply(),
            at: at(),
        })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_refund_application_after_the_agent_is_paid_leaves_it_to_the_merchant() {
    let mut decided = refund_apply();
    decided.decision = "merchant_decides".into();
    Fw::with(())
        .given(pushed())
        .when_async(OrderCommand::ApplyXgjRefund {
            apply: refund_apply(),
            at: at(),
        })
        .await
        .then_expect_events(vec![OrderEvent::XgjRefundApplied(decided)]);
    Fw::with(())
        .given(vec![])
        .when_async(OrderCommand::ApplyXgjRefund {
            apply: refund_apply(),
            at: at(),
        })
        .await
        .then_expect_error(OrderError::NotFound);
}

#[tokio::test]
async fn a_refund_notice_records_the_refund_and_cancels_once() {
    let notice = XgjRefundNotified {
        request: json!({"order_no": "4502196109060005933"}),
        refund_amount_cent: Some(320),
        refund_reason: String::new(),
        refund_time: Some(1774065200),
    };
    Fw::with(())
        .given(pushed())
        .when_async(OrderCommand::RecordXgjRefund {
            notice: notice.clone(),
            at: at(),
        })
        .await
        .then_expect_events(vec![
            OrderEvent::XgjRefundNotified(notice.clone()),
            OrderEvent::OrderCancelled(OrderCancelled {
                reason: "闲管家已退款".into(),
                cause: "xgj_refund_notify".into(),
                xgj_trade: None,
                cancelled_at: Some(at()),
            }),
        ]);
    let mut given = pushed();
    given.push(OrderEvent::XgjRefundNotified(notice.clone()));
    Fw::with(())
        .given(given)
        .when_async(OrderCommand::RecordXgjRefund { notice, at: at() })
        .await
        .then_expect_events(vec![]);
}

#[test]
fn an_order_cancelled_of_version_1_is_read_with_its_cause() {
    let v1_by_operator = json!({"order_cancelled": {"reason": "买家退款", "cancelledAt": "2026-03-21T03:51:47Z"}});
    let v1_by_xgj = json!({"order_cancelled": {"reason": "闲鱼退款成功",
        "xgjTrade": {"orderStatus": 23, "refundStatus": 5, "modifyTime": 1774065200}}});
    for (payload, cause) in [(v1_by_operator, "operator"), (v1_by_xgj, "xgj_trade")] {
        assert!(
            serde_json::from_value::<OrderEvent>(payload.clone()).is_err(),
            "1.0 alone no longer reads"
        );
        let e: OrderEvent = serde_json::from_value(upcast("order_cancelled", "1.0", payload)).unwrap();
        let OrderEvent::OrderCancelled(c) = e else { panic!() };
        assert_eq!(c.cause, cause);
    }
    // The current version is left alone.
    let v2 = json!({"order_cancelled": {"reason": "x", "cause": "xgj_refund_notify"}});
    assert_eq!(upcast("order_cancelled", "2.0", v2.clone()), v2);
    assert_eq!(current_version("order_cancelled"), "2.0");
}

// ---- availableActions: what the console enables is exactly what `decide` accepts ----

fn command_for(action: OrderAction) -> OrderCommand {
    match action {
        OrderAction::ManualReview => OrderCommand::Review(ReviewDecision::Approve { note: String::new() }),
        OrderAction::ConfirmPayment => OrderCommand::ConfirmPayment(payment()),
        OrderAction::UploadPaymentProof => OrderCommand::UploadPaymentProof(image("new-proof")),
        OrderAction::PushToAgent => OrderCommand::RequestPush(push_request()),
        OrderAction::UploadScreenshot => OrderCommand::UploadScreenshot(image("new-shot")),
        OrderAction::ReviewScreenshotMatch => OrderCommand::ReviewScreenshot {
            confirm: true,
            note: String::new(),
        },
        OrderAction::SettleProfitShare => OrderCommand::SettleProfitShare,
        OrderAction::Cancel => OrderCommand::Cancel {
            reason: "买家退款".into(),
            at: at(),
        },
    }
}

/// One order in each state the console meets, named for the failure message.
fn every_state() -> Vec<(&'static str, Vec<OrderEvent>)> {
    let notified = |events: Vec<OrderEvent>| {
        apply_cmd(
            events,
            OrderCommand::RecordUserNotification {
                notification: UserNotification {
                    channel: "buyer_page".into(),
                    target: "link".into(),
                    delivery_id: None,
                },
                ok: true,
            },
        )
    };
    let share = ProfitShare {
        revenue: dec!(3.14),
        cost: dec!(426.00),
        profit: dec!(-422.86),
        cost_basis: "settlement_amount".into(),
    };
    let mut paid = approved();
    paid.push(OrderEvent::PaymentConfirmed(payment()));
    let mut push_requested = paid_with_proof();
    push_requested.push(OrderEvent::OrderPushRequested(push_request()));
    let mut push_failed = push_requested.clone();
    push_failed.push(OrderEvent::OrderPushFailed(attempt(
        "order_push",
        "failed_retryable",
        7,
    )));
    let mismatched = apply_cmd(with_screenshot("s1"), reading("s1", false));
    let completed = notified(apply_cmd(with_screenshot("s1"), reading("s1", true)));
    let ready = apply_cmd(completed.clone(), OrderCommand::CalculateProfitShare(share));
    let settled = apply_cmd(ready.clone(), OrderCommand::SettleProfitShare);
    let cancelled = apply_cmd(
        paid.clone(),
        OrderCommand::Cancel {
            reason: "买家退款".into(),
            at: at(),
        },
    );
    vec![
        ("awaiting form", taken_in()),
        ("form, check pending", with_form("2027-01-10")),
        ("pending manual review", failed_check("2027-01-10")),
        ("awaiting payment", approved()),
        ("paid, no proof", paid),
        ("proof uploaded", paid_with_proof()),
        ("push requested", push_requested),
        ("push failed", push_failed),
        ("awaiting ticket", pushed()),
        ("screenshot reading", with_screenshot("s1")),
        ("screenshot mismatched", mismatched),
        ("completed, share computing", completed),
        ("completed, share ready", ready),
        ("settled", settled),
        ("cancelled", cancelled),
    ]
}

#[test]
fn every_enabled_action_is_accepted_and_every_disabled_one_refused_with_a_reason() {
    for (name, events) in every_state() {
        let order = fold(&events);
        let actions = order.available_actions(&ActionContext::ORDER_ONLY);
        assert_eq!(
            actions.iter().map(|a| a.action).collect::<Vec<_>>(),
            OrderAction::ALL.to_vec(),
            "{name}: every action listed, in page order"
        );
        for a in actions {
            let outcome = order.decide(command_for(a.action));
            let accepted = matches!(&outcome, Ok(events) if !events.is_empty());
            assert_eq!(
                a.enabled, accepted,
                "{name}: {:?} enabled={} but decide gave {outcome:?}",
                a.action, a.enabled
            );
            assert_eq!(
                a.reason.is_some(),
                !a.enabled,
                "{name}: {:?} reason iff disabled",
                a.action
            );
            assert!(!a.label.is_empty());
        }
    }
}

#[test]
fn disabled_actions_speak_the_seed_pages_words() {
    let reason = |events: &[OrderEvent], ctx: ActionContext, action: OrderAction| {
        fold(events)
            .available_actions(&ctx)
            .into_iter()
            .find(|a| a.action == action)
            .and_then(|a| a.reason)
    };
    let all = ActionContext::ORDER_ONLY;
    // The seed order: waiting for review, no payment yet.
    let review = failed_check("2027-01-10");
    assert_eq!(
        reason(&review, all, OrderAction::UploadPaymentProof).as_deref(),
        Some("当前还没有付款记录,先点上面的「确认付款」。")
    );
    assert_eq!(
        reason(&review, all, OrderAction::PushToAgent).as_deref(),
        Some("当前不满足推送条件:通常是还没上传付款凭证或状态未到。")
    );
    assert_eq!(reason(&review, all, OrderAction::ManualReview), None);
    // No active QR code: 确认付款 says so even though the order is ready to pay.
    let no_qr = ActionContext {
        active_qr_code: false,
        active_agent_group: true,
    };
    assert_eq!(
        reason(&approved(), no_qr, OrderAction::ConfirmPayment).as_deref(),
        Some("当前还没有生效二维码。请先到配置中心上传或登记二维码。")
    );
    assert_eq!(reason(&approved(), all, OrderAction::ConfirmPayment), None);
    let no_group = ActionContext {
        active_qr_code: true,
        active_agent_group: false,
    };
    assert!(reason(&paid_with_proof(), no_group, OrderAction::PushToAgent)
        .unwrap()
        .contains("代理群"));
    // A failed push is retried, optionally to another group.
    let mut failed = paid_with_proof();
    failed.push(OrderEvent::OrderPushRequested(push_request()));
    failed.push(OrderEvent::OrderPushFailed(attempt(
        "order_push",
        "failed_retryable",
        9,
    )));
    let push = fold(&failed)
        .available_actions(&all)
        .into_iter()
        .find(|a| a.action == OrderAction::PushToAgent)
        .unwrap();
    assert!(push.enabled);
    assert_eq!(push.label, "修改目标群后重试");
}

#[test]
fn narrowing_stored_actions_to_the_configuration_equals_deciding_with_it() {
    for (name, events) in every_state() {
        let order = fold(&events);
        for (qr, group) in [(true, true), (false, true), (true, false), (false, false)] {
            let ctx = ActionContext {
                active_qr_code: qr,
                active_agent_group: group,
            };
            let mut stored = order.available_actions(&ActionContext::ORDER_ONLY);
            super::actions::narrow_to(&mut stored, &ctx);
            assert_eq!(stored, order.available_actions(&ctx), "{name} qr={qr} group={group}");
        }
    }
}
