//! Pins the server's module layering (`src/lib.rs`, `docs/architecture.md`): data flows one
//! way, so every `crate::<module>` path in a module of `src/` must name a module *below* it in
//! [`LAYERS`] (or itself). An upward import — or a cycle, which needs one — fails here with
//! the file and line that introduced it.

use std::path::Path;

use crate::common::repo_root;

/// The server's top-level modules, top (imports the most) to bottom (imports nothing of ours).
const LAYERS: [&str; 25] = [
    "server",
    "webhook",
    "listener",
    "stomp_tcp",
    "http",
    "sockjs",
    "websocket",
    "demo",
    "session",
    "app",
    "roster",
    "presence",
    "subscription",
    "document",
    "auth",
    "peer",
    "wire",
    "store",
    "stomp",
    "metrics",
    "error",
    "identity",
    "doc_id",
    "shutdown",
    "config",
];

fn rank(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|m| *m == module)
        .unwrap_or_else(|| panic!("module {module} is not in LAYERS; place it in the layering"))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names that follow `crate::` on a line (`crate::{a, b}` counts each).
fn crate_paths(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(pos) = rest.find("crate::") {
        rest = &rest[pos + "crate::".len()..];
        let heads: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => top_level_items(group),
            None => vec![rest],
        };
        for head in heads {
            let name: String = head
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

/// The comma-separated items of a `{...}` group (its closing brace ends the scan), ignoring
/// commas inside nested groups.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

#[test]
fn no_module_imports_a_module_above_it() {
    let src = repo_root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    let mut seen_modules = std::collections::BTreeSet::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if relative == "lib.rs" || relative == "main.rs" {
            continue;
        }
        let module = relative
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        let own = rank(&module);
        seen_modules.insert(module.clone());
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue; // docs may mention any module
            }
            for target in crate_paths(line) {
                checked += 1;
                assert!(
                    rank(&target) >= own,
                    "src/{relative}:{}: {module} imports {target}, which is above it in the \
                     layering ({})",
                    n + 1,
                    LAYERS.join(" > ")
                );
            }
        }
    }
    assert!(
        checked > 50,
        "found only {checked} crate:: paths; is the scan broken?"
    );
    let expected: std::collections::BTreeSet<String> =
        LAYERS.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        seen_modules, expected,
        "LAYERS lists exactly the modules of src/"
    );
}

#[test]
fn lib_rs_lists_the_layers_in_order() {
    let lib = std::fs::read_to_string(repo_root().join("src/lib.rs")).unwrap();
    let layout = lib
        .split("# Layout")
        .nth(1)
        .expect("src/lib.rs has a Layout section");
    let mut from = 0;
    for module in LAYERS {
        let needle = format!("[`{module}`]");
        let at = layout[from..].find(&needle).unwrap_or_else(|| {
            panic!("src/lib.rs's layout names {module} after the ones above it")
        });
        from += at + needle.len();
    }
}

#[test]
fn the_scan_reads_grouped_and_nested_paths() {
    assert_eq!(
        crate_paths("use crate::{app::App, error::{ErrorCode, Rejection}};"),
        ["app", "error"]
    );
    assert_eq!(
        crate_paths("x = crate::config::limits::A + crate::wire::f();"),
        ["config", "wire"]
    );
}
