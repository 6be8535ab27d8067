//! Anchors for the audit chain. The chain alone shows that rows were changed by someone who did
//! not recompute the hashes; anyone who can write the file can recompute them. So the chain's
//! head (a row id and its hash) is published outside the file — in every case summary posted to
//! a ticket, and in head files (`casekit audit head`) — signed with HMAC-SHA256 under a key of
//! this install that lives only in the OS keychain. Checking the local log against a published
//! head then shows whether any row up to it was changed since, whoever recomputed the hashes.
//!
//! The signature covers `casekit audit head v1\n<row id>\n<row hash>`, so a head cannot be moved
//! to another row nor its hash replaced without the key. Heads carry the key's id (an HMAC of a
//! fixed label, revealing nothing of the key), so a ticket that also holds another Casekit
//! install's summaries is not mistaken for a forgery: those heads are skipped, named as such.
//!
//! Nothing here runs on the append path: a head is signed when it is published.

use std::sync::{LazyLock, Mutex, OnceLock};

use hmac::{Hmac, KeyInit, Mac};
use regex::Regex;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use ts_rs::TS;
use zeroize::Zeroizing;

use super::audit::{self, Verification};
use crate::secrets::{Keychain, Secret};
use crate::{clock, Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// What a head's HMAC covers, before the row id and the hash.
const SIGNED_LABEL: &str = "casekit audit head v1";
/// What the key id is the HMAC of.
const KEY_ID_LABEL: &str = "casekit audit key id v1";
/// What a head file says it is.
pub const HEAD_FILE_FORMAT: &str = "casekit-audit-head-v1";

/// The install's audit key (32 bytes). Never printed, serialized or stored outside the keychain.
#[derive(Clone)]
pub struct AuditKey(Secret);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.id())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Zeroizing::new((0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0)).collect()))
}

impl AuditKey {
    /// The key as the keychain keeps it: 64 hex digits.
    pub fn from_secret(secret: Secret) -> Result<AuditKey> {
        match unhex(secret.expose()) {
            Some(bytes) if bytes.len() == 32 => Ok(AuditKey(secret)),
            _ => Err(Error::Keychain(
                "The audit key in the system keychain (dev.casekit.desktop, install/audit-key) is not 64 hex digits: \
                 it was changed outside Casekit. Heads signed with the old key cannot be checked here."
                    .into(),
            )),
        }
    }

    fn mac(&self) -> HmacSha256 {
        let bytes = unhex(self.0.expose()).unwrap_or_default();
        HmacSha256::new_from_slice(&bytes).expect("HMAC takes a key of any length")
    }

    /// The key's public id: 16 hex digits of an HMAC of a fixed label.
    pub fn id(&self) -> String {
        let mut mac = self.mac();
        mac.update(KEY_ID_LABEL.as_bytes());
        hex(&mac.finalize().into_bytes()[..8])
    }

    fn message(row: i64, hash: &str) -> String {
        format!("{SIGNED_LABEL}\n{row}\n{hash}")
    }

    /// HMAC-SHA256 of a head, hex.
    pub fn sign(&self, row: i64, hash: &str) -> String {
        let mut mac = self.mac();
        mac.update(Self::message(row, hash).as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Whether `hmac` is this key's signature of the head (compared in constant time).
    pub fn signed(&self, row: i64, hash: &str, hmac: &str) -> bool {
        let Some(given) = unhex(hmac) else { return false };
        let mut mac = self.mac();
        mac.update(Self::message(row, hash).as_bytes());
        mac.verify_slice(&given).is_ok()
    }
}

/// Where a store gets the audit key: the keychain the app uses, reached when first needed.
pub type KeychainSource = Box<dyn Fn() -> Result<Keychain> + Send + Sync>;

/// The store's link to the keychain, and the key once read (so only the first publication in a
/// process asks the keychain).
#[derive(Default)]
pub(crate) struct KeySlot {
    source: OnceLock<KeychainSource>,
    cached: Mutex<Option<AuditKey>>,
}

impl KeySlot {
    pub(crate) fn attach(&self, source: KeychainSource) {
        let _ = self.source.set(source);
    }

    /// The key, made on first need. Blocking (the keychain runs on a thread of its own). The
    /// lock is held across the keychain call, so two first publications in one process cannot
    /// each make a key.
    pub(crate) fn get(&self) -> Result<AuditKey> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cached.as_ref() {
            return Ok(k.clone());
        }
        let source = self.source.get().ok_or_else(|| {
            Error::Keychain("No keychain is attached to this database, so the audit head cannot be signed.".into())
        })?;
        let key = AuditKey::from_secret(source()?.audit_key_or_create()?)?;
        *cached = Some(key.clone());
        Ok(key)
    }
}

/// A head of the chain as published: row id, its hash, and (when the key could be reached) the
/// HMAC and the key's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Head {
    pub row: i64,
    pub sha256: String,
    pub hmac: Option<String>,
    pub key: Option<String>,
}

