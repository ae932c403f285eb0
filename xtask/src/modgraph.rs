//! The module graph of a crate's `src/` and its import cycles.
//!
//! Every `crate::` and `super::` path counts, wherever it stands: in `use` declarations
//! (groups `use crate::{a::X, b}` included) and inside function bodies
//! (`crate::run::case(...)`). cargo-modules' `--acyclic` reads only signatures and
//! module-level `use`, which misses the second kind, hence this reader.
//!
//! Rooms: a cycle is judged between sibling modules. A reference from `a::x` to `b::y`
//! is an arrow from room `a` to room `b` under their common parent; a module may always
//! reach its own ancestors and descendants (`super::` from a child to its `mod.rs`), so
//! those references draw no arrow. The check fails when, under any parent, the arrows
//! among its children close a loop, and it names every loop with the file and line of
//! one reference per arrow.
//!
//! This reads text, not the compiler's resolution: `crate::a::b::C` resolves to the
//! longest prefix that is a module file or an inline `mod x { }`.
use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

/// A module path below the crate root (`[]` is the root itself).
pub type ModPath = Vec<String>;

/// One reference from a module to another, with where it stands.
#[derive(Clone, Debug)]
pub struct Reference {
    pub from: ModPath,
    pub to: ModPath,
    pub file: PathBuf,
    pub line: usize,
}

/// A loop of arrows among the children of one parent module.
#[derive(Debug)]
pub struct Cycle {
    /// The parent whose children form the loop.
    pub parent: ModPath,
    /// Every room caught in the loop's strongly connected component, sorted.
    pub members: Vec<String>,
    /// One loop through them, in order; the last room points back to the first.
    pub rooms: Vec<String>,
    /// One reference per arrow, in the same order (rooms[i] → rooms[i+1]).
    pub evidence: Vec<Reference>,
}

fn show(p: &[String]) -> String {
    if p.is_empty() {
        "crate".into()
    } else {
        p.join("::")
    }
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = |room: &String| {
            let mut p = self.parent.clone();
            p.push(room.clone());
            show(&p)
        };
        let names: Vec<String> = self.rooms.iter().map(full).collect();
        let members: Vec<String> = self.members.iter().map(full).collect();
        write!(
            f,
            "import cycle among {{{}}}; one loop: {} → {}",
            members.join(", "),
            names.join(" → "),
            names[0]
        )?;
        for r in &self.evidence {
            write!(
                f,
                "\n    {} → {} at {}:{}",
                show(&r.from),
                show(&r.to),
                r.file.display(),
                r.line
            )?;
        }
        Ok(())
    }
}

