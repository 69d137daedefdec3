//! The integrity chain of a document's history: every op record carries
//! `hash_n = BLAKE3(hash_{n-1} || canonical bytes of record n)`, with `hash_0` 32 zero bytes, so
//! the hash of a version vouches for every record up to it. Editing, dropping or reordering a
//! stored record breaks the chain from that version on, which `GET /docs/<id>/verify` reports.
//!
//! The canonical bytes are a fixed binary form of the record's fields (not its JSON, so that
//! equal records hash equally whatever their encoding); `docs/storage.md` defines them byte by
//! byte. The document id is not part of them: a copy made with its history has its source's
//! hashes, which shows that it holds the same history.

use std::fmt;

use ot::Component;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::OpRecord;

/// One link of the chain: 32 bytes, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

/// Tags of the op components in the canonical bytes.
const RETAIN: u8 = b'r';
const INSERT: u8 = b'i';
const DELETE: u8 = b'd';

impl ChainHash {
    /// `hash_0`, the hash "before version 1": 32 zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// The hash of `record` following this one (`record.hash` itself is not read).
    pub fn next(&self, record: &OpRecord) -> ChainHash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.0);
        hasher.update(&canonical_bytes(record));
        ChainHash(*hasher.finalize().as_bytes())
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 15)]));
        }
        out
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Option<ChainHash> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(ChainHash(out))
    }
}

/// The bytes of `record` the chain hashes (every field but `hash`), as `docs/storage.md`
/// defines them: integers unsigned big-endian, strings as a `u32` byte length and UTF-8.
pub fn canonical_bytes(record: &OpRecord) -> Vec<u8> {
    let components = record.op.components();
    let mut out = Vec::with_capacity(40 + record.client.len() + record.user.len());
    out.extend_from_slice(&record.version.to_be_bytes());
    out.extend_from_slice(&record.seq.to_be_bytes());
    out.extend_from_slice(&record.time.to_be_bytes());
    push_str(&mut out, &record.client);
    push_str(&mut out, &record.user);
    out.extend_from_slice(&len_u32(components.len()).to_be_bytes());
    for component in components {
        match component {
            Component::Retain(n) => {
                out.push(RETAIN);
                out.extend_from_slice(&(*n as u64).to_be_bytes());
            }
            Component::Insert(text) => {
                out.push(INSERT);
                push_str(&mut out, text);
            }
            Component::Delete(n) => {
                out.push(DELETE);
                out.extend_from_slice(&(*n as u64).to_be_bytes());
            }
        }
    }
    out
}

fn len_u32(len: usize) -> u32 {
    // Records are bounded far below 4 GiB (--max-op-bytes, --max-doc-bytes).
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&len_u32(text.len()).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ChainHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ChainHash::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("a hash is 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ot::Operation;

    fn record(op: &str) -> OpRecord {
        OpRecord {
            version: 1,
            op: Operation::from_json(op).unwrap(),
            client: "c1".into(),
            seq: 1,
            user: "anonymous".into(),
            time: 1_795_308_520_042,
            hash: ChainHash::GENESIS,
        }
    }

    #[test]
    fn canonical_bytes_are_the_documented_layout() {
        let r = record(r#"["hé"]"#);
        let mut expected = Vec::new();
        expected.extend_from_slice(&1u64.to_be_bytes());
        expected.extend_from_slice(&1u64.to_be_bytes());
        expected.extend_from_slice(&1_795_308_520_042u64.to_be_bytes());
        expected.extend_from_slice(&[0, 0, 0, 2, b'c', b'1']);
        expected.extend_from_slice(&[0, 0, 0, 9]);
        expected.extend_from_slice(b"anonymous");
        expected.extend_from_slice(&[0, 0, 0, 1, b'i', 0, 0, 0, 3, b'h', 0xc3, 0xa9]);
        assert_eq!(canonical_bytes(&r), expected);
        let r = record(r#"[2, -1, 3]"#);
        let tail = &canonical_bytes(&r)[8 * 3 + 6 + 13..];
        let mut ops = vec![0, 0, 0, 3, b'r'];
        ops.extend_from_slice(&2u64.to_be_bytes());
        ops.push(b'd');
        ops.extend_from_slice(&1u64.to_be_bytes());
        ops.push(b'r');
        ops.extend_from_slice(&3u64.to_be_bytes());
        assert_eq!(tail, ops);
    }

    #[test]
    fn links_depend_on_the_previous_hash_and_every_field() {
        let r = record(r#"["hello"]"#);
        let h1 = ChainHash::GENESIS.next(&r);
        assert_ne!(h1, ChainHash::GENESIS);
        assert_ne!(h1.next(&r), h1);
        let mut other = r.clone();
        other.user = "bob".into();
        assert_ne!(ChainHash::GENESIS.next(&other), h1);
        // `hash` itself is not hashed.
        let mut stamped = r.clone();
        stamped.hash = h1;
        assert_eq!(ChainHash::GENESIS.next(&stamped), h1);
        assert_eq!(ChainHash::from_hex(&h1.to_hex()), Some(h1));
        assert_eq!(ChainHash::from_hex(&h1.to_hex().to_uppercase()), Some(h1));
        assert_eq!(ChainHash::from_hex("00"), None);
        assert_eq!(ChainHash::from_hex(&"g".repeat(64)), None);
        let json = serde_json::to_string(&h1).unwrap();
        assert_eq!(json, format!("\"{}\"", h1.to_hex()));
        assert_eq!(serde_json::from_str::<ChainHash>(&json).unwrap(), h1);
    }
}
