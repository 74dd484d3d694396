//! The crate's top-level modules depend on each other without cycles.
//!
//! A module is `src/<name>.rs` or `src/<name>/` (`lib.rs` and `main.rs`
//! are not modules). Module A depends on module B when a file of A, up to
//! its first `#[cfg(test)] mod tests` block, mentions `crate::B`, directly
//! or inside a `use crate::{B, …}` group (comments count too: a doc link
//! is a dependency). The test reads the sources, builds that graph, finds
//! its strongly connected components (Tarjan) and fails listing every
//! cycle with the files behind each of its edges. The graph comes from the
//! text alone, not from the compiler, so the test needs nothing but the
//! standard library.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Module → module → the files (relative to `src/`) behind the edge.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn top_level_modules_have_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = read_sources(&src);
    assert!(files.len() > 10, "found only {} source files under {}", files.len(), src.display());
    let graph = module_graph(&files);
    assert!(graph.values().map(BTreeMap::len).sum::<usize>() > 10, "the module graph has almost no edges: {graph:?}");
    let cycles = cycles(&graph);
    assert!(cycles.is_empty(), "import cycles between top-level modules:\n{}", describe(&graph, &cycles));
}

/// The checker itself finds a cycle, and ignores test modules and
/// mentions of non-modules.
#[test]
fn a_planted_cycle_is_found() {
    let files = [
        ("a.rs", "use crate::b::Thing;\n#[cfg(test)]\nmod tests {\n    use crate::c;\n}\n"),
        ("b/mod.rs", "mod inner;\n"),
        ("b/inner.rs", "use crate::{\n    c::{self, More},\n    d,\n};\n"),
        ("c.rs", "pub fn f() -> crate::a::T { todo!() }\n"),
        ("d.rs", "//! Uses `crate::nowhere`.\n"),
        ("lib.rs", "use crate::d;\n"),
    ];
    let files: Vec<(String, String)> = files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
    let graph = module_graph(&files);
    assert_eq!(graph["a"].keys().collect::<Vec<_>>(), ["b"], "the test module's `crate::c` is ignored");
    assert_eq!(graph["b"].keys().collect::<Vec<_>>(), ["c", "d"]);
    assert_eq!(graph["b"]["c"].iter().collect::<Vec<_>>(), ["b/inner.rs"]);
    assert!(graph["d"].is_empty(), "`nowhere` is not a module");
    assert!(!graph.contains_key("lib"));
    let cycles = cycles(&graph);
    assert_eq!(cycles, [vec!["a".to_string(), "b".into(), "c".into()]]);
    let report = describe(&graph, &cycles);
    assert!(report.contains("b -> c: b/inner.rs"), "{report}");
}

/// Every `.rs` file under `src`, as (path relative to `src` with `/`
/// separators, text), sorted by path.
fn read_sources(src: &Path) -> Vec<(String, String)> {
    let mut pending = vec![src.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path: PathBuf = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                let rel = path.strip_prefix(src).expect("under src");
                let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                files.push((rel.join("/"), text));
            }
        }
    }
    files.sort();
    files
}

/// The top-level module a file belongs to (`kafka/topics.rs` → `kafka`,
/// `db.rs` → `db`).
fn module_of(rel: &str) -> &str {
    match rel.split_once('/') {
        Some((dir, _)) => dir,
        None => rel.strip_suffix(".rs").unwrap_or(rel),
    }
}

fn module_graph(files: &[(String, String)]) -> Graph {
    let modules: BTreeSet<&str> =
        files.iter().map(|(rel, _)| module_of(rel)).filter(|m| !matches!(*m, "lib" | "main")).collect();
    let mut graph: Graph = modules.iter().map(|m| (m.to_string(), BTreeMap::new())).collect();
    for (rel, text) in files {
        let from = module_of(rel);
        if !modules.contains(from) {
            continue;
        }
        for to in mentioned_modules(without_tests(text)) {
            if to != from && modules.contains(to.as_str()) {
                graph.get_mut(from).expect("a module").entry(to).or_default().insert(rel.clone());
            }
        }
    }
    graph
}

/// The text before the first `#[cfg(test)]` that opens `mod tests`.
fn without_tests(text: &str) -> &str {
    const ATTR: &str = "#[cfg(test)]";
    let mut from = 0;
    while let Some(at) = text[from..].find(ATTR) {
        let start = from + at;
        if text[start + ATTR.len()..].trim_start().starts_with("mod tests") {
            return &text[..start];
        }
        from = start + ATTR.len();
    }
    text
}

/// The first path segment after every `crate::` in `text`, including each
/// item of a `crate::{…}` group.
fn mentioned_modules(text: &str) -> BTreeSet<String> {
    const PREFIX: &str = "crate::";
    let mut found = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(PREFIX) {
        let start = from + at;
        from = start + PREFIX.len();
        let preceded_by_ident = text[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
        if preceded_by_ident {
            continue;
        }
        let rest = &text[from..];
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else if let Some(name) = leading_ident(rest) {
            found.insert(name.to_string());
        }
    }
    found
}

/// The first segment of each top-level item of a `{…}` group (`group`
/// starts after the opening brace).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if c.is_whitespace() => {}
            _ if item_start && depth == 0 => {
                item_start = false;
                if let Some(name) = leading_ident(&group[i..]) {
                    heads.push(name.to_string());
                }
            }
            _ => {}
        }
    }
    heads
}

/// A lowercase identifier at the start of `text` (`[a-z_][a-z0-9_]*`).
fn leading_ident(text: &str) -> Option<&str> {
    let first = text.chars().next()?;
    if !(first.is_ascii_lowercase() || first == '_') {
        return None;
    }
    let end = text.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')).unwrap_or(text.len());
    Some(&text[..end])
}

/// The strongly connected components with more than one module (a
/// module's edges to itself are never recorded), each sorted, in module
/// order.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<String>>,
    }

    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            let graph = self.graph;
            for w in graph.get(v).into_iter().flat_map(BTreeMap::keys) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().expect("v is on the stack");
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.components.push(component);
                }
            }
        }
    }

    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in graph.keys() {
        if !tarjan.index.contains_key(v.as_str()) {
            tarjan.visit(v);
        }
    }
    tarjan.components.sort();
    tarjan.components
}

/// Each cycle's modules, then each edge inside it with its files.
fn describe(graph: &Graph, cycles: &[Vec<String>]) -> String {
    let mut out = String::new();
    for component in cycles {
        out.push_str(&format!("cycle: {}\n", component.join(", ")));
        for from in component {
            for (to, files) in &graph[from] {
                if component.contains(to) {
                    let files: Vec<&str> = files.iter().map(String::as_str).collect();
                    out.push_str(&format!("  {from} -> {to}: {}\n", files.join(", ")));
                }
            }
        }
    }
    out
}
