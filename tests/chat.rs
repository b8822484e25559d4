//! The chat server of `examples/chat-server.rs` against its protocol
//! (issue 7), with real TCP clients.
//!
//! Each test starts its own server in-process on `127.0.0.1:0` (the very
//! module the example runs, included below) on a kioto `System` in a
//! background thread, and talks to it with blocking `std::net` clients.
//! Reads have a generous timeout only so a broken server fails a test
//! instead of hanging it; nothing asserts on time.

#[path = "../examples/chat/mod.rs"]
mod chat;

#[path = "../examples/common/stop_signal.rs"]
mod stop_signal;

use std::future::Future;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use kioto::rt::net::TcpListener;
use kioto::rt::sync::oneshot;

/// Guards every read: a hang becomes a failure.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A chat server running on its own `System` in a background thread.
struct TestServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    /// A server that stops on [`shutdown`](Self::shutdown) (or drop).
    fn start() -> TestServer {
        TestServer::start_with(|stopped| async {
            let _ = stopped.await;
        })
    }

    /// A server that stops when the future `shutdown(stopped)` completes,
    /// where `stopped` completes on [`shutdown`](Self::shutdown) (or drop).
    /// `shutdown` is called on the server's thread before this returns.
    fn start_with<F, S>(shutdown: F) -> TestServer
    where
        F: FnOnce(oneshot::Receiver<()>) -> S + Send + 'static,
        S: Future<Output = ()> + 'static,
    {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let system = kioto::System::new();
            system.block_on(async move {
                let shutdown = shutdown(stopped);
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                chat::server::serve(listener, shutdown)
                    .await
                    .expect("serve");
            });
        });
        let addr = addr_rx
            .recv()
            .expect("the server thread died before listening");
        TestServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Connects a client and reads its welcome; returns it with its name.
    fn join(&self) -> (Client, String) {
        let mut client = Client::connect(self.addr);
        let welcome = client.recv();
        let name = welcome
            .strip_prefix("* welcome ")
            .unwrap_or_else(|| panic!("expected a welcome, got {welcome:?}"))
            .to_owned();
        client.expect("* joined lobby");
        (client, name)
    }

    /// Runs the server's shutdown and waits for its thread.
    fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let res = thread.join();
            if !thread::panicking() {
                res.expect("the server thread panicked");
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// A blocking line client.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// The next line, without its `\n`; panics at EOF.
    fn recv(&mut self) -> String {
        self.try_recv()
            .unwrap_or_else(|e| panic!("expected a line: {e}"))
            .unwrap_or_else(|| panic!("expected a line, got EOF"))
    }

    /// `Ok(None)` at EOF.
    fn try_recv(&mut self) -> io::Result<Option<String>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        assert!(line.ends_with('\n'), "unterminated line {line:?}");
        line.pop();
        Ok(Some(line))
    }

    fn expect(&mut self, want: &str) {
        assert_eq!(self.recv(), want);
    }

    /// The server closed the connection (EOF, or a reset if it had unread
    /// input of ours).
    fn expect_closed(&mut self) {
        match self.try_recv() {
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Ok(Some(line)) => panic!("expected the connection closed, got {line:?}"),
            Err(e) => panic!("expected the connection closed, got {e}"),
        }
    }

    /// Proves nothing else was queued for this client before a probe: the
    /// next line is the `/who` reply.
    fn expect_nothing_before_who(&mut self) {
        self.send("/who");
        let line = self.recv();
        assert!(
            line.starts_with("* in "),
            "expected only the /who reply, got {line:?}"
        );
    }
}

#[test]
fn welcome_and_guest_numbers() {
    let server = TestServer::start();
    let mut a = Client::connect(server.addr);
    a.expect("* welcome guest-1");
    a.expect("* joined lobby");
    let (mut b, b_name) = server.join();
    assert_eq!(b_name, "guest-2");
    // Numbers are never reused ...
    b.send("/quit");
    b.expect("* bye");
    b.expect_closed();
    a.expect("* guest-2 left lobby");
    let (_c, c_name) = server.join();
    assert_eq!(c_name, "guest-3");
    // ... and a number whose name was taken by /name is skipped.
    a.send("/name guest-4");
    a.expect("* you are guest-4");
    let (_d, d_name) = server.join();
    assert_eq!(d_name, "guest-5");
    // Connecting tells nobody: the next line of `a` is its probe's reply.
    a.send("/who");
    a.expect("* in lobby: guest-3 guest-4 guest-5");
}

