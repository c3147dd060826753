//! Tamper evidence: each order's events form a hash chain (migration `event_chain`).
//!
//! The canonical content of an event, hashed with the previous event's hash, is
//! `sha256("xyt-chain-v1" ‖ part(aggregate_type) ‖ part(aggregate_id) ‖ part(sequence) ‖
//! part(event_type) ‖ part(event_version) ‖ part(payload) ‖ part(metadata) ‖ part(previous))`,
//! where `part(t)` is the 8-byte big-endian length of `t`'s UTF-8 bytes followed by them, the
//! sequence is its decimal text, payload and metadata are the stored `json` text (kept byte for
//! byte by PostgreSQL) and `previous` is the previous event's hash (`""` for sequence 1). The
//! database trigger computes it on insert; [`chain_hash`] computes the same here, offline.
//!
//! [`check`] walks one order's stored rows and names what does not fit: an event whose content
//! or hash was edited, a sequence that is missing (removed) and an event written after its
//! successors (inserted: its `position`, the store's commit order, runs backwards).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use utoipa::ToSchema;

pub const AGGREGATE_TYPE: &str = "Order";

fn part(h: &mut Sha256, t: &str) {
    h.update((t.len() as u64).to_be_bytes());
    h.update(t.as_bytes());
}

/// The chain hash of one event, as the database trigger computes it.
#[allow(clippy::too_many_arguments)]
pub fn chain_hash(
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
    event_type: &str,
    event_version: &str,
    payload: &str,
    metadata: &str,
    previous: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"xyt-chain-v1");
    for t in [
        aggregate_type,
        aggregate_id,
        &sequence.to_string(),
        event_type,
        event_version,
        payload,
        metadata,
        previous,
    ] {
        part(&mut h, t);
    }
    hex::encode(h.finalize())
}

/// One stored event as the chain sees it (payload and metadata as their stored text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainedEvent {
    pub sequence: i64,
    /// The store's global commit order.
    pub position: i64,
    pub event_type: String,
    pub event_version: String,
    /// The payload exactly as stored (JSON text).
    pub payload: String,
    /// The metadata exactly as stored (JSON text).
    pub metadata: String,
    pub chain_hash: String,
}

impl ChainedEvent {
    /// The event as recorded: the inner object of its payload (what the replay, the event log
    /// and the personal-data redactor show).
    pub fn recorded(&self) -> Result<serde_json::Value, serde_json::Error> {
        let mut payload: serde_json::Value = serde_json::from_str(&self.payload)?;
        Ok(payload
            .get_mut(&self.event_type)
            .map(serde_json::Value::take)
            .unwrap_or(payload))
    }
}

impl ChainedEvent {
    pub fn recompute(&self, aggregate_id: &str, previous: &str) -> String {
        chain_hash(
            AGGREGATE_TYPE,
            aggregate_id,
            self.sequence,
            &self.event_type,
            &self.event_version,
            &self.payload,
            &self.metadata,
            previous,
        )
    }
}

/// What is wrong at one place of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainProblem {
    /// The event's sequence (for `removed`, the missing one).
    pub sequence: i64,
    /// `edited` (content or hash differs from what was chained), `removed` (the sequence is
    /// missing), `inserted` (written after events that follow it).
    pub kind: String,
    /// In Chinese, for the console and the report.
    pub detail: String,
}

/// The outcome for one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    pub order_no: String,
    pub ok: bool,
    pub events: usize,
    /// The last event's sequence and stored hash (the value to compare with a bundle).
    pub head_sequence: i64,
    pub head_hash: String,
    /// The first problem, if any.
    pub first_problem: Option<ChainProblem>,
    pub problems: Vec<ChainProblem>,
}

