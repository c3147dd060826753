//! Dispute bundles: one order's evidence in a zip that can be checked offline.
//!
//! - `manifest.json`: the order (its detail), every event exactly as stored (payload and
//!   metadata as their stored JSON text, so the chain can be recomputed) with its chain hash,
//!   the deliveries with every attempt, the config values each decision used as recorded in its
//!   event, and the sha256 of every image and of `report.html`;
//! - `images/<sha256>.<ext>`: the payment proof and the agent's screenshots;
//! - `report.html`: a self-contained (images inline), printable report in Chinese.
//!
//! [`verify`] checks a bundle with nothing but its bytes: every image and the report against
//! the manifest, and every event against the hash chain. Each export is recorded
//! (`dispute_exports`: who, when, the chain head and the manifest's sha256), which is the anchor
//! to compare a bundle with when someone could have rebuilt a whole consistent chain.

use std::io::{Cursor, Read, Write};

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use xyt_integrations::files::{sha256_hex, FileStore};
use xyt_store::chain::{self, ChainedEvent};
use xyt_store::{deliveries, replay, PgPool};

pub const FORMAT: &str = "xyt-dispute-bundle/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestImage {
    pub path: String,
    pub sha256: String,
    pub content_type: String,
    pub size: i64,
    /// `payment_proof` or `agent_screenshot`, and the event that recorded it.
    pub role: String,
    pub sequence: i64,
    /// False when the file store no longer has it (the bundle then lacks the file).
    pub included: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    pub order_no: String,
    pub exported_at: DateTime<Utc>,
    pub exported_by: String,
    pub chain: Value,
    pub order: Value,
    pub events: Vec<ChainedEvent>,
    pub deliveries: Value,
    pub decisions: Vec<Value>,
    pub images: Vec<ManifestImage>,
    /// sha256 of the other files (`report.html`).
    pub files: std::collections::BTreeMap<String, String>,
}

pub struct Bundle {
    pub bytes: Vec<u8>,
    pub manifest_sha256: String,
    pub head_sequence: i64,
    pub head_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("no such order")]
    NotFound,
    #[error("{0}")]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for BundleError {
    fn from(e: sqlx::Error) -> Self {
        BundleError::Other(e.into())
    }
}

/// The inputs a decision used, as its event recorded them.
fn decision_inputs(event_type: &str, p: &Value) -> Option<Value> {
    let pick = |keys: &[&str]| {
        let mut m = serde_json::Map::new();
        for k in keys {
            if let Some(v) = p.get(*k) {
                m.insert((*k).to_string(), v.clone());
            }
        }
        Value::Object(m)
    };
    Some(match event_type {
        "xgj_virtual_order_received" => pick(&[
            "goodsSnapshot",
            "feeRate",
            "paidAmount",
            "payableAmount",
            "unknownGoods",
        ]),
        "price_check_passed" | "price_check_failed" => pick(&[
            "passed",
            "playDate",
            "seasonType",
            "ticketType",
            "goodsSeasonLabel",
            "paidAmount",
            "feeRate",
            "payableAmount",
            "settlementAmount",
            "reasons",
        ]),
        "payment_confirmed" => pick(&["amount", "qrCodeId", "qrCodeLabel", "paidAt"]),
        "order_push_requested" => pick(&["agentGroupId", "agentGroupName", "targetGroupId", "notificationTarget"]),
        "screenshot_matched" | "screenshot_mismatched" => {
            pick(&["sha256", "comparisons", "reasons", "reasonLabels", "confidence"])
        }
        "profit_share_calculated" => pick(&["revenue", "cost", "profit", "costBasis"]),
        "xgj_refund_applied" => pick(&["refundAmountCent", "refundReason", "refundScene", "decision"]),
        _ => return None,
    })
}

fn inner(e: &ChainedEvent) -> Value {
    let v: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    v.get(&e.event_type).cloned().unwrap_or(v)
}

