//! Sweeps in the window, each on a thread of its own so the window keeps drawing: reading a
//! sweep directory for the Plots tab ([`Loading`]), and running a sweep through the runner
//! ([`SweepJob`]), whose records land on disk as they finish (exactly as `thinkscale sweep`
//! writes them) while the window counts them, estimates the time left, and re-reads the
//! curves.

use crate::analysis::sweep::SweepCurves;
use crate::runner::parallel::default_parallel;
use crate::runner::sweep::{run_with, SweepConfig, SweepEvent, SweepManifest, SweepRecord};
use crate::search::CancelToken;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// A sweep read for the Plots tab: its manifest, records and every curve.
pub struct LoadedSweep {
    /// Where it is.
    pub dir: PathBuf,
    /// Its `sweep.json`.
    pub manifest: SweepManifest,
    /// Its records (the scores figure and exports read them).
    pub records: Vec<SweepRecord>,
    /// Its curves.
    pub curves: SweepCurves,
}

impl LoadedSweep {
    /// Reads the sweep in `dir` and computes its curves.
    pub fn read(dir: PathBuf) -> Result<Self, String> {
        crate::runner::sweep::load(&dir)
            .map(|(manifest, records)| Self {
                curves: crate::analysis::sweep::curves(&manifest, &records),
                manifest,
                records,
                dir,
            })
            .map_err(|e| format!("{e:#}"))
    }

    /// The name a legend gives it: its directory's last part.
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.dir.display().to_string())
    }
}

/// One piece of work on a thread of its own (reading a sweep, writing figures): the window
/// takes its one result when it is there, and never waits for it.
pub struct Task<T> {
    what: &'static str,
    rx: Receiver<Result<T, String>>,
}

impl<T: Send + 'static> Task<T> {
    /// Starts `work` on a thread named after `what` (e.g. "reading the sweep"); `wake` is
    /// called when it is done.
    pub fn start(
        what: &'static str,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("thinkscale: {what}"))
            .spawn(move || {
                let _ = tx.send(work());
                wake();
            })
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        Ok(Self { what, rx })
    }

    /// The result, once there is one (a thread that stopped without one is an error).
    pub fn poll(&self) -> Option<Result<T, String>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(format!("{} stopped", self.what))),
        }
    }
}

/// A sweep being read on its own thread.
pub type Loading = Task<LoadedSweep>;

/// Starts reading the sweep in `dir`; `wake` is called when it is done.
pub fn read_sweep(dir: PathBuf, wake: impl Fn() + Send + 'static) -> Result<Loading, String> {
    Task::start("reading the sweep", wake, move || LoadedSweep::read(dir))
}

enum Msg {
    Event(SweepEvent),
    Finished(Result<crate::runner::sweep::SweepOutcome, String>),
}

/// A sweep running on its own thread.
pub struct SweepJob {
    /// Its directory.
    pub dir: PathBuf,
    /// (run, problem) pairs in the whole sweep (0 until it has started).
    pub total: usize,
    /// Pairs on disk, including those of an earlier start.
    pub done: usize,
    /// Pairs that were on disk when it started.
    pub resumed: usize,
    /// Right answers among the pairs done in this start.
    pub right: usize,
    /// When it started.
    pub started: Instant,
    /// How it ended: a summary, or why it failed; `None` while it runs.
    pub outcome: Option<Result<String, String>>,
    cancel: CancelToken,
    rx: Receiver<Msg>,
}

impl SweepJob {
    /// Starts running `config` into `dir` (a new directory, or `resume` one of the same
    /// configuration); `wake` is called after each record.
    pub fn start(
        config: SweepConfig,
        dir: PathBuf,
        resume: bool,
        wake: impl Fn() + Send + 'static,
    ) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel();
        let cancel = CancelToken::new();
        let token = cancel.clone();
        let out = dir.clone();
        std::thread::Builder::new()
            .name("thinkscale-sweep".into())
            .spawn(move || {
                let events = tx.clone();
                // Several problems at once, as the CLI's default ([`default_parallel`]).
                let parallel = default_parallel(&config);
                let result = run_with(&config, &out, resume, parallel, &token, &mut |e| {
                    let _ = events.send(Msg::Event(e));
                    wake();
                })
                .map_err(|e| format!("{e:#}"));
                let _ = tx.send(Msg::Finished(result));
                wake();
            })
            .map_err(|e| format!("cannot start the sweep: {e}"))?;
        Ok(Self {
            dir,
            total: 0,
            done: 0,
            resumed: 0,
            right: 0,
            started: Instant::now(),
            outcome: None,
            cancel,
            rx,
        })
    }

    /// Takes what the sweep reported; true when new records are on disk.
    pub fn poll(&mut self) -> bool {
        let mut fresh = false;
        loop {
            match self.rx.try_recv() {
                Ok(Msg::Event(SweepEvent::Started { total, done })) => {
                    self.total = total;
                    self.done = done;
                    self.resumed = done;
                    self.started = Instant::now();
                }
                Ok(Msg::Event(SweepEvent::Done { correct, .. })) => {
                    self.done += 1;
                    self.right += usize::from(correct);
                    fresh = true;
                }
                Ok(Msg::Finished(r)) => {
                    self.outcome = Some(r.map(|o| {
                        format!(
                            "{} of {} (run, problem) pairs on disk{}",
                            o.done,
                            o.total,
                            if o.cancelled {
                                "; cancelled, resume it to go on"
                            } else {
                                ""
                            }
                        )
                    }));
                    fresh = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if self.outcome.is_none() {
                        self.outcome = Some(Err("the sweep's thread stopped".into()));
                    }
                    break;
                }
            }
        }
        fresh
    }

    /// Whether it still runs.
    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }

    /// Asks it to stop after the forward pass under way; what is on disk stays.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Time left at the pace of this start so far; `None` before its first record.
    pub fn eta(&self) -> Option<Duration> {
        let new = self.done.saturating_sub(self.resumed);
        if new == 0 || self.total == 0 {
            return None;
        }
        let per = self.started.elapsed().as_secs_f64() / new as f64;
        Some(Duration::from_secs_f64(
            per * self.total.saturating_sub(self.done) as f64,
        ))
    }
}

/// A duration as a progress line shows it: `45 s`, `3 min 20 s`, `1 h 5 min`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(fmt_duration(Duration::from_secs(45)), "45 s");
        assert_eq!(fmt_duration(Duration::from_secs(200)), "3 min 20 s");
        assert_eq!(fmt_duration(Duration::from_secs(3900)), "1 h 5 min");
    }
}
