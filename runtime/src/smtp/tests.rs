//! The SMTP client driven directly (no stack): whole sessions, encoders,
//! refusals and malformed replies.

use super::mime::{put_date, put_subject, LAST_DATE};
use super::*;
use crate::mail::ReplyText;
use crate::wire::Ipv4Address;
use base64::Engine as _;
use proptest::prelude::*;

struct Auth;
impl SmtpSettings for Auth {
    const SERVER: Option<MailServer> = Some(MailServer::Addr(Ipv4Address([10, 0, 0, 1])));
    const PORT: u16 = 25;
    const USE_MX: bool = false;
    const USER: Option<&'static str> = Some("alice");
    const PASSWORD: Option<&'static str> = Some("secret");
    const HELO: Option<&'static str> = None;
    const TIMEOUT: Duration = Duration::from_secs(10);
    const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
    const AUTH_BY_NAME: bool = false;
    type Snapshots = [Snapshot; 3];
}

#[derive(Clone)]
struct Msg {
    to: Vec<&'static str>,
    subject: &'static str,
    text: Vec<u8>,
    attachment: Option<Vec<u8>>,
    reads: usize,
}

impl Msg {
    fn new(text: &[u8], attachment: Option<Vec<u8>>) -> Msg {
        Msg {
            to: vec!["bob@example.com"],
            subject: "status",
            text: text.to_vec(),
            attachment,
            reads: 0,
        }
    }
}

impl Outgoing for Msg {
    fn from(&self) -> &str {
        "dev@example.com"
    }
    fn to(&self, i: usize) -> Option<&str> {
        self.to.get(i).copied()
    }
    fn subject(&self) -> &str {
        self.subject
    }
    fn attachment(&self) -> Option<Attachment<'_>> {
        self.attachment.as_ref().map(|_| Attachment {
            file_name: "data.bin",
            content_type: "application/octet-stream",
        })
    }
    fn read(&mut self, part: Part, at: u32, buf: &mut [u8]) -> usize {
        self.reads += 1;
        let src: &[u8] = match part {
            Part::Text => &self.text,
            Part::Attachment => self.attachment.as_deref().unwrap_or(&[]),
        };
        let rest = src.get(at as usize..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        n
    }
}

struct VecSink(Vec<u8>);
impl PayloadSink for VecSink {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn write_from_rx(&mut self, _: usize, _: usize) {
        panic!("stream bytes never come from a received frame")
    }
}

const SOCK: TcpHandle = TcpHandle(0);

/// The client driven directly: what TCP would pull, and server lines.
struct Dut {
    c: SmtpClient<Auth>,
    msg: Msg,
    /// Stream offset produced (and acknowledged) so far.
    offset: u32,
}

impl Dut {
    fn new(msg: Msg) -> Dut {
        let mut c = SmtpClient::<Auth>::new();
        c.send(&msg, Some(0), 0x1234_5678_9abc_def0).unwrap();
        c.link.phase = Phase::Connecting;
        c.link.set_socket(Some(SOCK));
        c.link.local = Ipv4Address([10, 0, 0, 2]);
        c.tcp_event(
            SOCK,
            TcpEvent::Connected {
                remote: Endpoint::new(Ipv4Address([10, 0, 0, 1]), 25),
            },
        );
        Dut { c, msg, offset: 0 }
    }

    fn produce(&mut self, offset: u32, max: usize) -> Vec<u8> {
        let mut s = VecSink(Vec::new());
        self.c.tcp_produce(SOCK, offset, max, &mut s, &mut self.msg);
        assert!(s.0.len() <= max);
        s.0
    }

    /// Everything the client has to send now, in `seg`-byte segments,
    /// then acknowledged.
    fn pull(&mut self, seg: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = self.produce(self.offset, seg);
            if b.is_empty() {
                break;
            }
            self.offset += b.len() as u32;
            out.extend_from_slice(&b);
            self.c.tcp_event(
                SOCK,
                TcpEvent::Acked {
                    offset: self.offset,
                },
            );
        }
        out
    }

    fn reply(&mut self, text: &str) {
        let msg = self.msg.clone();
        self.c.on_bytes(text.as_bytes(), &msg);
    }
}

/// Runs the whole dialogue; returns the DATA content (up to `.`).
fn session(msg: Msg, seg: usize) -> (Dut, Vec<String>, Vec<u8>) {
    let mut d = Dut::new(msg);
    let mut commands = Vec::new();
    d.reply("220 mail.example.com ESMTP\r\n");
    let mut cmd = |d: &mut Dut, reply: &str| {
        let c = String::from_utf8(d.pull(seg)).unwrap();
        commands.push(c);
        d.reply(reply);
    };
    cmd(
        &mut d,
        "250-mail.example.com\r\n250-8BITMIME\r\n250-AUTH CRAM-MD5 LOGIN\r\n250 HELP\r\n",
    );
    cmd(&mut d, "334 VXNlciBOYW1lAA==\r\n");
    cmd(&mut d, "334 UGFzc3dvcmQA\r\n");
    cmd(&mut d, "235 2.7.0 Authentication successful\r\n");
    for _ in 0..d.msg.to.len() {
        cmd(&mut d, "250 OK\r\n");
    }
    cmd(&mut d, "250 OK\r\n");
    cmd(&mut d, "354 End data with <CR><LF>.<CR><LF>\r\n");
    let data = d.pull(seg);
    d.reply("250 OK queued\r\n");
    let quit = String::from_utf8(d.pull(seg)).unwrap();
    commands.push(quit);
    d.reply("221 Bye\r\n");
    (d, commands, data)
}

