//! Fuzzes the results-document reader and what `report` and `compare` do with what it
//! accepts: `RunResult::from_json`, then `export::terminal::render` / `render_brief`,
//! `results::compare::compare` with a valid document on either side, and the
//! comparison's text and Markdown tables.
//!
//! Two modes, so that plain JSON files work as seeds:
//! * input starting with byte 0x01: a valid one-case document (the seed `one-case.json`)
//!   edited by the rest of the input, 4
//!   bytes per edit — which value (by index among every value of the document), what to
//!   put there (huge and negative numbers, bad / truncated / garbage base64 in `hdr`,
//!   deep nesting, wrong types, null, removal, a copy of another subtree), a parameter;
//! * anything else: the input is the document's text (arbitrary bytes, lossily UTF-8).
//!
//! Checked: no panic, no abort (stack overflow, allocation failure) on any input; a
//! rejected document is an error value, not a crash.
#![no_main]

use std::sync::OnceLock;

use evbench::{
    export::{compare as cmp_export, terminal},
    results::{compare::compare, RunResult},
};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const SEED: &str = include_str!("../corpus/results_reader/one-case.json");

/// Every value's JSON pointer, depth first.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn nested(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!([v]);
    }
    v
}

/// Base64 of `n` pseudo-random bytes behind a V2 histogram cookie.
fn garbage_hdr(n: usize, seed: u8) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::from("HISTFAAA");
    let mut x = seed as u32 | 1;
    for _ in 0..n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        s.push(B64[(x >> 16) as usize % 64] as char);
    }
    s
}

fn edit(doc: &mut Value, which: usize, what: u8, p: u8) {
    let mut all = Vec::new();
    pointers(doc, String::new(), &mut all);
    let ptr = all[which % all.len()].clone();
    let other = doc
        .pointer(&all[(which / 7 + p as usize) % all.len()])
        .cloned();
    let new = match what % 16 {
        0 => json!(u64::MAX),
        1 => json!(i64::MIN),
        2 => json!(f64::MAX),
        3 => json!(-1),
        4 => json!(0),
        5 => json!(1e-300),
        6 => json!("!!not base64!!"),
        7 => match doc.pointer(&ptr) {
            // A valid value cut short: truncated base64 / a prefix of the string.
            Some(Value::String(s)) => {
                let keep = s.chars().count() * p as usize / 256;
                json!(s.chars().take(keep).collect::<String>())
            }
            _ => json!(""),
        },
        8 => json!(garbage_hdr(p as usize, what)),
        9 => nested(p as usize),
        10 => json!("x"),
        11 => Value::Null,
        12 => json!({}),
        13 => json!([]),
        14 => json!(true),
        _ => {
            if p % 2 == 0 {
                // Remove the member (or array element) at `ptr`.
                if let Some((parent, key)) = ptr.rsplit_once('/') {
                    match doc.pointer_mut(parent) {
                        Some(Value::Object(m)) => {
                            m.remove(&key.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(Value::Array(a)) => {
                            if let Ok(i) = key.parse::<usize>() {
                                if i < a.len() {
                                    a.remove(i);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                return;
            }
            other.unwrap_or(Value::Null)
        }
    };
    if ptr.is_empty() {
        *doc = new;
    } else if let Some(slot) = doc.pointer_mut(&ptr) {
        *slot = new;
    }
}

fn exercise(text: &str, valid: &RunResult) {
    let Ok(doc) = RunResult::from_json(text) else {
        return;
    };
    let _ = terminal::render(&doc);
    let _ = terminal::render_brief(&doc);
    // Both sides against a valid document (each compare runs a 10,000-resample bootstrap
    // per metric, so this target's exec/s is low by nature).
    for (a, b) in [(valid, &doc), (&doc, valid)] {
        if let Ok(c) = compare(a, b, 0.05) {
            let _ = cmp_export::render_text(&c);
            let _ = cmp_export::render_markdown(&c);
            let _ = c.regressed() + c.improved();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    static VALID: OnceLock<RunResult> = OnceLock::new();
    let valid =
        VALID.get_or_init(|| RunResult::from_json(SEED).expect("the seed document is valid"));
    let Some((&1, rest)) = data.split_first() else {
        exercise(&String::from_utf8_lossy(data), valid);
        return;
    };
    let mut doc: Value = serde_json::from_str(SEED).expect("the seed is JSON");
    for e in rest.chunks_exact(4).take(16) {
        let which = u16::from_le_bytes([e[0], e[1]]) as usize;
        edit(&mut doc, which, e[2], e[3]);
    }
    exercise(&doc.to_string(), valid);
});
