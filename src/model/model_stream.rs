//! The model stream: how a model (one file or a directory) travels over HTTP as one body, for
//! reveals and downloads.
//!
//! ```text
//! embargo-model-stream/v1\n
//! <file count>\n
//! <size> <path>\n          one line per file, sorted by path bytes (the manifest's order)
//! \n
//! <bytes of file 1><bytes of file 2>...
//! ```
//!
//! Paths follow the manifest rules of [`crate::model::digest`]. The header is bounded
//! ([`MAX_HEADER_BYTES`], [`MAX_FILES`]); the body is exactly the declared sizes. This module
//! parses and writes streams; it never decides whether a stream is acceptable for a commitment.

use crate::model::digest::{DigestError, Manifest, StreamingDigest};
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

pub const MAGIC: &str = "embargo-model-stream/v1";
/// The header may be at most 16 MiB.
pub const MAX_HEADER_BYTES: usize = 16 << 20;
/// A model may have at most 1,000,000 files.
pub const MAX_FILES: usize = 1_000_000;
/// A model may total at most 4 TiB (larger than any open-weights release so far): commitments
/// to more are refused at admission, and a stream is checked against its commitment's size.
pub const MAX_MODEL_SIZE: u64 = 4 << 40;
/// The media type of a model stream.
pub const CONTENT_TYPE: &str = "application/vnd.embargo.model-stream";

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("not a model stream: {0}")]
    Malformed(String),
    #[error("the stream ended after {received} of {expected} bytes")]
    Truncated { received: u64, expected: u64 },
    #[error("the stream carries more bytes than its header declares")]
    TrailingBytes,
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("reading the stream failed: {0}")]
    Io(#[from] io::Error),
}

/// The stream's header: its files, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub files: Vec<(String, u64)>,
}

impl Header {
    pub fn from_manifest(m: &Manifest) -> Header {
        Header {
            files: m.files().iter().map(|f| (f.path.clone(), f.size)).collect(),
        }
    }

    /// The sum of the declared sizes (saturating: a header whose sizes overflow declares more
    /// than any model can be).
    pub fn total_size(&self) -> u64 {
        self.files
            .iter()
            .fold(0u64, |total, (_, s)| total.saturating_add(*s))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("{MAGIC}\n{}\n", self.files.len()).into_bytes();
        for (path, size) in &self.files {
            out.extend_from_slice(format!("{size} {path}\n").as_bytes());
        }
        out.push(b'\n');
        out
    }

    /// Reads a header, refusing anything malformed, unsorted or over the limits.
    pub fn read_from(r: &mut impl BufRead) -> Result<Header, StreamError> {
        let mut budget = MAX_HEADER_BYTES;
        let mut line = |what: &str| -> Result<String, StreamError> {
            let mut buf = Vec::new();
            let n = r.take(budget as u64 + 1).read_until(b'\n', &mut buf)?;
            if n > budget {
                return Err(StreamError::Malformed(format!(
                    "the header is over {MAX_HEADER_BYTES} bytes"
                )));
            }
            budget -= n;
            if buf.pop() != Some(b'\n') {
                return Err(StreamError::Malformed(format!(
                    "the header ends before {what}"
                )));
            }
            String::from_utf8(buf)
                .map_err(|_| StreamError::Malformed(format!("{what} is not UTF-8")))
        };
        if line("the magic line")? != MAGIC {
            return Err(StreamError::Malformed(format!(
                "it must start with {MAGIC:?}"
            )));
        }
        let count: usize = line("the file count")?
            .parse()
            .map_err(|_| StreamError::Malformed("the file count is not a number".into()))?;
        if count == 0 || count > MAX_FILES {
            return Err(StreamError::Malformed(format!(
                "a model has 1 to {MAX_FILES} files, the header says {count}"
            )));
        }
        let mut files: Vec<(String, u64)> = Vec::with_capacity(count.min(4096));
        for i in 0..count {
            let l = line("a file line")?;
            let (size, path) = l.split_once(' ').ok_or_else(|| {
                StreamError::Malformed(format!("file line {} is not `<size> <path>`", i + 1))
            })?;
            let size: u64 = size.parse().map_err(|_| {
                StreamError::Malformed(format!("file line {} has a bad size", i + 1))
            })?;
            if let Some((prev, _)) = files.last() {
                if prev.as_bytes() >= path.as_bytes() {
                    return Err(StreamError::Malformed(format!(
                        "files must be sorted by path bytes without duplicates ({prev:?} before {path:?})"
                    )));
                }
            }
            files.push((path.to_owned(), size));
        }
        if !line("the blank line")?.is_empty() {
            return Err(StreamError::Malformed(
                "the file list must end with a blank line".into(),
            ));
        }
        Ok(Header { files })
    }
}

