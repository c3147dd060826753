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
