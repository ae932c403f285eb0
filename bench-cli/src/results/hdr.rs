//! Lossless histogram encoding: HdrHistogram's V2 compressed format (the "HISTFAAA…"
//! strings every HdrHistogram implementation reads), base64 with padding.
use base64::{engine::general_purpose::STANDARD, Engine};
use hdrhistogram::{
    serialization::{Deserializer, Serializer, V2DeflateSerializer},
    Histogram,
};
use serde::de::Error as _;

/// A histogram kept in memory in its lossless encoded form (HdrHistogram V2 deflate
/// bytes, typically 1–3 KiB) rather than decoded: a decoded 3-digit histogram of
/// 1 ns–100 s is 28,672 `u64` counts (224 KiB) whatever it holds, and a long
/// `--repeat auto` run keeps one per repeat (issue 17's soak grew 620 KiB per repeat).
/// Decode with [`Hdr::decode`] where the counts are needed (merging, exports).
#[derive(Clone, Debug)]
pub struct Hdr {
    bytes: Vec<u8>,
}

impl Hdr {
    /// Encodes `h` (V2 deflate). Errors: the serializer's, which for a `u64` histogram
    /// this crate built do not occur.
    pub fn encode(h: &Histogram<u64>) -> Result<Self, String> {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(h, &mut bytes)
            .map_err(|e| format!("cannot encode a histogram: {e:?}"))?;
        Ok(Self { bytes })
    }

    /// The histogram, decoded (auto-resizing, so merging into it works). The bytes were
    /// checked when this value was made, so decoding them again cannot fail; were it to,
    /// the result is an empty histogram rather than a panic.
    pub fn decode(&self) -> Histogram<u64> {
        Deserializer::new()
            .deserialize(&mut self.bytes.as_slice())
            .map(|mut h: Histogram<u64>| {
                h.auto(true);
                h
            })
            .unwrap_or_else(|_| {
                let mut h = Histogram::new(3).expect("3 significant digits is valid");
                h.auto(true);
                h
            })
    }

    /// From base64 text, checked by decoding it once (so a bad document fails when read,
    /// naming the cause, not later).
    pub fn from_base64(s: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(s.trim())
            .map_err(|e| format!("histogram is not valid base64: {e}"))?;
        Deserializer::new()
            .deserialize::<u64, _>(&mut bytes.as_slice())
            .map_err(|e| format!("histogram is not HdrHistogram V2: {e:?}"))?;
        Ok(Self { bytes })
    }
}

/// Equal when the histograms are (two writers may compress the same counts differently).
impl PartialEq for Hdr {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes || self.decode() == other.decode()
    }
}

impl serde::Serialize for Hdr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.bytes))
    }
}

impl<'de> serde::Deserialize<'de> for Hdr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_base64(&s).map_err(D::Error::custom)
    }
}
