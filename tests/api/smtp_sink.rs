//! An SMTP sink for tests: a real SMTP server on 127.0.0.1 that takes every message and records
//! it, so a test can point the server's mail settings at `127.0.0.1:{sink.port()}` and check what
//! was sent.
//!
//! It speaks plain ESMTP (no STARTTLS): EHLO/HELO, AUTH PLAIN and AUTH LOGIN (any credentials are
//! accepted and recorded), MAIL, RCPT, DATA, RSET, NOOP and QUIT; any other command gets 502.
//! Several messages per connection work, as do pipelined commands. Tests can make it misbehave:
//! [`SmtpSink::fail_next`] answers 451 after DATA, [`SmtpSink::hold_data`] never answers after
//! DATA, and [`SmtpSink::stop`] drops every connection at once (then [`SmtpSink::start_on`] brings
//! a fresh sink back on the same port).
//!
//! [`SmtpSink`] is a cheap `Clone` handle: all clones share one server and one record. The server
//! runs until [`SmtpSink::stop`] is called on any clone, the last clone is dropped, or the test's
//! runtime ends.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_parser::{Addr, Address, MessageParser, MessagePart, MimeHeaders, PartType};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One message the sink accepted (answered 250 to after DATA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The reverse path of `MAIL FROM:<...>`, without the angle brackets (empty for `<>`).
    pub mail_from: String,
    /// The forward paths of every `RCPT TO:<...>`, in order, without the angle brackets.
    pub rcpt_to: Vec<String>,
    /// The DATA as received: dot-unstuffed, line endings kept (CRLF), without the final ".".
    /// Bytes that are not UTF-8 are replaced by U+FFFD.
    pub raw: String,
    /// The decoded `Subject:` header.
    pub subject: Option<String>,
    /// The decoded `From:` header as `Name <address>` (or just `address`), several joined by ", ".
    pub from_header: Option<String>,
    /// The decoded `To:` header, formatted like `from_header`.
    pub to_header: Option<String>,
    /// The `Message-ID:` header without the angle brackets.
    pub message_id: Option<String>,
    /// The first text/plain body part (the whole body of a non-MIME message), transfer-decoded.
    /// `None` for an HTML-only message: nothing is converted.
    pub text: Option<String>,
    /// The first text/html body part, transfer-decoded. `None` for a text-only message.
    pub html: Option<String>,
    /// Username and password if the client authenticated (AUTH PLAIN or AUTH LOGIN) on the
    /// connection that sent this message.
    pub auth: Option<(String, String)>,
}

/// A running SMTP sink; see the module docs. Cloning gives another handle to the same sink.
#[derive(Clone)]
pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    tasks: Arc<Tasks>,
}

/// What the connections share with the handle.
struct Shared {
    messages: watch::Sender<Vec<Received>>,
    fail_next: AtomicUsize,
    hold_data: AtomicBool,
    connections: AtomicUsize,
}

/// The accept loop and the connection tasks; aborted by `stop()` or when the last handle goes.
/// Only the handles hold this, so dropping the last one runs `Drop`.
struct Tasks {
    accept: Mutex<Option<JoinHandle<()>>>,
    sessions: Arc<Mutex<Sessions>>,
}

#[derive(Default)]
struct Sessions {
    /// Set by stop/drop: the accept loop spawns nothing more.
    closed: bool,
    handles: Vec<JoinHandle<()>>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        if let Some(accept) = lock(&self.accept).take() {
            accept.abort();
        }
        for session in close_sessions(&self.sessions) {
            session.abort();
        }
    }
}

impl SmtpSink {
    /// Starts a sink on 127.0.0.1 with a port chosen by the system.
    pub async fn start() -> SmtpSink {
        SmtpSink::start_on(0).await
    }

