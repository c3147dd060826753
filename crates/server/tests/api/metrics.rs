//! `GET /metrics`: Prometheus text, open to a local scraper, admins only through a proxy.

use crate::helpers::*;

#[tokio::test]
async fn a_local_scraper_reads_latency_by_route_intake_commands_lag_and_queue() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    let no = app.order_no_of("4502196109060005933").await;
    let (status, _) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(status, 200);
    let r = app.anonymous.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for needle in [
        "# TYPE xyt_http_request_duration_seconds histogram",
        // Labelled by template: never the order number itself.
        // (Counters are per process: other tests in a shared process may add to them.)
        "route=\"/api/orders/{orderNo}\",method=\"GET\",status=\"2xx\",le=\"+Inf\"}",
        "xyt_intake_total{outcome=\"answered\"}",
        "xyt_commands_total{outcome=\"committed\"}",
        "# TYPE xyt_projection_lag_events gauge",
        "xyt_projection_lag_seconds",
        "xyt_delivery_queue{status=\"pending\"}",
        "xyt_delivery_queue{status=\"failed_retryable\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    assert!(!text.contains(&no), "an order number leaked into a label");
    app.finish().await;
}

#[tokio::test]
async fn through_a_proxy_metrics_need_an_admin() {
    let app = spawn().await;
    let url = format!("{}/metrics", app.base);
    let proxied = |c: &reqwest::Client| c.get(&url).header("X-Forwarded-For", "203.0.113.7");
    assert_eq!(proxied(&app.anonymous).send().await.unwrap().status(), 401);
    let key = app.api_key("grafana", "auditor").await;
    let r = proxied(&app.anonymous).bearer_auth(&key).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = proxied(&app.http).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("xyt_delivery_queue"));
    app.finish().await;
}
