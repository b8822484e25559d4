//! Resident memory per idle actor, kioto against actix, with 100,000 idle
//! actors. A measurement, not a test of a bound: run it on its own,
//!
//! `cargo test -p kioto-actor --release --test actor_memory -- --ignored --nocapture --test-threads 1`
//!
//! Each side runs in a fresh child process (this binary re-executed), so
//! neither side's freed memory or allocator state skews the other.
#![cfg(not(loom))]

use std::process::Command;

mod support;

const N: usize = 100_000;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * page_size()
}

/// Linux x86-64 pages (no libc dependency for `sysconf`).
fn page_size() -> usize {
    4096
}

mod kioto_side {
    use kioto_actor::prelude::*;

    pub struct Idle(#[allow(dead_code)] pub u64);
    impl Actor for Idle {}
    pub struct Ping;
    impl Message for Ping {
        type Result = ();
    }
    impl Handler<Ping> for Idle {
        async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
    }

    pub fn measure() -> f64 {
        let sys = super::support::system();
        sys.block_on(async {
            // Warm up the runtime and allocator with a few actors.
            let warm: Vec<_> = (0..1000).map(|i| Idle(i).start()).collect();
            for a in &warm {
                a.send(Ping).await.unwrap();
            }
            let before = super::rss_bytes();
            let addrs: Vec<_> = (0..super::N as u64).map(|i| Idle(i).start()).collect();
            // One message each, so every actor has run and parked.
            for a in &addrs {
                a.send(Ping).await.unwrap();
            }
            let after = super::rss_bytes();
            let per = (after - before) as f64 / super::N as f64;
            drop(addrs);
            drop(warm);
            per
        })
    }
}

mod actix_side {
    use actix::prelude::*;

    pub struct Idle(#[allow(dead_code)] pub u64);
    impl Actor for Idle {
        type Context = Context<Self>;
    }
    pub struct Ping;
    impl Message for Ping {
        type Result = ();
    }
    impl Handler<Ping> for Idle {
        type Result = ();
        fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
    }

    pub fn measure() -> f64 {
        let sys = actix::System::new();
        sys.block_on(async {
            let warm: Vec<_> = (0..1000).map(|i| Idle(i).start()).collect();
            for a in &warm {
                a.send(Ping).await.unwrap();
            }
            let before = super::rss_bytes();
            let addrs: Vec<_> = (0..super::N as u64).map(|i| Idle(i).start()).collect();
            for a in &addrs {
                a.send(Ping).await.unwrap();
            }
            let after = super::rss_bytes();
            (after - before) as f64 / super::N as f64
        })
    }
}

/// Child-process entry: measures one side and prints the bytes per actor.
#[test]
#[ignore = "a measurement; run explicitly"]
fn memory_child() {
    match std::env::var("KIOTO_MEMORY_SIDE").as_deref() {
        Ok("kioto") => println!("BYTES_PER_ACTOR {:.0}", kioto_side::measure()),
        Ok("actix") => println!("BYTES_PER_ACTOR {:.0}", actix_side::measure()),
        _ => {}
    }
}

#[test]
#[ignore = "a measurement; run explicitly"]
fn memory_per_idle_actor() {
    let exe = std::env::current_exe().unwrap();
    let mut results = Vec::new();
    for side in ["kioto", "actix"] {
        let out = Command::new(&exe)
            .args(["memory_child", "--exact", "--ignored", "--nocapture"])
            .env("KIOTO_MEMORY_SIDE", side)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let bytes: f64 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("BYTES_PER_ACTOR "))
            .unwrap_or_else(|| panic!("{side} child failed: {stdout}"))
            .trim()
            .parse()
            .unwrap();
        results.push((side, bytes));
    }
    for (side, bytes) in &results {
        println!("{side}: {bytes:.0} resident bytes per idle actor ({N} actors)");
    }
    println!("kioto/actix: {:.2}", results[0].1 / results[1].1);
}