    /// Starts a sink on 127.0.0.1:`port`, e.g. the port of a sink that was stopped. Retries for up
    /// to 5 s while the port is still in use; panics after that.
    pub async fn start_on(port: u16) -> SmtpSink {
        let listener = listen(port).await;
        let port = listener
            .local_addr()
            .expect("SMTP sink: local address")
            .port();
        let shared = Arc::new(Shared {
            messages: watch::Sender::new(Vec::new()),
            fail_next: AtomicUsize::new(0),
            hold_data: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
        });
        let sessions = Arc::new(Mutex::new(Sessions::default()));
        let accept = tokio::spawn(accept_loop(listener, shared.clone(), sessions.clone()));
        SmtpSink {
            port,
            shared,
            tasks: Arc::new(Tasks {
                accept: Mutex::new(Some(accept)),
                sessions,
            }),
        }
    }

    /// The port the sink listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops accepting and drops every open connection at once, mid-command or mid-DATA alike
    /// (a message whose DATA was not yet answered is lost, as when a server is killed). When this
    /// returns the port is free. What was recorded stays readable. Calling it again does nothing.
    pub async fn stop(&self) {
        let accept = lock(&self.tasks.accept).take();
        if let Some(accept) = accept {
            accept.abort();
            // A cancelled task's future (and so the listener) is dropped before its join resolves.
            let _ = accept.await;
        }
        for session in close_sessions(&self.tasks.sessions) {
            session.abort();
            let _ = session.await;
        }
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.borrow().clone()
    }

    /// Waits until at least `n` messages have been accepted and returns all accepted so far
    /// (possibly more than `n`). Panics, listing what did arrive, if fewer than `n` arrive within
    /// `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let mut messages = self.shared.messages.subscribe();
        if let Ok(Ok(arrived)) =
            tokio::time::timeout(timeout, messages.wait_for(|m| m.len() >= n)).await
        {
            return arrived.clone();
        }
        let arrived = self.messages();
        let mut report = format!(
            "SMTP sink on port {}: expected {n} message(s) within {timeout:?}, but {} arrived \
             ({} connection(s) accepted, fail_next left: {}, hold_data: {})",
            self.port,
            arrived.len(),
            self.connections(),
            self.shared.fail_next.load(Ordering::SeqCst),
            self.shared.hold_data.load(Ordering::SeqCst),
        );
        for (i, m) in arrived.iter().enumerate() {
            report.push_str(&format!(
                "\n  {}. MAIL FROM:<{}> RCPT TO:{:?} Subject: {:?}",
                i + 1,
                m.mail_from,
                m.rcpt_to,
                m.subject
            ));
        }
        panic!("{report}");
    }

    /// The next `n` messages (on any connection) get "451 4.3.0 try again later" after DATA and
    /// are not recorded. Replaces any count left from an earlier call. `hold_data` goes first: a
    /// held message does not use up the count.
    pub fn fail_next(&self, n: usize) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// While on, the sink never answers after a message's final "." and does not record the
    /// message: the connection hangs until the client gives up or the sink is stopped. Turning it
    /// off does not release connections already hanging.
    pub fn hold_data(&self, on: bool) {
        self.shared.hold_data.store(on, Ordering::SeqCst);
    }

    /// How many TCP connections the sink has accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Marks the sessions closed (the accept loop spawns no more) and takes their handles.
fn close_sessions(sessions: &Mutex<Sessions>) -> Vec<JoinHandle<()>> {
    let mut sessions = lock(sessions);
    sessions.closed = true;
    std::mem::take(&mut sessions.handles)
}

async fn listen(port: u16) -> TcpListener {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = TcpSocket::new_v4().and_then(|socket| {
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(128)
        });
        match attempt {
            Ok(listener) => return listener,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("SMTP sink: cannot listen on {addr}: {e}"),
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, sessions: Arc<Mutex<Sessions>>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut sessions = lock(&sessions);
        if sessions.closed {
            return;
        }
        shared.connections.fetch_add(1, Ordering::SeqCst);
        sessions.handles.retain(|handle| !handle.is_finished());
        sessions
            .handles
            .push(tokio::spawn(Session::new(stream, shared.clone()).run()));
    }
}

