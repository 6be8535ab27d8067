//! `ui/src/lib/bindings.ts` is generated from the Rust types; this fails when it is stale.
//! `make bindings` (CASEKIT_UPDATE_BINDINGS=1) rewrites it.

use std::path::PathBuf;

use casekit::api::bindings::{typescript, BINDINGS_PATH};

#[test]
fn the_typescript_bindings_match_the_rust_types() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_PATH);
    let generated = typescript();
    if std::env::var_os("CASEKIT_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{BINDINGS_PATH} is stale: the Rust IPC types changed. Run `make bindings` and commit the result."
    );
}

#[test]
fn every_command_has_a_typed_function_and_its_reply_type_is_declared() {
    let ts = typescript();
    for sig in casekit::api::signatures() {
        assert!(ts.contains(&format!("call<{}>('{}'", sig.reply, sig.name)), "{}", sig.name);
        assert!(ts.contains(&format!("}}, '{}');", sig.wait)), "{}: every call has a bounded wait", sig.name);
        let base = sig.reply.trim_start_matches("Array<").trim_end_matches('>').trim_end_matches(" | null");
        if ["string", "number", "boolean", "null"].contains(&base) {
            continue;
        }
        assert!(ts.contains(&format!("export type {base} ")), "reply type {base} of {} is not declared", sig.name);
    }
    // Calls to the services wait longer than work on this computer (ui/src/lib/ipc.ts WAIT_MS).
    assert!(ts.contains("call<CaseView>('submit_step', { caseId, stepId, input }, 'network')"));
    assert!(ts.contains("call<AppInfo>('app_info', {}, 'blocking')"));
}
