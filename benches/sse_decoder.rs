//! SSE decoder throughput: `cargo bench --bench sse_decoder`.
//!
//! Decodes large synthetic streams held in memory (no I/O), fed in network-sized chunks, and
//! prints MB/s: many small events like Tidings sends, one huge data line, and the worst case
//! of one byte per read.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tidings::sse::{Decoder, Limits, MessageEvent};

const MIB: usize = 1024 * 1024;

fn small_events(total_bytes: usize) -> (Vec<u8>, usize) {
    let mut stream = Vec::with_capacity(total_bytes + 512);
    let mut count = 0;
    while stream.len() < total_bytes {
        let frame = format!(
            "id: 1795746410{count:03}-{count}\nevent: item\ndata: {{\"channel\":\"world\",\"key\":\"k{count}\",\"title\":\"Headline number {count} with some words\",\"severity\":\"info\",\"published\":\"2026-11-27T02:26:50Z\"}}\n\n"
        );
        stream.extend_from_slice(frame.as_bytes());
        count += 1;
    }
    (stream, count)
}

fn huge_line(data_bytes: usize) -> Vec<u8> {
    let mut stream = b"data: ".to_vec();
    stream.extend(std::iter::repeat_n(b'x', data_bytes));
    stream.extend_from_slice(b"\n\n");
    stream
}

/// Decodes `stream` in `chunk`-byte reads `rounds` times; returns the best time and the events.
fn run(stream: &[u8], chunk: usize, rounds: usize) -> (Duration, usize) {
    let limits = Limits {
        max_line_bytes: stream.len() + 1,
        max_event_bytes: stream.len() + 1,
    };
    let mut best = Duration::MAX;
    let mut events = 0;
    for _ in 0..rounds {
        let mut decoder = Decoder::new(limits);
        let mut out: Vec<MessageEvent> = Vec::with_capacity(1024);
        events = 0;
        let started = Instant::now();
        for piece in stream.chunks(chunk) {
            if decoder.feed(black_box(piece), &mut out).is_err() {
                eprintln!("decoder refused the stream");
                std::process::exit(1);
            }
            events += out.len();
            out.clear();
        }
        best = best.min(started.elapsed());
    }
    (best, events)
}

fn report(name: &str, stream: &[u8], chunk: usize, rounds: usize) {
    let (time, events) = run(stream, chunk, rounds);
    let megabytes = stream.len() as f64 / MIB as f64;
    println!(
        "| {name} | {:.0} MiB | {chunk} B | {events} | {:.1} ms | {:.0} MiB/s | {:.2} M events/s |",
        megabytes,
        time.as_secs_f64() * 1e3,
        megabytes / time.as_secs_f64(),
        events as f64 / time.as_secs_f64() / 1e6,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    println!("| stream | size | read size | events | best of 3 | throughput | events/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let (small, _) = small_events(64 * MIB);
    report("small events (~200 B each)", &small, 16 * 1024, 3);
    report("small events (~200 B each)", &small, 1500, 3);
    let huge = huge_line(64 * MIB);
    report("one 64 MiB data line", &huge, 16 * 1024, 3);
    let huge16 = huge_line(16 * MIB);
    report("one 16 MiB data line", &huge16, 1500, 3);
    let (worst, _) = small_events(4 * MIB);
    report("small events, one byte per read", &worst, 1, 3);
}
