//! The architecture rules a reviewer would otherwise have to remember: the domain never
//! imports Tauri; every command is declared, granted and bound exactly once; the webview gets
//! no plugin permissions and a strict CSP.

use std::path::{Path, PathBuf};

use regex::Regex;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    files_ending(dir, "rs", out);
}

fn files_ending(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_ending(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Lines of `source` that reach into Tauri (`use tauri…`, `tauri::`, `tauri_build::`, plugins).
fn tauri_uses(source: &str) -> Vec<String> {
    let re = Regex::new(r"\b(?:use\s+|extern\s+crate\s+)?(?:tauri|tauri_[a-z0-9_]+)\s*(?:::|;)").unwrap();
    source.lines().filter(|l| !l.trim_start().starts_with("//")).filter(|l| re.is_match(l)).map(str::to_owned).collect()
}

#[test]
fn the_detector_recognises_every_way_of_reaching_tauri() {
    for line in
        ["use tauri::State;", "    let s: tauri::State<'_, X>;", "use tauri_plugin_dialog::DialogExt;", "extern crate tauri;"]
    {
        assert_eq!(tauri_uses(line).len(), 1, "{line}");
    }
    for line in ["// tauri::State in a comment", "let tauri_like = 1;", "struct Tauriish;"] {
        assert!(tauri_uses(line).is_empty(), "{line}");
    }
}

#[test]
fn only_the_shell_uses_tauri() {
    let src = root().join("src-tauri");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "found only {files:?}");
    let shell = |p: &Path| {
        let rel = p.strip_prefix(&src).unwrap();
        rel.starts_with("app") || ["lib.rs", "main.rs", "build.rs"].iter().any(|f| rel == Path::new(f))
    };
    let offenders: Vec<String> = files
        .iter()
        .filter(|p| !shell(p))
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            tauri_uses(&text).into_iter().map(move |l| format!("{}: {}", p.display(), l.trim()))
        })
        .collect();
    assert!(offenders.is_empty(), "domain modules must not use Tauri (move it to src-tauri/app/):\n{}", offenders.join("\n"));
}

#[test]
fn every_command_is_declared_bound_and_granted_and_nothing_else_is_granted() {
    let bound: Vec<&str> = casekit::app::signatures().iter().map(|s| s.name).collect();
    assert_eq!(bound, casekit::app::COMMANDS, "the ipc_commands! list and command_names.rs differ");

    let cap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("capabilities/default.json")).unwrap()).unwrap();
    let granted: Vec<String> = cap["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
    let expected: Vec<String> = casekit::app::COMMANDS.iter().map(|c| format!("allow-{}", c.replace('_', "-"))).collect();
    assert_eq!(granted, expected, "capabilities/default.json must grant exactly the app's commands");
}

#[test]
fn the_csp_allows_only_the_app_itself_and_ipc() {
    let conf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tauri.conf.json")).unwrap()).unwrap();
    let csp = conf["app"]["security"]["csp"].as_object().expect("a CSP is set");
    for (directive, value) in csp {
        let value = value.as_str().unwrap();
        assert!(!value.contains("unsafe-eval"), "{directive}: {value}");
        assert!(!value.contains('*'), "{directive}: {value}");
        for source in value.split_whitespace() {
            let ok = source.starts_with('\'') || ["ipc:", "http://ipc.localhost", "data:"].contains(&source);
            assert!(ok, "{directive} allows the remote origin {source}");
        }
    }
    assert_eq!(csp["default-src"], "'self'");
    assert!(!csp["script-src"].as_str().unwrap().contains("unsafe-inline"));
}

/// Ticket and API text is untrusted: the UI renders it only through Svelte's escaping text
/// interpolation. Any way around that (raw HTML, setting innerHTML) is refused here.
#[test]
fn the_ui_never_renders_text_as_html() {
    let mut files = Vec::new();
    files_ending(&root().join("ui/src"), "svelte", &mut files);
    files_ending(&root().join("ui/src"), "ts", &mut files);
    assert!(files.len() > 20, "the UI sources were found");
    let raw = Regex::new(r"\{@html|innerHTML|outerHTML|insertAdjacentHTML|document\.write").unwrap();
    let found: Vec<String> = files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("node_modules") && !f.to_string_lossy().ends_with(".test.ts"))
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines().filter(|l| raw.is_match(l)).map(|l| format!("{}: {}", f.display(), l.trim())).collect::<Vec<_>>()
        })
        .collect();
    assert!(found.is_empty(), "raw HTML rendering in the UI:\n{}", found.join("\n"));
    assert!(raw.is_match("<p>{@html ticket.subject}</p>") && raw.is_match("el.innerHTML = body"), "the detector works");
}
