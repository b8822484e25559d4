//! The chat server: one [`Session`] actor per connection and one
//! [`ChatServer`] actor that owns the rooms and the names.
//!
//! # Who talks to whom
//!
//! ```text
//!  socket ─read─▶ LineReader ─add_stream─▶ Session ─tell─▶ ChatServer
//!  socket ◀─write── writer task ◀── Outbox (bounded bytes) ◀──┘
//! ```
//!
//! - A `Session` reads its socket as a stream of bounded lines
//!   ([`LineReader`](super::protocol::LineReader)), parses each into a
//!   [`Command`] and `tell`s it to the `ChatServer`. `tell` waits for room in
//!   the server's mailbox, and the stream is not polled again until the item
//!   is handled, so a client that floods the server is slowed down at its
//!   own socket; nothing grows without bound.
//! - The `ChatServer` handles everything in order, one command at a time,
//!   and never awaits: every line it sends goes into the recipient's
//!   [`Outbox`], a queue of bytes bounded at [`MAX_QUEUED_BYTES`] that the
//!   session's own writer task drains to its socket. The server never waits
//!   for a socket or for a session's mailbox, so a client that does not read
//!   delays nobody: once its outbox would pass the bound, the server drops it
//!   from its room (the room is told it left) and stops its session.
//! - Every reply (errors included) goes through the `ChatServer`, so a
//!   client sees replies in the order of its commands.
//! - The server watches each session: however a session ends (end of
//!   input, write error, `/quit`, a panic), a [`Terminated`] arrives and the
//!   member is removed and its room told.
//!
//! # Closing
//!
//! On `/quit` (or a line too long, or the end of the input) the server
//! sends the farewell and drops the member's outbox; the writer task
//! flushes what is queued and ends, and the session stops when it does (or
//! after [`CLOSE_GRACE`] if the peer does not read). On shutdown, the server
//! does the same for every member with `* server shutting down`, and
//! [`serve`] waits (at most [`CLOSE_GRACE`]) for every session to finish.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{self, Either};
use futures_util::io::AsyncWriteExt;
use kioto::prelude::*;
use kioto::rt::net::tcp::OwnedWriteHalf;
use kioto::rt::net::{TcpListener, TcpStream};
use kioto::rt::sync::mpsc;
use kioto::rt::time;
use kioto::supervisor::SupervisorRef;
use kioto::ActorId;

use super::protocol::{self, Command, Frame, LineReader};

/// How many bytes of lines may wait for a client's socket before the
/// client is disconnected as too slow.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;

/// How long a closing connection may take to flush its last lines.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Runs the chat server on `listener` until `shutdown` completes, then
/// tells every client `* server shutting down`, closes the connections and
/// returns once they are flushed (or after [`CLOSE_GRACE`]).
///
/// The actors run under one supervisor (one-for-one): the `ChatServer` is
/// a permanent child; each connection's `Session` is a temporary child
/// added when it is accepted (a connection cannot be restarted). If the
/// `ChatServer` crashes, its state (the outboxes included) is dropped, so
/// every session's writer ends and every client is disconnected; the
/// restarted server, on the same address, serves new connections.
///
/// Must run inside a kioto `System` (actors are started on it).
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let tree = Supervisor::builder()
        .name("chat")
        .strategy(Strategy::OneForOne)
        .intensity(3, Duration::from_secs(5))
        .child(ChildSpec::new("server", {
            // Shared with every instance, so numbers stay unique across a
            // restart of the server.
            let guests = Arc::new(AtomicU64::new(0));
            move || ChatServer::new(guests.clone())
        }))
        .start();
    let server = tree
        .child::<ChatServer>("server")
        .expect("the tree starts its children");
    // Every session holds a clone of `live`; `drained` ends when all are gone.
    let (live, mut drained) = mpsc::channel::<()>(1);
    {
        let accepting = pin!(accept_loop(&listener, &tree, &server, &live));
        // The tree ends on its own only if the server keeps crashing.
        let given_up = pin!(tree.wait());
        let shutdown = pin!(shutdown);
        match future::select(future::select(accepting, given_up), shutdown).await {
            Either::Left((Either::Left((never, _)), _)) => match never {},
            Either::Left((Either::Right((reason, _)), _)) => {
                return Err(io::Error::other(format!(
                    "the chat server gave up: {reason}"
                )));
            }
            Either::Right(((), _)) => {}
        }
    }
    tracing::info!("shutting down");
    let _ = server.send(CloseAll).await;
    drop(live);
    if time::timeout(CLOSE_GRACE, drained.recv()).await.is_err() {
        tracing::warn!("some connections did not close in time");
    }
    tree.stop();
    if time::timeout(CLOSE_GRACE, tree.wait()).await.is_err() {
        tracing::warn!("the supervisor did not stop in time");
    }
    Ok(())
}