/// The MIME parts of a message: (headers, body) after the preamble.
fn parts(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = data;
    let boundary = b"--=_ember_123456789abcdef0";
    let mut out = Vec::new();
    let mut pieces: Vec<&[u8]> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.windows(boundary.len()).position(|w| w == boundary) {
        pieces.push(&rest[..i]);
        rest = &rest[i + boundary.len()..];
    }
    assert!(rest.starts_with(b"--\r\n.\r\n"), "closing boundary");
    for p in &pieces[1..] {
        let p = p.strip_prefix(b"\r\n").expect("CRLF after boundary");
        let p = p.strip_suffix(b"\r\n").expect("CRLF before boundary");
        let split = p.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        out.push((
            String::from_utf8(p[..split].to_vec()).unwrap(),
            p[split + 4..].to_vec(),
        ));
    }
    out
}

fn unstuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        out.extend_from_slice(line);
    }
    out
}

#[test]
fn steps_are_numbered_as_the_session_core_keeps_them() {
    // SMTP's steps are the shared numbering's first, Resolve to Quit;
    // POP3's follow `Quit` (SMTP's reply table is indexed by step).
    for (i, &step) in MailStep::ALL.iter().enumerate() {
        assert_eq!(step as usize, i);
    }
    assert_eq!(MailStep::ALL.len(), MailStep::Dele as usize + 1);
    assert_eq!(MailStep::User as usize, MailStep::Quit as usize + 1);
}

#[test]
fn whole_session_with_auth_and_attachment() {
    let att: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    let (d, commands, data) = session(Msg::new(b"hello\n.dot\nbye", Some(att.clone())), 1460);
    assert_eq!(
        commands,
        [
            "EHLO [10.0.0.2]\r\n",
            "AUTH LOGIN\r\n",
            "YWxpY2U=\r\n",
            "c2VjcmV0\r\n",
            "MAIL FROM:<dev@example.com> BODY=8BITMIME\r\n",
            "RCPT TO:<bob@example.com>\r\n",
            "DATA\r\n",
            "QUIT\r\n",
        ]
    );
    assert_eq!(d.c.outcome(), Some(Ok(())));
    assert_eq!(d.c.link.phase, Phase::Closing);
    let head = String::from_utf8_lossy(&data[..400]).into_owned();
    assert!(head.starts_with(
        "From: dev@example.com\r\nTo: bob@example.com\r\nSubject: status\r\n\
         Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n\
         Message-ID: <123456789abcdef0.ember@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=_ember_123456789abcdef0\"\r\n\r\n"
    ));
    let p = parts(&data);
    assert_eq!(p.len(), 2);
    assert!(p[0].0.contains("text/plain"));
    assert_eq!(p[0].1, b"hello\r\n..dot\r\nbye");
    assert!(p[1].0.contains("filename=\"data.bin\""));
    for line in p[1].1.split(|&b| b == b'\n') {
        assert!(line.len() <= 77, "76 columns and CR");
    }
    let b64: Vec<u8> = p[1]
        .1
        .iter()
        .copied()
        .filter(|b| !b"\r\n".contains(b))
        .collect();
    let mut dec = vec![0u8; b64.len()];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(&b64, &mut dec)
        .unwrap();
    assert_eq!(&dec[..n], &att[..]);
}

/// The whole message, byte for byte: the header templates give the text
/// the generator always wrote (and the trailer's length is right, or the
/// reply to it would be early).
#[test]
fn whole_message_bytes() {
    let mut msg = Msg::new(b"hi", Some(vec![0, 1, 2]));
    msg.to.push("carol@example.org");
    let (d, _, data) = session(msg, 7);
    assert_eq!(d.c.outcome(), Some(Ok(())));
    assert_eq!(
        String::from_utf8(data).unwrap(),
        "From: dev@example.com\r\nTo: bob@example.com,\r\n carol@example.org\r\n\
         Subject: status\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n\
         Message-ID: <123456789abcdef0.ember@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=_ember_123456789abcdef0\"\r\n\r\n\
         This is a multi-part message in MIME format.\r\n\
         --=_ember_123456789abcdef0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n\
         hi\r\n\
         --=_ember_123456789abcdef0\r\n\
         Content-Type: application/octet-stream; name=\"data.bin\"\r\n\
         Content-Disposition: attachment; filename=\"data.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n\
         AAEC\r\n\
         --=_ember_123456789abcdef0--\r\n.\r\n"
    );
}

