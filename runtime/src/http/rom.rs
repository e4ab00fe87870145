//! The web ROM: what `emberstack-codegen` generates from the `[http]`
//! web root, as static data the server reads and never copies.
//!
//! Every file is a [`File`] with its URL path. A file without dynamic tags
//! is [`Body::Static`]: its 200 response head (status line, content type,
//! length, strong ETag, cache policy) is precomputed, and a gzip twin with
//! its own head and ETag sits beside it when compression made it smaller.
//! A file with tags is [`Body::Dynamic`]: the build split it into its
//! static text and its tags' places ([`TagSlot`]) so nothing is scanned at
//! run time. Response heads and static bodies carry their checksum
//! ([`Summed`], taken by a `const fn` at build time), so a response does not
//! sum them again; a dynamic page's text pieces are short and are summed as
//! they go (a sum each would cost 4 bytes of flash per piece).

pub use crate::wire::Summed;

/// How a tag's output is escaped, chosen by the page (the file's type,
/// or an explicit `{{name|raw}}`-style filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// HTML text and attribute values: `& < > " '` become entities.
    Html,
    /// Inside a JSON or JavaScript string: `" \` and control characters
    /// are escaped, and `< > &` become `\u003c`-style escapes (safe in an
    /// inline `<script>`).
    Json,
    /// Nothing is escaped (`{{name|raw}}`).
    Raw,
}

/// A dynamic tag's number (its handler's place in the generated list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TagId(pub u16);

/// A form's number (its input handler's place in the generated list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FormId(pub u8);

/// A tag's place in a dynamic file: where its output goes in the file's
/// text, which tag, and how its output is escaped — in 4 bytes (a page's
/// text pieces are the text between these places, so a page is its text
/// and a list of these instead of a list of pieces: 8 bytes of flash per
/// piece were most of a page's flash after its text).
///
/// The place is a 16-bit offset (codegen refuses a page with tags whose
/// text is longer than 65,535 bytes) and the tag a 14-bit number (it
/// refuses a site with more than 16,384 tags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagSlot {
    at: u16,
    /// The tag's number in the low 14 bits, its [`Escape`] in the top two.
    tag: u16,
}

impl TagSlot {
    /// Tag `tag` (below 16,384; higher bits are dropped) escaped as
    /// `escape`, at `at` bytes into the file's text.
    pub const fn new(at: u16, tag: TagId, escape: Escape) -> Self {
        let e: u16 = match escape {
            Escape::Html => 0,
            Escape::Json => 1,
            Escape::Raw => 2,
        };
        TagSlot {
            at,
            tag: (tag.0 & 0x3fff) | e << 14,
        }
    }

    /// Where the tag's output goes: an offset in the file's text.
    pub fn at(self) -> usize {
        usize::from(self.at)
    }

    /// The tag.
    pub fn tag(self) -> TagId {
        TagId(self.tag & 0x3fff)
    }

    /// How its output is escaped.
    pub fn escape(self) -> Escape {
        // A table for the two bits (a load rather than compares: it runs
        // for every tag of every dynamic response).
        const BY_BITS: [Escape; 4] = [Escape::Html, Escape::Json, Escape::Raw, Escape::Raw];
        BY_BITS
            .get(usize::from(self.tag >> 14))
            .copied()
            .unwrap_or(Escape::Raw)
    }
}

/// One representation of a static file: its 200 response head (every
/// header line, each ending in CRLF, without the `Connection` line and the
/// blank line that ends the head) and its body. The head ends with its
/// validator lines: `ETag: "…"` (its strong ETag, with the quotes),
/// `Cache-Control: no-cache` and, when the file has a gzip twin, `Vary:
/// Accept-Encoding` (codegen writes every head so); the ETag is read
/// from there, so it is stored once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Representation {
    /// `HTTP/1.1 200 OK\r\nContent-Type: …\r\nContent-Length: …\r\n…`.
    pub head: Summed,
    /// The bytes.
    pub body: Summed,
}

