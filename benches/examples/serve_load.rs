//! Activations per second over HTTP on loopback against `airseal serve`, beside its floor in
//! the same run: `airseal_vendor::activate::answer_request` in-process on the same requests.
//!
//! ```sh
//! cargo build --release -p airseal && cargo build --release -p airseal-benches --example serve_load
//! target/release/examples/serve_load --airseal target/release/airseal \
//!     [--requests 20000] [--clients 64] [--instances 1] [--database postgres://…] \
//!     [--dir /dev/shm/serve-load] [--serve-arg ARG]…
//! ```
//!
//! What it does, in order:
//! 1. a vendor folder made by the binary itself (`init`, a product whose activation template
//!    allows one seat, `issuing-key create`, `keys generate --count N`); with `--database`
//!    the ledger is first moved there with `ledger migrate --to URL`;
//! 2. N activation requests, each from its own simulated machine (its own device key) for
//!    its own key, made in memory before anything is timed;
//! 3. the **floor**: a copy of the vendor folder's SQLite ledger answers every request with
//!    `answer_request`, one after the other, in this process (the issuing key unlocked once);
//! 4. `--instances` `airseal serve` processes on the vendor folder (port 0, each on its own
//!    port), and `--clients` client threads, each with one keep-alive HTTP/1.1 connection to
//!    one instance (round robin), posting the requests (raw bytes) to `/v1/activations` as fast
//!    as answers come back. Throughput counts answered `200`s over the wall time from the first
//!    request to the last answer; p50/p99 are per-request latencies (send to last byte).
//!
//! Every request must be answered `200`: any other status is counted and printed, and the
//! run exits non-zero, so a rate limit or an error never passes for speed. BENCHMARKS.md
//! records the results.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use airseal_verify::app::device::Device;
use airseal_verify::app::fingerprint::{ComponentKind, Fingerprint};

const PASSPHRASE: &str = "serve-load root passphrase";
const ISSUING_PASSPHRASE: &str = "serve-load issuing passphrase";
const PRODUCT: &str = "photo-pro";

struct Options {
    airseal: PathBuf,
    requests: usize,
    clients: usize,
    instances: usize,
    database: Option<String>,
    dir: PathBuf,
    serve_args: Vec<String>,
    skip_floor: bool,
    floor_only: bool,
}

fn options() -> Options {
    let mut o = Options {
        airseal: PathBuf::from("target/release/airseal"),
        requests: 20_000,
        clients: 64,
        instances: 1,
        database: None,
        dir: PathBuf::from("/dev/shm/serve-load"),
        serve_args: Vec::new(),
        skip_floor: false,
        floor_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--airseal" => o.airseal = PathBuf::from(value()),
            "--requests" => o.requests = value().parse().expect("--requests: a number"),
            "--clients" => o.clients = value().parse().expect("--clients: a number"),
            "--instances" => o.instances = value().parse().expect("--instances: a number"),
            "--database" => o.database = Some(value()),
            "--dir" => o.dir = PathBuf::from(value()),
            "--serve-arg" => o.serve_args.push(value()),
            "--no-floor" => o.skip_floor = true,
            "--floor-only" => o.floor_only = true,
            other => panic!("unknown argument {other}"),
        }
    }
    // Commands run inside the vendor folder: a relative path must not change meaning.
    o.airseal = std::fs::canonicalize(&o.airseal)
        .unwrap_or_else(|e| panic!("{}: {e}", o.airseal.display()));
    o
}

