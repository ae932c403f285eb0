//! Fuzzes the event-loop server's request framing (workloads/src/http/proto.rs): any
//! byte stream, delivered in reads of any size into a buffer of any allowed size.
//!
//! Input: byte 0 picks `max_header_bytes` (64..=8224, steps of 32), byte 1 the size of each read
//! (1..=255 bytes, 0 = everything that fits), the rest is what the peer sends.
//!
//! Checked on every input: no panic; every answer is an HTTP/1.1 status line; a closing
//! answer is the last one; the connection never stalls (a full buffer always yields an
//! answer, so the loop keeps reading); at most one answer per byte received plus one.
//!
//! proto.rs's types are crate-private, so the file is compiled here as a module; only
//! `drive` below touches its API (Site, Responses::new, Heads::new, Session::{new, spare,
//! filled, next}, Reply::{head, body, close}), so an API change means editing that one
//! function (CI builds and runs this target, so such a change cannot go unnoticed).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unreachable_pub)]
#[path = "../../workloads/src/http/proto.rs"]
mod proto;

/// One answer as this target sees it: its bytes and whether the connection closes.
struct Answer {
    bytes: Vec<u8>,
    close: bool,
}

/// Feeds `stream` into one connection's session `chunk` bytes at a time and returns every
/// answer in order; panics on a stall.
fn drive(max_header_bytes: usize, chunk: usize, stream: &[u8]) -> Vec<Answer> {
    let site = proto::Site {
        max_header_bytes,
        ..proto::Site::default()
    };
    let responses = proto::Responses::new(&site).expect("a valid site");
    let mut session = proto::Session::new(max_header_bytes);
    let mut heads = proto::Heads::new();
    let mut answers = Vec::new();
    let mut pos = 0;
    loop {
        while let Some(r) = session.next(&responses, &mut heads) {
            // The default site serves bytes held in memory: no file part.
            assert_eq!(r.file_len, 0, "a file body from an in-memory site");
            answers.push(Answer {
                bytes: [&r.head[..], &r.body[..]].concat(),
                close: r.close,
            });
            assert!(
                answers.len() <= stream.len() + 1,
                "more answers than bytes received"
            );
        }
        if answers.last().is_some_and(|a| a.close) || pos == stream.len() {
            return answers;
        }
        let spare = session.spare();
        assert!(
            !spare.is_empty(),
            "stall: the buffer is full ({max_header_bytes} bytes) and no answer came"
        );
        let n = spare.len().min(stream.len() - pos).min(chunk);
        spare[..n].copy_from_slice(&stream[pos..pos + n]);
        session.filled(n);
        pos += n;
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max_header_bytes = 64 + data[0] as usize * 32;
    let chunk = match data[1] {
        0 => usize::MAX,
        n => n as usize,
    };
    let answers = drive(max_header_bytes, chunk, &data[2..]);
    for (i, a) in answers.iter().enumerate() {
        assert!(
            a.bytes.starts_with(b"HTTP/1.1 ") && a.bytes.windows(4).any(|w| w == b"\r\n\r\n"),
            "answer {i} is not an HTTP/1.1 response"
        );
        assert!(
            !a.close || i + 1 == answers.len(),
            "answer {i} closes the connection but more followed"
        );
    }
});
