//! The dispute tools of the `xyt` command: `verify` (the hash chains) and `audit` (an order's
//! timeline in the terminal).

use xyt_store::chain;
use xyt_store::replay::{self, ReplayError};
use xyt_store::PgPool;

/// `xyt verify [--order <orderNo>]`: prints each finding; the answer is false when any chain fails.
pub async fn verify(pool: &PgPool, order: Option<&str>) -> anyhow::Result<bool> {
    let reports = match order {
        Some(o) => match chain::verify_order(pool, o).await? {
            Some(r) => vec![r],
            None => anyhow::bail!("order {o} has no events"),
        },
        None => {
            let (checked, bad) = chain::verify_all(pool).await?;
            println!("checked the chains of {checked} orders");
            bad
        }
    };
    let mut ok = true;
    for r in &reports {
        if r.ok {
            println!(
                "{}: ok, {} events, head #{} {}",
                r.order_no, r.events, r.head_sequence, r.head_hash
            );
            continue;
        }
        ok = false;
        let first = r.first_problem.as_ref().expect("a failing report names a problem");
        println!(
            "{}: TAMPERED, first at event #{} ({}): {}",
            r.order_no, first.sequence, first.kind, first.detail
        );
        for p in r.problems.iter().skip(1) {
            println!("  also event #{} ({}): {}", p.sequence, p.kind, p.detail);
        }
    }
    if ok && order.is_none() {
        println!("every chain is intact");
    }
    Ok(ok)
}

/// How `xyt audit` prints: the Chinese timeline, or the replay as JSON (`--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    Text,
    Json,
}

/// `xyt audit <orderNo> [--at <seq>] [--json]`.
pub async fn audit(pool: &PgPool, order_no: &str, at: Option<i64>, format: AuditFormat) -> anyhow::Result<()> {
    let r = match replay::replay(pool, order_no, at).await {
        Ok(r) => r,
        Err(ReplayError::NotFound) => anyhow::bail!("order {order_no} does not exist"),
        Err(ReplayError::PastEnd { last }) => anyhow::bail!("--at must be between 1 and {last}"),
        Err(e) => return Err(e.into()),
    };
    if format == AuditFormat::Json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "订单 {}  回放到第 {} 个事件(共 {} 个)  状态:{}",
        r.order_no, r.at, r.last_sequence, r.detail.status_label
    );
    for e in &r.timeline {
        let changed: Vec<String> = e
            .after
            .iter()
            .map(|(k, v)| {
                let before = e.before.get(k).map_or("-", String::as_str);
                format!("{k}: {before} → {v}")
            })
            .collect();
        println!(
            "#{:<3} {}  {:<32} {:<20} {}{}",
            e.sequence,
            e.created_at.format("%Y-%m-%d %H:%M:%S"),
            e.event_type,
            e.source,
            e.result,
            e.error_code.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default()
        );
        if !changed.is_empty() {
            println!("      {}", changed.join("; "));
        }
    }
    Ok(())
}