#[test]
fn name_rules() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    let (mut c, _) = server.join();
    c.send("/join elsewhere");
    c.expect("* joined elsewhere");
    a.expect("* guest-3 left lobby");
    b.expect("* guest-3 left lobby");

    a.send("/name alice");
    a.expect("* you are alice");
    b.expect("* guest-1 is now alice");
    b.send("/name alice");
    b.expect("! name taken");
    let longest = "x".repeat(32);
    b.send(&format!("/name {longest}"));
    b.expect(&format!("* you are {longest}"));
    a.expect(&format!("* guest-2 is now {longest}"));
    b.send("/name bob_B-2");
    b.expect("* you are bob_B-2");
    a.expect(&format!("* {longest} is now bob_B-2"));
    for bad in [
        "/name",
        "/name ",
        "/name bad name",
        "/name émile",
        "/name a.b",
    ] {
        b.send(bad);
        b.expect("! invalid name");
    }
    b.send(&format!("/name {}", "x".repeat(33)));
    b.expect("! invalid name");
    // Renaming frees the old name; other rooms are not told.
    a.send("/name ann");
    a.expect("* you are ann");
    b.expect("* alice is now ann");
    c.send("/name alice");
    c.expect("* you are alice");
    a.expect_nothing_before_who();
    c.expect_nothing_before_who();
}

#[test]
fn join_rules() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    let (mut c, _) = server.join();
    a.send("/join dev");
    a.expect("* joined dev");
    b.expect("* guest-1 left lobby");
    c.expect("* guest-1 left lobby");
    b.send("/join dev");
    b.expect("* joined dev");
    a.expect("* guest-2 joined dev");
    c.expect("* guest-2 left lobby");
    for bad in [
        "/join",
        "/join two words",
        "/join a/b",
        &format!("/join {}", "r".repeat(33)),
    ] {
        c.send(bad);
        c.expect("! invalid room");
    }
    // Messages stay in their room.
    c.send("anyone?");
    a.send("in dev");
    b.expect("[dev] guest-1: in dev");
    c.expect_nothing_before_who();
    a.expect_nothing_before_who();
}

#[test]
fn rooms_and_who_are_sorted() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    let (mut c, _) = server.join();
    let (mut d, _) = server.join();
    for (client, name) in [
        (&mut a, "zed"),
        (&mut b, "amy"),
        (&mut c, "Mia"),
        (&mut d, "bo"),
    ] {
        client.send(&format!("/name {name}"));
        client.expect_after_notices(&format!("* you are {name}"));
    }
    d.send("/join zoo");
    d.expect_after_notices("* joined zoo");
    c.send("/join alpha");
    c.expect_after_notices("* joined alpha");
    a.send("/rooms");
    a.expect_after_notices("* rooms: alpha lobby zoo");
    // Already there: only the reply.
    b.send("/join lobby");
    b.expect_after_notices("* joined lobby");
    c.send("/join lobby");
    c.expect("* joined lobby");
    b.expect("* Mia joined lobby");
    // Sorted by bytes: upper case first.
    b.send("/who");
    b.expect("* in lobby: Mia amy zed");
    // An emptied room disappears.
    d.send("/join lobby");
    d.expect("* joined lobby");
    d.send("/rooms");
    d.expect("* rooms: lobby");
    d.send("/who");
    d.expect("* in lobby: Mia amy bo zed");
}

impl Client {
    /// Skips `* ` notices (renames, joins, leaves) up to `want`.
    fn expect_after_notices(&mut self, want: &str) {
        loop {
            let line = self.recv();
            if line == want {
                return;
            }
            assert!(
                line.starts_with("* ") && (line.contains(" is now ") || line.ends_with(" lobby")),
                "expected {want:?}, got {line:?}"
            );
        }
    }
}

#[test]
fn quit_closes_and_tells_the_room() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    b.send("/name bea");
    b.expect("* you are bea");
    a.expect("* guest-2 is now bea");
    // Nothing after `/quit` is read.
    b.send_raw(b"/quit\nnot sent\n");
    b.expect("* bye");
    b.expect_closed();
    a.expect("* bea left lobby");
    // The name is free again.
    a.send("/name bea");
    a.expect("* you are bea");
}

#[test]
fn unknown_commands_empty_lines_and_crlf() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    for cmd in ["/nope", "/", "/NAME x", "/names"] {
        a.send(cmd);
        a.expect("! unknown command");
    }
    a.send_raw(b"\n\r\n\nhello\r\n");
    b.expect("[lobby] guest-1: hello");
    // A `\r` inside a line is text; only a trailing one is stripped.
    a.send_raw(b"a\rb\r\n");
    b.expect("[lobby] guest-1: a\rb");
    a.send_raw(b"/who\r\n");
    a.expect("* in lobby: guest-1 guest-2");
    b.expect_nothing_before_who();
}

#[test]
fn messages_go_to_everyone_else_in_the_room() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    let (mut c, _) = server.join();
    a.send("hello, world: /not a command");
    b.expect("[lobby] guest-1: hello, world: /not a command");
    c.expect("[lobby] guest-1: hello, world: /not a command");
    a.send(" ");
    b.expect("[lobby] guest-1:  ");
    c.expect("[lobby] guest-1:  ");
    a.expect_nothing_before_who();
}

