//! `casekit audit verify | head | export`: the audit log without the window.
//!
//! `verify` alone checks the hash chain: it finds rows edited, deleted or reordered by someone
//! who did not recompute the hashes. With `--against-ticket T` or `--against FILE` it also
//! checks the log against heads published outside the file (the summaries Casekit posted to the
//! ticket, a head file written by `casekit audit head`), signed with the install's key from the
//! OS keychain: that finds a log rewritten with every hash recomputed.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::DataDir;
use crate::connectors::session::{Connections, Credentials};
use crate::connectors::HttpSettings;
use crate::secrets::{Keychain, Tokens};
use crate::service::TicketInstance;
use crate::store::anchor::{self, AnchorReport, AuditKey, Found, Outcome};
use crate::store::profiles::{self, ProfileKind};
use crate::store::{audit, Store};
use crate::Result;

/// How the CLI reaches the keychain (the OS one; tests pass an in-memory one).
pub type KeychainSource<'a> = &'a dyn Fn() -> Result<Keychain>;

/// `casekit audit …`.
#[derive(Subcommand)]
pub(super) enum AuditCommand {
    /// Check the audit log's hash chain, and the heads published outside it
    ///
    /// Alone, it finds rows edited, deleted or reordered by someone who did not recompute the
    /// hashes, and exits 1 naming the first. A log rewritten with its hashes recomputed passes
    /// that check: --against-ticket and --against also check the log against heads signed with
    /// this install's key (from the OS keychain) and exit 1 naming the row that no longer
    /// matches.
    #[command(after_help = "Examples:
  casekit audit verify
  casekit audit verify --against head.json --against old-head.json
  casekit audit verify --against-ticket 8001 --instance us_gov")]
    Verify(VerifyArgs),
    /// Print the chain's newest row id, hash and HMAC as JSON
    ///
    /// Signed with this install's key from the OS keychain. Keep it outside the data folder:
    /// `casekit audit verify --against FILE` checks the log against it.
    #[command(after_help = "Example:\n  casekit audit head > ~/casekit-heads/$(date +%F).json")]
    Head(DataDir),
    /// Print the matching audit rows as JSON Lines, oldest first
    #[command(after_help = "Example:\n  casekit audit export --ticket 8001 --from 2026-11-01 > ticket-8001.jsonl")]
    Export(ExportArgs),
}

