//! `casekit audit verify | head | export`: the audit log without the window.
//!
//! `verify` alone checks the hash chain: it finds rows edited, deleted or reordered by someone
//! who did not recompute the hashes. With `--against-ticket T` or `--against FILE` it also
//! checks the log against heads published outside the file (the summaries Casekit posted to the
//! ticket, a head file written by `casekit audit head`), signed with the install's key from the
//! OS keychain: that finds a log rewritten with every hash recomputed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::connectors::session::{Connections, Credentials};
use crate::connectors::{HttpSettings, Service};
use crate::secrets::{Keychain, Tokens};
use crate::store::anchor::{self, AnchorReport, AuditKey, Found, Outcome};
use crate::store::profiles::{self, ProfileKind};
use crate::store::{audit, Store};
use crate::Result;

/// How the CLI reaches the keychain (the OS one; tests pass an in-memory one).
pub type KeychainSource<'a> = &'a dyn Fn() -> Result<Keychain>;

/// The database of `--data-dir DIR` (or the app's own), or the exit code to end with.
fn open(data_dir: &[String]) -> std::result::Result<Store, u8> {
    let paths = super::data_dir_option(data_dir).map_err(|why| usage(&why))?;
    Store::open(&paths.database()).map_err(|e| {
        eprintln!("casekit: {e}");
        1
    })
}

fn usage(why: &str) -> u8 {
    let _ = super::usage_error(why);
    2
}

/// What `audit verify` was asked to check.
#[derive(Default)]
struct VerifyOptions {
    data_dir: Vec<String>,
    ticket: Option<u64>,
    instance: Option<String>,
    files: Vec<PathBuf>,
}

fn parse_verify(args: &[String]) -> std::result::Result<VerifyOptions, String> {
    let mut o = VerifyOptions::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data-dir" => o.data_dir = vec![flag.clone(), value.clone()],
            "--against-ticket" => {
                o.ticket = Some(value.parse().ok().filter(|t| *t > 0).ok_or("--against-ticket expects a ticket number")?)
            }
            "--instance" => match value.as_str() {
                "global" | "us_gov" => o.instance = Some(value.clone()),
                _ => return Err("--instance expects global or us_gov".into()),
            },
            "--against" => o.files.push(PathBuf::from(value)),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if o.instance.is_some() && o.ticket.is_none() {
        return Err("--instance goes with --against-ticket".into());
    }
    Ok(o)
}

/// `casekit audit verify`: exit 0 when the chain holds (and every head checked against holds);
/// 1 naming the first bad row; 2 on usage errors.
pub fn verify(args: &[String]) -> ExitCode {
    ExitCode::from(verify_with(args, &Keychain::os, &mut std::io::stdout().lock()))
}

/// `verify` with the keychain and the output given (what tests call in-process).
pub fn verify_with(args: &[String], keychain: KeychainSource<'_>, out: &mut dyn Write) -> u8 {
    let options = match parse_verify(args) {
        Ok(o) => o,
        Err(why) => return usage(&why),
    };
    let store = match open(&options.data_dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if options.ticket.is_none() && options.files.is_empty() {
        return plain(&store, out);
    }
    match anchored(&store, &options, keychain, out) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(out, "FAIL {e}");
            1
        }
    }
}

/// The chain on its own.
fn plain(store: &Store, out: &mut dyn Write) -> u8 {
    match audit::verify(&store.conn()) {
        Ok(v) => match v.first_bad {
            None => {
                let _ = writeln!(
                    out,
                    "ok   audit log intact: {} rows, head {}",
                    v.rows,
                    if v.head.is_empty() { "-" } else { &v.head }
                );
                let _ = writeln!(
                    out,
                    "     (the chain is consistent; a log rewritten with its hashes recomputed is consistent too: \
                     check it against a published head with --against-ticket T or --against FILE)"
                );
                0
            }
            Some(bad) => {
                let _ = writeln!(out, "FAIL audit log broken at row {}: {}", bad.id, bad.problem);
                1
            }
        },
        Err(e) => {
            eprintln!("casekit: {e}");
            1
        }
    }
}

/// The chain against the heads of the ticket and the files.
fn anchored(store: &Store, o: &VerifyOptions, keychain: KeychainSource<'_>, out: &mut dyn Write) -> Result<u8> {
    let reached = keychain();
    let key: Option<AuditKey> = match &reached {
        Ok(k) => k.audit_key()?.map(AuditKey::from_secret).transpose()?,
        Err(e) => {
            let _ = writeln!(out, "note the system keychain could not be reached, so no signature can be checked: {e}");
            None
        }
    };
    let mut heads: Vec<Found> = Vec::new();
    for file in &o.files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| crate::Error::io(format!("Could not read the head file {}", file.display()), e))?;
        heads.push(Found { head: anchor::parse_head_file(&text)?, source: file.display().to_string() });
    }
    if let Some(ticket) = o.ticket {
        let instance = o.instance.as_deref().unwrap_or("global");
        let keychain = reached?;
        match ticket_heads(store, &keychain, instance, ticket) {
            Ok(found) => {
                if found.is_empty() {
                    let _ = writeln!(out, "note no audit head in the internal notes of ticket {instance}#{ticket}");
                }
                heads.extend(found);
            }
            Err(TicketError::Sandbox) => {
                eprintln!(
                    "casekit: the active profile is the Sandbox, whose tickets live only inside the running Casekit window \
                     (a new sandbox starts with every process). Check a head file instead (`casekit audit head > head.json`, \
                     then --against head.json), or activate the live profile whose Zendesk holds the ticket."
                );
                return Ok(2);
            }
            Err(TicketError::Failed(e)) => return Err(e),
        }
    }
    let report = anchor::check(&store.conn(), key.as_ref(), heads)?;
    print_report(&report, out);
    Ok(if report.holds() { 0 } else { 1 })
}