/// Accepts connections and starts a session for each, forever.
async fn accept_loop(
    listener: &TcpListener,
    tree: &SupervisorRef,
    server: &Addr<ChatServer>,
    live: &mpsc::Sender<()>,
) -> Infallible {
    let mut n = 0u64;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                n += 1;
                tracing::debug!(%peer, "accepted");
                let _ = stream.set_nodelay(true);
                // The factory runs once: a temporary child is never restarted.
                let conn = Mutex::new(Some((stream, live.clone())));
                let server = server.clone();
                let spec = ChildSpec::new(format!("session-{n}"), move || {
                    let conn = conn.lock().unwrap_or_else(|e| e.into_inner()).take();
                    Session::new(server.clone(), conn)
                })
                .restart(Restart::Temporary);
                if let Err(e) = tree.start_child(spec).await {
                    tracing::error!(error = %e, "cannot start a session");
                }
            }
            Err(e) => {
                // Out of descriptors or a connection reset before accept:
                // keep serving the others, after a breath.
                tracing::warn!(error = %e, "accept failed");
                time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A line ready to send, newline included, shared by every recipient.
type Line = Arc<str>;

fn line(text: impl std::fmt::Display) -> Line {
    format!("{text}\n").into()
}

/// The sending side of a session's outbound queue, held by the server.
/// Dropping it lets the writer task flush what is queued and close.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Line>,
    /// Bytes queued and not yet written to the socket (the writer subtracts
    /// after each write).
    queued: Arc<AtomicUsize>,
}

/// The outbox is over [`MAX_QUEUED_BYTES`]: the client is too slow.
#[derive(Debug)]
struct Overflow;

impl Outbox {
    fn push(&self, line: &Line) -> Result<(), Overflow> {
        let len = line.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before + len > MAX_QUEUED_BYTES {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(Overflow);
        }
        // A closed channel means the writer is gone; the session is
        // stopping and its `Terminated` will remove the member.
        let _ = self.tx.send(line.clone());
        Ok(())
    }
}

/// Drains `rx` to the socket until the outbox is dropped, then closes the
/// writing direction.
async fn write_lines(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Line>,
    queued: Arc<AtomicUsize>,
) -> io::Result<()> {
    let mut batch = Vec::with_capacity(64);
    let mut buf = Vec::with_capacity(16 * 1024);
    while rx.recv_many(&mut batch, 64).await > 0 {
        buf.clear();
        for line in batch.drain(..) {
            buf.extend_from_slice(line.as_bytes());
        }
        wr.write_all(&buf).await?;
        queued.fetch_sub(buf.len(), Ordering::AcqRel);
    }
    wr.close().await
}

// ---------------------------------------------------------------------------
// Session

/// One connection: reads lines into commands for the [`ChatServer`] and owns
/// the task that writes the connection's outbound lines.
#[derive(Debug)]
pub struct Session {
    server: Addr<ChatServer>,
    /// The connection, until `started` splits it between the line stream
    /// and the writer task.
    conn: Option<TcpStream>,
    /// Lives as long as the session: [`serve`] waits for all of them at
    /// shutdown.
    _live: Option<mpsc::Sender<()>>,
    /// Set once the session is leaving: later input is ignored.
    leaving: bool,
}

impl Session {
    fn new(server: Addr<ChatServer>, conn: Option<(TcpStream, mpsc::Sender<()>)>) -> Session {
        let (conn, live) = conn.unzip();
        Session {
            server,
            conn,
            _live: live,
            leaving: false,
        }
    }

    /// Stops reading commands, and stops the session if its last lines are
    /// not flushed within [`CLOSE_GRACE`].
    fn leave(&mut self, ctx: &mut Context<Self>) {
        if !self.leaving {
            self.leaving = true;
            ctx.run_later(CLOSE_GRACE, |_, ctx| ctx.stop());
        }
    }
}

/// The writer task ended: every queued line is written (or the socket failed).
#[derive(Message)]
struct WriterDone;

impl Actor for Session {
    /// Splits the connection between the line stream and the writer task,
    /// and registers with the server. Registering waits for room in the
    /// server's mailbox, so it is done by a message to self rather than
    /// here: the supervisor waits for `started`, and must never wait on the
    /// `ChatServer` (it may be the one restarting it).
    async fn started(&mut self, ctx: &mut Context<Self>) {
        let Some(stream) = self.conn.take() else {
            // Only a restart would get here, and sessions are not restarted.
            ctx.stop();
            return;
        };
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let me = ctx.address();
        let writer_queued = queued.clone();
        ctx.spawn(async move {
            if let Err(e) = write_lines(wr, rx, writer_queued).await {
                tracing::debug!(error = %e, "write failed");
            }
            me.do_send(WriterDone);
        });
        // Queued before the first line: handled first.
        ctx.notify(Register(Outbox { tx, queued }));
        ctx.add_stream(LineReader::new(rd, protocol::MAX_LINE).into_stream());
    }
}