/// A long text goes out in whole segments, each of its bytes encoded
/// once when nothing is retransmitted. (A wrapping `behind` in
/// `produce_text` once made every call write 128 bytes of text and
/// encode the whole rest of it again, counted as regenerated: the same
/// bytes, in short segments, at O(text) per segment.)
#[test]
fn long_text_goes_in_whole_segments_encoded_once() {
    let text: Vec<u8> = (0..3000u32)
        .map(|i| {
            if i % 70 == 69 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    let mut msg = Msg::new(&text, None);
    let mut c = SmtpClient::<Auth>::new();
    c.send(&msg, Some(0), 0x1234_5678_9abc_def0).unwrap();
    c.link.phase = Phase::Open;
    c.link.step = MailStep::Message;
    c.begin_message(&msg);
    let mut out = VecSink(Vec::new());
    let mut sizes = Vec::new();
    loop {
        let before = out.0.len();
        c.produce_message(before as u32, 1460, &mut out, &mut msg);
        let n = out.0.len() - before;
        if n == 0 {
            break;
        }
        sizes.push(n);
    }
    assert!(sizes.len() > 2, "{sizes:?}");
    assert!(
        sizes[..sizes.len() - 1].iter().all(|&n| n == 1460),
        "{sizes:?}"
    );
    assert_eq!(c.stats().regenerated, 0);
    // The bytes of a whole session's message.
    let (_, _, data) = session(Msg::new(&text, None), 1460);
    assert_eq!(out.0, data);
}

#[test]
fn several_recipients_and_no_attachment() {
    let mut m = Msg::new(b"x", None);
    m.to = vec!["a@x.org", "b@y.org", "c@z.org"];
    let (d, commands, data) = session(m, 7);
    assert!(commands.contains(&"RCPT TO:<b@y.org>\r\n".to_string()));
    assert_eq!(d.c.outcome(), Some(Ok(())));
    let s = String::from_utf8(data.clone()).unwrap();
    assert!(s.contains("To: a@x.org,\r\n b@y.org,\r\n c@z.org\r\n"));
    let p = parts(&data);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].1, b"x");
}

#[test]
fn text_encoding_stuffs_dots_normalises_line_ends_and_breaks_long_lines() {
    let mut text = b".a\r\nb\n..c\r\rd\n.\n".to_vec();
    text.extend(std::iter::repeat_n(b'x', 2000));
    let (_, _, data) = session(Msg::new(&text, None), 100);
    let body = &parts(&data)[0].1;
    let expect_start = b"..a\r\nb\r\n...cd\r\n..\r\n";
    assert_eq!(&body[..expect_start.len()], expect_start);
    for line in body.split(|&b| b == b'\n') {
        assert!(line.len() <= 999, "998 + CR");
    }
    let xs: usize = body.iter().filter(|&&b| b == b'x').count();
    assert_eq!(xs, 2000);
    // No line of the whole DATA is a lone dot before the end.
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let dots = lines.iter().filter(|l| **l == b".\r").count();
    assert_eq!(dots, 1);
    assert_eq!(unstuff(&body[..5]), b".a\r\n");
}

#[test]
fn ehlo_refused_falls_back_to_helo_which_cannot_authenticate() {
    let mut d = Dut::new(Msg::new(b"t", None));
    d.reply("220 old server\r\n");
    assert_eq!(d.pull(1460), b"EHLO [10.0.0.2]\r\n");
    d.reply("502 5.5.2 Error: command not recognized\r\n");
    assert_eq!(d.pull(1460), b"HELO [10.0.0.2]\r\n");
    d.reply("250 hi\r\n");
    // Credentials are set and HELO has no AUTH: never unauthenticated.
    assert_eq!(
        d.c.outcome(),
        Some(Err(MailError::new(
            MailFault::NoAuthMechanism,
            MailStep::Helo
        )))
    );
    assert_eq!(d.pull(1460), b"QUIT\r\n");
}

#[test]
fn auth_plain_is_one_command_with_the_initial_response() {
    let mut d = Dut::new(Msg::new(b"t", None));
    d.reply("220 x\r\n");
    d.pull(1460);
    // PLAIN is preferred when both are offered (one round trip).
    d.reply("250-x\r\n250 AUTH LOGIN PLAIN\r\n");
    let cmd = String::from_utf8(d.pull(1460)).unwrap();
    let b64 = cmd
        .strip_prefix("AUTH PLAIN ")
        .and_then(|c| c.strip_suffix("\r\n"))
        .unwrap();
    let mut raw = vec![0u8; b64.len()];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(b64, &mut raw)
        .unwrap();
    assert_eq!(
        &raw[..n],
        b"\0alice\0secret",
        "RFC 4616: authzid NUL authcid NUL passwd"
    );
    d.reply("235 2.7.0 Authentication successful\r\n");
    assert_eq!(d.pull(1460), b"MAIL FROM:<dev@example.com>\r\n");
}

#[test]
fn auth_plain_in_the_old_auth_equals_form() {
    let mut d = Dut::new(Msg::new(b"t", None));
    d.reply("220 x\r\n");
    d.pull(1460);
    d.reply("250-x\r\n250 AUTH=PLAIN\r\n");
    assert!(d.pull(1460).starts_with(b"AUTH PLAIN "));
    d.reply("535 5.7.8 no\r\n");
    assert_eq!(d.c.outcome().unwrap().unwrap_err().code(), Some(535));
    assert_eq!(d.pull(1460), b"QUIT\r\n");
}