/// Reads every `.rs` file below `src` and returns the cycles it finds (empty: none).
/// `lib_name` is the library's crate name as its binaries write it (`evbench::x` in
/// `main.rs` is read as `crate::x`); `main.rs` is a module of its own named `main`.
/// Files no `mod` declaration reaches (never compiled) are left out.
pub fn check(src: &Path, lib_name: &str) -> Result<Vec<Cycle>> {
    let files = rust_files(src)?;
    let mut parsed = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src).unwrap_or(f);
        let base = module_of(rel);
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let toks = tokens(&text);
        parsed.push((f.clone(), base.clone(), read_file(&toks, &base, lib_name)));
    }
    // Modules that exist: the roots, then every module its parent declares.
    let mut modules: BTreeSet<ModPath> = BTreeSet::new();
    modules.insert(vec![]);
    modules.insert(vec!["main".to_string()]);
    loop {
        let before = modules.len();
        for (_, base, r) in &parsed {
            if modules.contains(base) {
                modules.extend(r.declared.iter().cloned());
            }
        }
        if modules.len() == before {
            break;
        }
    }
    let parsed: Vec<_> = parsed
        .into_iter()
        .filter(|(_, base, _)| modules.contains(base))
        .collect();
    // Names a module re-exports or binds (`pub use b::X;`, `use crate as root;`).
    let mut names: BTreeMap<(ModPath, String), Vec<String>> = BTreeMap::new();
    let mut globs: BTreeMap<ModPath, Vec<Vec<String>>> = BTreeMap::new();
    for (_, _, r) in &parsed {
        for u in &r.uses {
            if u.glob {
                globs
                    .entry(u.here.clone())
                    .or_default()
                    .push(u.path.clone());
            } else if let Some(name) = u.alias.clone().or_else(|| u.path.last().cloned()) {
                names.insert((u.here.clone(), name), u.path.clone());
            }
        }
    }
    let macros: Vec<(String, Vec<String>)> = parsed
        .iter()
        .flat_map(|(_, _, r)| r.macros.iter().cloned())
        .collect();
    let mut refs = Vec::new();
    for (file, _, r) in &parsed {
        for (here, name, line) in &r.invocations {
            for (_, segs) in macros.iter().filter(|(m, _)| m == name) {
                refs.push(Reference {
                    from: here.clone(),
                    to: resolve(&modules, &names, segs),
                    file: file.clone(),
                    line: *line,
                });
            }
        }
        for f in &r.found {
            let segs = match &f.path {
                Segs::Absolute(s) => s.clone(),
                Segs::Relative(s) => {
                    // `x::f()` where x is a child, a name bound by `use`, or a module
                    // a glob import brought in.
                    let first = &s[0];
                    let mut child = f.here.clone();
                    child.push(first.clone());
                    if modules.contains(&child) {
                        continue;
                    }
                    if let Some(p) = names.get(&(f.here.clone(), first.clone())) {
                        let mut v = p.clone();
                        v.extend(s[1..].iter().cloned());
                        v
                    } else if let Some(g) = globs.get(&f.here).and_then(|gs| {
                        gs.iter().find(|g| {
                            let mut m = resolve(&modules, &names, g);
                            m.push(first.clone());
                            modules.contains(&m)
                        })
                    }) {
                        let mut v = resolve(&modules, &names, g);
                        v.extend(s.iter().cloned());
                        v
                    } else {
                        continue; // an external crate, a type, an enum variant
                    }
                }
            };
            refs.push(Reference {
                from: f.here.clone(),
                to: resolve(&modules, &names, &segs),
                file: file.clone(),
                line: f.line,
            });
        }
    }
    Ok(cycles(&refs))
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `lib.rs` → root, `main.rs` → `main`, `a/mod.rs` and `a.rs` → `a`, `a/b.rs` → `a::b`.
fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if parts.is_empty() && stem == "lib" {
        return vec![];
    }
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Colons,
    Open,
    Close,
    Punct(char),
}

/// Identifiers, `::`, braces and other punctuation with their line numbers; comments,
/// strings and character literals are skipped (doc examples do not count).
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if let Some(at) = raw_string_start(&b, i) {
            let end = raw_string_end(&b, at).unwrap_or(b.len());
            line += b[i..end].iter().filter(|&&c| c == '\n').count();
            i = end;
        } else if (c == 'b' || c == 'c')
            && matches!(b.get(i + 1), Some('"') | Some('\''))
            && (i == 0 || !(b[i - 1].is_alphanumeric() || b[i - 1] == '_'))
        {
            i += 1; // b"..", c"..", b'.': the literal itself is read by the next turn
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                if b.get(i) == Some(&'\n') {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if b.get(i + 1) == Some(&'\\') {
                // Past the quote, the backslash and the escaped character (which may
                // itself be a quote), then to the closing quote ('\u{..}' included).
                i += 3;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let s = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(b[s..i].iter().collect()), line));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push((Tok::Colons, line));
            i += 2;
        } else if c == '{' {
            out.push((Tok::Open, line));
            i += 1;
        } else if c == '}' {
            out.push((Tok::Close, line));
            i += 1;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// Where the `"` or `#` of a raw string literal starting at `b[i]` (`r"`, `r#"`, `br"`,
/// `cr#"`, ...) stands, if one starts there.
fn raw_string_start(b: &[char], i: usize) -> Option<usize> {
    if i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_') {
        return None; // inside an identifier (`bar"`)
    }
    let at = match (b.get(i), b.get(i + 1)) {
        (Some('r'), _) => i + 1,
        (Some('b') | Some('c'), Some('r')) => i + 2,
        _ => return None,
    };
    match b.get(at) {
        Some('"') => Some(at),
        Some('#') => {
            let mut k = at;
            while b.get(k) == Some(&'#') {
                k += 1;
            }
            (b.get(k) == Some(&'"')).then_some(at)
        }
        _ => None,
    }
}