fn ext_of(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        _ => "bin",
    }
}

/// Builds the bundle of `order_no` and records the export.
pub async fn export(
    pool: &PgPool,
    files: &dyn FileStore,
    order_no: &str,
    exported_by: &str,
) -> Result<Bundle, BundleError> {
    let events = chain::load(pool, order_no).await?;
    if events.is_empty() {
        return Err(BundleError::NotFound);
    }
    let report = chain::check(order_no, &events);
    let replayed = replay::replay(pool, order_no, None)
        .await
        .map_err(|e| anyhow::anyhow!("replay: {e}"))?;
    let delivery_list = deliveries::for_order(pool, order_no).await?;
    let now = Utc::now();

    let mut decisions = Vec::new();
    let mut images: Vec<ManifestImage> = Vec::new();
    let mut image_bytes: Vec<(String, Vec<u8>)> = Vec::new();
    for e in &events {
        let p = inner(e);
        if let Some(inputs) = decision_inputs(&e.event_type, &p) {
            let meta: Value = serde_json::from_str(&e.metadata).unwrap_or(Value::Null);
            decisions.push(json!({
                "sequence": e.sequence,
                "eventType": e.event_type,
                "source": meta.get("source"),
                "createdAt": meta.get("createdAt"),
                "inputs": inputs,
            }));
        }
        let role = match e.event_type.as_str() {
            "payment_proof_uploaded" => "payment_proof",
            "agent_screenshot_uploaded" => "agent_screenshot",
            _ => continue,
        };
        let (Some(sha), Some(ct)) = (
            p.get("sha256").and_then(|v| v.as_str()),
            p.get("contentType").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        if images.iter().any(|i| i.sha256 == sha) {
            continue;
        }
        let path = format!("images/{sha}.{}", ext_of(ct));
        let bytes = files.get(sha).await.map_err(|e| anyhow::anyhow!("file store: {e}"))?;
        images.push(ManifestImage {
            path: path.clone(),
            sha256: sha.to_string(),
            content_type: ct.to_string(),
            size: p.get("size").and_then(|v| v.as_i64()).unwrap_or(0),
            role: role.into(),
            sequence: e.sequence,
            included: bytes.is_some(),
        });
        if let Some(b) = bytes {
            image_bytes.push((path, b));
        }
    }

    let order = serde_json::to_value(&replayed.detail).map_err(anyhow::Error::from)?;
    let deliveries_json = serde_json::to_value(&delivery_list).map_err(anyhow::Error::from)?;
    let html = report_html(
        order_no,
        &order,
        &replayed,
        &report,
        &deliveries_json,
        &images,
        &image_bytes,
        now,
    );
    let mut manifest = Manifest {
        format: FORMAT.into(),
        order_no: order_no.into(),
        exported_at: now,
        exported_by: exported_by.into(),
        chain: json!({
            "algorithm": "sha256(\"xyt-chain-v1\" ‖ part(aggregate_type) ‖ part(aggregate_id) ‖ part(sequence) ‖ part(event_type) ‖ part(event_version) ‖ part(payload) ‖ part(metadata) ‖ part(previous hash)); part(t) = 8-byte big-endian length of t's UTF-8 bytes, then the bytes",
            "aggregateType": chain::AGGREGATE_TYPE,
            "headSequence": report.head_sequence,
            "headHash": report.head_hash,
            "intactAtExport": report.ok,
            "problemsAtExport": report.problems,
        }),
        order,
        events,
        deliveries: deliveries_json,
        decisions,
        images,
        files: Default::default(),
    };
    manifest.files.insert("report.html".into(), sha256_hex(html.as_bytes()));
    let manifest_text = serde_json::to_string_pretty(&manifest).map_err(anyhow::Error::from)?;
    let manifest_sha256 = sha256_hex(manifest_text.as_bytes());

    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let text = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut add = |name: &str, bytes: &[u8], opts| -> Result<(), anyhow::Error> {
        zip.start_file(name, opts)?;
        zip.write_all(bytes)?;
        Ok(())
    };
    add("manifest.json", manifest_text.as_bytes(), text)?;
    add("report.html", html.as_bytes(), text)?;
    for (path, b) in &image_bytes {
        add(path, b, stored)?;
    }
    let bytes = zip.finish().map_err(anyhow::Error::from)?.into_inner();

    sqlx::query(
        "INSERT INTO dispute_exports (id, order_no, exported_by, exported_at, head_sequence, head_hash, manifest_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(order_no)
    .bind(exported_by)
    .bind(now)
    .bind(report.head_sequence)
    .bind(&report.head_hash)
    .bind(&manifest_sha256)
    .execute(pool)
    .await?;
    tracing::info!(
        order_no,
        exported_by,
        head = report.head_sequence,
        "dispute bundle exported"
    );
    Ok(Bundle {
        bytes,
        manifest_sha256,
        head_sequence: report.head_sequence,
        head_hash: report.head_hash,
    })
}

/// One check of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub part: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub ok: bool,
    pub order_no: Option<String>,
    pub head_hash: Option<String>,
    pub manifest_sha256: Option<String>,
    pub checks: Vec<Check>,
}

impl Verification {
    /// The first failing part, if any.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.ok)
    }
}