enum TicketError {
    Sandbox,
    Failed(crate::Error),
}

/// The heads in the ticket's internal notes, read with the active (live) profile's Zendesk token.
fn ticket_heads(store: &Store, keychain: &Keychain, instance: &str, ticket: u64) -> std::result::Result<Vec<Found>, TicketError> {
    let profile = profiles::active(&store.conn()).map_err(TicketError::Failed)?;
    if profile.kind == ProfileKind::Sandbox {
        return Err(TicketError::Sandbox);
    }
    let tokens = Tokens::read(keychain, &profile.keychain_id).map_err(TicketError::Failed)?;
    let conns = Connections::new(profile, Credentials::Live(Arc::new(tokens)), HttpSettings::default());
    let service = if instance == "us_gov" { Service::ZendeskUsGov } else { Service::Zendesk };
    let zd = conns.zendesk(service).map_err(TicketError::Failed)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TicketError::Failed(crate::Error::Internal(format!("could not start the network runtime: {e}"))))?;
    rt.block_on(crate::summary::anchor::heads_on_ticket(&zd, instance, ticket)).map_err(TicketError::Failed)
}

fn print_report(report: &AnchorReport, out: &mut dyn Write) {
    match &report.chain.first_bad {
        None => {
            let _ = writeln!(out, "ok   chain consistent: {} rows", report.chain.rows);
        }
        Some(bad) => {
            let _ = writeln!(out, "FAIL audit log broken at row {}: {}", bad.id, bad.problem);
        }
    }
    for c in &report.checks {
        let (row, source) = (c.found.head.row, &c.found.source);
        let _ = match &c.outcome {
            Outcome::Holds => writeln!(out, "ok   row {row} matches the head signed by this install on {source}"),
            Outcome::HoldsUnsigned => writeln!(
                out,
                "note row {row} matches the unsigned head on {source} (posted while the keychain was out of reach: \
                 it contradicts nothing, but vouches for nothing)"
            ),
            Outcome::OtherInstall { key } => {
                writeln!(out, "skip the head of row {row} on {source}: signed by another Casekit install (key {key})")
            }
            Outcome::Fails { problem } => writeln!(out, "FAIL {problem} ({source})"),
        };
    }
    let _ = match &report.failure {
        None => {
            let newest =
                report.checks.iter().filter(|c| c.outcome == Outcome::Holds).map(|c| c.found.head.row).max().unwrap_or(0);
            writeln!(
                out,
                "ok   audit log matches its anchors: rows 1–{newest} are as they were when the heads were published \
                 (rows after {newest} are covered by no head checked here)"
            )
        }
        Some(why) => writeln!(out, "FAIL audit log does not match its anchors: {why}"),
    };
}

/// `casekit audit head [--data-dir DIR]`: the chain's newest row, signed, as JSON on stdout (keep
/// it outside the data folder: it is what a rewritten log will be checked against).
pub fn head(args: &[String]) -> ExitCode {
    ExitCode::from(head_with(args, &Keychain::os, &mut std::io::stdout().lock()))
}

/// `head` with the keychain and the output given.
pub fn head_with(args: &[String], keychain: KeychainSource<'_>, out: &mut dyn Write) -> u8 {
    let store = match open(args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = (|| -> Result<u8> {
        let chain = audit::verify(&store.conn())?;
        if let Some(bad) = chain.first_bad {
            eprintln!(
                "casekit: the audit log is broken at row {}: {}. A head of it would vouch for a broken log, so none is written.",
                bad.id, bad.problem
            );
            return Ok(1);
        }
        if anchor::newest(&store.conn())?.is_none() {
            eprintln!("casekit: the audit log is empty: there is no head to write yet.");
            return Ok(1);
        }
        let key = AuditKey::from_secret(keychain()?.audit_key_or_create()?)?;
        let Some(head) = anchor::signed_head(&store.conn(), &key)? else { return Ok(1) };
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&anchor::head_file(&head)).unwrap_or_default());
        eprintln!("casekit: head of row {} written; keep it outside the data folder", head.row);
        Ok(0)
    })();
    result.unwrap_or_else(|e| {
        eprintln!("casekit: {e}");
        1
    })
}

/// `casekit audit export [--data-dir DIR] [--ticket T] [--case N] [--agent A] [--playbook P]
/// [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--text WORDS]`: matching rows as JSON Lines on stdout.
pub fn export(args: &[String]) -> ExitCode {
    let mut filter = crate::store::search::AuditFilter::default();
    let mut dir = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else { return super::usage_error(&format!("{flag} needs a value")) };
        match flag.as_str() {
            "--data-dir" => dir = vec![flag.clone(), value.clone()],
            "--ticket" => filter.ticket = Some(value.clone()),
            "--case" => match value.parse() {
                Ok(n) => filter.case_id = Some(n),
                Err(_) => return super::usage_error("--case expects a case number"),
            },
            "--agent" => filter.agent = Some(value.clone()),
            "--playbook" => filter.playbook = Some(value.clone()),
            "--from" => filter.from = Some(value.clone()),
            "--to" => filter.to = Some(value.clone()),
            "--text" => filter.text = Some(value.clone()),
            other => return super::usage_error(&format!("unknown option '{other}'")),
        }
    }
    let store = match open(&dir) {
        Ok(s) => s,
        Err(code) => return ExitCode::from(code),
    };
    let mut out = std::io::stdout().lock();
    let result = crate::store::search::export_jsonl(&store.conn(), &filter, &mut out);
    match result {
        Ok(n) => {
            eprintln!("casekit: exported {n} audit rows");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("casekit: {e}");
            ExitCode::FAILURE
        }
    }
}