#[test]
fn invalid_utf8_is_dropped_and_the_connection_stays() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    a.send_raw(b"caf\xc3\n\xff\xfe\xfd\n");
    a.expect("! invalid utf-8");
    a.expect("! invalid utf-8");
    a.send("still here \u{1F980}");
    b.expect("[lobby] guest-1: still here \u{1F980}");
    b.expect_nothing_before_who();
}

#[test]
fn lines_up_to_the_limit_pass_longer_ones_close() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    let max = "x".repeat(4096);
    a.send(&max);
    b.expect(&format!("[lobby] guest-1: {max}"));
    a.send_raw(format!("{max}\r\n").as_bytes());
    b.expect(&format!("[lobby] guest-1: {max}"));
    // One byte over.
    a.send(&"y".repeat(4097));
    a.expect("! line too long");
    a.expect_closed();
    b.expect("* guest-1 left lobby");

    // A huge line without any newline is cut off early.
    let (mut c, _) = server.join();
    c.send_raw(&[b'z'; 64 * 1024]);
    c.expect("! line too long");
    c.expect_closed();
    b.expect("* guest-3 left lobby");
    b.expect_nothing_before_who();
}

#[test]
fn abrupt_disconnects_leave_the_room() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (b, _) = server.join();
    let (c, _) = server.join();
    // A plain close ...
    drop(b);
    a.expect("* guest-2 left lobby");
    // ... and a reset (closing with unread input makes the kernel send RST).
    a.send("unread by guest-3");
    thread::sleep(Duration::from_millis(50));
    drop(c);
    a.expect("* guest-3 left lobby");
    a.send("/who");
    a.expect("* in lobby: guest-1");
}

/// A client that sends its commands and half-closes (`echo /who | nc`)
/// still gets its replies before the server closes.
#[test]
fn half_closed_clients_get_their_replies() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    b.send("/who");
    b.send("bye all");
    b.writer.shutdown(std::net::Shutdown::Write).unwrap();
    b.expect("* in lobby: guest-1 guest-2");
    b.expect_closed();
    a.expect("[lobby] guest-2: bye all");
    a.expect("* guest-2 left lobby");
}

/// A line is a line only once its `\n` arrives: a fragment the client
/// leaves unterminated when it closes (half or fully) is dropped, and its
/// room hears only that it left.
#[test]
fn an_unterminated_fragment_at_eof_is_dropped() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    let (mut c, _) = server.join();
    b.send_raw(b"hello");
    b.writer.shutdown(std::net::Shutdown::Write).unwrap();
    b.expect_closed();
    a.expect("* guest-2 left lobby");
    c.send_raw(b"world\r");
    drop(c);
    a.expect("* guest-3 left lobby");
    a.expect_nothing_before_who();
}

#[test]
fn shutdown_tells_everyone_and_closes() {
    let server = TestServer::start();
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    b.send("/join dev");
    b.expect("* joined dev");
    a.expect("* guest-2 left lobby");
    server.shutdown();
    for client in [&mut a, &mut b] {
        client.expect("* server shutting down");
        client.expect_closed();
    }
}

/// SIGTERM (how service managers stop a process) shuts the server down as
/// Ctrl-C does, through the example's own `stop_signal`: every client is
/// told, and `serve` returns `Ok` (the example then exits with 0). The only
/// test here that raises a signal; every other server ignores it.
#[test]
fn sigterm_tells_everyone_and_closes() {
    let server = TestServer::start_with(|stopped| {
        let signal = stop_signal::stop_signal();
        async move {
            futures_util::future::select(pin!(signal), stopped).await;
        }
    });
    let (mut a, _) = server.join();
    let (mut b, _) = server.join();
    b.send("/join dev");
    b.expect("* joined dev");
    a.expect("* guest-2 left lobby");
    // SAFETY: `raise` has no memory-safety preconditions; `stop_signal`
    // installed a SIGTERM handler before the server listened, so the
    // signal does not kill the test process.
    assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
    for client in [&mut a, &mut b] {
        client.expect("* server shutting down");
        client.expect_closed();
    }
    // Joins the server thread, which panics unless `serve` returned `Ok`.
    server.shutdown();
}

