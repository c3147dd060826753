//! The committed OpenAPI document is what the code generates, and what the server serves.

use crate::helpers::*;

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    std::fs::read_to_string(path).expect("openapi/openapi.json exists (run `just openapi`)")
}

#[test]
fn the_committed_openapi_document_matches_xyt_openapi() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xyt"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    assert!(
        generated == committed(),
        "openapi/openapi.json is stale: run `just openapi` and commit the result"
    );
}

#[test]
fn the_document_is_openapi_3_1_and_describes_every_route() {
    let doc: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/orders",
        "/api/orders/{orderNo}",
        "/api/orders/{orderNo}/events",
        "/xgj/goofish/order/purchase/create",
        "/xgj/goofish/open/info",
        "/xgj/goofish/user/info",
        "/xgj/goofish/goods/list",
        "/xgj/goofish/goods/detail",
        "/xgj/goofish/order/detail",
        "/xgj/erp/order-push",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    for (path, op) in doc["paths"].as_object().unwrap() {
        for (_, o) in op.as_object().unwrap() {
            assert!(o["operationId"].is_string(), "{path} lacks an operationId");
            assert!(o["tags"].is_array(), "{path} lacks a tag");
        }
    }
}

#[tokio::test]
async fn the_server_serves_the_document_and_swagger_ui() {
    let app = spawn().await;
    let (status, served) = app.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    let committed: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    assert!(
        served == committed,
        "the served document differs from openapi/openapi.json"
    );
    let r = app.http.get(format!("{}/docs/", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("swagger"), "Swagger UI is vendored");
    app.finish().await;
}