/// Reads a whole stream's body after its header: hashes it, and passes every file's bytes to
/// `sink(path, bytes)` (`bytes` empty once at the end of each file). Checks the body is exactly
/// as long as the header says. Returns the manifest of what was received.
pub fn read_body(
    header: &Header,
    r: &mut impl Read,
    mut sink: impl FnMut(&str, &[u8]) -> io::Result<()>,
) -> Result<Manifest, StreamError> {
    let mut digest = StreamingDigest::new();
    let mut buf = vec![0u8; 1 << 20];
    let expected = header.total_size();
    let mut received = 0u64;
    for (path, size) in &header.files {
        digest.begin_file(path, *size)?;
        let mut left = *size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = r.read(&mut buf[..want])?;
            if n == 0 {
                return Err(StreamError::Truncated { received, expected });
            }
            digest.update(&buf[..n])?;
            sink(path, &buf[..n])?;
            left -= n as u64;
            received += n as u64;
        }
        sink(path, &[])?;
    }
    if r.read(&mut buf[..1])? != 0 {
        return Err(StreamError::TrailingBytes);
    }
    Ok(digest.finish()?)
}

/// The files of a model on disk, in stream order, with where to read them.
pub fn sources(model: &Path, manifest: &Manifest) -> Vec<PathBuf> {
    if model.is_file() {
        vec![model.to_owned()]
    } else {
        manifest
            .files()
            .iter()
            .map(|f| model.join(&f.path))
            .collect()
    }
}

/// Writes the stream of a model on disk (whose manifest was just computed) to `out`.
pub fn write_stream(model: &Path, manifest: &Manifest, out: &mut impl Write) -> io::Result<()> {
    out.write_all(&Header::from_manifest(manifest).encode())?;
    for (src, entry) in sources(model, manifest).iter().zip(manifest.files()) {
        let mut f = std::fs::File::open(src)?;
        let copied = io::copy(&mut (&mut f).take(entry.size), out)?;
        if copied != entry.size {
            return Err(io::Error::other(format!(
                "{} changed while it was being sent (now {copied} bytes, digest covered {})",
                src.display(),
                entry.size
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_stream_reads_back_to_the_same_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("config.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("sub/weights.bin"), vec![7u8; 3 << 20]).unwrap();
        let manifest = crate::model::digest::digest_path(dir.path(), None).unwrap();
        let mut stream = Vec::new();
        write_stream(dir.path(), &manifest, &mut stream).unwrap();
        let mut r = io::Cursor::new(stream);
        let header = Header::read_from(&mut r).unwrap();
        assert_eq!(header.files.len(), 2);
        let mut bytes = 0usize;
        let got = read_body(&header, &mut r, |_, b| {
            bytes += b.len();
            Ok(())
        })
        .unwrap();
        assert_eq!(got.digest(), manifest.digest());
        assert_eq!(bytes as u64, manifest.total_size());
    }

    #[test]
    fn truncated_and_padded_bodies_are_refused() {
        let header = Header {
            files: vec![("a".into(), 4)],
        };
        let mut short = io::Cursor::new(b"abc".to_vec());
        assert!(matches!(
            read_body(&header, &mut short, |_, _| Ok(())),
            Err(StreamError::Truncated {
                received: 3,
                expected: 4
            })
        ));
        let mut long = io::Cursor::new(b"abcde".to_vec());
        assert!(matches!(
            read_body(&header, &mut long, |_, _| Ok(())),
            Err(StreamError::TrailingBytes)
        ));
    }

    #[test]
    fn unsorted_or_oversized_headers_are_refused() {
        let bad = format!("{MAGIC}\n2\n1 b\n1 a\n\n");
        assert!(Header::read_from(&mut io::Cursor::new(bad)).is_err());
        let bad = format!("{MAGIC}\n0\n\n");
        assert!(Header::read_from(&mut io::Cursor::new(bad)).is_err());
        assert!(Header::read_from(&mut io::Cursor::new("nope\n")).is_err());
    }
}
