//! The architecture rules a reviewer would otherwise have to remember: the top-level modules
//! depend on each other without a cycle; only the shell names Tauri (and a build without the
//! `desktop` feature has no Tauri to name); every command is declared, granted and bound exactly
//! once; the webview gets no plugin permissions and a strict CSP.

use std::collections::BTreeMap;
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

/// `source` with its comments and string literals blanked (line breaks kept, so line numbers
/// hold): what is left is code, and a path mentioned in a doc comment or a message is not a use.
fn code_of(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let end = if c == '/' && next == Some('/') {
            (i..chars.len()).find(|&j| chars[j] == '\n').unwrap_or(chars.len())
        } else if c == '/' && next == Some('*') {
            (i + 2..chars.len()).find(|&j| chars[j - 1] == '*' && chars[j] == '/').map_or(chars.len(), |j| j + 1)
        } else if c == 'r' && starts_word && matches!(next, Some('"' | '#')) {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                i
            } else {
                let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
                let body = i + 2 + hashes;
                let rest: String = chars[body..].iter().collect();
                rest.find(&close).map_or(chars.len(), |at| body + rest[..at].chars().count() + close.chars().count())
            }
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            j + 1
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal ('\'', '\n'), not a lifetime.
            (i + 3..chars.len()).find(|&j| chars[j] == '\'').map_or(chars.len(), |j| j + 1)
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i + 3
        } else {
            i
        };
        if end == i {
            out.push(c);
            i += 1;
        } else {
            for &skipped in &chars[i..end.min(chars.len())] {
                blank(&mut out, skipped);
            }
            i = end;
        }
    }
    out
}

/// The crate's top-level modules and their files: each folder and file under src-tauri/
/// (lib.rs, main.rs and build.rs are the crate itself).
fn top_level_modules() -> BTreeMap<String, Vec<PathBuf>> {
    let src = root().join("src-tauri");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let mut files = Vec::new();
        let name = if path.is_dir() {
            rust_files(&path, &mut files);
            path.file_name().unwrap().to_string_lossy().into_owned()
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path.clone());
            path.file_stem().unwrap().to_string_lossy().into_owned()
        } else {
            continue;
        };
        if !files.is_empty() && !["lib", "main", "build"].contains(&name.as_str()) {
            modules.insert(name, files);
        }
    }
    modules
}

/// What lib.rs re-exports at the crate root (`pub use error::{Error, Result};`): name → module.
fn root_reexports() -> BTreeMap<String, String> {
    let lib = code_of(&std::fs::read_to_string(root().join("src-tauri/lib.rs")).unwrap());
    let re = Regex::new(r"pub\s+use\s+(\w+)::(?:\{([^}]*)\}|(\w+))\s*;").unwrap();
    let mut names = BTreeMap::new();
    for c in re.captures_iter(&lib) {
        let items = c.get(2).or(c.get(3)).unwrap().as_str();
        for item in items.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            names.insert(item.to_owned(), c[1].to_owned());
        }
    }
    names
}

/// The first segment of every `crate::` path in `code`, with its line: `crate::store::Store` and
/// `crate::{clock, Error}` name `store`, `clock` and `Error`.
fn crate_references(code: &str) -> Vec<(String, usize)> {
    let ident = Regex::new(r"^\s*([A-Za-z_][A-Za-z0-9_]*)").unwrap();
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = code[at + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item_start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.extend(ident.captures(&group[item_start..i]).map(|m| (m[1].to_owned(), line)));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.extend(ident.captures(&group[item_start..i]).map(|m| (m[1].to_owned(), line)));
                        item_start = i + 1;
                    }
                    _ => {}
                }
            }
        } else if let Some(m) = ident.captures(rest) {
            found.push((m[1].to_owned(), line));
        }
    }
    found
}

/// Which top-level module uses which, each edge with the first place it is made.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn module_graph() -> Graph {
    let modules = top_level_modules();
    let reexports = root_reexports();
    let mut graph = Graph::new();
    for (module, files) in &modules {
        let edges = graph.entry(module.clone()).or_default();
        for file in files {
            let code = code_of(&std::fs::read_to_string(file).unwrap());
            for (name, line) in crate_references(&code) {
                let target = if modules.contains_key(&name) {
                    &name
                } else {
                    reexports.get(&name).unwrap_or_else(|| {
                        panic!(
                            "{}:{line} names crate::{name}, which is neither a top-level module nor re-exported by lib.rs",
                            file.display()
                        )
                    })
                };
                if target != module {
                    let place = format!("{}:{line}", file.strip_prefix(root()).unwrap().display());
                    edges.entry(target.clone()).or_insert(place);
                }
            }
        }
    }
    graph
}