impl Head {
    /// The line a summary carries: `Audit head: row N, sha256 H, hmac M, key K`.
    pub fn line(&self) -> String {
        match (&self.hmac, &self.key) {
            (Some(hmac), Some(key)) => {
                format!("Audit head: row {}, sha256 {}, hmac {hmac}, key {key}", self.row, self.sha256)
            }
            _ => format!("Audit head: row {}, sha256 {} (not signed)", self.row, self.sha256),
        }
    }
}

/// The newest row's id and hash, or `None` for an empty log.
pub fn newest(conn: &Connection) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get("id")?, r.get("hash")?)))
        .optional()?)
}

/// The newest row as a head, signed with `key`.
pub fn signed_head(conn: &Connection, key: &AuditKey) -> Result<Option<Head>> {
    Ok(newest(conn)?.map(|(row, sha256)| Head { hmac: Some(key.sign(row, &sha256)), key: Some(key.id()), row, sha256 }))
}

/// What `casekit audit head` writes: the head, what it is, and when it was taken.
pub fn head_file(head: &Head) -> serde_json::Value {
    serde_json::json!({
        "format": HEAD_FILE_FORMAT,
        "row": head.row,
        "sha256": head.sha256,
        "hmac": head.hmac,
        "key": head.key,
        "at": clock::now(),
    })
}

/// Reads a head file back.
pub fn parse_head_file(text: &str) -> Result<Head> {
    let bad = |why: &str| {
        Error::InvalidInput(format!("Not a Casekit audit head file ({why}): write one with `casekit audit head > head.json`."))
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    if v["format"] != HEAD_FILE_FORMAT {
        return Err(bad(&format!("its format is not {HEAD_FILE_FORMAT}")));
    }
    let row = v["row"].as_i64().filter(|r| *r > 0).ok_or_else(|| bad("no row number"))?;
    let sha256 = v["sha256"].as_str().filter(|h| is_hash(h)).ok_or_else(|| bad("no 64-digit sha256"))?.to_owned();
    // `casekit audit head` signs every head it writes: an unsigned head file is not one of its.
    let hmac = v["hmac"].as_str().filter(|h| is_hash(h)).ok_or_else(|| bad("it is not signed: no hmac"))?.to_owned();
    let key = v["key"].as_str().filter(|k| k.len() == 16).ok_or_else(|| bad("it is not signed: no key id"))?.to_owned();
    Ok(Head { row, sha256, hmac: Some(hmac), key: Some(key) })
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

static HEAD_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Audit head: row (\d{1,18}), sha256 ([0-9a-f]{64})(?:, hmac ([0-9a-f]{64}), key ([0-9a-f]{16}))?")
        .expect("valid head pattern")
});

/// Every head line in a text (a ticket comment).
pub fn heads_in(text: &str) -> Vec<Head> {
    HEAD_LINE
        .captures_iter(text)
        .filter_map(|c| {
            Some(Head {
                row: c[1].parse().ok()?,
                sha256: c[2].to_owned(),
                hmac: c.get(3).map(|m| m.as_str().to_owned()),
                key: c.get(4).map(|m| m.as_str().to_owned()),
            })
        })
        .collect()
}