fn airseal(o: &Options, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(&o.airseal)
        .current_dir(dir)
        .args(args)
        .env("AIRSEAL_PASSPHRASE", PASSPHRASE)
        .env("AIRSEAL_ISSUING_PASSPHRASE", ISSUING_PASSPHRASE)
        .env_remove("AIRSEAL_VENDOR")
        .env_remove("AIRSEAL_DATABASE")
        .output()
        .expect("run airseal");
    assert!(
        out.status.success(),
        "airseal {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes the vendor folder and returns the keys it generated.
fn setup(o: &Options, vendor: &Path) -> Vec<String> {
    std::fs::create_dir_all(vendor).unwrap();
    airseal(o, vendor, &["init", "--vendor-id", "bench"]);
    let config = vendor.join("airseal.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[products.{PRODUCT}]\nactivation_template = \"pro\"\n\n\
         [products.{PRODUCT}.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         features = [\"F1\"]\nmax_activations = 1\n"
    ));
    std::fs::write(&config, text).unwrap();
    airseal(
        o,
        vendor,
        &[
            "issuing-key",
            "create",
            "--out",
            "../issuing",
            "--days",
            "30",
        ],
    );
    let count = o.requests.to_string();
    airseal(
        o,
        vendor,
        &[
            "keys",
            "generate",
            "--product",
            PRODUCT,
            "--count",
            &count,
            "--out",
            "../keys.txt",
        ],
    );
    let keys = std::fs::read_to_string(vendor.join("../keys.txt")).unwrap();
    keys.lines().map(str::to_string).collect()
}

/// One request per key, each from a machine of its own.
fn make_requests(keys: &[String], devices: &Path, now: i64) -> Vec<Vec<u8>> {
    keys.iter()
        .enumerate()
        .map(|(i, key)| {
            let machine = Device::open(devices.join(i.to_string()));
            let fingerprint = Fingerprint::new()
                .with(ComponentKind::Custom("board".into()), &format!("board-{i}"))
                .with(ComponentKind::Custom("disk".into()), &format!("disk-{i}"))
                .with(ComponentKind::Custom("nic".into()), &format!("nic-{i}"));
            machine
                .create_request(PRODUCT, Some(key), &fingerprint, None, &[], now)
                .expect("create request")
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

struct Stats {
    answered: usize,
    other: Vec<(u16, usize)>,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Stats {
    fn print(&mut self, name: &str, floor: Option<f64>) {
        self.latencies_us.sort_unstable();
        let pct = |p: f64| {
            let n = self.latencies_us.len();
            if n == 0 {
                return 0.0;
            }
            let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
            self.latencies_us[i] as f64 / 1000.0
        };
        let rate = self.answered as f64 / self.seconds;
        let ratio = floor.map_or(String::new(), |f| format!("  ({:.2}x the floor)", rate / f));
        println!(
            "{name:<34} {:>7} answered in {:>6.2} s = {:>8.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms{ratio}",
            self.answered,
            self.seconds,
            rate,
            pct(0.50),
            pct(0.99),
            pct(1.0),
        );
        for (status, n) in &self.other {
            println!("    status {status}: {n}");
        }
    }
}

fn floor(vendor: &Path, issuing: &Path, requests: &[Vec<u8>], now: i64) -> Stats {
    let dir = airseal_vendor::vendor_dir::VendorDir::open(vendor).unwrap();
    let mut ledger = dir.open_ledger().unwrap();
    let issuer =
        airseal_vendor::issuing::unlock(issuing, ISSUING_PASSPHRASE.as_bytes()).expect("unlock");
    let mut latencies_us = Vec::with_capacity(requests.len());
    let cpu = cpu_seconds();
    let start = Instant::now();
    for r in requests {
        let t = Instant::now();
        airseal_vendor::activate::answer_request(&mut ledger, &issuer, dir.config(), r, now)
            .expect("floor: answer_request");
        latencies_us.push(t.elapsed().as_micros() as u64);
    }
    let cpu = cpu_seconds() - cpu;
    println!(
        "floor CPU time: {:.1} µs per activation (this process, user + system)",
        cpu * 1e6 / requests.len() as f64
    );
    Stats {
        answered: requests.len(),
        other: Vec::new(),
        seconds: start.elapsed().as_secs_f64(),
        latencies_us,
    }
}

/// User + system CPU seconds of this process so far (`/proc/self/stat`, 100 ticks/s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// A running `airseal serve`, stopped when dropped.
struct Server(Child, SocketAddr);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(o: &Options, vendor: &Path, issuing: &Path, log: &Path) -> Server {
    let mut cmd = Command::new(&o.airseal);
    cmd.current_dir(vendor)
        .args(["serve", "--vendor", ".", "--listen", "127.0.0.1:0"])
        .arg("--issuing-key")
        .arg(issuing)
        .args(&o.serve_args)
        .env("AIRSEAL_ISSUING_PASSPHRASE", ISSUING_PASSPHRASE)
        .env_remove("AIRSEAL_PASSPHRASE")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    if let Some(url) = &o.database {
        cmd.arg("--database").arg(url);
    }
    let mut child = cmd.spawn().expect("start airseal serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(addr) = line.trim().strip_prefix("listening on http://") else {
        let _ = child.kill();
        panic!(
            "airseal serve did not start: {line:?}; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    };
    let addr = addr.parse().expect("listening address");
    Server(child, addr)
}

/// Reads one HTTP/1.1 response from `r`; its status.
fn read_response(r: &mut BufReader<TcpStream>, line: &mut String) -> u16 {
    line.clear();
    r.read_line(line).expect("status line");
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        r.read_line(line).expect("header");
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("content-length");
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut sink = vec![0u8; 8192];
    let mut skip = |r: &mut BufReader<TcpStream>, mut n: usize| {
        while n > 0 {
            let k = n.min(sink.len());
            r.read_exact(&mut sink[..k]).expect("body");
            n -= k;
        }
    };
    if chunked {
        loop {
            line.clear();
            r.read_line(line).expect("chunk size");
            let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
            skip(r, size + 2);
            if size == 0 {
                break;
            }
        }
    } else {
        skip(r, length);
    }
    status
}

fn load(o: &Options, servers: &[SocketAddr], requests: &Arc<Vec<Vec<u8>>>) -> Stats {
    let next = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(std::sync::Barrier::new(o.clients + 1));
    let threads: Vec<_> = (0..o.clients)
        .map(|c| {
            let addr = servers[c % servers.len()];
            let (next, requests, barrier) = (next.clone(), requests.clone(), barrier.clone());
            std::thread::spawn(move || {
                let stream = TcpStream::connect(addr).expect("connect");
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                let mut head = Vec::with_capacity(256);
                let mut latencies = Vec::new();
                let mut statuses: Vec<(u16, usize)> = Vec::new();
                barrier.wait();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = requests.get(i) else { break };
                    head.clear();
                    write!(
                        head,
                        "POST /v1/activations HTTP/1.1\r\nHost: {addr}\r\n\
                         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .unwrap();
                    head.extend_from_slice(body);
                    let t = Instant::now();
                    writer.write_all(&head).expect("send");
                    let status = read_response(&mut reader, &mut line);
                    latencies.push(t.elapsed().as_micros() as u64);
                    match statuses.iter_mut().find(|(s, _)| *s == status) {
                        Some((_, n)) => *n += 1,
                        None => statuses.push((status, 1)),
                    }
                }
                (latencies, statuses)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut stats = Stats {
        answered: 0,
        other: Vec::new(),
        seconds: 0.0,
        latencies_us: Vec::with_capacity(requests.len()),
    };
    let mut all: Vec<(u16, usize)> = Vec::new();
    for t in threads {
        let (latencies, statuses) = t.join().expect("client thread");
        stats.latencies_us.extend(latencies);
        for (s, n) in statuses {
            match all.iter_mut().find(|(x, _)| *x == s) {
                Some((_, m)) => *m += n,
                None => all.push((s, n)),
            }
        }
    }
    stats.seconds = start.elapsed().as_secs_f64();
    for (s, n) in all {
        if s == 200 {
            stats.answered += n;
        } else {
            stats.other.push((s, n));
        }
    }
    stats
}

fn main() {
    let o = options();
    if o.dir.exists() {
        std::fs::remove_dir_all(&o.dir).unwrap();
    }
    std::fs::create_dir_all(&o.dir).unwrap();
    let vendor = o.dir.join("vendor");
    let issuing = o.dir.join("issuing");
    let t = Instant::now();
    let keys = setup(&o, &vendor);
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let requests = make_requests(&keys, &o.dir.join("devices"), now);
    std::fs::remove_dir_all(o.dir.join("devices")).unwrap();
    let copy = o.dir.join("floor-vendor");
    copy_dir(&vendor, &copy);
    if let Some(url) = &o.database {
        airseal(&o, &vendor, &["ledger", "migrate", "--to", url]);
    }
    println!(
        "setup: {} keys and requests in {:.1} s ({} clients, {} instance(s), {})",
        requests.len(),
        t.elapsed().as_secs_f64(),
        o.clients,
        o.instances,
        if o.database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let mut floor_stats = (!o.skip_floor).then(|| floor(&copy, &issuing, &requests, now));
    let floor_rate = floor_stats.as_ref().map(|s| s.answered as f64 / s.seconds);
    if let Some(s) = floor_stats.as_mut() {
        s.print("floor: answer_request in-process", None);
    }
    if o.floor_only {
        return;
    }
    let servers: Vec<Server> = (0..o.instances)
        .map(|i| start_server(&o, &vendor, &issuing, &o.dir.join(format!("serve-{i}.log"))))
        .collect();
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.1).collect();
    std::thread::sleep(Duration::from_millis(200));
    let requests = Arc::new(requests);
    let mut stats = load(&o, &addrs, &requests);
    stats.print("HTTP: POST /v1/activations", floor_rate);
    drop(servers);
    if !stats.other.is_empty() || stats.answered != requests.len() {
        eprintln!("not every request was answered 200");
        std::process::exit(1);
    }
}
