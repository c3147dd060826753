//! Two `xyt serve` processes on one database: orders through both, deliveries by both workers,
//! each message sent once, every view complete.

use std::time::Duration;

use xyt_domain::pricing::SeasonType;

use crate::helpers::*;

#[tokio::test]
async fn two_instances_on_one_database_send_each_message_once_and_complete_every_view() {
    let a = spawn().await;
    let b = Spawn::on(a.db_name.clone(), a.database_url.clone()).await;
    let n = 8;
    let mut orders = vec![];
    for i in 0..n {
        // Taken in through one instance, the buyer's form through the other.
        let (take, form) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let external = format!("45021961090{i:08}");
        assert_eq!(
            take.purchase(&purchase(&external, "初级道 3 小时-淡季", 1)).await["code"],
            0
        );
        let no = take.order_no_of(&external).await;
        let token = form.form_token(&no).await;
        let (status, v) = form
            .post_json(
                &format!("/api/public/forms/{token}"),
                &good_form(next_date_in(SeasonType::Mid)),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        orders.push(no);
    }
    // Each form fails its price check: a price alert and an agent-group push per order, sent by
    // whichever worker claims them first.
    let mut settled = false;
    for _ in 0..150 {
        let sent = a.count("SELECT count(*) FROM deliveries WHERE status = 'sent'").await;
        let lagging = a
            .count(
                "SELECT count(*) FROM (SELECT aggregate_id, max(sequence) AS head FROM events GROUP BY 1) e
                 WHERE NOT EXISTS (SELECT 1 FROM view_offsets v WHERE v.order_no = e.aggregate_id AND v.version = e.head)
                    OR NOT EXISTS (SELECT 1 FROM delivery_offsets d
                                   WHERE d.order_no = e.aggregate_id AND d.version = e.head)",
            )
            .await;
        let unrecorded = a
            .count("SELECT count(*) FROM delivery_attempts WHERE NOT event_recorded")
            .await;
        if sent == 2 * n && lagging == 0 && unrecorded == 0 {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(settled, "deliveries or views never settled");
    assert_eq!(
        a.count("SELECT count(*) FROM deliveries").await,
        2 * n,
        "one delivery per (event, type)"
    );
    assert_eq!(
        a.count(
            "SELECT count(*) FROM deliveries d
             WHERE (SELECT count(*) FROM delivery_attempts x WHERE x.delivery_id = d.id) <> 1"
        )
        .await,
        0,
        "each message was sent exactly once"
    );
    assert_eq!(
        a.count("SELECT count(*) FROM delivery_attempts WHERE outcome = 'sent'")
            .await,
        2 * n
    );
    // Every view complete, read through either instance.
    assert_eq!(a.count("SELECT count(*) FROM order_list").await, n);
    assert_eq!(a.count("SELECT count(*) FROM order_detail").await, n);
    for (i, no) in orders.iter().enumerate() {
        let via = if i % 2 == 0 { &b } else { &a };
        let (status, d) = via.get(&format!("/api/orders/{no}")).await;
        assert_eq!(status, 200, "{d}");
        let head = a
            .count(&format!("SELECT max(sequence) FROM events WHERE aggregate_id = '{no}'"))
            .await;
        assert_eq!(d["version"], head, "{no}");
    }
    let mut b = b;
    b.stop_server().await;
    b.pool.close().await;
    a.finish().await;
}