/// Checks a bundle offline: the zip, the manifest, every image and the report against their
/// hashes, and every event against the chain.
pub fn verify(bytes: &[u8]) -> Verification {
    let mut v = Verification {
        ok: false,
        order_no: None,
        head_hash: None,
        manifest_sha256: None,
        checks: vec![],
    };
    let check = |v: &mut Verification, part: &str, ok: bool, detail: String| {
        v.checks.push(Check {
            part: part.into(),
            ok,
            detail,
        })
    };
    let mut zip = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => {
            check(&mut v, "bundle.zip", false, format!("不是可读的 zip 文件:{e}"));
            return v;
        }
    };
    let mut read = |name: &str| -> Option<Vec<u8>> {
        let mut f = zip.by_name(name).ok()?;
        let mut b = Vec::new();
        f.read_to_end(&mut b).ok()?;
        Some(b)
    };
    let Some(manifest_bytes) = read("manifest.json") else {
        check(&mut v, "manifest.json", false, "缺少 manifest.json".into());
        return v;
    };
    v.manifest_sha256 = Some(sha256_hex(&manifest_bytes));
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            check(&mut v, "manifest.json", false, format!("manifest.json 无法解析:{e}"));
            return v;
        }
    };
    if manifest.format != FORMAT {
        check(&mut v, "manifest.json", false, format!("未知格式 {}", manifest.format));
        return v;
    }
    check(&mut v, "manifest.json", true, format!("订单 {}", manifest.order_no));
    v.order_no = Some(manifest.order_no.clone());

    // The chain, recomputed from the events as stored.
    let report = chain::check(&manifest.order_no, &manifest.events);
    let head_claimed = manifest.chain.get("headHash").and_then(|h| h.as_str()).unwrap_or("");
    v.head_hash = Some(report.head_hash.clone());
    match &report.first_problem {
        Some(p) => check(
            &mut v,
            &format!("manifest.json#events[{}]", p.sequence),
            false,
            format!("事件链校验失败:{}", p.detail),
        ),
        None if report.head_hash != head_claimed => check(
            &mut v,
            "manifest.json#chain",
            false,
            "事件链末端哈希与清单记录的不一致".into(),
        ),
        None => check(
            &mut v,
            "manifest.json#events",
            true,
            format!("{} 个事件的哈希链完整,末端 {}", report.events, report.head_hash),
        ),
    }
    // The files against their hashes.
    for (name, sha) in &manifest.files {
        match read(name) {
            None => check(&mut v, name, false, format!("缺少 {name}")),
            Some(b) if sha256_hex(&b) != *sha => {
                check(&mut v, name, false, format!("{name} 的 sha256 与清单不符(被修改)"))
            }
            Some(_) => check(&mut v, name, true, "sha256 一致".into()),
        }
    }
    for img in &manifest.images {
        if !img.included {
            check(&mut v, &img.path, true, "导出时文件库中已没有该图片(清单已注明)".into());
            continue;
        }
        match read(&img.path) {
            None => check(&mut v, &img.path, false, format!("缺少 {}", img.path)),
            Some(b) if sha256_hex(&b) != img.sha256 => check(
                &mut v,
                &img.path,
                false,
                format!("{} 的 sha256 与清单不符(被修改)", img.path),
            ),
            Some(_) => check(&mut v, &img.path, true, "sha256 一致".into()),
        }
    }
    // Every image an event recorded is listed with the hash the event recorded.
    for e in &manifest.events {
        if !matches!(
            e.event_type.as_str(),
            "payment_proof_uploaded" | "agent_screenshot_uploaded"
        ) {
            continue;
        }
        let sha = inner(e)
            .get("sha256")
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_string();
        if !manifest.images.iter().any(|i| i.sha256 == sha) {
            check(
                &mut v,
                "manifest.json#images",
                false,
                format!("第 {} 个事件记录的图片 {sha} 不在清单中", e.sequence),
            );
        }
    }
    v.ok = v.checks.iter().all(|c| c.ok);
    v
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => esc(s),
        Value::Bool(b) => if *b { "是" } else { "否" }.into(),
        Value::Number(n) => n.to_string(),
        other => format!("<code>{}</code>", esc(&other.to_string())),
    }
}

