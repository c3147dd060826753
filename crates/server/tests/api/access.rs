//! Access: sign-in, roles, API keys, CSRF, throttling, personal data by role, WeCom-only targets,
//! idempotency keys and security headers, against the real app and PostgreSQL. Every refused
//! request is checked to have written nothing.

use std::time::Duration;

use serde_json::{json, Value};

use crate::deliveries::{seed_in_review, wait_for_deliveries};
use crate::helpers::*;

const BUYER: [&str; 3] = ["马上到", "18852341234", "320911198804223314"];

async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }))
    };
    (status, headers, v)
}

fn bearer(key: &str) -> reqwest::Client {
    client_with(&[("authorization", &format!("Bearer {key}"))])
}

/// Every table a refused request could have written to (events by anyone but the system, whose
/// delivery outcomes keep arriving in the background).
async fn writes(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("SELECT count(*) FROM events WHERE metadata->>'source' <> 'system'")
            .await,
        app.count("SELECT count(*) FROM config_changes").await,
        app.count("SELECT count(*) FROM deliveries").await,
    )
}

fn committed_document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn every_guarded_operation_refuses_anonymous_callers_and_every_command_an_auditor() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    let auditor = bearer(&app.api_key("audit", "auditor").await);
    let operator = bearer(&app.api_key("ops", "operator").await);
    let before = writes(&app).await;
    let doc = committed_document();
    let mut guarded = 0;
    let mut commands = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let public = path.starts_with("/xgj") || path.starts_with("/api/public") || path == "/api/auth/login";
            let secured = op["security"].is_array();
            assert_eq!(secured, !public, "{method} {path} ({id}): security requirement");
            if public {
                continue;
            }
            guarded += 1;
            let description = op["description"].as_str().unwrap_or("");
            assert!(description.contains("Roles: "), "{id} names its roles");
            for code in ["401", "403"] {
                assert!(op["responses"][code].is_object(), "{id} documents {code}");
            }
            let concrete = path
                .replace("{orderNo}", &no)
                .replace("{id}", &uuid::Uuid::new_v4().to_string())
                .replace("{sha256}", &"0".repeat(64))
                .replace("{name}", "x")
                .replace("{username}", "x")
                .replace("{ticketType}", "x")
                .replace("{season}", "low")
                .replace("{goodsNo}", "x");
            let url = format!("{}{concrete}", app.base);
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, _, v) = send(app.anonymous.request(m.clone(), &url).json(&json!({}))).await;
            assert_eq!(status, 401, "{method} {path} without credentials: {v}");
            assert_eq!(v["code"], "UNAUTHENTICATED");
            assert!(v["requestId"].is_string());
            // Signing out is every signed-in caller's own business.
            if method != "get" && !path.starts_with("/api/auth/") {
                commands += 1;
                let (status, _, v) = send(auditor.request(m.clone(), &url).json(&json!({}))).await;
                assert_eq!(status, 403, "{method} {path} as an auditor: {v}");
                assert_eq!(v["code"], "FORBIDDEN");
                if path.starts_with("/api/config") || path.starts_with("/api/admin") {
                    let (status, _, v) = send(operator.request(m, &url).json(&json!({}))).await;
                    assert_eq!(status, 403, "{method} {path} as an operator: {v}");
                }
            }
        }
    }
    assert!(guarded > 40 && commands > 20, "{guarded} guarded, {commands} commands");
    assert_eq!(writes(&app).await, before, "no refused request wrote anything");
    // The document's own schemes.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    app.finish().await;
}

