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
