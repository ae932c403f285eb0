//! What produced a result: evbench version, git commit, build profile, and the eBPF
//! object's hash (two builds of one commit with different objects are different tools).
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub evbench_version: String,
    /// `git describe --always --dirty` at build time, or "unknown" outside a checkout.
    pub git_commit: String,
    /// "release" or "debug"; a debug build's figures mean nothing.
    pub build_profile: String,
    /// SHA-256 of the embedded eBPF object, hex.
    pub ebpf_object_sha256: String,
}

impl Provenance {
    /// This build's provenance; `ebpf_object` is the embedded eBPF object it hashes.
    pub fn current(ebpf_object: &[u8]) -> Self {
        Self {
            evbench_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("EVBENCH_GIT_COMMIT").into(),
            build_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .into(),
            ebpf_object_sha256: hex(&Sha256::digest(ebpf_object)),
        }
    }

    pub fn warnings(&self) -> Vec<String> {
        if self.build_profile == "debug" {
            vec!["DEBUG BUILD: these figures mean nothing; build with --release".into()]
        } else {
            Vec::new()
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_the_embedded_object() {
        let p = super::Provenance::current(b"");
        assert_eq!(p.ebpf_object_sha256.len(), 64);
        // The known SHA-256 of the empty input, as a check of the hex encoding.
        assert_eq!(
            super::hex(&<sha2::Sha256 as sha2::Digest>::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