/// What `audit verify` was asked to check.
#[derive(Args)]
pub(super) struct VerifyArgs {
    #[command(flatten)]
    data: DataDir,
    /// Also check against the signed heads in this ticket's internal notes, read with the
    /// active live profile's Zendesk token
    #[arg(long, value_name = "T", value_parser = ticket_number)]
    against_ticket: Option<u64>,
    /// The Zendesk instance of the ticket [default: global]
    #[arg(long, requires = "against_ticket", value_parser = instance_key)]
    instance: Option<TicketInstance>,
    /// Also check against a head file written by `casekit audit head` (repeatable)
    #[arg(long = "against", value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// A Zendesk instance by its key.
fn instance_key(key: &str) -> std::result::Result<TicketInstance, String> {
    TicketInstance::from_key(key).ok_or_else(|| format!("“{key}” is not an instance: use global or us_gov"))
}

/// A ticket number: a whole number above 0.
fn ticket_number(value: &str) -> std::result::Result<u64, String> {
    value.parse().ok().filter(|t| *t > 0).ok_or_else(|| "expects a ticket number, such as 8001".to_owned())
}

/// What `audit export` selects; every filter is optional.
#[derive(Args)]
pub(super) struct ExportArgs {
    #[command(flatten)]
    data: DataDir,
    /// Rows of this ticket: 8001, #8001 or us_gov#9001
    #[arg(long, value_name = "T")]
    ticket: Option<String>,
    /// Rows of this case
    #[arg(long = "case", value_name = "N")]
    case_id: Option<i64>,
    /// Rows by an agent (part of the name or email)
    #[arg(long, value_name = "A")]
    agent: Option<String>,
    /// Rows of cases of this playbook
    #[arg(long, value_name = "P")]
    playbook: Option<String>,
    /// Rows from this day on
    #[arg(long, value_name = "YYYY-MM-DD")]
    from: Option<String>,
    /// Rows up to this day, inclusive
    #[arg(long, value_name = "YYYY-MM-DD")]
    to: Option<String>,
    /// Words to find anywhere (each must occur); an email or a ticket number works too
    #[arg(long, value_name = "WORDS")]
    text: Option<String>,
}

/// Runs an `audit` subcommand; its exit code.
pub(super) fn run(command: AuditCommand, keychain: KeychainSource<'_>, out: &mut dyn Write) -> u8 {
    match command {
        AuditCommand::Verify(options) => verify(&options, keychain, out),
        AuditCommand::Head(data) => head(&data, keychain, out),
        AuditCommand::Export(options) => export(&options, out),
    }
}

/// `casekit audit verify <args>` with the keychain and the output given (what tests call
/// in-process).
pub fn verify_with(args: &[String], keychain: KeychainSource<'_>, out: &mut dyn Write) -> u8 {
    super::run(["audit", "verify"].into_iter().map(String::from).chain(args.iter().cloned()), keychain, out)
}

/// `casekit audit head <args>` with the keychain and the output given.
pub fn head_with(args: &[String], keychain: KeychainSource<'_>, out: &mut dyn Write) -> u8 {
    super::run(["audit", "head"].into_iter().map(String::from).chain(args.iter().cloned()), keychain, out)
}

/// The database of `--data-dir DIR` (or the app's own), or the exit code to end with.
fn open(data: &DataDir) -> std::result::Result<Store, u8> {
    Store::open(&data.paths()?.database()).map_err(|e| {
        eprintln!("casekit: {e}");
        1
    })
}

/// Exit 0 when the chain holds (and every head checked against holds); 1 naming the first bad
/// row; 2 when the ticket cannot be read from here.
fn verify(options: &VerifyArgs, keychain: KeychainSource<'_>, out: &mut dyn Write) -> u8 {
    let store = match open(&options.data) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if options.against_ticket.is_none() && options.files.is_empty() {
        return plain(&store, out);
    }
    match anchored(&store, options, keychain, out) {
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
fn anchored(store: &Store, o: &VerifyArgs, keychain: KeychainSource<'_>, out: &mut dyn Write) -> Result<u8> {
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
    if let Some(ticket) = o.against_ticket {
        let instance = o.instance.unwrap_or(TicketInstance::Global);
        let keychain = reached?;
        match ticket_heads(store, &keychain, instance, ticket) {
            Ok(found) => {
                if found.is_empty() {
                    let _ = writeln!(out, "note no audit head in the internal notes of ticket {}#{ticket}", instance.key());
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
fn ticket_heads(
    store: &Store,
    keychain: &Keychain,
    instance: TicketInstance,
    ticket: u64,
) -> std::result::Result<Vec<Found>, TicketError> {
    let profile = profiles::active(&store.conn()).map_err(TicketError::Failed)?;
    if profile.kind == ProfileKind::Sandbox {
        return Err(TicketError::Sandbox);
    }
    let tokens = Tokens::read(keychain, &profile.keychain_id).map_err(TicketError::Failed)?;
    let conns = Connections::new(profile, Credentials::Live(Arc::new(tokens)), HttpSettings::default());
    let zd = conns.zendesk(instance.service()).map_err(TicketError::Failed)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TicketError::Failed(crate::Error::Internal(format!("could not start the network runtime: {e}"))))?;
    rt.block_on(crate::summary::anchor::heads_on_ticket(&zd, instance.key(), ticket)).map_err(TicketError::Failed)
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

/// The chain's newest row, signed, as JSON on the output (kept outside the data folder, it is
/// what a rewritten log will be checked against).
fn head(data: &DataDir, keychain: KeychainSource<'_>, out: &mut dyn Write) -> u8 {
    let store = match open(data) {
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

/// The matching rows as JSON Lines on the output.
fn export(options: &ExportArgs, mut out: &mut dyn Write) -> u8 {
    let filter = crate::store::search::AuditFilter {
        ticket: options.ticket.clone(),
        case_id: options.case_id,
        agent: options.agent.clone(),
        playbook: options.playbook.clone(),
        from: options.from.clone(),
        to: options.to.clone(),
        text: options.text.clone(),
        ..Default::default()
    };
    let store = match open(&options.data) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let exported = crate::store::search::export_jsonl(&store.conn(), &filter, &mut out);
    match exported {
        Ok(n) => {
            eprintln!("casekit: exported {n} audit rows");
            0
        }
        Err(e) => {
            eprintln!("casekit: {e}");
            1
        }
    }
}