/// One SMTP connection.
struct Session {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    shared: Arc<Shared>,
    auth: Option<(String, String)>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

/// What the session does after DATA.
enum AfterData {
    Continue,
    Close,
}

impl Session {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Session {
        let (reader, writer) = stream.into_split();
        Session {
            reader: BufReader::new(reader),
            writer,
            shared,
            auth: None,
            mail_from: None,
            rcpt_to: Vec::new(),
        }
    }

    async fn run(mut self) {
        // An I/O error (the client went away) just ends the session.
        let _ = self.serve().await;
    }

    async fn serve(&mut self) -> io::Result<()> {
        self.reply("220 sink ESMTP").await?;
        while let Some(line) = self.read_line().await? {
            let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
            let arg = arg.trim();
            match verb.to_ascii_uppercase().as_str() {
                "EHLO" => {
                    self.reset();
                    self.reply(
                        "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                         250 AUTH PLAIN LOGIN",
                    )
                    .await?;
                }
                "HELO" => {
                    self.reset();
                    self.reply("250 sink").await?;
                }
                "MAIL" => self.mail(arg).await?,
                "RCPT" => self.rcpt(arg).await?,
                "DATA" => {
                    if let AfterData::Close = self.data().await? {
                        return Ok(());
                    }
                }
                "RSET" => {
                    self.reset();
                    self.reply("250 2.0.0 OK").await?;
                }
                "NOOP" => self.reply("250 2.0.0 OK").await?,
                "QUIT" => {
                    self.reply("221 2.0.0 Bye").await?;
                    return Ok(());
                }
                "AUTH" => self.authenticate(arg).await?,
                _ => self.reply("502 5.5.2 Command not recognized").await?,
            }
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    async fn mail(&mut self, arg: &str) -> io::Result<()> {
        match strip_prefix_ignore_case(arg, "FROM:").and_then(parse_path) {
            Some(path) => {
                self.reset();
                self.mail_from = Some(path);
                self.reply("250 2.1.0 OK").await
            }
            None => self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await,
        }
    }

    async fn rcpt(&mut self, arg: &str) -> io::Result<()> {
        if self.mail_from.is_none() {
            return self.reply("503 5.5.1 Need MAIL first").await;
        }
        match strip_prefix_ignore_case(arg, "TO:").and_then(parse_path) {
            Some(path) => {
                self.rcpt_to.push(path);
                self.reply("250 2.1.5 OK").await
            }
            None => self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await,
        }
    }

    async fn data(&mut self) -> io::Result<AfterData> {
        if self.mail_from.is_none() || self.rcpt_to.is_empty() {
            self.reply("503 5.5.1 Need MAIL and RCPT first").await?;
            return Ok(AfterData::Continue);
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let mut raw = Vec::new();
        loop {
            let mut line = Vec::new();
            if self.reader.read_until(b'\n', &mut line).await? == 0 {
                // The client went away mid-DATA: nothing is recorded.
                return Ok(AfterData::Close);
            }
            if line == b".\r\n" || line == b".\n" {
                break;
            }
            let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
            raw.extend_from_slice(unstuffed);
        }
        let mail_from = self.mail_from.take().unwrap_or_default();
        let rcpt_to = std::mem::take(&mut self.rcpt_to);

        if self.shared.hold_data.load(Ordering::SeqCst) {
            // Never answer; read (and ignore) whatever comes until the client hangs up.
            let _ = tokio::io::copy(&mut self.reader, &mut tokio::io::sink()).await;
            return Ok(AfterData::Close);
        }
        let fail = self
            .shared
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            self.reply("451 4.3.0 try again later").await?;
            return Ok(AfterData::Continue);
        }
        let received = Received::new(mail_from, rcpt_to, &raw, self.auth.clone());
        let mut queued = 0;
        self.shared.messages.send_modify(|messages| {
            messages.push(received);
            queued = messages.len();
        });
        self.reply(&format!("250 2.0.0 OK queued as {queued}"))
            .await?;
        Ok(AfterData::Continue)
    }

    async fn authenticate(&mut self, arg: &str) -> io::Result<()> {
        if self.auth.is_some() {
            return self.reply("503 5.5.1 Already authenticated").await;
        }
        let mut words = arg.split_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        let credentials = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(response) => response,
                    None => self.challenge("334 ").await?,
                };
                decode_base64(&response).and_then(|decoded| {
                    // authzid NUL authcid NUL passwd
                    let mut fields = decoded.split('\0');
                    let (_authzid, user, password) =
                        (fields.next()?, fields.next()?, fields.next()?);
                    match fields.next() {
                        None => Some((user.to_owned(), password.to_owned())),
                        Some(_) => None,
                    }
                })
            }
            "LOGIN" => {
                let user = match initial {
                    Some(user) => user,
                    // "Username:"
                    None => self.challenge("334 VXNlcm5hbWU6").await?,
                };
                match decode_base64(&user) {
                    Some(user) => {
                        // "Password:"
                        let password = self.challenge("334 UGFzc3dvcmQ6").await?;
                        decode_base64(&password).map(|password| (user, password))
                    }
                    None => None,
                }
            }
            _ => {
                return self
                    .reply("504 5.5.4 Unrecognized authentication type")
                    .await;
            }
        };
        match credentials {
            Some(credentials) => {
                self.auth = Some(credentials);
                self.reply("235 2.7.0 Authentication successful").await
            }
            None => {
                self.reply("501 5.5.2 Cannot decode authentication response")
                    .await
            }
        }
    }

