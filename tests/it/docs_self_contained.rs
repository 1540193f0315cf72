//! The README and the docs stand on their own: no link or pointer to a file outside the
//! repository, and every relative link points at a file that is in it.

use std::path::{Path, PathBuf};

use crate::common::repo_root;

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repo_root().join("README.md")];
    let mut dirs = vec![repo_root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files
}

/// The targets of `[text](target)` links.
fn links(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn no_doc_points_outside_the_repository() {
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file
            .strip_prefix(repo_root())
            .unwrap()
            .display()
            .to_string();
        assert!(
            !text.contains("../shared") && !text.contains("CONTRACT.md"),
            "{name} points at a file outside the repository"
        );
        let folder = file.parent().unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with('#') || link.starts_with("mailto:") {
                continue;
            }
            let target = link.split('#').next().unwrap();
            let path = normalise(&folder.join(target));
            assert!(
                path.starts_with(repo_root()),
                "{name} links outside the repository: {link}"
            );
            assert!(path.exists(), "{name} links to a missing file: {link}");
        }
    }
}

fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