impl Representation {
    /// Where its head's `ETag` line starts: `ETag: ` and the strong ETag
    /// codegen writes, 16 hex digits in quotes, are the line before
    /// `Cache-Control: no-cache` and, when the file has a gzip twin
    /// (`twin`), `Vary: Accept-Encoding`, the lines that end every head
    /// (`None` for a head too short to hold them).
    pub(crate) fn etag_at(&self, twin: bool) -> Option<usize> {
        const FROM_END: usize = b"ETag: \"0123456789abcdef\"\r\nCache-Control: no-cache\r\n".len();
        const VARY: usize = b"Vary: Accept-Encoding\r\n".len();
        // Lengths of lines: no wrap.
        self.head
            .bytes
            .len()
            .checked_sub(FROM_END.wrapping_add(if twin { VARY } else { 0 }))
    }

    /// Its strong ETag, with the quotes (`twin` as for
    /// [`etag_at`](Self::etag_at)).
    pub(crate) fn etag(&self, twin: bool) -> Option<&'static [u8]> {
        // Offsets inside the head: no wrap.
        let at = self.etag_at(twin)?.wrapping_add(b"ETag: ".len());
        self.head.bytes.get(at..at.wrapping_add(ETAG_LEN))
    }
}

/// Bytes of a strong ETag codegen writes: 16 hex digits in quotes.
const ETAG_LEN: usize = b"\"0123456789abcdef\"".len();

/// What a file's body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// A file without tags.
    Static {
        /// As stored.
        plain: Representation,
        /// Compressed with gzip at build time, when that was smaller. (By
        /// reference: most files have no twin, and a twin kept in every
        /// `File` made each 28 bytes larger.)
        gzip: Option<&'static Representation>,
    },
    /// A file with tags.
    Dynamic {
        /// The head lines (status, content type, `Cache-Control: no-store`);
        /// the server adds the framing (`Content-Length` or
        /// `Transfer-Encoding: chunked`).
        head: Summed,
        /// The file's static text, every piece between its tags in order.
        text: &'static [u8],
        /// Its tags in page order (their places never decrease).
        tags: &'static [TagSlot],
    },
}

/// One file of the web root.
///
/// Its URL path is a place in the site's [`Site::paths`] ([`Site::path`]
/// reads it) and its form a byte: 4 bytes where a `&str` and an
/// `Option<FormId>` took 10 made a `File` 36 bytes instead of 44.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File {
    /// Where its URL path starts in [`Site::paths`]: `/` plus the path
    /// under the web root (`/index.html`; `/` for the index file, which
    /// appears under both names).
    pub path_at: u16,
    /// The path's length in bytes (codegen refuses a longer one).
    pub path_len: u8,
    /// The number of the form whose handler takes this path's query
    /// string and POST body, or [`NO_FORM`](Self::NO_FORM) (then POST is
    /// answered with 405): [`form`](Self::form) reads it.
    pub form: u8,
    /// The content.
    pub body: Body,
}

impl File {
    /// [`File::form`] of a file without a form.
    pub const NO_FORM: u8 = u8::MAX;

    /// The form taking this path's input, if any.
    pub fn form(&self) -> Option<FormId> {
        (self.form != Self::NO_FORM).then_some(FormId(self.form))
    }
}

/// The whole web root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Site {
    /// Every file, sorted by path (byte order) for binary search.
    pub files: &'static [File],
    /// The files' URL paths ([`File::path_at`]), in one string.
    pub paths: &'static str,
    /// Tag names in [`TagId`] order, separated by spaces (for logs:
    /// [`tag_name`](Self::tag_name)). One string rather than a table of
    /// slices: 8 bytes of flash fewer per tag.
    pub tags: &'static str,
    /// Form names in [`FormId`] order, separated by spaces (for logs:
    /// [`form_name`](Self::form_name)).
    pub forms: &'static str,
}