/// The EHLO keywords from a whole reply: packed tokens of up to 8
/// bytes, any case, `AUTH=` read as an `AUTH` line.
#[test]
fn ehlo_keywords_are_whole_tokens() {
    let caps = |reply: &str| {
        let mut p = ReplyParser::default();
        let mut got = None;
        for b in reply.bytes() {
            if let Some(r) = p.push(b) {
                got = Some(r);
            }
        }
        assert_eq!(got, Some(Ok(250)), "{reply:?}");
        p.caps
    };
    assert_eq!(caps("250-x\r\n250-8BITMIME\r\n250 AUTH LOGIN PLAIN\r\n"), 7);
    assert_eq!(caps("250-x\r\n250-8bitmime\r\n250 auth plain\r\n"), 6);
    assert_eq!(caps("250-x\r\n250 AUTH=LOGIN\r\n"), cap::LOGIN);
    assert_eq!(caps("250-x\r\n250 AUTH=PLAIN\r\n"), cap::PLAIN);
    // The old form with a list (as Python's smtplib reads it).
    assert_eq!(
        caps("250-x\r\n250 AUTH=LOGIN PLAIN\r\n"),
        cap::LOGIN | cap::PLAIN
    );
    assert_eq!(
        caps("250-x\r\n250-AUTH  CRAM-MD5 LOGIN\r\n250 HELP\r\n"),
        cap::LOGIN
    );
    // Not the keywords: longer or shorter tokens, the wrong place.
    for reply in [
        "250-x\r\n250-X8BITMIME\r\n250 AUTHX LOGIN\r\n",
        "250-x\r\n250-8BITMIMEX\r\n250 XAUTH PLAIN\r\n",
        "250-x\r\n250-BITMIME\r\n250 AUTH LOGINX XPLAIN PLAI\r\n",
        "250-x\r\n250-LOGIN PLAIN AUTH\r\n250 SIZE 8BITMIME\r\n",
        "250-x\r\n250 AUTH LOGIN=X CRAM-MD5=PLAIN\r\n",
        "250-x\r\n250 SIZE=8BITMIME AUTH=LOGIN\r\n",
        "250-x\r\n250 ABCDEFGHIJKLMNO8BITMIME\r\n",
    ] {
        assert_eq!(caps(reply), 0, "{reply:?}");
    }
}

#[test]
fn base64_of_parts_matches_base64_of_their_concatenation() {
    for lens in [(0, 0), (1, 1), (5, 7), (47, 3), (48, 48), (100, 31)] {
        let a: Vec<u8> = (0..lens.0).map(|i| i as u8).collect();
        let b: Vec<u8> = (0..lens.1).map(|i| (i * 3) as u8).collect();
        let mut sink = VecSink(Vec::new());
        let mut w = Window::new(&mut sink, 0, usize::MAX);
        crate::mail::put_base64_parts(&mut w, &[b"\0", &a, b"\0", &b]);
        let whole = [&b"\0"[..], &a, b"\0", &b].concat();
        let mut want = vec![0u8; whole.len() * 4 / 3 + 4];
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(&whole, &mut want)
            .unwrap();
        assert_eq!(sink.0, &want[..n], "{lens:?}");
    }
}

#[test]
fn credentials_without_a_usable_mechanism_are_a_typed_error_not_a_plain_send() {
    let mut d = Dut::new(Msg::new(b"t", None));
    d.reply("220 x\r\n");
    d.pull(1460);
    d.reply("250-x\r\n250 AUTH CRAM-MD5 GSSAPI\r\n");
    assert_eq!(
        d.c.outcome(),
        Some(Err(MailError::new(
            MailFault::NoAuthMechanism,
            MailStep::Ehlo
        )))
    );
    assert_eq!(d.pull(1460), b"QUIT\r\n", "a refusal still ends with QUIT");
    d.reply("221 bye\r\n");
    assert_eq!(d.c.link.phase, Phase::Closing);
    // The server closes first after QUIT (no TIME-WAIT for us): our
    // FIN answers its FIN.
    assert!(!d.c.tcp_wants_close(SOCK));
    d.c.tcp_event(SOCK, TcpEvent::PeerClosed);
    assert!(d.c.tcp_wants_close(SOCK));
    assert_eq!(
        d.c.outcome(),
        Some(Err(MailError::new(
            MailFault::NoAuthMechanism,
            MailStep::Ehlo
        )))
    );
}

#[test]
fn a_reply_line_over_512_bytes_is_malformed() {
    let mut d = Dut::new(Msg::new(b"t", None));
    d.reply("220 x\r\n");
    d.pull(1460);
    d.reply(&format!("250-{}", "x".repeat(600)));
    assert_eq!(
        d.c.outcome(),
        Some(Err(MailError::new(MailFault::Malformed, MailStep::Ehlo)))
    );
    assert_eq!(d.c.link.phase, Phase::Aborting);
}

