//! The audit log's content and its hash chain. Each entry's hash covers the previous
//! entry's hash and every field of its own, so editing, removing or reordering any entry
//! breaks the chain from that point on.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The hash that precedes the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something, as the audit log records it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub login: String,
    /// The role codes that authorised the action, comma-separated.
    pub roles: String,
    /// The org at the top of the scope used, if any.
    pub scope_org_id: Option<i64>,
    /// The request id we gave the request (never one the client chose).
    pub request_id: String,
    /// The `X-Request-Id` the client sent, if any: kept in the entry's detail as
    /// `client_request_id`, never as the entry's request id.
    pub client_request_id: Option<String>,
}

impl Actor {
    /// The actor for command-line administration and background jobs.
    pub fn system(what: &str) -> Actor {
        Actor {
            login: format!("system:{what}"),
            ..Actor::default()
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_login: String,
    pub roles: String,
    pub scope_org_id: Option<i64>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub result: String,
    pub request_id: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry must carry, given its fields and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
        let fields = [
            self.prev_hash.clone(),
            self.seq.to_string(),
            self.at.to_string(),
            opt(self.actor_id),
            self.actor_login.clone(),
            self.roles.clone(),
            opt(self.scope_org_id),
            self.action.clone(),
            self.object_type.clone(),
            self.object_id.clone(),
            self.result.clone(),
            self.request_id.clone(),
            self.detail.clone(),
        ];
        for f in fields {
            // Length-prefix every field so no two field lists hash alike.
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// Where a chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: &'static str,
}

/// Checks a run of consecutive entries that follows `prev_hash` at sequence `prev_seq`.
/// Returns the last hash and sequence number, or the first broken link.
pub fn verify_run(
    prev_seq: i64,
    prev_hash: &str,
    entries: &[AuditEntry],
) -> Result<(i64, String), ChainBreak> {
    let mut seq = prev_seq;
    let mut hash = prev_hash.to_string();
    for e in entries {
        if e.seq != seq + 1 {
            return Err(ChainBreak {
                seq: seq + 1,
                reason: "missing entry",
            });
        }
        if e.prev_hash != hash {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "link to previous entry broken",
            });
        }
        if e.compute_hash() != e.hash {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "entry content altered",
            });
        }
        seq = e.seq;
        hash = e.hash.clone();
    }
    Ok((seq, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let mut e = AuditEntry {
                    seq,
                    at: 1000 + seq,
                    actor_id: Some(1),
                    actor_login: "admin".into(),
                    roles: "system_admin".into(),
                    scope_org_id: None,
                    action: "org.create".into(),
                    object_type: "org".into(),
                    object_id: seq.to_string(),
                    result: "ok".into(),
                    request_id: "r".into(),
                    detail: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_run(0, GENESIS, &c).unwrap().0, 5);
    }

    #[test]
    fn any_edit_is_found_at_its_entry() {
        for i in 0..5 {
            let mut c = chain(5);
            c[i].detail = "{\"x\":1}".into();
            assert_eq!(verify_run(0, GENESIS, &c).unwrap_err().seq, i as i64 + 1);
        }
        let mut c = chain(5);
        c.remove(2);
        assert_eq!(
            verify_run(0, GENESIS, &c).unwrap_err(),
            ChainBreak {
                seq: 3,
                reason: "missing entry"
            }
        );
    }
}