/// Where a raw string starting at `b[at]` (`"` or `#`) ends, if it is one.
fn raw_string_end(b: &[char], at: usize) -> Option<usize> {
    let mut i = at;
    let mut hashes = 0;
    while b.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if b.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    while i < b.len() {
        if b[i] == '"' && (0..hashes).all(|k| b.get(i + 1 + k) == Some(&'#')) {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(b.len())
}

/// A path as written: from the crate root (`crate::`, `super::`, `self::`, the library's
/// name, an alias of the crate), or relative to where it stands (`b::f()`).
enum Segs {
    Absolute(Vec<String>),
    Relative(Vec<String>),
}

struct Found {
    here: ModPath,
    path: Segs,
    line: usize,
}

/// A `use` declaration, resolved to an absolute path.
struct Use {
    here: ModPath,
    path: Vec<String>,
    alias: Option<String>,
    glob: bool,
}

#[derive(Default)]
struct FileRead {
    /// Modules declared here (`mod x;` and inline `mod x { }`).
    declared: Vec<ModPath>,
    uses: Vec<Use>,
    found: Vec<Found>,
    /// `macro_rules! NAME` bodies' `$crate::` paths: they stand wherever NAME is used.
    macros: Vec<(String, Vec<String>)>,
    /// `NAME!(..)` invocations: (module, NAME, line).
    invocations: Vec<(ModPath, String, usize)>,
}

const KEYWORDS: &[&str] = &[
    "std", "core", "alloc", "Self", "self", "super", "crate", "r#", "as", "use", "pub",
];

/// Everything one file says about modules: what it declares, its `use` declarations
/// and every path that may name a module of the crate.
fn read_file(toks: &[(Tok, usize)], base: &ModPath, lib: &str) -> FileRead {
    let mut out = FileRead::default();
    // Words that mean the crate root here: `crate`, the library's name, and aliases
    // (`use crate as root;`, `extern crate self as root;`).
    let mut roots: Vec<String> = vec!["crate".into(), lib.to_string()];
    for w in toks.windows(4) {
        if let [(Tok::Ident(a), _), (Tok::Ident(b), _), (Tok::Ident(c), _), (Tok::Ident(d), _)] = w
        {
            if (a == "use" && b == "crate" && c == "as")
                || (b == "self" && c == "as" && a == "crate")
            {
                roots.push(d.clone());
            }
        }
    }
    let mut stack: Vec<(ModPath, usize)> = vec![(base.clone(), 0)];
    let mut depth = 0usize;
    // The macro_rules body being read: (name, depth at which it closes).
    let mut in_macro: Option<(String, usize)> = None;
    let mut i = 0;
    let ident = |k: usize| match toks.get(k).map(|t| &t.0) {
        Some(Tok::Ident(w)) => Some(w.as_str()),
        _ => None,
    };
    let is = |k: usize, t: &Tok| toks.get(k).map(|x| &x.0) == Some(t);
    while i < toks.len() {
        let here = stack.last().map(|s| s.0.clone()).unwrap_or_default();
        match &toks[i].0 {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.saturating_sub(1);
                if stack.len() > 1 && stack.last().is_some_and(|s| s.1 == depth) {
                    stack.pop();
                }
                if in_macro.as_ref().is_some_and(|m| m.1 == depth) {
                    in_macro = None;
                }
            }
            Tok::Ident(w)
                if w == "macro_rules"
                    && is(i + 1, &Tok::Punct('!'))
                    && ident(i + 2).is_some()
                    && is(i + 3, &Tok::Open) =>
            {
                in_macro = Some((ident(i + 2).unwrap_or_default().to_string(), depth));
                depth += 1;
                i += 4;
                continue;
            }
            Tok::Ident(w) if is(i + 1, &Tok::Punct('!')) && w != "macro_rules" => {
                out.invocations.push((here.clone(), w.clone(), toks[i].1));
            }
            Tok::Ident(w) if w == "mod" && ident(i + 1).is_some() => {
                let mut p = here.clone();
                p.push(ident(i + 1).unwrap_or_default().to_string());
                out.declared.push(p.clone());
                if is(i + 2, &Tok::Open) {
                    stack.push((p, depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(w) if w == "use" => {
                let line = toks[i].1;
                let (trees, next) = use_tree(toks, i + 1);
                for (segs, alias, glob) in trees {
                    if segs.is_empty() {
                        continue;
                    }
                    let abs = if roots.contains(&segs[0]) || segs[0] == "super" || segs[0] == "self"
                    {
                        absolute(&here, &segs, &roots)
                    } else {
                        // 2018 paths: a child of this module (or an external crate,
                        // which resolves to nothing below).
                        let mut p = here.clone();
                        p.extend(segs.iter().cloned());
                        Some(p)
                    };
                    let Some(abs) = abs else { continue };
                    out.found.push(Found {
                        here: here.clone(),
                        path: Segs::Absolute(abs.clone()),
                        line,
                    });
                    out.uses.push(Use {
                        here: here.clone(),
                        path: abs,
                        alias,
                        glob,
                    });
                }
                i = next;
                continue;
            }
            Tok::Ident(w)
                if is(i + 1, &Tok::Colons) && (i == 0 || toks[i - 1].0 != Tok::Colons) =>
            {
                let line = toks[i].1;
                let (trees, next) = use_tree(toks, i);
                if is(next, &Tok::Punct('!')) {
                    // `crate::m!()`: a macro used by path.
                    if let Some(name) = trees.first().and_then(|t| t.0.last()) {
                        out.invocations.push((here.clone(), name.clone(), line));
                    }
                }
                let dollar = i > 0 && toks[i - 1].0 == Tok::Punct('$');
                for (segs, _, _) in trees {
                    if let (true, Some((name, _))) = (dollar && w == "crate", &in_macro) {
                        // `$crate::b::g()` in a macro: it lands where the macro is used.
                        if let Some(abs) = absolute(&here, &segs, &roots) {
                            out.macros.push((name.clone(), abs));
                        }
                    } else if roots.contains(w) || w == "super" || w == "self" {
                        if let Some(abs) = absolute(&here, &segs, &roots) {
                            out.found.push(Found {
                                here: here.clone(),
                                path: Segs::Absolute(abs),
                                line,
                            });
                        }
                    } else if !KEYWORDS.contains(&w.as_str()) {
                        out.found.push(Found {
                            here: here.clone(),
                            path: Segs::Relative(segs),
                            line,
                        });
                    }
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// One path of a use tree: its segments, its `as` alias, and whether it ends in `*`.
type Tree = (Vec<String>, Option<String>, bool);

/// Reads a path (with `{a, b::c}` groups, `as` aliases and `*`) starting at `toks[i]`;
/// returns every full path it names and the index after it.
fn use_tree(toks: &[(Tok, usize)], mut i: usize) -> (Vec<Tree>, usize) {
    let tok = |k: usize| toks.get(k).map(|t| &t.0);
    let mut prefix: Vec<String> = Vec::new();
    loop {
        match tok(i) {
            Some(Tok::Ident(w)) => {
                prefix.push(w.clone());
                i += 1;
            }
            Some(Tok::Punct('*')) => return (vec![(prefix, None, true)], i + 1),
            Some(Tok::Open) => {
                i += 1;
                let mut out = Vec::new();
                loop {
                    match tok(i) {
                        Some(Tok::Close) => {
                            i += 1;
                            break;
                        }
                        Some(Tok::Punct(',')) => i += 1,
                        Some(Tok::Ident(_)) | Some(Tok::Punct('*')) | Some(Tok::Open) => {
                            let (subs, next) = use_tree(toks, i);
                            for (s, alias, glob) in subs {
                                let mut p = prefix.clone();
                                p.extend(s.into_iter().filter(|x| x != "self"));
                                out.push((p, alias, glob));
                            }
                            i = next;
                        }
                        Some(_) => i += 1,
                        None => break,
                    }
                }
                if out.is_empty() {
                    out.push((prefix, None, false));
                }
                return (out, i);
            }
            _ => return (vec![(prefix, None, false)], i),
        }
        if tok(i) == Some(&Tok::Colons) {
            i += 1;
            continue;
        }
        if matches!(tok(i), Some(Tok::Ident(w)) if w == "as") {
            if let Some(Tok::Ident(alias)) = tok(i + 1) {
                return (vec![(prefix, Some(alias.clone()), false)], i + 2);
            }
        }
        return (vec![(prefix, None, false)], i);
    }
}

/// `crate::a::b` / `super::super::a` / `self::super::a` / `evbench::a` (any word in
/// `roots` means the crate root) read from module `here`, as segments below the root;
/// `None` when `super` climbs above the root.
fn absolute(here: &ModPath, segs: &[String], roots: &[String]) -> Option<Vec<String>> {
    let mut it = segs.iter().peekable();
    let mut base: Vec<String> = match it.peek().map(|s| s.as_str()) {
        Some(w) if roots.iter().any(|r| r == w) => {
            it.next();
            vec![]
        }
        Some("self") => {
            it.next();
            here.clone()
        }
        _ => here.clone(),
    };
    while it.peek().map(|s| s.as_str()) == Some("super") {
        it.next();
        base.pop()?;
    }
    base.extend(it.cloned());
    Some(base)
}

/// The module an absolute path lands in: its longest prefix that is a module, following
/// a name the module binds or re-exports (`pub use b::X;` at the root makes
/// `crate::X` land in `b`).
fn resolve(
    modules: &BTreeSet<ModPath>,
    names: &BTreeMap<(ModPath, String), Vec<String>>,
    segs: &[String],
) -> ModPath {
    let mut segs = segs.to_vec();
    for _ in 0..8 {
        let n = (0..=segs.len())
            .rev()
            .find(|&n| modules.contains(&segs[..n].to_vec()))
            .unwrap_or(0);
        let prefix = segs[..n].to_vec();
        let Some(next) = segs.get(n) else {
            return prefix;
        };
        match names.get(&(prefix.clone(), next.clone())) {
            Some(target) if target.as_slice() != &segs[..=n] => {
                let mut t = target.clone();
                t.extend(segs[n + 1..].iter().cloned());
                segs = t;
            }
            _ => return prefix,
        }
    }
    vec![]
}

fn cycles(refs: &[Reference]) -> Vec<Cycle> {
    // parent → room → room → first reference
    let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeMap<String, Reference>>> =
        BTreeMap::new();
    for r in refs {
        let common = r.from.iter().zip(&r.to).take_while(|(a, b)| a == b).count();
        if common == r.from.len() || common == r.to.len() {
            continue; // an ancestor or a descendant: always reachable
        }
        graphs
            .entry(r.from[..common].to_vec())
            .or_default()
            .entry(r.from[common].clone())
            .or_default()
            .entry(r.to[common].clone())
            .or_insert_with(|| r.clone());
    }
    let mut out = Vec::new();
    for (parent, g) in graphs {
        for comp in sccs(&g) {
            if comp.len() < 2 {
                continue;
            }
            let rooms = loop_through(&g, &comp);
            let evidence = rooms
                .iter()
                .zip(rooms.iter().cycle().skip(1))
                .map(|(a, b)| g[a][b].clone())
                .collect();
            out.push(Cycle {
                parent: parent.clone(),
                members: comp,
                rooms,
                evidence,
            });
        }
    }
    out.sort_by(|a, b| (&a.parent, &a.rooms).cmp(&(&b.parent, &b.rooms)));
    out
}

type Graph = BTreeMap<String, BTreeMap<String, Reference>>;

/// Strongly connected components (Tarjan), each sorted.
fn sccs(g: &Graph) -> Vec<Vec<String>> {
    struct St<'a> {
        g: &'a Graph,
        idx: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        on: BTreeSet<&'a str>,
        stack: Vec<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a str) {
        s.idx.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        if let Some(succ) = s.g.get(v) {
            for w in succ.keys() {
                let w = w.as_str();
                if !s.idx.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if s.on.contains(w) {
                    let iw = s.idx[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.idx[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            comp.sort();
            s.out.push(comp);
        }
    }
    let mut s = St {
        g,
        idx: BTreeMap::new(),
        low: BTreeMap::new(),
        on: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.idx.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// One concrete loop inside a strongly connected component: the shortest way from its
/// first room back to itself (breadth-first).
fn loop_through(g: &Graph, comp: &[String]) -> Vec<String> {
    let inside: BTreeSet<&String> = comp.iter().collect();
    let start = &comp[0];
    let mut prev: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in g.get(v).into_iter().flat_map(|m| m.keys()) {
            if !inside.contains(w) {
                continue;
            }
            if w == start {
                let mut path = vec![v.clone()];
                let mut cur = v;
                while cur != start {
                    cur = prev[cur];
                    path.push(cur.clone());
                }
                path.reverse();
                return path;
            }
            if !prev.contains_key(w) {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    comp.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
    }

    #[test]
    fn fixture_cycles_through_use_and_through_a_function_body_are_both_named() {
        let src = root().join("tests/fixtures/modgraph-cycles/src");
        let found = check(&src, "fixture").unwrap();
        let text: Vec<String> = found.iter().map(|c| c.to_string()).collect();
        assert_eq!(found.len(), 2, "{text:#?}");
        // Through `use` declarations (a group import included): alpha ↔ beta.
        assert_eq!(found[0].rooms, ["alpha", "beta"], "{text:#?}");
        assert!(text[0].contains("alpha.rs:"), "{}", text[0]);
        assert!(text[0].contains("beta.rs:"), "{}", text[0]);
        // Through paths inside function bodies only: gamma → delta → gamma.
        assert_eq!(found[1].rooms, ["delta", "gamma"], "{text:#?}");
        let body_refs: Vec<usize> = found[1].evidence.iter().map(|r| r.line).collect();
        assert_eq!(body_refs.len(), 2);
        for r in &found[1].evidence {
            let line = std::fs::read_to_string(&r.file).unwrap();
            let line = line.lines().nth(r.line - 1).unwrap();
            assert!(!line.trim_start().starts_with("use "), "{line}");
        }
    }

    #[test]
    fn strings_comments_parents_and_children_draw_no_arrow() {
        let src = root().join("tests/fixtures/modgraph-cycles/src");
        let found = check(&src, "fixture").unwrap();
        // The fixture's `quiet` room mentions beta in a string, a comment and a doc
        // example, and its child reaches its parent through super: no loop is reported
        // for it.
        assert!(found.iter().all(|c| !c.rooms.iter().any(|r| r == "quiet")));
    }

    /// Every way a path can name a module that an independent tester found the first
    /// reader missing: `self::super::`, a re-export at the root, a raw byte string and
    /// an escaped quote before the path, `use crate as root`, a glob import, a
    /// `$crate::` path in a macro used elsewhere; plus the kinds it caught (function
    /// bodies, nested groups, `super::super::`). Each fixture holds one a ↔ b cycle.
    /// And a file no `mod` declares is never compiled, so it draws no arrow (I).
    #[test]
    fn every_kind_of_path_is_read() {
        let base = root().join("tests/fixtures/modgraph-kinds");
        for kind in ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K"] {
            let found = check(&base.join(kind).join("src"), "fixture").unwrap();
            let text: Vec<String> = found.iter().map(|c| c.to_string()).collect();
            assert_eq!(found.len(), 1, "{kind}: {text:#?}");
            assert_eq!(found[0].members, ["a", "b"], "{kind}: {text:#?}");
        }
        let found = check(&base.join("I/src"), "fixture").unwrap();
        assert!(
            found.is_empty(),
            "I: {:?}",
            found.iter().map(|c| c.to_string()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn bench_cli_has_no_import_cycle() {
        let src = root().join("../bench-cli/src");
        let found = check(&src, "evbench").unwrap();
        let text: Vec<String> = found.iter().map(|c| c.to_string()).collect();
        assert!(found.is_empty(), "{}", text.join("\n"));
    }
}