/// A head found somewhere, and where (`ticket global#8001, comment 12`, `head.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    pub head: Head,
    pub source: String,
}

/// What one head says about the local log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The local row has the published hash, and the HMAC is this install's.
    Holds,
    /// The local row has the published hash; the head carries no signature (it was posted while
    /// the keychain could not be reached), so only the hash was compared. Anyone who can post an
    /// internal note could have written it: it contradicts nothing, but vouches for nothing.
    HoldsUnsigned,
    /// Signed with another install's key: not evidence about this log either way.
    OtherInstall { key: String },
    /// Evidence of tampering (or of a forged head).
    Fails { problem: String },
}

/// One head checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HeadCheck {
    pub found: Found,
    pub outcome: Outcome,
}

/// The local chain checked on its own, then against published heads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AnchorReport {
    pub chain: Verification,
    pub checks: Vec<HeadCheck>,
    /// Why the log cannot be trusted, in one sentence; `None` when it holds.
    pub failure: Option<String>,
}

impl AnchorReport {
    pub fn holds(&self) -> bool {
        self.failure.is_none()
    }
}

/// Checks the local log against `heads`. `key` is this install's key (`None` when the keychain
/// has none or cannot be reached: every signed head is then another install's as far as this
/// check can tell, and vouches for nothing). It fails when the chain is broken on its own, when
/// any head (signed by this install, or unsigned) contradicts the log, or when no head signed by
/// this install holds (nothing vouches for the log).
pub fn check(conn: &Connection, key: Option<&AuditKey>, heads: Vec<Found>) -> Result<AnchorReport> {
    let chain = audit::verify(conn)?;
    let (rows_end,): (i64,) = conn.query_row("SELECT coalesce(max(id), 0) AS last FROM audit", [], |r| Ok((r.get("last")?,)))?;
    let my_id = key.map(AuditKey::id);
    let mut checks = Vec::new();
    for found in heads {
        let h = &found.head;
        let outcome = match (&h.hmac, &h.key) {
            (Some(_), Some(k)) if my_id.as_deref() != Some(k.as_str()) => Outcome::OtherInstall { key: k.clone() },
            (Some(hmac), Some(_)) => match key {
                None => unreachable!("a head with a key id matched a missing key"),
                Some(key) if !key.signed(h.row, &h.sha256, hmac) => Outcome::Fails {
                    problem: format!(
                        "the head of row {} carries an HMAC this install's key did not make: the head was altered or forged",
                        h.row
                    ),
                },
                Some(_) => compare(conn, h, rows_end, Outcome::Holds)?,
            },
            _ => compare(conn, h, rows_end, Outcome::HoldsUnsigned)?,
        };
        checks.push(HeadCheck { found, outcome });
    }
    let failure = failure(&chain, &checks, key.is_some());
    Ok(AnchorReport { chain, checks, failure })
}

/// The local row against a head whose signature (if any) holds.
fn compare(conn: &Connection, h: &Head, rows_end: i64, holds: Outcome) -> Result<Outcome> {
    let local: Option<String> = conn.query_row("SELECT hash FROM audit WHERE id = ?1", [h.row], |r| r.get("hash")).optional()?;
    Ok(match local {
        Some(hash) if hash == h.sha256 => holds,
        Some(hash) => Outcome::Fails {
            problem: format!(
                "row {} has hash {} here but {} was published: rows up to {} were rewritten after it was published",
                h.row,
                &hash[..12],
                &h.sha256[..12],
                h.row
            ),
        },
        None if h.row > rows_end => Outcome::Fails {
            problem: format!(
                "row {} is not in the log, which ends at row {rows_end}: rows {}–{} were removed after the head was published",
                h.row,
                rows_end + 1,
                h.row
            ),
        },
        None => Outcome::Fails { problem: format!("row {} is not in the log: it was deleted", h.row) },
    })
}

