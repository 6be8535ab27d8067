//! `casekit audit verify`: checks the audit log's hash chain without the window.

use std::process::ExitCode;

use crate::store::{audit, Store};

/// Exit 0 when the chain holds; 1 naming the first bad row; 2 on usage errors.
pub fn verify(args: &[String]) -> ExitCode {
    let paths = match super::data_dir_option(args) {
        Ok(p) => p,
        Err(why) => return super::usage_error(&why),
    };
    let store = match Store::open(&paths.database()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("casekit: {e}");
            return ExitCode::FAILURE;
        }
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
    let paths = match super::data_dir_option(&dir) {
        Ok(p) => p,
        Err(why) => return super::usage_error(&why),
    };
    let store = match Store::open(&paths.database()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("casekit: {e}");
            return ExitCode::FAILURE;
        }
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
