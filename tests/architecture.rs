//! The layers of the README's "Architecture" section import only the layers below them:
//! this test reads the sources and fails on an import that goes up (unit-test modules
//! aside).

#![allow(missing_docs)]

use std::path::Path;

/// The layers from the top; each may import those after it (`io` and `linalg` stand side
/// by side on the array API, and neither imports the other).
const LAYERS: [&str; 10] = [
    "io", "linalg", "array", "exec", "optimize", "ops", "graph", "tile", "chunks", "error",
];

fn allowed(from: usize, to: usize) -> bool {
    to >= from
}

/// The text of a source file before its unit-test module.
fn non_test_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_layer_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut upward = Vec::new();
    for (from, layer) in LAYERS.iter().enumerate() {
        let dir = src.join(layer);
        let mut files = Vec::new();
        if dir.is_dir() {
            files_under(&dir, &mut files);
        } else {
            files.push(src.join(format!("{layer}.rs")));
        }
        for file in files {
            let code = non_test_code(&file);
            for (to, target) in LAYERS.iter().enumerate() {
                let used = [format!("crate::{target}::"), format!("crate::{target}}}")]
                    .iter()
                    .any(|pattern| code.contains(pattern.as_str()))
                    || code.contains(&format!("crate::{target};"))
                    || code.contains(&format!("crate::{target},"));
                if used && !allowed(from, to) {
                    upward.push(format!("{} uses {target}", file.display()));
                }
            }
        }
    }
    assert!(upward.is_empty(), "imports that go up a layer: {upward:#?}");
}
