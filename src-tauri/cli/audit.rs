//! `casekit audit verify`: checks the audit log's hash chain without the window.

use std::process::ExitCode;

use crate::store::{audit, Store};

/// The database of `--data-dir DIR` (or the app's own), or the exit code to end with.
fn open(data_dir: &[String]) -> Result<Store, ExitCode> {
    let paths = super::data_dir_option(data_dir).map_err(|why| super::usage_error(&why))?;
    Store::open(&paths.database()).map_err(|e| {
        eprintln!("casekit: {e}");
        ExitCode::FAILURE
    })
}

/// Exit 0 when the chain holds; 1 naming the first bad row; 2 on usage errors.
pub fn verify(args: &[String]) -> ExitCode {
    let store = match open(args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = audit::verify(&store.conn());
    match result {
        Ok(v) => match v.first_bad {
            None => {
                println!("ok   audit log intact: {} rows, head {}", v.rows, if v.head.is_empty() { "-" } else { &v.head });
                ExitCode::SUCCESS
            }
            Some(bad) => {
                println!("FAIL audit log broken at row {}: {}", bad.id, bad.problem);
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("casekit: {e}");
            ExitCode::FAILURE
        }
    }
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
        Err(code) => return code,
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
