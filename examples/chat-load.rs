//! A load generator for `examples/chat-server.rs`: C clients in one room,
//! each sending M timestamped lines; reports delivered lines per second
//! and the delivery latency (send → receipt by each other client).
//!
//! ```text
//! cargo run --release --example chat-server &
//! cargo run --release --example chat-load -- --clients 100 --lines 100
//! ```
//!
//! Options: `--addr HOST:PORT` (default 127.0.0.1:7878; loopback only),
//! `--clients C` (100), `--lines M` (100), `--room NAME` (`load`),
//! `--window W` (lines in flight at once, 100), `--timeout SECS` (120).
//!
//! Every line goes to the C - 1 other clients, so a run delivers
//! C·(C-1)·M lines. Sending is closed-loop: at most W lines are in flight
//! (sent and not yet received by everyone), so the server's per-client
//! queue never nears its 1 MiB bound and the figures measure the server at
//! saturation rather than the length of a queue. Latency is queueing plus
//! service (Little's law: about W·(C-1) / throughput): a larger window buys
//! a little throughput with proportionally more latency.

#[path = "chat/protocol.rs"]
#[allow(dead_code)]
mod protocol;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::io::AsyncWriteExt;
use kioto::rt::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use kioto::rt::net::TcpStream;
use kioto::rt::sync::Semaphore;
use protocol::{Frame, LineReader};

/// Bounds on a run, so it stays bounded in memory and time.
const MAX_CLIENTS: usize = 10_000;
const MAX_LINES: usize = 100_000;

const USAGE: &str = "usage: chat-load [--addr HOST:PORT] [--clients C] [--lines M] [--room NAME] [--window W] [--timeout SECS]";

struct Options {
    addr: String,
    clients: usize,
    lines: usize,
    room: String,
    window: usize,
    timeout: Duration,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        addr: "127.0.0.1:7878".into(),
        clients: 100,
        lines: 100,
        room: "load".into(),
        window: 100,
        timeout: Duration::from_secs(120),
    };
    fn num<T: FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
        value
            .as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number"))
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => opts.addr = args.next().ok_or("--addr needs HOST:PORT")?,
            "--clients" => opts.clients = num(&arg, args.next())?,
            "--lines" => opts.lines = num(&arg, args.next())?,
            "--room" => opts.room = args.next().ok_or("--room needs a name")?,
            "--window" => opts.window = num(&arg, args.next())?,
            "--timeout" => opts.timeout = Duration::from_secs(num(&arg, args.next())?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if !(2..=MAX_CLIENTS).contains(&opts.clients) || !(1..=MAX_LINES).contains(&opts.lines) {
        return Err(format!(
            "--clients must be 2..={MAX_CLIENTS} and --lines 1..={MAX_LINES}"
        ));
    }
    if opts.window == 0 {
        return Err("--window must be at least 1".into());
    }
    // A load generator is pointed at one's own machine only.
    let addrs: Vec<SocketAddr> = opts
        .addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", opts.addr))?
        .collect();
    if addrs.is_empty() || !addrs.iter().all(|a| a.ip().is_loopback()) {
        return Err(format!("{} is not a loopback address", opts.addr));
    }
    if !protocol::is_valid_ident(&opts.room) {
        return Err("the room must be 1-32 chars of [A-Za-z0-9_-]".into());
    }
    Ok(opts)
}

/// Latencies in microseconds, log-linear buckets (32 per power of two, so
/// about 3% precision), cheap enough to keep one per client.
#[derive(Clone)]
struct Histogram {
    buckets: Vec<u64>,
}

impl Histogram {
    const SUB: u32 = 5;

    fn new() -> Self {
        Histogram {
            buckets: vec![0; 64 + 64 * (1 << Self::SUB)],
        }
    }

    fn index(us: u64) -> usize {
        if us < 64 {
            return us as usize;
        }
        let exp = 63 - us.leading_zeros();
        let sub = (us >> (exp - Self::SUB)) & ((1 << Self::SUB) - 1);
        64 + ((exp - 6) as usize) * (1 << Self::SUB) + sub as usize
    }

    /// The lowest value of bucket `i`.
    fn value(i: usize) -> u64 {
        if i < 64 {
            return i as u64;
        }
        let exp = (i - 64) as u32 / (1 << Self::SUB) + 6;
        let sub = ((i - 64) % (1 << Self::SUB)) as u64;
        ((1 << Self::SUB) + sub) << (exp - Self::SUB)
    }

    fn record(&mut self, us: u64) {
        self.buckets[Self::index(us)] += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
    }

    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    fn quantile(&self, q: f64) -> Duration {
        let target = ((self.count() as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return Duration::from_micros(Self::value(i));
            }
        }
        Duration::ZERO
    }
}

/// Shared by every client task.
struct Run {
    clients: usize,
    lines: usize,
    room_prefix: String,
    start: Instant,
    /// Lines that may still be sent before some are fully delivered.
    window: Semaphore,
    /// Per line (sender * lines + seq): how many clients received it.
    received: Vec<AtomicU32>,
    delivered: AtomicU64,
    /// Microseconds since `start` of the latest delivery.
    last_delivery: AtomicU64,
}