/// Recomputes one order's chain from its stored rows (in sequence order). Each link is checked
/// against the stored hash of the event before it, so one edit names exactly one event.
pub fn check(order_no: &str, rows: &[ChainedEvent]) -> ChainReport {
    let mut problems = Vec::new();
    let mut expected = 1i64;
    let mut previous: Option<&ChainedEvent> = None;
    for (i, row) in rows.iter().enumerate() {
        let mut gap = false;
        if row.sequence > expected {
            gap = true;
            for missing in expected..row.sequence {
                problems.push(ChainProblem {
                    sequence: missing,
                    kind: "removed".into(),
                    detail: format!("第 {missing} 个事件已被删除"),
                });
            }
        }
        if let Some(next) = rows.get(i + 1) {
            if row.position > next.position {
                problems.push(ChainProblem {
                    sequence: row.sequence,
                    kind: "inserted".into(),
                    detail: format!("第 {} 个事件是在其后的事件之后才写入的(被插入)", row.sequence),
                });
            }
        }
        // After a gap the link cannot be checked (its predecessor is gone); the gap is the finding.
        if !gap {
            let prev_hash = previous.map(|p| p.chain_hash.as_str()).unwrap_or("");
            if row.recompute(order_no, prev_hash) != row.chain_hash {
                problems.push(ChainProblem {
                    sequence: row.sequence,
                    kind: "edited".into(),
                    detail: format!(
                        "第 {} 个事件({})的内容或哈希与链不符(被修改)",
                        row.sequence, row.event_type
                    ),
                });
            }
        }
        expected = row.sequence + 1;
        previous = Some(row);
    }
    let head = rows.last();
    ChainReport {
        order_no: order_no.to_string(),
        ok: problems.is_empty(),
        events: rows.len(),
        head_sequence: head.map(|r| r.sequence).unwrap_or(0),
        head_hash: head.map(|r| r.chain_hash.clone()).unwrap_or_default(),
        first_problem: problems.first().cloned(),
        problems,
    }
}

/// One order's stored events, in sequence order.
pub async fn load(pool: &PgPool, order_no: &str) -> Result<Vec<ChainedEvent>, sqlx::Error> {
    sqlx::query_as::<_, (i64, i64, String, String, String, String, String)>(
        "SELECT sequence, position, event_type, event_version, payload::text, metadata::text, chain_hash
         FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(AGGREGATE_TYPE)
    .bind(order_no)
    .fetch_all(pool)
    .await
    .map(|rows| {
        rows.into_iter()
            .map(
                |(sequence, position, event_type, event_version, payload, metadata, chain_hash)| ChainedEvent {
                    sequence,
                    position,
                    event_type,
                    event_version,
                    payload,
                    metadata,
                    chain_hash,
                },
            )
            .collect()
    })
}

/// Checks one order (`None` when it has no events at all).
pub async fn verify_order(pool: &PgPool, order_no: &str) -> Result<Option<ChainReport>, sqlx::Error> {
    let rows = load(pool, order_no).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(check(order_no, &rows)))
}

/// Checks every order; returns the reports of those with problems and how many were checked.
pub async fn verify_all(pool: &PgPool) -> Result<(usize, Vec<ChainReport>), sqlx::Error> {
    let orders: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1 ORDER BY 1")
            .bind(AGGREGATE_TYPE)
            .fetch_all(pool)
            .await?;
    let mut bad = Vec::new();
    for o in &orders {
        if let Some(r) = verify_order(pool, o).await? {
            if !r.ok {
                bad.push(r);
            }
        }
    }
    Ok((orders.len(), bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: i64, pos: i64, prev: &str) -> ChainedEvent {
        let mut e = ChainedEvent {
            sequence: seq,
            position: pos,
            event_type: "t".into(),
            event_version: "1.0".into(),
            payload: format!("{{\"n\":{seq}}}"),
            metadata: "{}".into(),
            chain_hash: String::new(),
        };
        e.chain_hash = e.recompute("XY1", prev);
        e
    }

    fn chain(n: i64) -> Vec<ChainedEvent> {
        let mut v: Vec<ChainedEvent> = Vec::new();
        for s in 1..=n {
            let prev = v.last().map(|e| e.chain_hash.clone()).unwrap_or_default();
            v.push(ev(s, s * 10, &prev));
        }
        v
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        // "ab"+"c" and "a"+"bc" must not hash alike.
        let a = chain_hash("Order", "ab", 1, "c", "1.0", "{}", "{}", "");
        let b = chain_hash("Order", "a", 1, "bc", "1.0", "{}", "{}", "");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn an_intact_chain_passes_and_each_tampering_is_named() {
        assert!(check("XY1", &chain(5)).ok);

        let mut edited = chain(5);
        edited[2].payload = "{\"n\":99}".into();
        let r = check("XY1", &edited);
        assert_eq!(r.problems.len(), 1, "{r:?}");
        assert_eq!((r.problems[0].sequence, r.problems[0].kind.as_str()), (3, "edited"));

        let mut removed = chain(5);
        removed.remove(1);
        let r = check("XY1", &removed);
        assert_eq!(r.problems.len(), 1, "{r:?}");
        assert_eq!((r.problems[0].sequence, r.problems[0].kind.as_str()), (2, "removed"));

        // An event slipped in after the fact: written later than its successor, hash forged to fit.
        let mut inserted = chain(5);
        inserted[3].position = 999;
        let r = check("XY1", &inserted);
        assert_eq!(
            r.first_problem.as_ref().map(|p| (p.sequence, p.kind.as_str())),
            Some((4, "inserted"))
        );
    }
}
