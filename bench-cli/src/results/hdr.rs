//! Lossless histogram encoding: HdrHistogram's V2 compressed format (the "HISTFAAA…"
//! strings every HdrHistogram implementation reads), base64 with padding.
use base64::{engine::general_purpose::STANDARD, Engine};
use hdrhistogram::{
    serialization::{Deserializer, Serializer, V2DeflateSerializer},
    Histogram,
};
use serde::{de::Error as _, ser::Error as _, Deserialize};

/// Encodes `h` as V2 deflate, base64.
pub fn encode(h: &Histogram<u64>) -> Result<String, String> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| format!("cannot encode a histogram: {e:?}"))?;
    Ok(STANDARD.encode(buf))
}

/// Decodes a base64 V2 (deflate or plain) histogram.
pub fn decode(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = STANDARD
        .decode(s.trim())
        .map_err(|e| format!("histogram is not valid base64: {e}"))?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram is not HdrHistogram V2: {e:?}"))?;
    // A decoded histogram is sized to what it holds; merging repeats needs room to grow.
    h.auto(true);
    Ok(h)
}

/// `#[serde(with = "hdr")]` for a `Histogram<u64>` field.
pub fn serialize<S: serde::Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode(h).map_err(S::Error::custom)?)
}

/// `#[serde(with = "hdr")]` for a `Histogram<u64>` field.
pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
    let s = String::deserialize(d)?;
    decode(&s).map_err(D::Error::custom)
}