    /// Sends a 334 challenge and returns the client's answer line.
    async fn challenge(&mut self, prompt: &str) -> io::Result<String> {
        self.reply(prompt).await?;
        self.read_line()
            .await?
            .ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }

    /// The next line without its line ending; `None` at end of stream.
    async fn read_line(&mut self) -> io::Result<Option<String>> {
        let mut line = Vec::new();
        if self.reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        Ok(Some(String::from_utf8_lossy(&line).into_owned()))
    }

    async fn reply(&mut self, reply: &str) -> io::Result<()> {
        self.writer
            .write_all(format!("{reply}\r\n").as_bytes())
            .await?;
        self.writer.flush().await
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `<address> PARAM=...` (or a bare address) → the address; parameters are ignored.
fn parse_path(s: &str) -> Option<String> {
    let s = s.trim_start();
    match s.strip_prefix('<') {
        Some(rest) => rest.find('>').map(|end| rest[..end].to_owned()),
        None => s.split_whitespace().next().map(str::to_owned),
    }
}

fn decode_base64(s: &str) -> Option<String> {
    let bytes = BASE64.decode(s.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

impl Received {
    fn new(
        mail_from: String,
        rcpt_to: Vec<String>,
        raw: &[u8],
        auth: Option<(String, String)>,
    ) -> Received {
        let mut received = Received {
            mail_from,
            rcpt_to,
            raw: String::from_utf8_lossy(raw).into_owned(),
            subject: None,
            from_header: None,
            to_header: None,
            message_id: None,
            text: None,
            html: None,
            auth,
        };
        if let Some(message) = MessageParser::default().parse(raw) {
            received.subject = message.subject().map(str::to_owned);
            received.from_header = message.from().map(format_address);
            received.to_header = message.to().map(format_address);
            received.message_id = message.message_id().map(str::to_owned);
            // mail-parser lists a text-only message's part among the HTML bodies too (and the
            // other way round); only take parts that really are of the type.
            received.text = message.text_bodies().find_map(|part| match &part.body {
                PartType::Text(text) if is_plain(part) => Some(text.to_string()),
                _ => None,
            });
            received.html = message.html_bodies().find_map(|part| match &part.body {
                PartType::Html(html) => Some(html.to_string()),
                _ => None,
            });
        }
        received
    }
}

/// text/plain, or no Content-Type at all (which means text/plain).
fn is_plain(part: &MessagePart<'_>) -> bool {
    part.content_type().is_none_or(|ct| {
        ct.ctype().eq_ignore_ascii_case("text")
            && ct
                .subtype()
                .is_none_or(|subtype| subtype.eq_ignore_ascii_case("plain"))
    })
}

fn format_address(address: &Address<'_>) -> String {
    fn one(addr: &Addr<'_>) -> String {
        match (addr.name.as_deref(), addr.address.as_deref()) {
            (Some(name), Some(address)) => format!("{name} <{address}>"),
            (None, Some(address)) => address.to_owned(),
            (Some(name), None) => name.to_owned(),
            (None, None) => String::new(),
        }
    }
    fn list(addrs: &[Addr<'_>]) -> String {
        addrs.iter().map(one).collect::<Vec<_>>().join(", ")
    }
    match address {
        Address::List(addrs) => list(addrs),
        Address::Group(groups) => groups
            .iter()
            .map(|group| match group.name.as_deref() {
                Some(name) => format!("{name}: {};", list(&group.addresses)),
                None => list(&group.addresses),
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    //! The sink driven by a raw TCP client; no database needed.

    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    struct Client {
        reader: BufReader<OwnedReadHalf>,
        writer: OwnedWriteHalf,
    }

    impl Client {
        async fn connect(port: u16) -> Client {
            let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let (reader, writer) = stream.into_split();
            let mut client = Client {
                reader: BufReader::new(reader),
                writer,
            };
            assert_eq!(client.reply().await, "220 sink ESMTP");
            client
        }

        async fn send(&mut self, data: &str) {
            self.writer.write_all(data.as_bytes()).await.unwrap();
        }

        /// A whole (possibly multi-line) reply, lines joined by "\n".
        async fn reply(&mut self) -> String {
            tokio::time::timeout(WAIT, self.read_reply())
                .await
                .expect("no reply from the sink")
        }

        async fn read_reply(&mut self) -> String {
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                let n = self.reader.read_line(&mut line).await.unwrap();
                assert!(n > 0, "the sink closed the connection; got {lines:?}");
                let line = line.trim_end_matches(['\r', '\n']).to_owned();
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line);
                if last {
                    return lines.join("\n");
                }
            }
        }

        async fn cmd(&mut self, line: &str) -> String {
            self.send(&format!("{line}\r\n")).await;
            self.reply().await
        }

        /// Whether the sink closed (or reset) the connection within `WAIT`.
        async fn closed(&mut self) -> bool {
            let mut buf = Vec::new();
            match tokio::time::timeout(WAIT, self.reader.read_until(b'\n', &mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => true,
                Ok(Ok(_)) | Err(_) => false,
            }
        }

        /// MAIL, RCPT for each of `to`, DATA and `body` (CRLF lines, already dot-stuffed) with the
        /// final "."; returns the reply to the final ".".
        async fn send_message(&mut self, from: &str, to: &[&str], body: &str) -> String {
            assert_eq!(
                self.cmd(&format!("MAIL FROM:<{from}>")).await,
                "250 2.1.0 OK"
            );
            for to in to {
                assert_eq!(self.cmd(&format!("RCPT TO:<{to}>")).await, "250 2.1.5 OK");
            }
            assert!(self.cmd("DATA").await.starts_with("354 "));
            self.send(body).await;
            self.cmd(".").await
        }
    }

    fn simple_message(subject: &str) -> String {
        format!(
            "From: noreply@logbook.test\r\nTo: anna@example.org\r\nSubject: {subject}\r\n\r\n\
             Plain body.\r\n"
        )
    }

    #[tokio::test]
    async fn records_a_multipart_message_with_subject_text_and_html() {
        let sink = SmtpSink::start().await;
        let mut client = Client::connect(sink.port()).await;

        let ehlo = client.cmd("EHLO client.test").await;
        assert!(ehlo.starts_with("250-sink\n"), "{ehlo}");
        for extension in ["AUTH PLAIN LOGIN", "8BITMIME", "SMTPUTF8"] {
            assert!(ehlo.contains(extension), "{ehlo}");
        }
        assert!(!ehlo.contains("STARTTLS"), "{ehlo}");

        // Parameters after the address are accepted.
        let mail = "MAIL FROM:<noreply@logbook.test> SIZE=1234 BODY=8BITMIME SMTPUTF8";
        assert_eq!(client.cmd(mail).await, "250 2.1.0 OK");
        assert_eq!(
            client.cmd("RCPT TO:<anna@example.org>").await,
            "250 2.1.5 OK"
        );
        assert_eq!(
            client.cmd("rcpt to: <ben@example.org>").await,
            "250 2.1.5 OK"
        );
        assert!(client.cmd("DATA").await.starts_with("354 "));
        let html = BASE64.encode("<p>Hallo <b>Anna</b></p>");
        client
            .send(&format!(
                "From: Feuerwehr Musterstadt <noreply@logbook.test>\r\n\
                 To: Anna Beispiel <anna@example.org>\r\n\
                 Subject: =?utf-8?q?Einladung_zur_=C3=9Cbung?=\r\n\
                 Message-ID: <abc123@logbook.test>\r\n\
                 MIME-Version: 1.0\r\n\
                 Content-Type: multipart/alternative; boundary=\"BOUNDARY\"\r\n\
                 \r\n\
                 --BOUNDARY\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: quoted-printable\r\n\
                 \r\n\
                 Hallo Anna,\r\n\
                 ..und ein Punkt am Zeilenanfang.\r\n\
                 Gr=C3=BC=C3=9Fe\r\n\
                 --BOUNDARY\r\n\
                 Content-Type: text/html; charset=utf-8\r\n\
                 Content-Transfer-Encoding: base64\r\n\
                 \r\n\
                 {html}\r\n\
                 --BOUNDARY--\r\n\
                 .\r\n"
            ))
            .await;
        assert_eq!(client.reply().await, "250 2.0.0 OK queued as 1");

        // A second message on the same connection, without MIME.
        let reply = client
            .send_message(
                "noreply@logbook.test",
                &["ben@example.org"],
                &simple_message("Zwei"),
            )
            .await;
        assert_eq!(reply, "250 2.0.0 OK queued as 2");

        assert_eq!(client.cmd("RSET").await, "250 2.0.0 OK");
        assert_eq!(client.cmd("NOOP").await, "250 2.0.0 OK");
        assert_eq!(
            client.cmd("VRFY anna").await,
            "502 5.5.2 Command not recognized"
        );
        assert_eq!(
            client.cmd("RCPT TO:<x@example.org>").await,
            "503 5.5.1 Need MAIL first"
        );
        assert_eq!(client.cmd("QUIT").await, "221 2.0.0 Bye");
        assert!(client.closed().await);

        let messages = sink.wait_for(2, WAIT).await;
        assert_eq!(messages.len(), 2);
        let first = &messages[0];
        assert_eq!(first.mail_from, "noreply@logbook.test");
        assert_eq!(first.rcpt_to, ["anna@example.org", "ben@example.org"]);
        assert_eq!(first.subject.as_deref(), Some("Einladung zur Übung"));
        assert_eq!(
            first.from_header.as_deref(),
            Some("Feuerwehr Musterstadt <noreply@logbook.test>")
        );
        assert_eq!(
            first.to_header.as_deref(),
            Some("Anna Beispiel <anna@example.org>")
        );
        assert_eq!(first.message_id.as_deref(), Some("abc123@logbook.test"));
        let text = first.text.as_deref().unwrap();
        assert!(
            text.starts_with("Hallo Anna,\r\n.und ein Punkt am Zeilenanfang.\r\nGrüße"),
            "{text:?}"
        );
        assert_eq!(first.html.as_deref(), Some("<p>Hallo <b>Anna</b></p>"));
        assert_eq!(first.auth, None);
        assert!(
            first.raw.starts_with("From: Feuerwehr Musterstadt"),
            "{}",
            first.raw
        );
        assert!(first.raw.contains("\r\n.und ein Punkt"), "{}", first.raw);
        assert!(!first.raw.contains("..und"), "{}", first.raw);
        assert!(first.raw.ends_with("--BOUNDARY--\r\n"), "{}", first.raw);

        let second = &messages[1];
        assert_eq!(second.rcpt_to, ["ben@example.org"]);
        assert_eq!(second.subject.as_deref(), Some("Zwei"));
        assert_eq!(second.from_header.as_deref(), Some("noreply@logbook.test"));
        assert_eq!(second.to_header.as_deref(), Some("anna@example.org"));
        assert_eq!(second.message_id, None);
        assert_eq!(second.text.as_deref(), Some("Plain body.\r\n"));
        assert_eq!(second.html, None);
        assert_eq!(sink.messages(), messages);
        assert_eq!(sink.connections(), 1);
    }

    #[tokio::test]
    async fn fail_next_answers_451_and_records_nothing() {
        let sink = SmtpSink::start().await;
        sink.fail_next(2);
        let mut client = Client::connect(sink.port()).await;
        client.cmd("EHLO client.test").await;
        for subject in ["Eins", "Zwei"] {
            let reply = client
                .send_message(
                    "a@example.org",
                    &["b@example.org"],
                    &simple_message(subject),
                )
                .await;
            assert_eq!(reply, "451 4.3.0 try again later");
            assert!(sink.messages().is_empty());
        }
        // The transaction is over after a 451; the next message on the connection goes through.
        assert_eq!(
            client.cmd("DATA").await,
            "503 5.5.1 Need MAIL and RCPT first"
        );
        let reply = client
            .send_message("a@example.org", &["b@example.org"], &simple_message("Drei"))
            .await;
        assert_eq!(reply, "250 2.0.0 OK queued as 1");
        let messages = sink.wait_for(1, WAIT).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].subject.as_deref(), Some("Drei"));
    }

    #[tokio::test]
    async fn hold_data_never_answers_and_records_nothing() {
        let sink = SmtpSink::start().await;
        sink.hold_data(true);
        let mut held = Client::connect(sink.port()).await;
        held.cmd("HELO client.test").await;
        held.cmd("MAIL FROM:<a@example.org>").await;
        held.cmd("RCPT TO:<b@example.org>").await;
        held.cmd("DATA").await;
        held.send(&format!("{}.\r\n", simple_message("Gehalten")))
            .await;
        let answer = tokio::time::timeout(Duration::from_millis(300), held.read_reply()).await;
        assert!(
            answer.is_err(),
            "the sink answered a held message: {answer:?}"
        );
        assert!(sink.messages().is_empty());

        sink.hold_data(false);
        let mut client = Client::connect(sink.port()).await;
        client.cmd("HELO client.test").await;
        let reply = client
            .send_message("a@example.org", &["b@example.org"], &simple_message("Frei"))
            .await;
        assert_eq!(reply, "250 2.0.0 OK queued as 1");
        assert_eq!(sink.connections(), 2);

        sink.stop().await;
        assert!(held.closed().await);
        assert_eq!(sink.messages().len(), 1);
    }

    #[tokio::test]
    async fn stop_drops_connections_and_start_on_brings_the_port_back() {
        let sink = SmtpSink::start().await;
        let port = sink.port();
        let mut idle = Client::connect(port).await;
        idle.cmd("EHLO client.test").await;
        let mut client = Client::connect(port).await;
        client.cmd("EHLO client.test").await;
        let reply = client
            .send_message(
                "a@example.org",
                &["b@example.org"],
                &simple_message("Vorher"),
            )
            .await;
        assert_eq!(reply, "250 2.0.0 OK queued as 1");

        sink.stop().await;
        assert!(idle.closed().await);
        assert!(client.closed().await);
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
        assert_eq!(sink.messages().len(), 1, "what was recorded stays readable");
        sink.stop().await;

        let again = SmtpSink::start_on(port).await;
        assert_eq!(again.port(), port);
        let mut client = Client::connect(port).await;
        client.cmd("EHLO client.test").await;
        let reply = client
            .send_message(
                "a@example.org",
                &["b@example.org"],
                &simple_message("Nachher"),
            )
            .await;
        assert_eq!(reply, "250 2.0.0 OK queued as 1");
        let messages = again.wait_for(1, WAIT).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].subject.as_deref(), Some("Nachher"));
        assert_eq!(again.connections(), 1);
    }

    #[tokio::test]
    async fn auth_plain_and_login_record_the_credentials() {
        let sink = SmtpSink::start().await;

        // AUTH PLAIN with the initial response inline.
        let mut client = Client::connect(sink.port()).await;
        client.cmd("EHLO client.test").await;
        let plain = BASE64.encode("\0smtp-user\0s3cret pass");
        assert_eq!(
            client.cmd(&format!("AUTH PLAIN {plain}")).await,
            "235 2.7.0 Authentication successful"
        );
        let reply = client
            .send_message(
                "a@example.org",
                &["b@example.org"],
                &simple_message("Inline"),
            )
            .await;
        assert_eq!(reply, "250 2.0.0 OK queued as 1");

        // AUTH PLAIN with the response on the next line.
        let mut client = Client::connect(sink.port()).await;
        client.cmd("EHLO client.test").await;
        assert_eq!(client.cmd("AUTH PLAIN").await, "334 ");
        let plain = BASE64.encode("authz\0other-user\0pw2");
        assert_eq!(
            client.cmd(&plain).await,
            "235 2.7.0 Authentication successful"
        );
        let reply = client
            .send_message(
                "a@example.org",
                &["b@example.org"],
                &simple_message("Nächste Zeile"),
            )
            .await;
        assert_eq!(reply, "250 2.0.0 OK queued as 2");

        // AUTH LOGIN.
        let mut client = Client::connect(sink.port()).await;
        client.cmd("EHLO client.test").await;
        assert_eq!(
            client.cmd("AUTH CRAM-MD5").await,
            "504 5.5.4 Unrecognized authentication type"
        );
        assert_eq!(client.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
        assert_eq!(
            client.cmd(&BASE64.encode("login-user")).await,
            "334 UGFzc3dvcmQ6"
        );
        assert_eq!(
            client.cmd(&BASE64.encode("login-pw")).await,
            "235 2.7.0 Authentication successful"
        );
        let reply = client
            .send_message(
                "a@example.org",
                &["b@example.org"],
                &simple_message("Login"),
            )
            .await;
        assert_eq!(reply, "250 2.0.0 OK queued as 3");

        let messages = sink.wait_for(3, WAIT).await;
        let auth: Vec<_> = messages
            .iter()
            .map(|m| {
                m.auth
                    .clone()
                    .map(|(user, password)| format!("{user}:{password}"))
            })
            .collect();
        assert_eq!(
            auth,
            [
                Some("smtp-user:s3cret pass".to_owned()),
                Some("other-user:pw2".to_owned()),
                Some("login-user:login-pw".to_owned()),
            ]
        );
        assert_eq!(messages[1].subject.as_deref(), Some("Nächste Zeile"));
    }

    #[tokio::test]
    #[should_panic(expected = "expected 1 message(s) within 50ms, but 0 arrived")]
    async fn wait_for_panics_when_too_few_arrive() {
        let sink = SmtpSink::start().await;
        sink.wait_for(1, Duration::from_millis(50)).await;
    }
}