#[tokio::test]
async fn a_session_needs_its_csrf_token_and_our_origin_to_change_anything() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    app.add_user("alice", "operator").await;
    let r = app.login("alice", TEST_PASSWORD).await;
    assert_eq!(r.status(), 200);
    let cookie_header = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie_header.contains(attr), "{attr} in {cookie_header}");
    }
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["role"], "operator");
    let csrf = me["csrfToken"].as_str().unwrap().to_string();
    let cookie = cookie_header.split(';').next().unwrap().to_string();
    let only_cookie = client_with(&[("cookie", &cookie)]);
    let (status, _, v) = send(only_cookie.get(format!("{}/api/auth/me", app.base))).await;
    assert_eq!((status, v["csrfToken"].as_str()), (200, Some(csrf.as_str())));

    let review = format!("{}/api/orders/{no}/review", app.base);
    let approve = json!({"decision": "approve", "note": "ok"});
    let before = writes(&app).await;
    for (client, code) in [
        (only_cookie.clone(), "CSRF_FAILED"),
        (
            client_with(&[("cookie", &cookie), ("x-csrf-token", "wrong")]),
            "CSRF_FAILED",
        ),
        (
            client_with(&[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("origin", "https://evil.example"),
            ]),
            "ORIGIN_NOT_ALLOWED",
        ),
    ] {
        let (status, _, v) = send(client.post(&review).json(&approve)).await;
        assert_eq!(status, 403, "{v}");
        assert_eq!(v["code"], code);
    }
    assert_eq!(writes(&app).await, before);
    // With its token (and our own Origin), the command runs as alice; X-Operator is ignored.
    let good = client_with(&[
        ("cookie", &cookie),
        ("x-csrf-token", &csrf),
        ("origin", "https://tickets.example.test"),
        ("x-operator", "mallory"),
    ]);
    let (status, _, d) = send(good.post(&review).json(&approve)).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["latestRecords"]["review"]["by"], "admin:alice");
    // Signing out ends the session at once.
    let (status, headers, _) = send(good.post(format!("{}/api/auth/logout", app.base))).await;
    assert_eq!(status, 204);
    assert!(headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let (status, _, v) = send(only_cookie.get(format!("{}/api/orders", app.base))).await;
    assert_eq!((status, v["code"].as_str()), (401, Some("UNAUTHENTICATED")));
    let logged = |sql: &'static str| app.count(sql);
    assert_eq!(
        logged("SELECT count(*) FROM security_log WHERE kind = 'login_succeeded' AND subject = 'alice'").await,
        1
    );
    assert_eq!(
        logged("SELECT count(*) FROM security_log WHERE kind = 'logout' AND actor = 'admin:alice'").await,
        1
    );
    app.finish().await;
}

#[tokio::test]
async fn sessions_end_when_idle_and_when_too_old() {
    for (idle, absolute) in [(1, 3600), (3600, 1)] {
        let app = Spawn::new()
            .with(move |c| {
                c.auth.session_idle = Duration::from_secs(idle);
                c.auth.session_absolute = Duration::from_secs(absolute);
            })
            .await;
        let s = app.session("alice", "operator").await;
        let (status, _, _) = send(s.http.get(format!("{}/api/orders", app.base))).await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (status, _, v) = send(s.http.get(format!("{}/api/orders", app.base))).await;
        assert_eq!(status, 401, "idle {idle}s, absolute {absolute}s: {v}");
        app.finish().await;
    }
}

#[tokio::test]
async fn every_sign_in_failure_looks_the_same_and_five_lock_the_username() {
    let app = spawn().await;
    app.add_user("alice", "operator").await;
    app.add_user("gone", "operator").await;
    sqlx::query("UPDATE users SET disabled_at = now() WHERE username = 'gone'")
        .execute(&app.pool)
        .await
        .unwrap();
    let answer = |r: (u16, reqwest::header::HeaderMap, Value)| (r.0, r.2["code"].clone(), r.2["message"].clone());
    let login = |u: &'static str, p: &'static str| {
        app.anonymous
            .post(format!("{}/api/auth/login", app.base))
            .json(&json!({"username": u, "password": p}))
    };
    let unknown = answer(send(login("nobody", "whatever password")).await);
    let disabled = answer(send(login("gone", TEST_PASSWORD)).await);
    let wrong = answer(send(login("alice", "wrong password!")).await);
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown.1, "LOGIN_FAILED");
    assert_eq!(unknown, disabled);
    assert_eq!(unknown, wrong);
    for _ in 0..4 {
        assert_eq!(answer(send(login("alice", "wrong password!")).await), wrong);
    }
    // Locked: the right password now fails, with the very same answer.
    assert_eq!(answer(send(login("alice", TEST_PASSWORD)).await), wrong);
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
    let (status, _, log) = send(app.http.get(format!("{}/api/admin/security-log?limit=200", app.base))).await;
    assert_eq!(status, 200, "{log}");
    let kinds: Vec<_> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "login_locked").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "login_failed").count(), 8, "{kinds:?}");
    let locked = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "login_locked")
        .unwrap();
    assert_eq!(locked["subject"], "alice");
    // When the lock has passed, the right password works again.
    sqlx::query("UPDATE login_locks SET locked_until = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.login("alice", TEST_PASSWORD).await.status(), 200);
    // The security log is for admins only.
    let auditor = bearer(&app.api_key("audit", "auditor").await);
    let (status, _, _) = send(auditor.get(format!("{}/api/admin/security-log", app.base))).await;
    assert_eq!(status, 403);
    app.finish().await;
}