fn table_of(v: &Value) -> String {
    match v.as_object() {
        None => format!("<p>{}</p>", show(v)),
        Some(m) => {
            let rows: String = m
                .iter()
                .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), show(v)))
                .collect();
            format!("<table class=\"kv\">{rows}</table>")
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report_html(
    order_no: &str,
    order: &Value,
    replayed: &replay::Replay,
    chain_report: &chain::ChainReport,
    deliveries: &Value,
    images: &[ManifestImage],
    image_bytes: &[(String, Vec<u8>)],
    now: DateTime<Utc>,
) -> String {
    let f = |k: &str| show(order.get(k).unwrap_or(&Value::Null));
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>争议材料 {o}</title><style>\
         body{{font-family:'PingFang SC','Microsoft YaHei',sans-serif;margin:24px;color:#222;font-size:13px}}\
         h1{{font-size:20px}}h2{{font-size:16px;border-bottom:1px solid #999;margin-top:24px}}\
         table{{border-collapse:collapse;width:100%;margin:6px 0}}th,td{{border:1px solid #bbb;padding:4px 6px;text-align:left;vertical-align:top}}\
         table.kv th{{width:22%;background:#f3f3f3}}code{{white-space:pre-wrap;word-break:break-all;font-size:11px}}\
         img{{max-width:46%;border:1px solid #999;margin:4px}}.bad{{color:#b00;font-weight:bold}}.ok{{color:#070}}\
         @media print{{h2{{page-break-after:avoid}}tr{{page-break-inside:avoid}}}}</style></head><body>",
        o = esc(order_no)
    ));
    h.push_str(&format!("<h1>订单争议材料 {}</h1>", esc(order_no)));
    h.push_str(&format!(
        "<p>导出时间:{}(UTC)。本报告由 xy-ticket 根据事件存储生成;manifest.json 载有每个事件的原始内容与哈希,可用 <code>xyt dispute verify</code> 离线校验。</p>",
        now.format("%Y-%m-%d %H:%M:%S")
    ));
    h.push_str("<h2>订单信息</h2><table class=\"kv\">");
    for (label, key) in [
        ("订单号", "orderNo"),
        ("闲管家订单号", "externalOrderNo"),
        ("虚拟订单号", "outOrderNo"),
        ("商品", "goodsName"),
        ("票种", "ticketType"),
        ("游玩日期", "playDate"),
        ("支付金额", "paidAmount"),
        ("费率", "feeRate"),
        ("应付代下单金额", "payableAmount"),
        ("当前状态", "statusLabel"),
        ("取消原因", "cancelReason"),
    ] {
        h.push_str(&format!("<tr><th>{label}</th><td>{}</td></tr>", f(key)));
    }
    h.push_str("</table>");
    h.push_str("<h2>防篡改校验</h2>");
    if chain_report.ok {
        h.push_str(&format!(
            "<p class=\"ok\">导出时事件哈希链完整:共 {} 个事件,末端哈希 <code>{}</code>。</p>",
            chain_report.events,
            esc(&chain_report.head_hash)
        ));
    } else {
        for p in &chain_report.problems {
            h.push_str(&format!("<p class=\"bad\">{}</p>", esc(&p.detail)));
        }
    }
    h.push_str("<h2>时间线</h2><table><tr><th>#</th><th>时间(UTC)</th><th>事件</th><th>来源</th><th>结果</th><th>变化</th></tr>");
    for e in &replayed.timeline {
        let changes: Vec<String> = e
            .after
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}:{} → {}",
                    esc(k),
                    e.before.get(k).map_or("-".into(), |b| esc(b)),
                    esc(v)
                )
            })
            .collect();
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
            e.sequence,
            e.created_at.format("%Y-%m-%d %H:%M:%S"),
            esc(&e.event_type),
            esc(&e.source),
            esc(&e.result),
            e.error_message
                .as_deref()
                .map(|m| format!("<br>{}", esc(m)))
                .unwrap_or_default(),
            changes.join("<br>")
        ));
    }
    h.push_str("</table>");
    h.push_str("<h2>价格校验及其输入</h2>");
    h.push_str(&table_of(order.get("priceCheck").unwrap_or(&Value::Null)));
    h.push_str("<h2>代付与付款凭证</h2>");
    h.push_str(&table_of(order.get("payment").unwrap_or(&Value::Null)));
    let img_tag = |role: &str| -> String {
        images
            .iter()
            .filter(|i| i.role == role)
            .map(|i| match image_bytes.iter().find(|(p, _)| *p == i.path) {
                Some((_, b)) => format!(
                    "<div><img alt=\"{}\" src=\"data:{};base64,{}\"><br><code>sha256 {}</code></div>",
                    esc(&i.path),
                    esc(&i.content_type),
                    base64::engine::general_purpose::STANDARD.encode(b),
                    esc(&i.sha256)
                ),
                None => format!("<p class=\"bad\">图片 {} 已不在文件库中</p>", esc(&i.sha256)),
            })
            .collect()
    };
    h.push_str(&img_tag("payment_proof"));
    h.push_str("<h2>推单</h2>");
    h.push_str(&table_of(order.get("push").unwrap_or(&Value::Null)));
    h.push_str("<h2>代理截图与识别比对</h2>");
    h.push_str(&img_tag("agent_screenshot"));
    h.push_str(&table_of(order.get("screenshot").unwrap_or(&Value::Null)));
    h.push_str("<h2>通知投递</h2><table><tr><th>类型</th><th>目标</th><th>状态</th><th>尝试</th></tr>");
    for d in deliveries.as_array().into_iter().flatten() {
        let attempts: Vec<String> = d["attempts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "第{}次 {} {} {}",
                    show(&a["attempt"]),
                    show(&a["startedAt"]),
                    show(&a["outcome"]),
                    show(&a["errorMessage"])
                )
            })
            .collect();
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            show(&d["type"]),
            show(&d["target"]),
            show(&d["status"]),
            attempts.join("<br>")
        ));
    }
    h.push_str("</table></body></html>\n");
    h
}
