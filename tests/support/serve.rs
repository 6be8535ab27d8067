//! `casekit sandbox serve` as a separate process: the services a live profile points at are
//! outside the app under test, reached over loopback like real ones.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The running server; killed when dropped.
pub struct Served {
    pub child: Child,
    /// The JSON line it printed: each service's URL and made-up credentials.
    pub printed: Value,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    pub fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_casekit"))
            .args(["sandbox", "serve"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("casekit sandbox serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let printed: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON line ({e}): {line}"));
        Served { child, printed }
    }

    /// A printed string, e.g. `("gitlab", "url")`.
    pub fn get(&self, service: &str, key: &str) -> String {
        self.printed[service][key].as_str().unwrap_or_else(|| panic!("{service}.{key} in {}", self.printed)).to_owned()
    }
}