#[tokio::test]
async fn an_address_with_too_many_failures_gets_429() {
    let app = Spawn::new().with(|c| c.auth.address_limit = 3).await;
    for u in ["a1", "a2", "a3"] {
        assert_eq!(app.login(u, "wrong password!").await.status(), 401);
    }
    let r = app.login("a4", "wrong password!").await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "TOO_MANY_ATTEMPTS");
    app.finish().await;
}

/// Runs `xyt` with `args` against the app's database, and nothing else of the environment: the
/// tools need only `DATABASE_URL`.
pub(crate) fn xyt(app: &TestApp, args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xyt"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_manages_users_and_keys() {
    let app = spawn().await;
    let (ok, out, err) = xyt(
        &app,
        &["user", "add", "carol", "--role", "auditor", "--display-name", "审计员"],
        "first password 1\n",
    );
    assert!(ok, "{out}{err}");
    let (ok, _, err) = xyt(
        &app,
        &["user", "add", "carol", "--role", "auditor"],
        "first password 1\n",
    );
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, _, err) = xyt(&app, &["user", "add", "dave", "--role", "root"], "first password 1\n");
    assert!(!ok && err.contains("role"), "{err}");
    let (ok, _, err) = xyt(&app, &["user", "add", "dave", "--role", "operator"], "short\n");
    assert!(!ok && err.contains("password"), "{err}");
    let r = app.login("carol", "first password 1").await;
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(
        (me["role"].as_str(), me["displayName"].as_str()),
        (Some("auditor"), Some("审计员"))
    );
    // A new password ends the user's sessions; the old password no longer works.
    let (ok, out, err) = xyt(&app, &["user", "passwd", "carol"], "second password 2\r\n");
    assert!(ok, "{out}{err}");
    assert_eq!(app.login("carol", "first password 1").await.status(), 401);
    assert_eq!(app.login("carol", "second password 2").await.status(), 200);
    let (ok, out, _) = xyt(&app, &["user", "list"], "");
    assert!(
        ok && out.contains("carol") && out.contains("auditor") && out.contains("enabled"),
        "{out}"
    );
    let (ok, _, _) = xyt(&app, &["user", "disable", "carol"], "");
    assert!(ok);
    assert_eq!(app.login("carol", "second password 2").await.status(), 401);

    let (ok, out, err) = xyt(
        &app,
        &["api-key", "create", "--name", "erp-sync", "--role", "operator"],
        "",
    );
    assert!(ok, "{out}{err}");
    let key = out.lines().last().unwrap().trim().to_string();
    assert!(key.starts_with("xyt_"), "{out}");
    assert_eq!(
        app.count("SELECT count(*) FROM api_keys WHERE name = 'erp-sync' AND revoked_at IS NULL")
            .await,
        1
    );
    let stored: String = sqlx::query_scalar("SELECT encode(key_sha256, 'hex') FROM api_keys WHERE name = 'erp-sync'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(stored, key, "only a hash is stored");
    let client = bearer(&key);
    let (status, _, me) = send(client.get(format!("{}/api/auth/me", app.base))).await;
    assert_eq!((status, me["role"].as_str()), (200, Some("operator")));
    let (ok, out, _) = xyt(&app, &["api-key", "list"], "");
    assert!(ok && out.contains("erp-sync") && !out.contains(&key), "{out}");
    let (ok, _, _) = xyt(&app, &["api-key", "revoke", "erp-sync"], "");
    assert!(ok);
    let (status, _, v) = send(client.get(format!("{}/api/orders", app.base))).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("UNAUTHENTICATED")),
        "revoked at once"
    );
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM security_log ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for k in [
        "user_created",
        "user_changed",
        "api_key_created",
        "api_key_used",
        "api_key_revoked",
        "login_succeeded",
        "login_failed",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    app.finish().await;
}