/// Sent by a session to itself: register with the server.
#[derive(Message)]
struct Register(Outbox);

impl Handler<Register> for Session {
    async fn handle(&mut self, Register(outbox): Register, ctx: &mut Context<Self>) {
        let session = ctx.address();
        if self.server.tell(Connect { session, outbox }).await.is_err() {
            ctx.stop();
        }
    }
}

impl Handler<WriterDone> for Session {
    async fn handle(&mut self, _msg: WriterDone, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl StreamHandler<Frame> for Session {
    async fn handle(&mut self, frame: Frame, ctx: &mut Context<Self>) {
        if self.leaving {
            return;
        }
        let Some(cmd) = Command::from_frame(frame) else {
            return;
        };
        let leaving = matches!(cmd, Command::Leave(_));
        let id = ctx.id();
        if self.server.tell(Incoming { id, cmd }).await.is_err() {
            ctx.stop();
            return;
        }
        if leaving {
            self.leave(ctx);
        }
    }

    /// End of input (the peer closed or the connection broke): leave, but
    /// let the writer flush replies to a peer that only half-closed.
    async fn finished(&mut self, ctx: &mut Context<Self>) {
        if !self.leaving {
            let id = ctx.id();
            let _ = self
                .server
                .tell(Incoming {
                    id,
                    cmd: Command::Leave(None),
                })
                .await;
            self.leave(ctx);
        }
    }
}

// ---------------------------------------------------------------------------
// ChatServer

/// Owns the rooms and the names; see the module docs.
#[derive(Debug)]
pub struct ChatServer {
    members: HashMap<ActorId, Member>,
    /// Who holds each name.
    names: HashMap<String, ActorId>,
    /// Rooms with at least one member (empty rooms are removed), sorted for
    /// `/rooms`.
    rooms: BTreeMap<String, BTreeSet<ActorId>>,
    /// The last `guest-N` handed out (kept by [`serve`] across restarts).
    last_guest: Arc<AtomicU64>,
    shutting_down: bool,
    /// Members whose outbox overflowed while handling the current message;
    /// disconnected at its end (see [`reap`](Self::reap)).
    overflowed: Vec<ActorId>,
}

#[derive(Debug)]
struct Member {
    name: String,
    room: String,
    outbox: Outbox,
    session: WeakAddr<Session>,
}

impl Actor for ChatServer {}

#[kioto::messages]
impl ChatServer {
    /// A new connection: name it `guest-N` and put it in the lobby.
    #[message]
    pub fn connect(&mut self, session: Addr<Session>, outbox: Outbox, ctx: &mut Context<Self>) {
        if self.shutting_down {
            let _ = outbox.push(&line(protocol::SHUTTING_DOWN));
            return;
        }
        let name = loop {
            // Skip numbers whose name someone chose with `/name`.
            let n = self.last_guest.fetch_add(1, Ordering::Relaxed) + 1;
            let name = format!("guest-{n}");
            if !self.names.contains_key(&name) {
                break name;
            }
        };
        let id = session.id();
        ctx.watch(&session);
        tracing::info!(%name, "connected");
        self.names.insert(name.clone(), id);
        self.rooms
            .entry(protocol::LOBBY.to_owned())
            .or_default()
            .insert(id);
        self.members.insert(
            id,
            Member {
                name: name.clone(),
                room: protocol::LOBBY.to_owned(),
                outbox,
                session: session.downgrade(),
            },
        );
        self.reply(id, format!("* welcome {name}"));
        self.reply(id, format!("* joined {}", protocol::LOBBY));
        self.reap();
    }

    /// A command from the session `id`.
    #[message]
    pub fn incoming(&mut self, id: ActorId, cmd: Command) {
        if let Some(member) = self.members.get(&id) {
            let (name, room) = (member.name.clone(), member.room.clone());
            match cmd {
                Command::Say(text) => {
                    let said: Line = format!("[{room}] {name}: {text}\n").into();
                    self.broadcast(&room, Some(id), said);
                }
                Command::Name(new) => self.rename(id, &name, &room, new),
                Command::Join(to) => self.join(id, &name, &room, to),
                Command::Rooms => {
                    let rooms: Vec<&str> = self.rooms.keys().map(String::as_str).collect();
                    self.reply(id, format!("* rooms: {}", rooms.join(" ")));
                }
                Command::Who => {
                    let mut names: Vec<&str> = self.rooms[&room]
                        .iter()
                        .map(|m| self.members[m].name.as_str())
                        .collect();
                    names.sort_unstable();
                    self.reply(id, format!("* in {room}: {}", names.join(" ")));
                }
                Command::Leave(farewell) => self.remove(id, farewell),
                Command::Reject(error) => self.reply(id, error),
            }
            self.reap();
        }
    }

    /// Tells everyone the server is going away and closes every connection
    /// (each after flushing).
    #[message]
    pub fn close_all(&mut self) {
        self.shutting_down = true;
        let bye = line(protocol::SHUTTING_DOWN);
        for member in self.members.values() {
            let _ = member.outbox.push(&bye);
        }
        tracing::info!(clients = self.members.len(), "closing every connection");
        self.members.clear();
        self.names.clear();
        self.rooms.clear();
    }

    /// A session stopped, however it ended.
    #[handler]
    fn on_terminated(&mut self, msg: Terminated) {
        self.remove(msg.id, None);
        self.reap();
    }
}

impl ChatServer {
    /// A server with no members, numbering guests after `last_guest`.
    pub fn new(last_guest: Arc<AtomicU64>) -> ChatServer {
        ChatServer {
            members: HashMap::new(),
            names: HashMap::new(),
            rooms: BTreeMap::new(),
            last_guest,
            shutting_down: false,
            overflowed: Vec::new(),
        }
    }

    /// Queues `text` for `id` alone.
    fn reply(&mut self, id: ActorId, text: impl std::fmt::Display) {
        if let Some(member) = self.members.get(&id) {
            if member.outbox.push(&line(text)).is_err() {
                self.overflowed.push(id);
            }
        }
    }

    /// Queues `line` for every member of `room` but `except`.
    fn broadcast(&mut self, room: &str, except: Option<ActorId>, line: Line) {
        let Some(ids) = self.rooms.get(room) else {
            return;
        };
        for id in ids {
            if Some(*id) != except && self.members[id].outbox.push(&line).is_err() {
                self.overflowed.push(*id);
            }
        }
    }

    fn rename(&mut self, id: ActorId, old: &str, room: &str, new: String) {
        match self.names.get(&new) {
            Some(holder) if *holder != id => return self.reply(id, protocol::ERR_NAME_TAKEN),
            Some(_) => return self.reply(id, format!("* you are {new}")),
            None => {}
        }
        self.names.remove(old);
        self.names.insert(new.clone(), id);
        if let Some(member) = self.members.get_mut(&id) {
            member.name.clone_from(&new);
        }
        self.reply(id, format!("* you are {new}"));
        self.broadcast(room, Some(id), line(format!("* {old} is now {new}")));
    }

    fn join(&mut self, id: ActorId, name: &str, from: &str, to: String) {
        if from != to {
            self.leave_room(id, name, from);
            self.broadcast(&to, None, line(format!("* {name} joined {to}")));
            self.rooms.entry(to.clone()).or_default().insert(id);
            if let Some(member) = self.members.get_mut(&id) {
                member.room.clone_from(&to);
            }
        }
        self.reply(id, format!("* joined {to}"));
    }

    /// Takes `id` out of `room` and tells the others there.
    fn leave_room(&mut self, id: ActorId, name: &str, room: &str) {
        if let Some(ids) = self.rooms.get_mut(room) {
            ids.remove(&id);
            if ids.is_empty() {
                self.rooms.remove(room);
            }
        }
        self.broadcast(room, None, line(format!("* {name} left {room}")));
    }

    /// Removes a member (if still there): sends it `farewell`, tells its
    /// room, and drops its outbox so its writer flushes and closes.
    fn remove(&mut self, id: ActorId, farewell: Option<&str>) {
        let Some(member) = self.members.remove(&id) else {
            return;
        };
        if let Some(farewell) = farewell {
            let _ = member.outbox.push(&line(farewell));
        }
        tracing::info!(name = %member.name, "left");
        self.names.remove(&member.name);
        self.leave_room(id, &member.name, &member.room);
    }

    /// Disconnects the members whose outbox overflowed: they leave their
    /// room (which may overflow others in turn) and their session is
    /// stopped at once, without flushing.
    fn reap(&mut self) {
        while let Some(id) = self.overflowed.pop() {
            if let Some(session) = self.members.get(&id).map(|m| m.session.clone()) {
                tracing::warn!(name = %self.members[&id].name, "disconnecting a client that does not read");
                self.remove(id, None);
                if let Some(session) = session.upgrade() {
                    session.stop();
                }
            }
        }
    }
}
