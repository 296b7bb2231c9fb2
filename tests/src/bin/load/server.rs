//! The `wrangler dev` servers of the load benchmark, each in its own process group (so
//! stopping it stops workerd too, see TOOLCHAIN.md), and the CPU time a group has used.

use edgemeter_tests::spawn_wrangler;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running `wrangler dev`.
pub struct Wrangler {
    pub base: String,
    pub log: PathBuf,
    pgid: u32,
    port: u16,
    child: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free local port")
}

impl Wrangler {
    /// Serves the worker of `config` (a `wrangler.toml` relative to the repository root)
    /// with the given `--var`s, on a fresh port and state folder under `state_dir`, and
    /// waits until `/healthz` answers. Tried again on fresh ports when wrangler's own
    /// start-up restart loses the port (as `edgemeter_tests::Server` does).
    pub fn start(name: &str, config: &str, vars: &[(&str, &str)], state_dir: &Path) -> Wrangler {
        for attempt in 1..=3 {
            let mut w = Wrangler::spawn(name, config, vars, state_dir);
            match w.wait_healthy(Duration::from_secs(120)) {
                Ok(()) => return w,
                Err(log) if attempt < 3 && log.contains("Address already in use") => w.stop(),
                Err(log) => panic!("wrangler dev ({name}) did not become healthy on {}:\n{log}", w.base),
            }
        }
        unreachable!("the last try returns or panics")
    }

    fn spawn(name: &str, config: &str, vars: &[(&str, &str)], state_dir: &Path) -> Wrangler {
        let port = free_port();
        let inspector = free_port();
        std::fs::create_dir_all(state_dir).expect("create the state folder");
        let log = state_dir.join(format!("{name}-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create the server log");
        let vars: String = vars.iter().map(|(k, v)| format!(" --var '{k}:{v}'")).collect();
        let args = format!(
            "-c '{config}' --ip 127.0.0.1 --port {port} --inspector-port {inspector} \
             --persist-to '{state}' --show-interactive-dev-session=false{vars}",
            state = state_dir.join(format!("{name}-state")).display(),
        );
        let child = spawn_wrangler(&args, log_file);
        Wrangler { base: format!("http://127.0.0.1:{port}"), log, pgid: child.id(), port, child }
    }

    fn wait_healthy(&self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            let ok = ureq::get(&format!("{}/healthz", self.base))
                .timeout(Duration::from_secs(2))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ok {
                return Ok(());
            }
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if Instant::now() > deadline || log.contains("Address already in use") {
                return Err(log);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the whole process group and waits until the port is free.
    pub fn stop(&mut self) {
        edgemeter_tests::signal_group(self.pgid, self.port, "TERM");
        let _ = self.child.wait();
    }

    /// CPU time (user + system) used so far by the live processes of this server's group
    /// (wrangler's node process and workerd), and by workerd alone, which runs the worker
    /// and its objects.
    pub fn cpu_time(&self) -> (Duration, Duration) {
        let (all, workerd) = group_cpu_ticks(self.pgid);
        let secs = |t: u64| Duration::from_secs_f64(t as f64 / clock_ticks_per_second());
        (secs(all), secs(workerd))
    }
}

impl Drop for Wrangler {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// `utime + stime` in clock ticks summed over the processes whose group is `pgid`: all of
/// them, and the `workerd` ones.
fn group_cpu_ticks(pgid: u32) -> (u64, u64) {
    let (mut all, mut workerd) = (0, 0);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // After the name: state, ppid, pgrp, …, utime (field 14), stime (field 15).
        if f.len() > 12 && f[2].parse::<u32>().ok() == Some(pgid) {
            let ticks = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
            all += ticks;
            if head.ends_with("(workerd") {
                workerd += ticks;
            }
        }
    }
    (all, workerd)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}
