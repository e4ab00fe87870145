//! Compress: a static file's representations — the bytes as stored and,
//! when it pays, a gzip twin — each with its ETag and precomputed head.

use std::io::Write as _;

use super::{Rep, RomBody};

/// FNV-1a 64: a stable content hash for ETags.
fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `data` gzip-compressed, reproducibly.
fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    // No file name, mtime 0: the same input gives the same bytes.
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(data).ok()?;
    enc.finish().ok()
}

/// The precomputed 200 head of one representation.
/// (`etag` empty: no `ETag` line.)
fn static_head(content_type: &str, len: usize, etag: &str, gzip: bool, vary: bool) -> String {
    let mut h =
        format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n");
    if gzip {
        h.push_str("Content-Encoding: gzip\r\n");
    }
    if !etag.is_empty() {
        h.push_str(&format!("ETag: {etag}\r\n"));
    }
    h.push_str("Cache-Control: no-cache\r\n");
    if vary {
        h.push_str("Vary: Accept-Encoding\r\n");
    }
    h
}

/// The ROM body of a static file: `bytes` with its ETag and head, and a
/// gzip twin when `compress` is on and it saves at least 1/16 (both then
/// say `Vary: Accept-Encoding`). Without `etags` (`[http] etag = false`)
/// the ETags are empty and the heads have none.
pub(super) fn static_body(
    bytes: Vec<u8>,
    content_type: &str,
    compress: bool,
    etags: bool,
) -> RomBody {
    let tag = |b: &[u8]| {
        if etags {
            format!("\"{:016x}\"", fnv64(b))
        } else {
            String::new()
        }
    };
    let etag = tag(&bytes);
    let gz = compress
        .then(|| gzip(&bytes))
        .flatten()
        .filter(|g| g.len() < bytes.len() - bytes.len() / 16);
    let gzip_rep = gz.map(|g| {
        let etag = tag(&g);
        Rep {
            head: static_head(content_type, g.len(), &etag, true, true),
            body: g,
            etag,
        }
    });
    RomBody::Static {
        plain: Rep {
            head: static_head(content_type, bytes.len(), &etag, false, gzip_rep.is_some()),
            body: bytes,
            etag,
        },
        gzip: gzip_rep,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// The runtime's 304 repeats a head's last lines (`response.rs`,
    /// `validators`): `ETag`, `Cache-Control` and, with a twin, `Vary`
    /// must end every static head, in that order.
    #[test]
    fn validator_lines_end_every_head() {
        let text = b"body { color: red }\n".repeat(40);
        let RomBody::Static { plain, gzip } = static_body(text, "text/css", true, true) else {
            panic!("a static body")
        };
        let twin = gzip.expect("repeated text compresses");
        for r in [&plain, &twin] {
            let tail = format!(
                "ETag: {}\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n",
                r.etag
            );
            assert!(r.head.ends_with(&tail), "{}", r.head);
        }
        let RomBody::Static { plain, gzip: None } =
            static_body(b"x".to_vec(), "text/plain", true, true)
        else {
            panic!("one byte has no twin")
        };
        let tail = format!("ETag: {}\r\nCache-Control: no-cache\r\n", plain.etag);
        assert!(plain.head.ends_with(&tail), "{}", plain.head);
    }
}
