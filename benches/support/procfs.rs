//! Reading `/proc` for the benchmarks: CPU time and memory of a process, how busy the machine
//! is, and the clock tick rate. Shared by the benches with `#[path]`.

#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// utime + stime of a process (all its threads, live and exited), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy time of the whole machine (user, nice, system, irq, softirq), in clock ticks.
pub fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq ...
    Some([0, 1, 2, 5, 6].iter().filter_map(|&i| fields.get(i)).sum())
}

/// Waits (bounded) until the rest of the machine is quiet, so that another build or test does
/// not end up in the figures.
pub fn wait_for_quiet_machine(clock_ticks: f64, quiet_cores: f64, limit: Duration) {
    let started = Instant::now();
    let mut warned = false;
    loop {
        let before = machine_busy_ticks().unwrap_or(0);
        std::thread::sleep(Duration::from_secs(1));
        let busy = machine_busy_ticks().unwrap_or(0).saturating_sub(before) as f64 / clock_ticks;
        if busy < quiet_cores {
            return;
        }
        if started.elapsed() > limit {
            eprintln!("   !! the machine is still busy ({busy:.2} cores); measuring anyway");
            return;
        }
        if !warned {
            eprintln!(
                "   the machine is busy ({busy:.2} cores), waiting up to {limit:?} for it to calm down"
            );
            warned = true;
        }
    }
}

pub fn proc_kib(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}