#[test]
fn credentials_to_a_server_found_by_name_need_the_setting() {
    struct ByName;
    impl SmtpSettings for ByName {
        const SERVER: Option<MailServer> = Some(MailServer::Name("mail.example.com"));
        const PORT: u16 = 25;
        const USE_MX: bool = false;
        const USER: Option<&'static str> = Some("alice");
        const PASSWORD: Option<&'static str> = Some("secret");
        const HELO: Option<&'static str> = None;
        const TIMEOUT: Duration = Duration::from_secs(10);
        const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
        const AUTH_BY_NAME: bool = false;
        type Snapshots = [Snapshot; 3];
    }
    let mut c = SmtpClient::<ByName>::new();
    let msg = Msg::new(b"t", None);
    assert_eq!(
        c.send(&msg, None, 1),
        Err(MailError::from(MailFault::CleartextAuthByName))
    );
    assert!(c.is_idle(), "nothing started");
    // An address given for the session is the user's choice.
    let mut c = SmtpClient::<Auth>::new();
    assert_eq!(c.send(&msg, None, 1), Ok(()));
}

#[test]
fn every_refusal_is_a_typed_failure_with_code_and_text() {
    let script = [
        "220 x\r\n",
        "250-x\r\n250 AUTH LOGIN\r\n",
        "334 x\r\n",
        "334 x\r\n",
        "235 ok\r\n",
        "250 ok\r\n",
        "250 ok\r\n",
        "354 go\r\n",
    ];
    let steps = [
        MailStep::Greeting,
        MailStep::Ehlo,
        MailStep::AuthLogin,
        MailStep::AuthUser,
        MailStep::AuthPassword,
        MailStep::MailFrom,
        MailStep::RcptTo,
        MailStep::Data,
        MailStep::Message,
    ];
    for (fail_at, step) in steps.iter().enumerate() {
        for code in [421u16, 451, 535, 554] {
            if *step == MailStep::Ehlo && code >= 500 {
                continue; // 5xx to EHLO means "try HELO"
            }
            let mut d = Dut::new(Msg::new(b"t", None));
            for r in &script[..fail_at] {
                d.reply(r);
                d.pull(1460);
            }
            d.reply(&format!("{code} no way\r\n"));
            assert_eq!(
                d.c.outcome(),
                Some(Err(MailError {
                    fault: MailFault::Refused(code),
                    step: *step,
                    text: ReplyText::from_bytes(b"no way"),
                })),
                "{step} {code}"
            );
            assert_eq!(d.c.outcome().unwrap().unwrap_err().code(), Some(code));
            if *step == MailStep::Greeting {
                // Nothing sent yet: QUIT is still polite.
            }
            assert_eq!(d.pull(1460), b"QUIT\r\n");
            // The reply to QUIT (even one too long) leaves the refusal's
            // text.
            if code == 554 {
                d.reply(&format!("221 {}\r\n", "x".repeat(600)));
            } else {
                d.reply("221 bye\r\n");
            }
            assert_eq!(
                d.c.outcome().unwrap().unwrap_err(),
                MailError {
                    fault: MailFault::Refused(code),
                    step: *step,
                    text: ReplyText::from_bytes(b"no way"),
                },
                "{step} {code} after QUIT"
            );
        }
    }
}

#[test]
fn malformed_or_early_replies_abort() {
    let mut d = Dut::new(Msg::new(b"t", None));
    d.reply("hello\r\n");
    assert_eq!(
        d.c.outcome(),
        Some(Err(MailError::new(
            MailFault::Malformed,
            MailStep::Greeting
        )))
    );
    assert_eq!(d.c.link.phase, Phase::Aborting);

    let mut d = Dut::new(Msg::new(b"t", None));
    d.reply("220 x\r\n");
    d.reply("250 too early\r\n"); // EHLO not sent yet
    assert_eq!(
        d.c.outcome(),
        Some(Err(MailError::new(MailFault::Malformed, MailStep::Ehlo)))
    );

    let mut d = Dut::new(Msg::new(b"t", None));
    d.reply("220-x\r\n221 other code\r\n");
    assert_eq!(
        d.c.outcome(),
        Some(Err(MailError::new(
            MailFault::Malformed,
            MailStep::Greeting
        )))
    );
}

/// Nothing goes out before the connection is open, nor before the
/// greeting: `command` is asked only while open, from the greeting on,
/// and the greeting is its one step without a command.
#[test]
fn nothing_is_sent_while_connecting_or_before_the_greeting() {
    let msg = Msg::new(b"t", None);
    let mut c = SmtpClient::<Auth>::new();
    c.send(&msg, Some(0), 1).unwrap();
    c.link.phase = Phase::Connecting;
    c.link.set_socket(Some(SOCK));
    let mut s = VecSink(Vec::new());
    let mut m = msg.clone();
    c.tcp_produce(SOCK, 0, 1460, &mut s, &mut m);
    assert!(s.0.is_empty());
    let mut d = Dut::new(msg);
    assert_eq!(d.c.step(), MailStep::Greeting);
    assert!(d.produce(0, 1460).is_empty());
    d.reply("220 x\r\n");
    assert_eq!(d.produce(0, 1460), b"EHLO [10.0.0.2]\r\n");
}

