//! What a downloaded file must be, as plain values: its size and SHA-256, as this site's
//! `models/index.json` lists them or as the Hugging Face Hub publishes them for LFS files (the
//! resolve answer's `X-Linked-Etag` or `ETag`, or the Git LFS pointer). A leaf, tested
//! natively; `loading::fetch` computes the digest and compares.
use std::collections::BTreeMap;

use serde::Deserialize;

/// A file's size in bytes and SHA-256 (64 lowercase hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileDigest {
    pub size: u64,
    pub sha256: String,
}

/// The folder models of `models/index.json`, by name, each with its files' digests.
pub type HostedIndex = BTreeMap<String, BTreeMap<String, FileDigest>>;

/// Reads `models/index.json`: `{name: {file: {size, sha256}}}` as `scripts/fetch-assets.sh`
/// writes it, or the older plain list of names (no digests). Anything else lists nothing.
pub fn parse_hosted_index(json: &[u8]) -> HostedIndex {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Index {
        WithDigests(HostedIndex),
        Names(Vec<String>),
    }
    match serde_json::from_slice(json) {
        Ok(Index::WithDigests(index)) => index
            .into_iter()
            .map(|(name, files)| {
                let files = files.into_iter().filter(|(_, d)| is_sha256(&d.sha256));
                (name, files.collect())
            })
            .collect(),
        Ok(Index::Names(names)) => names.into_iter().map(|n| (n, BTreeMap::new())).collect(),
        Err(_) => HostedIndex::new(),
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The SHA-256 the Hub publishes in a resolve answer's headers: `X-Linked-Etag` (an LFS file
/// behind a redirect), else `ETag` — when it is a SHA-256. A small file's ETag is its git blob
/// hash (40 digits), which says nothing here.
pub fn sha256_of_etags(x_linked_etag: Option<&str>, etag: Option<&str>) -> Option<String> {
    [x_linked_etag, etag].into_iter().flatten().find_map(|tag| {
        let tag = tag.trim().trim_start_matches("W/").trim_matches('"');
        is_sha256(tag).then(|| tag.to_ascii_lowercase())
    })
}

/// The digest in a Git LFS pointer file (`oid sha256:…` and `size …` lines), which the Hub
/// serves at `raw/` for an LFS file; `None` for anything else (a small file's own text).
pub fn lfs_pointer_digest(text: &str) -> Option<FileDigest> {
    if !text.starts_with("version https://git-lfs.github.com/spec/") {
        return None;
    }
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(' '))
    };
    let sha256 = field("oid")?.strip_prefix("sha256:")?.trim();
    let size = field("size")?.trim().parse().ok()?;
    is_sha256(sha256).then(|| FileDigest {
        size,
        sha256: sha256.to_ascii_lowercase(),
    })
}

/// Lowercase hex of a digest's bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "ee925c6fd7d129b61aa53d120cbe1ea9e175dec73ca08711ec9ff2e6347cc788";

    #[test]
    fn the_index_lists_digests_or_only_names() {
        let json = format!(
            r#"{{"tiny": {{"config.json": {{"size": 12, "sha256": "{SHA}"}},
                 "bad.bin": {{"size": 1, "sha256": "not a digest"}}}}, "other": {{}}}}"#
        );
        let index = parse_hosted_index(json.as_bytes());
        assert_eq!(index.keys().collect::<Vec<_>>(), ["other", "tiny"]);
        let tiny = &index["tiny"];
        assert_eq!(
            tiny.len(),
            1,
            "a file without a SHA-256 is not checked: {tiny:?}"
        );
        assert_eq!(tiny["config.json"].size, 12);
        let old = parse_hosted_index(br#"["a", "b"]"#);
        assert_eq!(old.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(old["a"].is_empty());
        assert!(parse_hosted_index(b"<html>").is_empty());
    }

    #[test]
    fn the_hub_publishes_sha256_in_etags_but_not_git_hashes() {
        let quoted = format!("\"{SHA}\"");
        assert_eq!(sha256_of_etags(Some(&quoted), None), Some(SHA.into()));
        let weak = format!("W/\"{}\"", SHA.to_uppercase());
        assert_eq!(sha256_of_etags(None, Some(&weak)), Some(SHA.into()));
        let git_blob = "\"a3c4e2b1f0d9c8b7a6e5d4c3b2a1f0e9d8c7b6a5\"";
        assert_eq!(sha256_of_etags(None, Some(git_blob)), None);
        assert_eq!(
            sha256_of_etags(Some(git_blob), Some(&quoted)),
            Some(SHA.into())
        );
        assert_eq!(sha256_of_etags(None, None), None);
    }

    #[test]
    fn an_lfs_pointer_gives_the_digest_and_other_text_none() {
        let pointer = format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{SHA}\nsize 548105171\n"
        );
        assert_eq!(
            lfs_pointer_digest(&pointer),
            Some(FileDigest {
                size: 548_105_171,
                sha256: SHA.into()
            })
        );
        assert_eq!(lfs_pointer_digest(r#"{"model_type": "gpt2"}"#), None);
        let truncated = format!("version https://git-lfs.github.com/spec/v1\noid sha256:{SHA}\n");
        assert_eq!(lfs_pointer_digest(&truncated), None);
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