/// 200 clients in one room each send 50 lines at once: every other client
/// receives every line exactly once, in each sender's order, and nobody is
/// dropped.
#[test]
fn burst_of_200_clients_is_delivered_in_order() {
    const CLIENTS: usize = 200;
    const LINES: usize = 50;
    let server = TestServer::start();
    let clients: Vec<Client> = (0..CLIENTS).map(|_| server.join().0).collect();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(me, mut client)| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let burst: String = (0..LINES).map(|seq| format!("m {me} {seq}\n")).collect();
                barrier.wait();
                client.send_raw(burst.as_bytes());
                let mut next = vec![0usize; CLIENTS];
                for _ in 0..(CLIENTS - 1) * LINES {
                    let line = client.recv();
                    let text = line
                        .split_once(": ")
                        .filter(|(head, _)| head.starts_with("[lobby] guest-"))
                        .map(|(_, text)| text)
                        .unwrap_or_else(|| panic!("client {me}: unexpected line {line:?}"));
                    let mut parts = text.split(' ').skip(1).map(|n| n.parse::<usize>().unwrap());
                    let (from, seq) = (parts.next().unwrap(), parts.next().unwrap());
                    assert_ne!(from, me, "client {me} got its own line back");
                    assert_eq!(
                        seq, next[from],
                        "client {me}: line {seq} of {from} out of order"
                    );
                    next[from] += 1;
                }
                assert!(next
                    .iter()
                    .enumerate()
                    .all(|(from, &n)| n == if from == me { 0 } else { LINES }));
                client
            })
        })
        .collect();
    let mut clients: Vec<Client> = threads
        .into_iter()
        .map(|t| t.join().expect("a client failed"))
        .collect();
    // Nothing more arrived (no duplicates), and nobody was dropped.
    let first = &mut clients[0];
    first.send("/who");
    let who = first.recv();
    assert!(who.starts_with("* in lobby: "), "{who:?}");
    assert_eq!(who.split(' ').count() - 3, CLIENTS);
}

/// A client that never reads is disconnected once more than 1 MiB waits for
/// it; the others, who read, keep receiving and are told it left.
#[test]
fn a_client_that_does_not_read_is_dropped() {
    let server = TestServer::start();
    let (mut slow, slow_name) = server.join();
    let (mut sender, _) = server.join();
    let (mut reader, _) = server.join();
    let payload = "p".repeat(4000);
    let batch: String = (0..100).map(|i| format!("{i} {payload}\n")).collect();
    let mut left = false;
    // 100 lines of 4 KB per round: the reader reads each round, so at most
    // ~400 KB ever wait for it; the slow client falls behind by 400 KB per
    // round, plus what the kernel buffers.
    for _round in 0..1000 {
        sender.send_raw(batch.as_bytes());
        let mut got = 0;
        while got < 100 {
            let line = reader.recv();
            if line == format!("* {slow_name} left lobby") {
                left = true;
            } else {
                assert!(line.starts_with("[lobby] guest-2: "), "{line:?}");
                got += 1;
            }
        }
        if left {
            break;
        }
    }
    assert!(left, "the slow client was never disconnected");
    sender.send("after");
    reader.expect("[lobby] guest-2: after");
    sender.expect(&format!("* {slow_name} left lobby"));
    sender.send("/who");
    sender.expect("* in lobby: guest-2 guest-3");
    // The slow client finds its stream cut short after what was buffered.
    let mut sink = Vec::new();
    match slow.reader.read_to_end(&mut sink) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
    }
}

/// The framing on its own: `\r\n`, empty lines, bad UTF-8, a fragment
/// without `\n` at EOF dropped, and a line over the limit ending the stream.
#[kioto::test]
async fn frames_and_commands() {
    use chat::protocol::{Command, Frame, LineReader};

    async fn frames(input: &'static [u8], max: usize) -> Vec<Frame> {
        let mut reader = LineReader::new(input, max);
        let mut frames = Vec::new();
        while let Some(frame) = reader.next_frame().await {
            frames.push(frame);
        }
        frames
    }

    let got = frames(b"one\r\ntwo\n\n\xff\n/who\n12345678\r\nlast", 8).await;
    assert_eq!(
        got,
        [
            Frame::Line("one".into()),
            Frame::Line("two".into()),
            Frame::Line(String::new()),
            Frame::InvalidUtf8,
            Frame::Line("/who".into()),
            Frame::Line("12345678".into()),
        ]
    );
    let commands: Vec<Option<Command>> = got.into_iter().map(Command::from_frame).collect();
    assert_eq!(commands[2], None);
    assert_eq!(commands[3], Some(Command::Reject("! invalid utf-8")));
    assert_eq!(commands[4], Some(Command::Who));
    assert_eq!(frames(b"", 8).await, []);
    assert_eq!(frames(b"last\r", 8).await, []);
    assert_eq!(frames(b"123456789\nafter\n", 8).await, [Frame::TooLong]);
    assert_eq!(frames(&[b'x'; 100], 8).await, [Frame::TooLong]);
    assert_eq!(
        Command::from_frame(Frame::TooLong),
        Some(Command::Leave(Some("! line too long")))
    );
}