#[test]
fn peer_close_and_reset_are_typed_failures() {
    let mut d = Dut::new(Msg::new(b"t", None));
    d.reply("220 x\r\n");
    d.pull(1460);
    d.c.tcp_event(SOCK, TcpEvent::PeerClosed);
    assert_eq!(
        d.c.outcome(),
        Some(Err(MailError::new(MailFault::Closed, MailStep::Ehlo)))
    );
    assert_eq!(d.c.link.phase, Phase::Aborting);
    let mut d = Dut::new(Msg::new(b"t", None));
    d.c.tcp_event(SOCK, TcpEvent::Reset);
    assert_eq!(
        d.c.outcome(),
        Some(Err(MailError::new(MailFault::Reset, MailStep::Greeting)))
    );
    assert!(d.c.link.finished());
    assert!(!d.c.owns(SOCK));
    // After QUIT: the peer's close is the expected end, not a failure
    // (our FIN may go); the connection's end finishes the session.
    let (mut d, _, _) = session(Msg::new(b"t", None), 1460);
    d.c.tcp_event(SOCK, TcpEvent::PeerClosed);
    assert_eq!(d.c.link.phase, Phase::Closing);
    assert!(d.c.tcp_wants_close(SOCK));
    d.c.tcp_event(SOCK, TcpEvent::Closed);
    assert!(d.c.link.finished());
    assert_eq!(d.c.outcome(), Some(Ok(())));
}

fn date_text(unix: u64) -> String {
    let mut buf = VecSink(Vec::new());
    let mut w = Window::new(&mut buf, 0, 100);
    put_date(&mut w, unix);
    let line = String::from_utf8(buf.0).unwrap();
    // The whole header line: the date between its name and CR LF.
    line.strip_prefix("Date: ")
        .and_then(|l| l.strip_suffix("\r\n"))
        .unwrap()
        .to_owned()
}