/// A cycle in `graph` (its modules in order, the first repeated at the end), if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut Vec<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.iter().any(|n| n == node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(node.to_owned());
        None
    }
    let mut done = Vec::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_module_graph_reader_sees_every_reference_and_finds_cycles() {
    let code = code_of(
        "use crate::{clock, Error, playbook::{engine::Env, Catalog}};\n\
         // crate::sandbox in a comment\n\
         let s = \"crate::secrets in a message\"; let q = '\"'; let e = '\\''; let r = r#\"crate::app \"raw\"\"#;\n\
         let x: &'static str = crate::store::Store::open(); other_crate::summary::x();\n",
    );
    let names: Vec<String> = crate_references(&code).into_iter().map(|(n, line)| format!("{n}:{line}")).collect();
    assert_eq!(names, ["clock:1", "Error:1", "playbook:1", "store:4"]);

    let graph = |edges: &[(&str, &str)]| {
        let mut g = Graph::new();
        for (from, to) in edges {
            g.entry(from.to_string()).or_default().insert(to.to_string(), String::new());
            g.entry(to.to_string()).or_default();
        }
        g
    };
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "b")])).unwrap(), ["b", "c", "b"]);
}

#[test]
fn the_top_level_modules_depend_on_each_other_without_a_cycle() {
    let graph = module_graph();
    assert!(graph.len() > 10 && graph["api"].contains_key("store"), "the graph was read: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        let edges: Vec<String> = cycle.windows(2).map(|e| format!("  {} -> {}  ({})", e[0], e[1], graph[&e[0]][&e[1]])).collect();
        panic!(
            "the top-level modules form a cycle: {}\n{}\nMove what both need into a leaf module (as src-tauri/service.rs) or into the lower of the two.",
            cycle.join(" -> "),
            edges.join("\n")
        );
    }
}

/// Lines of `code` that name Tauri or one of its crates (`tauri::`, `use tauri as t;`,
/// `tauri_plugin_dialog`, `extern crate tauri;`).
fn tauri_uses(code: &str) -> Vec<String> {
    let re = Regex::new(r"\btauri(?:_(?:build|utils|macros|codegen|runtime\w*|plugin_\w+))?\b").unwrap();
    code.lines().filter(|l| re.is_match(l)).map(str::to_owned).collect()
}

#[test]
fn the_detector_recognises_every_way_of_reaching_tauri() {
    for line in [
        "use tauri::State;",
        "    let s: tauri::State<'_, X>;",
        "use tauri_plugin_dialog::DialogExt;",
        "extern crate tauri;",
        "use tauri as t;",
        "use {serde, tauri};",
    ] {
        assert_eq!(tauri_uses(&code_of(line)).len(), 1, "{line}");
    }
    for line in [
        "// tauri::State in a comment",
        "let tauri_like = 1;",
        "struct Tauriish;",
        "fn matches_the_tauri_config() {}",
        "include_str!(\"../tauri.conf.json\")",
    ] {
        assert!(tauri_uses(&code_of(line)).is_empty(), "{line}");
    }
}

/// The compiler keeps this rule in a build without the `desktop` feature (no Tauri to name);
/// this says which line broke it in every build.
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
            let code = code_of(&std::fs::read_to_string(p).unwrap());
            tauri_uses(&code).into_iter().map(move |l| format!("{}: {}", p.display(), l.trim()))
        })
        .collect();
    assert!(offenders.is_empty(), "domain modules must not use Tauri (move it to src-tauri/app/):\n{}", offenders.join("\n"));
}

#[test]
fn every_command_is_declared_bound_and_granted_and_nothing_else_is_granted() {
    let bound: Vec<&str> = casekit::api::signatures().iter().map(|s| s.name).collect();
    assert_eq!(bound, casekit::api::COMMANDS, "the ipc_commands! list and command_names.rs differ");

    let cap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("capabilities/default.json")).unwrap()).unwrap();
    let granted: Vec<String> = cap["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
    let expected: Vec<String> = casekit::api::COMMANDS.iter().map(|c| format!("allow-{}", c.replace('_', "-"))).collect();
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
