//! The chat protocol (issue 7): framing of bounded lines, parsing of what a
//! client sends, and the fixed texts of the server's replies.
//!
//! Framing is written by hand rather than with an unbounded `lines()`
//! adapter: a client must not be able to make the server buffer an endless
//! line. [`LineReader`] keeps one fixed buffer per connection and gives up
//! on a line as soon as it is known to be longer than the limit.

use std::io;

use futures_util::io::{AsyncRead, AsyncReadExt};
use futures_util::stream::{self, Stream};

/// The longest line a client may send, in bytes, without the `\n` (and
/// without a trailing `\r`, which is stripped).
pub const MAX_LINE: usize = 4096;

/// Sent on connect, after `* welcome guest-N`.
pub const LOBBY: &str = "lobby";
/// Reply to `/quit`, before the server closes the connection.
pub const BYE: &str = "* bye";
/// Sent to every client when the server stops.
pub const SHUTTING_DOWN: &str = "* server shutting down";
/// `/name` with a name someone else has.
pub const ERR_NAME_TAKEN: &str = "! name taken";
/// `/name` with something that is not 1-32 chars of `[A-Za-z0-9_-]`.
pub const ERR_INVALID_NAME: &str = "! invalid name";
/// `/join` with something that is not 1-32 chars of `[A-Za-z0-9_-]`.
pub const ERR_INVALID_ROOM: &str = "! invalid room";
/// Any other line starting with `/`.
pub const ERR_UNKNOWN_COMMAND: &str = "! unknown command";
/// A line longer than [`MAX_LINE`]; the connection is closed after it.
pub const ERR_TOO_LONG: &str = "! line too long";
/// A line that is not UTF-8; it is dropped, the connection stays.
pub const ERR_INVALID_UTF8: &str = "! invalid utf-8";

/// One unit of input, as the framing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without `\n` and a trailing `\r`.
    Line(String),
    /// A complete line that was not UTF-8 (its bytes are dropped).
    InvalidUtf8,
    /// A line over the limit; nothing more is read after it.
    TooLong,
}

/// Splits an [`AsyncRead`] into [`Frame`]s, holding at most `max + 1`
/// bytes of any one line (the `+ 1` is a trailing `\r`) plus one read's
/// worth of the lines after it.
#[derive(Debug)]
pub struct LineReader<R> {
    reader: R,
    max: usize,
    /// Fixed size: `max + 1` bytes of a pending line plus `READ_CHUNK`.
    buf: Box<[u8]>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Bytes of `buf[start..end]` already known to hold no `\n`.
    scanned: usize,
    eof: bool,
    done: bool,
}

const READ_CHUNK: usize = 4096;

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader of lines of at most `max` bytes.
    pub fn new(reader: R, max: usize) -> Self {
        LineReader {
            reader,
            max,
            buf: vec![0; max + 1 + READ_CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            scanned: 0,
            eof: false,
            done: false,
        }
    }

    /// The next frame; `None` at the end of the input, after a read error
    /// or after [`Frame::TooLong`]. A line is a line only once its `\n`
    /// arrives: bytes left without one at EOF (a client that disconnected
    /// mid-line) are dropped, not taken for a last line.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        if self.done {
            return None;
        }
        loop {
            let pending = &self.buf[self.start..self.end];
            if let Some(pos) = pending[self.scanned..].iter().position(|&b| b == b'\n') {
                let line_end = self.start + self.scanned + pos;
                let frame = self.frame(self.start, line_end);
                self.start = line_end + 1;
                self.scanned = 0;
                return Some(frame);
            }
            self.scanned = pending.len();
            if pending.len() > self.max + 1 {
                self.done = true;
                return Some(Frame::TooLong);
            }
            if self.eof {
                self.done = true;
                return None;
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            match self.reader.read(&mut self.buf[self.end..]).await {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.done = true;
                    return None;
                }
            }
        }
    }

    /// The frame of `buf[from..to]` (a line without its `\n`).
    fn frame(&mut self, from: usize, to: usize) -> Frame {
        let mut line = &self.buf[from..to];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.len() > self.max {
            self.done = true;
            return Frame::TooLong;
        }
        match std::str::from_utf8(line) {
            Ok(text) => Frame::Line(text.to_owned()),
            Err(_) => Frame::InvalidUtf8,
        }
    }

    /// This reader as a [`Stream`] of frames.
    pub fn into_stream(self) -> impl Stream<Item = Frame> + Send + 'static
    where
        R: Send + 'static,
    {
        stream::unfold(self, |mut reader| async move {
            let frame = reader.next_frame().await?;
            Some((frame, reader))
        })
    }
}

