//! The shape of the code (`docs/architecture.md`): the modules of `src/` import one another one
//! way only, `main.rs` stays short and no file grows past 800 lines of code.
//!
//! Read from the source text: each file is a module (`a/b.rs` and `a/b/mod.rs` are `a::b`), and
//! every path that starts at `crate::`, `sts_cli::`, `super::` or `self::` (in `use` lists too) is
//! an arrow to the longest module it names. A parent's `mod child;` is not an arrow; a unit-test
//! module (from `#[cfg(test)]` on) is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `platform/stackstate/mod.rs` → `["platform", "stackstate"]`; `lib.rs` and `main.rs` → `[]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The text before the file's unit tests, comments taken out.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a `use` names, its `{…}` groups expanded.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = format!("{prefix}{}", &tree[..open]);
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&head, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&head, &inner[start..], out);
    } else if !tree.is_empty() {
        out.push(format!(
            "{prefix}{}",
            tree.split(" as ").next().unwrap().trim()
        ));
    }
}

/// The paths of a file: its `use` trees and the `crate::…` paths in its code.
fn paths_of(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub "))
            .unwrap_or(t);
        if t.starts_with("use ") {
            let from = start + (line.len() - line.trim_start().len());
            let stmt = &code[from..];
            let stmt = &stmt[stmt.find("use ").unwrap() + 4..];
            if let Some(end) = stmt.find(';') {
                expand("", &stmt[..end], &mut out);
            }
        }
    }
    for start in ["crate::", "sts_cli::", "super::"] {
        let mut rest = code;
        while let Some(i) = rest.find(start) {
            let tail: String = rest[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(tail.trim_end_matches(':').to_string());
            rest = &rest[i + start.len()..];
        }
    }
    out
}

/// The module a path ends in, from the module `from` that names it.
fn target(from: &[String], path: &str, modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut segs: Vec<&str> = path.split("::").map(str::trim).collect();
    let mut base: Vec<String> = match segs.first()? {
        &"crate" | &"sts_cli" => {
            segs.remove(0);
            Vec::new()
        }
        &"self" => {
            segs.remove(0);
            from.to_vec()
        }
        &"super" => {
            // In `x/mod.rs` as in `x.rs`, `super` is `x`'s parent.
            let mut b = from.to_vec();
            while segs.first() == Some(&"super") {
                segs.remove(0);
                b.pop();
            }
            b
        }
        // A path relative to the module itself (`use child::X` in a `mod.rs`).
        first if modules.contains(&[from, &[first.to_string()]].concat()) => from.to_vec(),
        _ => return None,
    };
    let mut best = None;
    for s in segs {
        base.push(s.to_string());
        if modules.contains(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    best
}

/// The import arrows between the modules of `src/` (the `sts-sandbox` binary's own file aside).
fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let files: Vec<(Vec<String>, String)> = files
        .iter()
        .filter(|p| !p.starts_with(root.join("bin")))
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap();
            (module_of(rel), std::fs::read_to_string(p).unwrap())
        })
        .collect();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = BTreeMap::new();
    for (module, text) in &files {
        let code = code_of(text);
        let arrows: BTreeSet<Vec<String>> = paths_of(&code)
            .iter()
            .filter_map(|p| target(module, p, &modules))
            .filter(|t| t != module && !t.is_empty())
            .collect();
        graph.insert(module.clone(), arrows);
    }
    graph
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// A circle of imports, if there is one.
fn find_circle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|m| m == next).unwrap();
                    let mut circle: Vec<String> = stack[at..].iter().map(|m| name(m)).collect();
                    circle.push(name(next));
                    return Some(circle);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node).copied().unwrap_or(0) == 0
            && let Some(c) = visit(node, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_reader_sees_the_arrows_it_should() {
    let g = graph();
    let arrows = |m: &str| -> Vec<String> {
        let key: Vec<String> = m.split("::").map(str::to_string).collect();
        g[&key].iter().map(|t| name(t)).collect()
    };
    // A grouped `use` and a nested path are both read.
    assert!(
        arrows("commands").contains(&"cli".to_string()),
        "{:?}",
        arrows("commands")
    );
    assert!(arrows("commands::tokens").contains(&"platform".to_string()));
    assert!(arrows("platform::stackstate").contains(&"http::client".to_string()));
    // And a circle made by hand is found.
    let mut g2 = g.clone();
    g2.get_mut(&vec!["http".to_string(), "client".to_string()])
        .unwrap()
        .insert(vec!["commands".to_string()]);
    assert!(find_circle(&g2).is_some());
}

#[test]
fn the_modules_of_src_import_one_another_one_way_only() {
    let g = graph();
    if let Some(circle) = find_circle(&g) {
        panic!("an import circle: {}", circle.join(" → "));
    }
}

#[test]
fn no_file_outside_the_platforms_and_the_sandbox_names_a_platform() {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let words = [
        "stackstate",
        "posit_connect",
        "posit-connect",
        "posit connect",
        "positconnect",
        "qualytics",
        "rsconnect",
        "connect_server",
        "connect_api_key",
    ];
    let mut found = Vec::new();
    for path in files {
        let rel = path.strip_prefix(&root).unwrap();
        if rel.starts_with("platform") || rel.starts_with("sandbox") || rel.starts_with("bin") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&path).unwrap()).to_ascii_lowercase();
        for w in words {
            if code.contains(w) {
                found.push(format!("{} names {w}", rel.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn main_is_short_and_no_file_is_over_800_lines_of_code() {
    let root = src();
    let main = std::fs::read_to_string(root.join("main.rs")).unwrap();
    assert!(
        main.lines().count() <= 150,
        "main.rs has {} lines",
        main.lines().count()
    );
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut long = Vec::new();
    for path in files {
        let rel = path.strip_prefix(&root).unwrap();
        // The clap definitions are one long declaration.
        if rel == Path::new("cli.rs") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        let n = code.lines().filter(|l| !l.trim().is_empty()).count();
        if n > 800 {
            long.push(format!("{}: {n}", rel.display()));
        }
    }
    assert!(long.is_empty(), "{long:?}");
}