impl Run {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

type Conn = (LineReader<OwnedReadHalf>, OwnedWriteHalf);

/// Connects, reads the welcome and joins the room.
async fn join(addr: &str, room: &str) -> Result<Conn, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut reader = LineReader::new(rd, 64 * 1024);
    wr.write_all(format!("/join {room}\n").as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let joined = format!("* joined {room}");
    loop {
        match reader.next_frame().await {
            Some(Frame::Line(line)) if line == joined => return Ok((reader, wr)),
            Some(Frame::Line(line)) if line.starts_with("* ") => {}
            Some(other) => return Err(format!("unexpected {other:?} while joining")),
            None => return Err("the server closed the connection while joining".into()),
        }
    }
}

/// Reads until every other client's lines have arrived (or the connection
/// ends); returns the latencies seen, whether all arrived, and when it
/// finished.
async fn receive(
    run: Arc<Run>,
    me: usize,
    mut reader: LineReader<OwnedReadHalf>,
) -> (Histogram, bool, Duration) {
    let mut hist = Histogram::new();
    let expected = (run.clients - 1) * run.lines;
    let mut got = 0;
    while got < expected {
        let line = match reader.next_frame().await {
            Some(Frame::Line(line)) => line,
            Some(_) => continue,
            None => return (hist, false, run.start.elapsed()),
        };
        let Some(rest) = line.strip_prefix(run.room_prefix.as_str()) else {
            continue; // a notice
        };
        let Some((_, text)) = rest.split_once(": ") else {
            continue;
        };
        let mut fields = text.split(' ');
        if fields.next() != Some("t") {
            continue;
        }
        let mut num = || fields.next().and_then(|f| f.parse::<u64>().ok());
        let (Some(from), Some(seq), Some(sent)) = (num(), num(), num()) else {
            continue;
        };
        let (from, seq) = (from as usize, seq as usize);
        if from == me || from >= run.clients || seq >= run.lines {
            continue;
        }
        let now = run.now_us();
        hist.record(now.saturating_sub(sent));
        got += 1;
        run.delivered.fetch_add(1, Ordering::Relaxed);
        run.last_delivery.fetch_max(now, Ordering::Relaxed);
        let n = run.received[from * run.lines + seq].fetch_add(1, Ordering::AcqRel) + 1;
        if n as usize == run.clients - 1 {
            run.window.add_permits(1);
        }
    }
    (hist, true, run.start.elapsed())
}

async fn send(run: Arc<Run>, me: usize, mut wr: OwnedWriteHalf) -> OwnedWriteHalf {
    for seq in 0..run.lines {
        match run.window.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => break,
        }
        let line = format!("t {me} {seq} {}\n", run.now_us());
        if wr.write_all(line.as_bytes()).await.is_err() {
            break;
        }
    }
    wr
}

#[kioto::main]
async fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("chat-load: {e}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let (c, m) = (opts.clients, opts.lines);
    println!(
        "chat-load: {c} clients x {m} lines into room {:?} on {}",
        opts.room, opts.addr
    );

    // Connect in waves, so the listener's backlog is never overrun.
    let setup = Instant::now();
    let mut conns = Vec::with_capacity(c);
    for wave in (0..c).collect::<Vec<_>>().chunks(50) {
        let tasks: Vec<_> = wave
            .iter()
            .map(|_| {
                let (addr, room) = (opts.addr.clone(), opts.room.clone());
                kioto::rt::spawn(async move { join(&addr, &room).await })
            })
            .collect();
        for task in tasks {
            match task.await {
                Ok(Ok(conn)) => conns.push(conn),
                Ok(Err(e)) => {
                    eprintln!("chat-load: client {}: {e}", conns.len());
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    eprintln!("chat-load: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    println!("connected and joined in {:.2?}", setup.elapsed());

    let run = Arc::new(Run {
        clients: c,
        lines: m,
        room_prefix: format!("[{}] ", opts.room),
        start: Instant::now(),
        window: Semaphore::new(opts.window),
        received: (0..c * m).map(|_| AtomicU32::new(0)).collect(),
        delivered: AtomicU64::new(0),
        last_delivery: AtomicU64::new(0),
    });
    let mut readers = Vec::with_capacity(c);
    let mut senders = Vec::with_capacity(c);
    for (me, (reader, wr)) in conns.into_iter().enumerate() {
        readers.push(kioto::rt::spawn(receive(run.clone(), me, reader)));
        senders.push(kioto::rt::spawn(send(run.clone(), me, wr)));
    }

    let mut hist = Histogram::new();
    let mut complete = 0;
    let mut finished = Vec::with_capacity(c);
    let deadline = run.start + opts.timeout;
    let mut timed_out = false;
    for reader in readers {
        match kioto::rt::time::timeout_at(deadline, reader).await {
            Ok(Ok((h, done, at))) => {
                hist.merge(&h);
                complete += usize::from(done);
                finished.push(at);
            }
            Ok(Err(e)) => eprintln!("chat-load: a reader failed: {e}"),
            Err(_) => {
                timed_out = true;
                break;
            }
        }
    }
    run.window.close();

    let expected = (c * (c - 1) * m) as u64;
    let delivered = run.delivered.load(Ordering::Relaxed);
    let elapsed = Duration::from_micros(run.last_delivery.load(Ordering::Relaxed).max(1));
    let secs = elapsed.as_secs_f64();
    println!("lines sent:          {}", c * m);
    println!(
        "lines delivered:     {delivered} of {expected}{}",
        if timed_out { " (timed out)" } else { "" }
    );
    println!("clients complete:    {complete} of {c}");
    println!("elapsed:             {elapsed:.2?} (first send to last delivery)");
    println!("delivered lines/s:   {:.0}", delivered as f64 / secs);
    println!("sent lines/s:        {:.0}", (c * m) as f64 / secs);
    finished.sort();
    if let (Some(first), Some(last)) = (finished.first(), finished.last()) {
        println!(
            "clients done after:  first {first:.2?}  median {:.2?}  last {last:.2?}",
            finished[finished.len() / 2]
        );
    }
    println!(
        "latency:             p50 {:.2?}  p99 {:.2?}  max {:.2?}",
        hist.quantile(0.50),
        hist.quantile(0.99),
        hist.quantile(1.0)
    );
    if delivered == expected {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