impl Site {
    /// The file at `path` (exact match). (Its index in `files`, which a
    /// response keeps, is found from its address.)
    pub fn find(&self, path: &[u8]) -> Option<&'static File> {
        // Binary search (`files` is sorted by path).
        let (mut lo, mut hi) = (0usize, self.files.len());
        while lo < hi {
            // Bounded: `lo < hi <= files.len()`.
            let mid = lo.wrapping_add(hi.wrapping_sub(lo) / 2);
            let f = self.files.get(mid)?;
            match self.path_bytes(f).cmp(path) {
                core::cmp::Ordering::Less => lo = mid.wrapping_add(1),
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Some(f),
            }
        }
        None
    }

    /// The URL path of `file`, one of [`files`](Self::files) (empty for a
    /// place outside [`paths`](Self::paths)).
    pub fn path(&self, file: &File) -> &'static str {
        self.paths.get(Self::path_range(file)).unwrap_or("")
    }

    /// [`path`](Self::path) as bytes.
    fn path_bytes(&self, file: &File) -> &'static [u8] {
        self.paths
            .as_bytes()
            .get(Self::path_range(file))
            .unwrap_or(&[])
    }

    /// Where `file`'s path lies in [`paths`](Self::paths).
    fn path_range(file: &File) -> core::ops::Range<usize> {
        let at = usize::from(file.path_at);
        // Two `u16`s: no wrap in a `usize`.
        at..at.wrapping_add(usize::from(file.path_len))
    }

    /// The index in `files` of `file`, one of them (as [`find`](Self::find)
    /// gave it). (A file's place from its address: the request keeps the
    /// file itself, which its header lines and answer read, and only a
    /// response needs the index.)
    pub(crate) fn index_of(&self, file: &File) -> u16 {
        // Bounded: `file` lies in `files`, so the difference is a multiple
        // of the size (nonzero) below `files.len() * size`; the files'
        // count fits a `u16` (each path takes at least one of the 65,535
        // bytes codegen allows for the site's `paths`).
        let at = (file as *const File as usize).wrapping_sub(self.files.as_ptr() as usize);
        at.checked_div(core::mem::size_of::<File>()).unwrap_or(0) as u16
    }

    /// The file with index `i`.
    pub fn file(&self, i: u16) -> Option<&'static File> {
        self.files.get(usize::from(i))
    }

    /// The name of tag `tag` (its handler's).
    pub fn tag_name(&self, tag: TagId) -> Option<&'static str> {
        self.tags
            .split(' ')
            .nth(usize::from(tag.0))
            .filter(|n| !n.is_empty())
    }

    /// The name of form `form` (its handler's).
    pub fn form_name(&self, form: FormId) -> Option<&'static str> {
        self.forms
            .split(' ')
            .nth(usize::from(form.0))
            .filter(|n| !n.is_empty())
    }
}

/// Server settings from `[http]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// The TCP port.
    pub port: u16,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout_ms: u32,
    /// A request's head and body must arrive within this time from its
    /// first byte (else 408); a closing connection whose peer does not
    /// finish within it is reset. (A response that makes no progress for
    /// `idle_timeout_ms` — nothing acknowledged, nothing resent — is reset
    /// too.)
    pub request_timeout_ms: u32,
    /// Longest request line (method, target, version); longer: 414.
    pub max_request_line: u16,
    /// Most bytes of header lines in a request; more: 431.
    pub max_header_bytes: u16,
    /// Largest request body (`Content-Length`); larger: 413.
    pub max_body: u32,
    /// Send gzip twins to clients that accept gzip.
    pub gzip: bool,
    /// The device's name (`[device] name`) in lowercase (codegen writes
    /// it so; the `Host` value is compared with it folded to lowercase, so
    /// a name with an uppercase letter is never matched): besides an IPv4
    /// literal, the `Host` header may name the device as `NAME` or
    /// `NAME.local` (any case, with or without a port); any other host is
    /// refused with 403, so a page on another site that rebinds its DNS
    /// name to the device cannot use it. Empty: only IPv4 literals.
    pub host_name: &'static str,
}

impl HttpSettings {
    /// The defaults documented for `[http]`.
    pub const DEFAULT: HttpSettings = HttpSettings {
        port: 80,
        idle_timeout_ms: 10_000,
        request_timeout_ms: 10_000,
        max_request_line: 1024,
        max_header_bytes: 4096,
        max_body: 1 << 20,
        gzip: true,
        host_name: "",
    };
}