/// What a client asked for, parsed from one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A chat line for the others in the room.
    Say(String),
    /// `/name NAME` with a valid name.
    Name(String),
    /// `/join ROOM` with a valid room.
    Join(String),
    /// `/rooms`.
    Rooms,
    /// `/who`.
    Who,
    /// Leave the chat: send the farewell line (if any), then close. From
    /// `/quit`, a line too long, or the end of the input.
    Leave(Option<&'static str>),
    /// Input answered with this error line and otherwise ignored.
    Reject(&'static str),
}

impl Command {
    /// What `frame` asks for; `None` for an empty line.
    pub fn from_frame(frame: Frame) -> Option<Command> {
        match frame {
            Frame::Line(line) => Command::parse(line),
            Frame::InvalidUtf8 => Some(Command::Reject(ERR_INVALID_UTF8)),
            Frame::TooLong => Some(Command::Leave(Some(ERR_TOO_LONG))),
        }
    }

    /// Parses one line (without its line ending); `None` if it is empty.
    pub fn parse(line: String) -> Option<Command> {
        if line.is_empty() {
            return None;
        }
        if !line.starts_with('/') {
            return Some(Command::Say(line));
        }
        let (word, arg) = line.split_once(' ').unwrap_or((&line, ""));
        Some(match word {
            "/name" if is_valid_ident(arg) => Command::Name(arg.to_owned()),
            "/name" => Command::Reject(ERR_INVALID_NAME),
            "/join" if is_valid_ident(arg) => Command::Join(arg.to_owned()),
            "/join" => Command::Reject(ERR_INVALID_ROOM),
            "/rooms" => Command::Rooms,
            "/who" => Command::Who,
            "/quit" => Command::Leave(Some(BYE)),
            _ => Command::Reject(ERR_UNKNOWN_COMMAND),
        })
    }
}

/// A valid name or room: 1-32 chars of `[A-Za-z0-9_-]`.
pub fn is_valid_ident(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        let p = |s: &str| Command::parse(s.to_owned());
        assert_eq!(p(""), None);
        assert_eq!(p("hi there"), Some(Command::Say("hi there".into())));
        assert_eq!(p("/name bob_1-x"), Some(Command::Name("bob_1-x".into())));
        assert_eq!(p("/name"), Some(Command::Reject(ERR_INVALID_NAME)));
        assert_eq!(p("/name a b"), Some(Command::Reject(ERR_INVALID_NAME)));
        assert_eq!(
            p(&format!("/name {}", "a".repeat(33))),
            Some(Command::Reject(ERR_INVALID_NAME))
        );
        assert_eq!(p("/join dev"), Some(Command::Join("dev".into())));
        assert_eq!(p("/join é"), Some(Command::Reject(ERR_INVALID_ROOM)));
        assert_eq!(p("/rooms"), Some(Command::Rooms));
        assert_eq!(p("/who"), Some(Command::Who));
        assert_eq!(p("/quit"), Some(Command::Leave(Some(BYE))));
        assert_eq!(p("/nope"), Some(Command::Reject(ERR_UNKNOWN_COMMAND)));
        assert_eq!(p("/"), Some(Command::Reject(ERR_UNKNOWN_COMMAND)));
    }
}