#[tokio::test]
async fn the_demo_admin_gets_a_random_password_once() {
    let app = spawn().await;
    let pw = xyt_server::demo::ensure_admin(&app.pool)
        .await
        .unwrap()
        .expect("a new admin");
    assert!(pw.len() >= 16);
    assert_eq!(
        xyt_server::demo::ensure_admin(&app.pool).await.unwrap(),
        None,
        "never twice"
    );
    assert_eq!(app.login("admin", &pw).await.status(), 200);
    let other = spawn().await;
    let pw2 = xyt_server::demo::ensure_admin(&other.pool).await.unwrap().unwrap();
    assert_ne!(pw, pw2, "no fixed password");
    other.finish().await;
    app.finish().await;
}

#[tokio::test]
async fn the_demo_loads_and_walks_the_seed_order_to_manual_review_without_admin_credentials() {
    let app = Spawn::new().seeded(Seed::Nothing).await;
    assert!(xyt_server::demo::is_empty(&app.pool).await.unwrap());
    xyt_server::demo::load_config(&app.pool).await.unwrap();
    xyt_server::demo::send_orders(&app.xgj).await.unwrap();
    let no = app.order_no_of("4502196109060005933").await;
    let (_, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(d["status"], "pending_manual_review", "{d}");
    app.finish().await;
}

#[tokio::test]
async fn admins_manage_users_and_keys_through_the_api() {
    let app = spawn().await;
    let admin = app.signed_in("root").await;
    let url = |p: &str| format!("{}/api/admin/{p}", app.base);
    let (status, _, u) = send(
        admin
            .post(url("users"))
            .json(&json!({"username": "eve", "role": "operator", "password": "a long enough one"})),
    )
    .await;
    assert_eq!(status, 201, "{u}");
    assert!(u.get("passwordHash").is_none());
    let (status, _, v) = send(
        admin
            .post(url("users"))
            .json(&json!({"username": "eve", "role": "operator", "password": "a long enough one"})),
    )
    .await;
    assert_eq!((status, v["code"].as_str()), (409, Some("USER_EXISTS")));
    let (status, _, v) = send(
        admin
            .post(url("users"))
            .json(&json!({"username": "Bad Name", "role": "operator", "password": "x"})),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["fieldErrors"]["username"].is_string());
    let (status, _, u) = send(
        admin
            .patch(url("users/eve"))
            .json(&json!({"role": "auditor", "displayName": "伊娃"})),
    )
    .await;
    assert_eq!((status, u["role"].as_str()), (200, Some("auditor")));
    // The last enabled admin cannot be disabled or demoted.
    sqlx::query("DELETE FROM users WHERE username <> 'root' AND role = 'admin'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, _, v) = send(admin.patch(url("users/root")).json(&json!({"disabled": true}))).await;
    assert_eq!((status, v["code"].as_str()), (409, Some("LAST_ADMIN")));
    let (status, _, list) = send(admin.get(url("users"))).await;
    assert_eq!(status, 200);
    assert!(list["items"].as_array().unwrap().iter().any(|u| u["username"] == "eve"));

    let (status, _, created) = send(
        admin
            .post(url("api-keys"))
            .json(&json!({"name": "bi-export", "role": "auditor"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    let (_, _, list) = send(admin.get(url("api-keys"))).await;
    assert!(!list.to_string().contains(&key), "the key is shown once");
    let (status, _, _) = send(bearer(&key).get(format!("{}/api/orders", app.base))).await;
    assert_eq!(status, 200);
    let (status, _, _) = send(admin.delete(url("api-keys/bi-export"))).await;
    assert_eq!(status, 200);
    let (status, _, _) = send(bearer(&key).get(format!("{}/api/orders", app.base))).await;
    assert_eq!(status, 401);
    let (status, _, v) = send(admin.delete(url("api-keys/bi-export"))).await;
    assert_eq!((status, v["code"].as_str()), (404, Some("API_KEY_NOT_FOUND")));
    app.finish().await;
}

#[tokio::test]
async fn personal_data_is_whole_only_for_operators_and_admins_and_each_read_is_recorded() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    let token = app.form_token(&no).await;
    wait_for_deliveries(&app, &no, |items| items.len() == 2).await;
    let auditor = bearer(&app.api_key("audit", "auditor").await);
    let operator = app.session("olga", "operator").await.http;
    let reads_before = app.count("SELECT count(*) FROM personal_data_reads").await;
    for what in ["", "/events", "/deliveries"] {
        let path = format!("{}/api/orders/{no}{what}", app.base);
        let (status, _, v) = send(auditor.get(&path)).await;
        assert_eq!(status, 200, "{v}");
        let text = v.to_string();
        for whole in BUYER.iter().chain([&token.as_str()]) {
            assert!(!text.contains(whole), "an auditor sees {whole} in {what}: {text}");
        }
        assert!(
            text.contains("马**"),
            "the masked name stands in for the whole one in {what}"
        );
        let (status, _, v) = send(operator.get(&path)).await;
        assert_eq!(status, 200);
        assert!(
            v.to_string().contains("18852341234"),
            "an operator sees the whole phone in {what}"
        );
    }
    let (_, _, d) = send(auditor.get(format!("{}/api/orders/{no}", app.base))).await;
    assert_eq!(d["userForm"]["phone"], "188****1234");
    assert_eq!(d["userForm"]["certificateNo"], "3209**********3314");
    assert_eq!(d["userForm"]["name"], "马**");
    // Only the operator's three reads were recorded, and admins can list them.
    assert_eq!(
        app.count("SELECT count(*) FROM personal_data_reads").await - reads_before,
        3
    );
    let (status, _, reads) = send(
        app.http
            .get(format!("{}/api/admin/personal-data-reads?orderNo={no}", app.base)),
    )
    .await;
    assert_eq!(status, 200);
    let items = reads["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|r| r["actor"] == "admin:olga" || r["actor"] == "api:test-admin"),
        "{reads}"
    );
    assert!(items
        .iter()
        .any(|r| r["actor"] == "admin:olga" && r["what"] == "events"));
    // Lists stay masked for everyone.
    for client in [&operator, &auditor] {
        let (_, _, list) = send(client.get(format!("{}/api/orders", app.base))).await;
        let (_, _, deliveries) = send(client.get(format!("{}/api/deliveries", app.base))).await;
        for whole in BUYER {
            assert!(!list.to_string().contains(whole) && !deliveries.to_string().contains(whole));
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn messages_can_only_go_to_wecom() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    let items = wait_for_deliveries(&app, &no, |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "sent")
    })
    .await;
    let id = items[0]["id"].as_str().unwrap();
    let before = (
        writes(&app).await,
        app.count("SELECT count(*) FROM delivery_attempts").await,
    );
    for bad in [
        "https://evil.example.com/cgi-bin/webhook/send?key=abc",
        "https://qyapi.weixin.qq.com.evil.example/cgi-bin/webhook/send?key=abc",
        "http://127.0.0.1:9/cgi-bin/webhook/send?key=abc",
    ] {
        let (status, v) = app
            .post_json(&format!("/api/deliveries/{id}/resend"), &json!({"target": bad}))
            .await;
        assert_eq!(status, 422, "{bad}: {v}");
        assert_eq!(v["code"], "TARGET_NOT_ALLOWED");
        assert!(v["fieldErrors"]["target"].is_string());
        let (status, v) = app
            .post_json("/api/config/agent-groups", &json!({"name": "坏群", "wecomTarget": bad}))
            .await;
        assert_eq!((status, v["code"].as_str()), (422, Some("TARGET_NOT_ALLOWED")), "{v}");
    }
    assert_eq!(
        (
            writes(&app).await,
            app.count("SELECT count(*) FROM delivery_attempts").await
        ),
        before
    );
    // A robot URL stored before the rule is never called: the delivery fails for good.
    let fake = wiremock::MockServer::start().await;
    sqlx::query("UPDATE agent_groups SET wecom_target = $1")
        .bind(format!("{}/cgi-bin/webhook/send?key=old", fake.uri()))
        .execute(&app.pool)
        .await
        .unwrap();
    let (other, _) = app.order_with_token("4502196109060007001", "初级道 3 小时-平季").await;
    let token = app.form_token(&other).await;
    let (status, _) = app
        .post_json(
            &format!("/api/public/forms/{token}"),
            &good_form(next_date_in(xyt_domain::pricing::SeasonType::Mid)),
        )
        .await;
    assert_eq!(status, 200);
    let items = wait_for_deliveries(&app, &other, |items| {
        items.iter().any(|d| d["status"] == "failed_permanent")
    })
    .await;
    let d = items.iter().find(|d| d["status"] == "failed_permanent").unwrap();
    assert_eq!(d["lastErrorCode"], "TARGET_NOT_ALLOWED");
    assert!(
        fake.received_requests().await.unwrap().is_empty(),
        "nothing was sent there"
    );
    app.finish().await;
}

#[tokio::test]
async fn an_idempotency_key_answers_a_repeat_with_the_first_answer_and_refuses_another_body() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    let url = format!("{}/api/orders/{no}/review", app.base);
    let approve = json!({"decision": "approve", "note": "ok"});
    let (s1, h1, first) = send(app.http.post(&url).header("idempotency-key", "click-1").json(&approve)).await;
    assert_eq!(s1, 200, "{first}");
    assert_eq!(h1["idempotency-replayed"], "false");
    let reviews = |no: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM events WHERE aggregate_id = $1 AND event_type LIKE 'manual_review_%'",
            )
            .bind(no)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(reviews(no.clone()).await, 1);
    let (s2, h2, again) = send(app.http.post(&url).header("idempotency-key", "click-1").json(&approve)).await;
    assert_eq!((s2, &again), (200, &first), "the same answer");
    assert_eq!(h2["idempotency-replayed"], "true");
    assert_eq!(reviews(no.clone()).await, 1, "nothing done twice");
    let (s3, _, v) = send(
        app.http
            .post(&url)
            .header("idempotency-key", "click-1")
            .json(&json!({"decision": "reject", "note": "no"})),
    )
    .await;
    assert_eq!((s3, v["code"].as_str()), (422, Some("IDEMPOTENCY_KEY_REUSED")), "{v}");
    let (s4, _, v) = send(
        app.http
            .post(&url)
            .header("idempotency-key", "bad key with spaces")
            .json(&approve),
    )
    .await;
    assert_eq!(s4, 422, "{v}");
    assert!(v["fieldErrors"]["Idempotency-Key"].is_string());
    assert_eq!(reviews(no.clone()).await, 1);
    // Ten concurrent double clicks with one key: one runs, the others get its answer or 409.
    let (other, token) = app.order_with_token("4502196109060007002", "初级道 3 小时-淡季").await;
    app.post_json(
        &format!("/api/public/forms/{token}"),
        &good_form(next_date_in(xyt_domain::pricing::SeasonType::Mid)),
    )
    .await;
    let url = format!("{}/api/orders/{other}/review", app.base);
    let answers = futures::future::join_all(
        (0..10).map(|_| send(app.http.post(&url).header("idempotency-key", "click-2").json(&approve))),
    )
    .await;
    assert!(
        answers.iter().all(|(s, _, _)| *s == 200 || *s == 409),
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert_eq!(reviews(other.clone()).await, 1);
    app.finish().await;
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_files_are_sandboxed() {
    let app = spawn().await;
    for (client, path) in [
        (&app.http, "/api/orders"),
        (&app.anonymous, "/api/orders"),
        (&app.anonymous, "/nowhere"),
        (&app.anonymous, "/healthz"),
        (&app.anonymous, "/docs/"),
    ] {
        let (_, h, _) = send(client.get(format!("{}{path}", app.base))).await;
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
    // A stored file: private, inline, sandboxed.
    let png = xyt_integrations::ocr::png_with_ocr_text(40, 40, "x");
    let sha = app.running_files_put(&png).await;
    let (status, _, _) = send(app.anonymous.get(format!("{}/api/files/{sha}", app.base))).await;
    assert_eq!(status, 401, "payment proofs are private");
    let (status, h, _) = send(app.http.get(format!("{}/api/files/{sha}", app.base))).await;
    assert_eq!(status, 200);
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline; filename="));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("sandbox") && csp.contains("default-src 'none'"), "{csp}");
    app.finish().await;
}