/// One sentence for the whole report, naming the narrowest stretch of rows the heads point at.
fn failure(chain: &Verification, checks: &[HeadCheck], have_key: bool) -> Option<String> {
    if let Some(bad) = &chain.first_bad {
        return Some(format!("the chain itself is broken at row {}: {}", bad.id, bad.problem));
    }
    let failing: Vec<&HeadCheck> = checks.iter().filter(|c| matches!(c.outcome, Outcome::Fails { .. })).collect();
    if let Some(first) = failing.iter().min_by_key(|c| c.found.head.row) {
        let row = first.found.head.row;
        let after = checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Holds | Outcome::HoldsUnsigned) && c.found.head.row < row)
            .map(|c| c.found.head.row)
            .max();
        let Outcome::Fails { problem } = &first.outcome else { unreachable!("filtered on Fails") };
        let span = match after {
            Some(good) => format!(" (the change lies in rows {}–{row}: row {good} still matches its head)", good + 1),
            None => String::new(),
        };
        return Some(format!("{problem}; found on {}{span}", first.found.source));
    }
    if !checks.iter().any(|c| c.outcome == Outcome::Holds) {
        return Some(if checks.is_empty() {
            "no audit head was found, so nothing outside this file vouches for the log".into()
        } else if checks.iter().any(|c| c.outcome == Outcome::HoldsUnsigned) && have_key {
            "only unsigned heads match the log: anyone who can post an internal note could have written them, so \
             nothing signed by this install vouches for the log"
                .into()
        } else if !have_key {
            "no head could be checked: this computer's keychain holds no audit key (or could not be reached), so no \
             signed head can be told from another install's or a forgery"
                .into()
        } else {
            "no head published by this install was found (only other installs' heads), so nothing vouches for the log".into()
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hex: &str) -> AuditKey {
        AuditKey::from_secret(Secret::new(hex.repeat(64 / hex.len()))).unwrap()
    }

    #[test]
    fn the_hmac_is_hmac_sha256_of_the_documented_message() {
        // RFC 4231 test case 2 checks the construction itself ("Jefe" is not a 32-byte key, so
        // through the Mac directly).
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(hex(&mac.finalize().into_bytes()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let k = key("0b");
        let hash = "a".repeat(64);
        let mut mac = HmacSha256::new_from_slice(&[0x0b; 32]).unwrap();
        mac.update(format!("casekit audit head v1\n7\n{hash}").as_bytes());
        assert_eq!(k.sign(7, &hash), hex(&mac.finalize().into_bytes()));
        assert!(k.signed(7, &hash, &k.sign(7, &hash)));
        assert!(!k.signed(8, &hash, &k.sign(7, &hash)), "bound to the row");
        assert!(!k.signed(7, &"b".repeat(64), &k.sign(7, &hash)), "bound to the hash");
        assert!(!key("0c").signed(7, &hash, &k.sign(7, &hash)), "bound to the key");
        assert!(!k.signed(7, &hash, "not hex"));
        assert_ne!(k.id(), key("0c").id());
        assert_eq!(k.id().len(), 16);
        assert_eq!(format!("{k:?}"), format!("AuditKey({})", k.id()));
    }

    #[test]
    fn a_key_that_is_not_64_hex_digits_is_refused() {
        for bad in ["", "abc", &"g".repeat(64), &"ab".repeat(31)] {
            assert!(AuditKey::from_secret(Secret::new(bad.to_owned())).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn head_lines_are_found_in_text_signed_or_not() {
        let k = key("42");
        let signed = Head { row: 12, sha256: "c".repeat(64), hmac: Some(k.sign(12, &"c".repeat(64))), key: Some(k.id()) };
        let unsigned = Head { row: 3, sha256: "d".repeat(64), hmac: None, key: None };
        let text = format!("**Casekit case summary**\n\n_{}_\nand\n{}\n", signed.line(), unsigned.line());
        assert_eq!(heads_in(&text), vec![signed.clone(), unsigned.clone()]);
        assert_eq!(parse_head_file(&head_file(&signed).to_string()).unwrap(), signed);
        assert!(parse_head_file("{}").unwrap_err().to_string().contains("casekit audit head"));
        let err = parse_head_file(&head_file(&unsigned).to_string()).unwrap_err().to_string();
        assert!(err.contains("it is not signed"), "{err}");
    }
}