/// The u64 reference (the algorithm before it moved to 32 bits, written
/// plainly): what the Date header must keep saying.
fn date_text_u64(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs) = (unix / 86_400, unix % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[((days + 4) % 7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn date_known_days() {
    // Leap days (1972, 2000, 2024, 2400; 2100 is not one), 2038's 31-bit
    // end, 2106's 32-bit end and the last date written as itself (from
    // Python's datetime).
    for (unix, text) in [
        (0, "Thu, 01 Jan 1970 00:00:00 +0000"),
        (68_169_600, "Tue, 29 Feb 1972 00:00:00 +0000"),
        (951_825_600, "Tue, 29 Feb 2000 12:00:00 +0000"),
        (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 +0000"),
        (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 +0000"),
        (2_147_483_647, "Tue, 19 Jan 2038 03:14:07 +0000"),
        (2_147_483_648, "Tue, 19 Jan 2038 03:14:08 +0000"),
        (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 +0000"),
        (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 +0000"),
        (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 +0000"),
        (4_294_967_295, "Sun, 07 Feb 2106 06:28:15 +0000"),
        (4_294_967_296, "Sun, 07 Feb 2106 06:28:16 +0000"),
        (13_574_563_200, "Tue, 29 Feb 2400 00:00:00 +0000"),
        (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 +0000"),
    ] {
        assert_eq!(date_text(unix), text, "{unix}");
        assert_eq!(date_text_u64(unix), text, "reference, {unix}");
    }
    // Past the 32-bit day count: the last date, not garbage.
    assert_eq!(date_text(LAST_DATE), date_text_u64(LAST_DATE));
    assert_eq!(date_text(u64::MAX), date_text_u64(LAST_DATE));
}

proptest! {
    /// The attachment's base64 lines, produced from any offset in pieces
    /// of any size (as TCP asks for segments and retransmissions), are
    /// the crate's encoding wrapped at 76 characters, each line with its
    /// CR LF; the last line's is the trailer's, not counted in the part's
    /// length (the bytes of the message are the same).
    #[test]
    fn attachment_base64_in_any_pieces(
        data in proptest::collection::vec(any::<u8>(), 0..400),
        pieces in proptest::collection::vec(1usize..200, 1..40),
    ) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let expect = b64.as_bytes().chunks(76).collect::<Vec<_>>().join(&b"\r\n"[..]);
        let mut msg = Msg::new(b"", Some(data));
        let mut out = VecSink(Vec::new());
        let mut k = 0u32;
        let mut end = None;
        // Enough pieces for the longest output (about 560 bytes) in 1-byte
        // pieces.
        for &max in pieces.iter().cycle().take(1000) {
            let (n, e) = super::encode::base64_part(k, max, &mut out, &mut msg);
            k += n as u32;
            end = end.or(e);
            if n == 0 {
                break;
            }
        }
        let mut lines = expect.clone();
        if !lines.is_empty() {
            lines.extend_from_slice(b"\r\n");
        }
        prop_assert_eq!(&out.0, &lines);
        prop_assert_eq!(end, Some(expect.len() as u32));
    }
}

proptest! {
    #[test]
    fn date_matches_u64_reference(unix in 0..=LAST_DATE) {
        prop_assert_eq!(date_text(unix), date_text_u64(unix));
    }

    #[test]
    fn date_matches_u64_reference_near_now(unix in 0u64..8_000_000_000) {
        prop_assert_eq!(date_text(unix), date_text_u64(unix));
    }
}

#[test]
fn date_and_subject_encoding() {
    let mut w_buf = VecSink(Vec::new());
    let mut w = Window::new(&mut w_buf, 0, 1000);
    put_date(&mut w, 951_825_600); // 2000-02-29 12:00:00 UTC
    w.put(b"|");
    put_date(&mut w, 4_102_444_799); // 2099-12-31 23:59:59
    w.put(b"|");
    put_subject(
        &mut w,
        "Grüße aus dem Gerät, ein etwas längerer Betreff mit Umlauten äöü".as_bytes(),
    );
    let s = String::from_utf8(w_buf.0).unwrap();
    let mut it = s.split('|');
    assert_eq!(
        it.next().unwrap(),
        "Date: Tue, 29 Feb 2000 12:00:00 +0000\r\n"
    );
    assert_eq!(
        it.next().unwrap(),
        "Date: Thu, 31 Dec 2099 23:59:59 +0000\r\n"
    );
    let subject = it.next().unwrap();
    let mut decoded = Vec::new();
    for word in subject.split("\r\n ") {
        assert!(word.len() <= 75, "RFC 2047 word length");
        let b = word
            .strip_prefix("=?utf-8?B?")
            .unwrap()
            .strip_suffix("?=")
            .unwrap();
        let mut out = vec![0u8; b.len()];
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(b, &mut out)
            .unwrap();
        assert!(
            core::str::from_utf8(&out[..n]).is_ok(),
            "whole characters per word"
        );
        decoded.extend_from_slice(&out[..n]);
    }
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "Grüße aus dem Gerät, ein etwas längerer Betreff mit Umlauten äöü"
    );
}

#[test]
fn header_injection_is_impossible() {
    let mut m = Msg::new(b"t", None);
    m.subject = "hi\r\nBcc: evil@x";
    m.to = vec!["bob@x>\r\nRCPT TO:<evil@x"];
    let (_, commands, data) = session(m, 1460);
    assert!(commands.iter().all(|c| c.matches("\r\n").count() == 1));
    let s = String::from_utf8(data).unwrap();
    assert!(s.contains("Subject: hiBcc: evil@x\r\n"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reply_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut p = ReplyParser::default();
        for b in bytes {
            let _ = p.push(b);
        }
    }

    #[test]
    fn client_never_panics_on_random_replies(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20)
    ) {
        let mut d = Dut::new(Msg::new(b"t\n.x", Some(vec![1, 2, 3])));
        for c in chunks {
            let msg = d.msg.clone();
            d.c.on_bytes(&c, &msg);
            d.pull(536);
        }
    }

    /// TCP asks by offset in arbitrary segment sizes, goes back to any
    /// segment start not yet acknowledged (go-back-N, fast retransmit,
    /// a partial ACK), probes one byte first: the bytes at every
    /// offset are always the same.
    #[test]
    fn regenerated_message_is_byte_identical(
        text in proptest::collection::vec(
            prop_oneof![Just(b'.'), Just(b'\n'), Just(b'\r'), Just(b'a'), Just(b'x')], 0..3000),
        long in 0usize..1200,
        att in proptest::collection::vec(any::<u8>(), 0..700),
        segs in proptest::collection::vec(1usize..1460, 1..20),
        backs in proptest::collection::vec(0usize..3, 1..40),
    ) {
        let mut text = text;
        text.extend(std::iter::repeat_n(b'y', long));
        let msg = Msg::new(&text, Some(att));
        // The reference: the whole message in one pull.
        let (_, _, reference) = session(msg.clone(), 1 << 20);
        // Now in segments, with up to 3 in flight (Snapshots holds
        // window 1 + 2; here `backs` goes back 0..2 segments).
        let mut d = Dut::new(msg);
        d.reply("220 x\r\n");
        for r in ["250-x\r\n250 AUTH LOGIN\r\n", "334 x\r\n", "334 x\r\n", "235 x\r\n", "250 x\r\n", "250 x\r\n", "354 x\r\n"] {
            d.pull(1460);
            d.reply(r);
        }
        let base = d.offset;
        let mut starts: Vec<u32> = Vec::new(); // segment starts in flight
        let mut got = Vec::new();
        let mut i = 0usize;
        loop {
            let seg = segs[i % segs.len()];
            let back = backs[i % backs.len()];
            i += 1;
            // A probe of one byte, then the segment.
            let probe = d.produce(d.offset, 1);
            let b = d.produce(d.offset, seg);
            prop_assert_eq!(probe.first(), b.first());
            if b.is_empty() {
                break;
            }
            let at = (d.offset - base) as usize;
            prop_assert_eq!(&b[..], &reference[at..at + b.len()]);
            starts.push(d.offset);
            d.offset += b.len() as u32;
            got.extend_from_slice(&b);
            // Retransmit one of the segments in flight.
            if back > 0 && starts.len() >= back {
                let s = starts[starts.len() - back];
                let len = if back == 1 { b.len() } else { (starts[starts.len() - back + 1] - s) as usize };
                let again = d.produce(s, len);
                let at = (s - base) as usize;
                prop_assert_eq!(&again[..], &reference[at..at + len]);
            }
            // Acknowledge all but the last segment (one stays in flight).
            if starts.len() > 1 {
                let acked = starts[starts.len() - 1];
                d.c.tcp_event(SOCK, TcpEvent::Acked { offset: acked });
                starts.drain(..starts.len() - 1);
            }
        }
        prop_assert_eq!(got, reference);
    }
}

/// `[smtp] attachment/auth/encoded_subject = false`: a message that needs
/// one is refused at `send` (nothing starts); one that does not is sent
/// as before.
#[test]
fn switched_off_features_are_refused_at_send() {
    struct Lean;
    impl SmtpSettings for Lean {
        const SERVER: Option<MailServer> = Auth::SERVER;
        const PORT: u16 = 25;
        const USE_MX: bool = false;
        const USER: Option<&'static str> = None;
        const PASSWORD: Option<&'static str> = None;
        const HELO: Option<&'static str> = None;
        const TIMEOUT: Duration = Auth::TIMEOUT;
        const SESSION_TIMEOUT: Duration = Auth::SESSION_TIMEOUT;
        const AUTH_BY_NAME: bool = false;
        type Snapshots = [Snapshot; 3];
        const ATTACHMENT: bool = false;
        const AUTH: bool = false;
        const ENCODED_SUBJECT: bool = false;
    }
    struct WithCredentials(Msg);
    impl Outgoing for WithCredentials {
        fn from(&self) -> &str {
            self.0.from()
        }
        fn to(&self, i: usize) -> Option<&str> {
            self.0.to(i)
        }
        fn subject(&self) -> &str {
            self.0.subject()
        }
        fn read(&mut self, part: Part, at: u32, buf: &mut [u8]) -> usize {
            self.0.read(part, at, buf)
        }
        fn credentials(&self) -> Option<(&str, &str)> {
            Some(("alice", "secret"))
        }
    }
    let mut c = SmtpClient::<Lean>::new();
    let attached = Msg::new(b"t", Some(vec![1, 2, 3]));
    assert_eq!(
        c.send(&attached, None, 1),
        Err(MailError::from(MailFault::Unsupported))
    );
    let mut umlaut = Msg::new(b"t", None);
    umlaut.subject = "Grüße";
    assert_eq!(
        c.send(&umlaut, None, 1),
        Err(MailError::from(MailFault::Unsupported))
    );
    let creds = WithCredentials(Msg::new(b"t", None));
    assert_eq!(
        c.send(&creds, None, 1),
        Err(MailError::from(MailFault::Unsupported))
    );
    assert_eq!(c.link.phase, Phase::Idle);
    // A plain message: accepted, and its head is as with every switch on.
    let plain = Msg::new(b"hello\n", None);
    assert_eq!(c.send(&plain, Some(0), 7), Ok(()));
    let mut on = SmtpClient::<Auth>::new();
    on.send(&plain, Some(0), 7).unwrap();
    let head = |f: &dyn Fn(&mut Window<'_>)| {
        let mut sink = VecSink(Vec::new());
        let mut w = Window::new(&mut sink, 0, 10_000);
        f(&mut w);
        sink.0
    };
    assert_eq!(head(&|w| c.head(w, &plain)), head(&|w| on.head(w, &plain)));
}

#[test]
fn byte_sets_match_their_rules_for_every_byte() {
    use super::mime::{
        domain_byte, header_byte, name_byte, type_byte, ASCII_HEADER, DOMAIN, HEADER, NAME, TYPE,
    };
    use crate::mail::{command_byte, COMMAND};
    for b in 0..=255u8 {
        assert_eq!(COMMAND.has(b), command_byte(b), "command {b:#x}");
        assert_eq!(
            super::ADDRESS.has(b),
            super::address_byte(b),
            "address {b:#x}"
        );
        assert_eq!(HEADER.has(b), header_byte(b), "header {b:#x}");
        assert_eq!(
            ASCII_HEADER.has(b),
            b < 0x80 && header_byte(b),
            "ascii {b:#x}"
        );
        assert_eq!(NAME.has(b), name_byte(b), "name {b:#x}");
        assert_eq!(TYPE.has(b), type_byte(b), "type {b:#x}");
        assert_eq!(DOMAIN.has(b), domain_byte(b), "domain {b:#x}");
    }
    // Spot checks of the rules themselves.
    assert!(!HEADER.has(b'\r') && !HEADER.has(b'\n') && HEADER.has(b'\t') && HEADER.has(0xc3));
    assert!(!super::ADDRESS.has(b'>') && !DOMAIN.has(0xc3) && !TYPE.has(b';'));
}
