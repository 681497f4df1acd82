//! The `rollcall` binary as a child process, shared by the binary's test files: start it
//! with a clean `ROLLCALL_*` environment, collect stdout and stderr line by line, wait for
//! what it prints (never a fixed sleep), stop it with SIGTERM or SIGKILL.
//!
//! Each test binary uses a different part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous: a debug build seeds the demo's 11,000 sessions in well under a second, but CI
/// machines are shared.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `rollcall` with its output collected line by line.
pub struct Running {
    child: Child,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_lines: Receiver<String>,
}

pub fn rollcall(args: &[&str], envs: &[(&str, &str)]) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("ROLLCALL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the rollcall binary starts");
    let (tx, stdout) = channel();
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (etx, stderr_lines) = channel();
    let err = child.stderr.take().expect("stderr");
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line.clone());
            let _ = etx.send(line);
        }
    });
    Running {
        child,
        stdout,
        stderr,
        stderr_lines,
    }
}

impl Running {
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// The demo banner's lines (it is framed by three rules of `=`).
    pub fn banner(&self) -> Vec<String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut lines = Vec::new();
        let mut rules = 0;
        while rules < 3 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    if line.starts_with("=====") {
                        rules += 1;
                    }
                    lines.push(line);
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no banner in time; stderr:\n{}", self.stderr_text())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "stdout closed before the banner; stderr:\n{}",
                        self.stderr_text()
                    )
                }
            }
        }
        lines
    }

    /// The address from the `listening on http://ADDR` log line.
    pub fn listening(&self) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        return rest.split_whitespace().next().unwrap_or("").to_owned();
                    }
                }
                Err(e) => panic!("never listened ({e:?}); stderr:\n{}", self.stderr_text()),
            }
        }
    }

    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "rollcall did not exit in {timeout:?}; stderr:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success());
        self.wait(STOP_TIMEOUT)
    }

    /// SIGKILL (`Child::kill` on Unix): no shutdown code runs.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Everything written to stderr, once the process has exited.
    pub fn finished_stderr(&mut self) -> String {
        // The reader thread ends at EOF; drain so the text is complete.
        while self.stderr_lines.recv_timeout(STOP_TIMEOUT).is_ok() {}
        self.stderr_text()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
