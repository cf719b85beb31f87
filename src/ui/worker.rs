//! The worker thread: it owns the models, takes jobs from a bounded channel, and sends events
//! back; the window drains them each frame. A failure becomes an event, never a dead thread.

use crate::data::Problem;
use crate::runner::{load_policy, load_verifier, search_problem, RunConfig};
use crate::search::{CancelToken, Cancelled, SearchEvent};
use crate::store::Record;
use crate::verify::{Verifier, VerifierSpec};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;

/// Work for the worker.
#[derive(Debug)]
pub enum Job {
    /// Search one problem with the configuration's strategy, budget and sampling.
    Search {
        /// The problem.
        problem: Box<Problem>,
        /// The configuration (its policy must be the worker's).
        config: Box<RunConfig>,
        /// Where to keep the record (see [`crate::runner::sweep::record_one`]); `None`: not kept.
        keep_in: Option<std::path::PathBuf>,
    },
}

/// What the worker reports.
#[derive(Debug)]
pub enum WorkerEvent {
    /// The policy is loaded.
    Loaded {
        /// Its name.
        policy: String,
        /// Its parameters.
        params: u64,
    },
    /// The policy could not be loaded.
    LoadFailed(String),
    /// This verifier is loaded (on the first search that uses it) and kept.
    VerifierLoaded(VerifierSpec),
    /// An event of the running search.
    Search(SearchEvent),
    /// A search finished.
    Done {
        /// Its record.
        record: Box<Record>,
        /// The sweep directory it was kept in, or why it could not be; `None` when not kept.
        kept: Option<Result<std::path::PathBuf, String>>,
    },
    /// A search failed.
    Failed(String),
    /// A search was cancelled.
    Cancelled,
}

/// Handle to the worker thread.
pub struct Worker {
    jobs: Option<SyncSender<Job>>,
    events: Receiver<WorkerEvent>,
    cancel: CancelToken,
    thread: Option<JoinHandle<()>>,
}

/// Events buffered between the worker and the window before the worker waits.
const EVENT_CAPACITY: usize = 4096;

impl Worker {
    /// Starts the worker; it loads the policy of `config` first. `wake` is called after events
    /// are sent (the window passes a repaint request).
    pub fn spawn(config: RunConfig, wake: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(1);
        let (ev_tx, ev_rx) = mpsc::sync_channel::<WorkerEvent>(EVENT_CAPACITY);
        let cancel = CancelToken::new();
        // The window shows each sample as it ends, inside a batch.
        cancel.watch_samples();
        let token = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("thinkscale-worker".into())
            .spawn(move || {
                let send = |e: WorkerEvent| {
                    let ok = ev_tx.send(e).is_ok();
                    wake();
                    ok
                };
                let params;
                let mut policy = match load_policy(&config) {
                    Ok(p) => {
                        params = p.params().unwrap_or(0);
                        send(WorkerEvent::Loaded {
                            policy: config.policy.display().to_string(),
                            params,
                        });
                        p
                    }
                    Err(e) => {
                        send(WorkerEvent::LoadFailed(format!("{e:#}")));
                        return;
                    }
                };
                // The verifier is loaded on first use and kept while its choice stays the same.
                let mut loaded: Option<(VerifierSpec, Box<dyn Verifier + Send>)> = None;
                while let Ok(job) = job_rx.recv() {
                    match job {
                        Job::Search {
                            problem,
                            config,
                            keep_in,
                        } => {
                            token.reset();
                            if loaded
                                .as_ref()
                                .is_none_or(|(spec, _)| *spec != config.verifier)
                            {
                                loaded = match load_verifier(&config) {
                                    Ok(v) => {
                                        send(WorkerEvent::VerifierLoaded(config.verifier.clone()));
                                        Some((config.verifier.clone(), v))
                                    }
                                    Err(e) => {
                                        if !send(WorkerEvent::Failed(format!("{e:#}"))) {
                                            return;
                                        }
                                        continue;
                                    }
                                };
                            }
                            let Some((_, verifier)) = loaded.as_mut() else {
                                continue;
                            };
                            let mut sink = |e: &SearchEvent| {
                                send(WorkerEvent::Search(e.clone()));
                            };
                            // A panic in a search is reported like a failure; the worker and its
                            // models stay for the next job.
                            let result =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    search_problem(
                                        &config,
                                        &problem,
                                        policy.as_mut(),
                                        verifier.as_mut(),
                                        &mut sink,
                                        &token,
                                    )
                                }))
                                .unwrap_or_else(|p| {
                                    let what = p
                                        .downcast_ref::<String>()
                                        .cloned()
                                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                        .unwrap_or_default();
                                    Err(anyhow::anyhow!("the search panicked: {what}"))
                                });
                            let ev = match result {
                                Ok(r) => {
                                    // Kept before it is shown: a result on screen is on disk.
                                    let kept = keep_in.map(|root| {
                                        crate::runner::sweep::record_one(&root, &config, params, &r)
                                            .map_err(|e| format!("{e:#}"))
                                    });
                                    WorkerEvent::Done {
                                        record: Box::new(r),
                                        kept,
                                    }
                                }
                                Err(e) if e.is::<Cancelled>() => WorkerEvent::Cancelled,
                                Err(e) => WorkerEvent::Failed(format!("{e:#}")),
                            };
                            if !send(ev) {
                                return;
                            }
                        }
                    }
                }
            })?;
        Ok(Self {
            jobs: Some(job_tx),
            events: ev_rx,
            cancel,
            thread: Some(thread),
        })
    }

    /// Hands a job over; fails at once if the worker is busy or gone.
    pub fn submit(&self, job: Job) -> Result<(), String> {
        match self.jobs.as_ref().map(|j| j.try_send(job)) {
            Some(Ok(())) => Ok(()),
            Some(Err(TrySendError::Full(_))) => Err("the worker is busy".into()),
            _ => Err("the worker has stopped".into()),
        }
    }

    /// Asks the running search to stop.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Tokens the policy sampled in the running search so far (also inside a batch, before any
    /// of its samples ends).
    pub fn tokens(&self) -> u64 {
        self.cancel.tokens()
    }

    /// The texts of the samples that ended since the last call, inside the policy call under
    /// way (before its search events arrive).
    pub fn take_ended(&self) -> Vec<String> {
        self.cancel.take_ended()
    }

    /// Takes up to `max` waiting events without blocking. A worker thread that ended (it
    /// returns only when its policy failed to load, or when it died) is reported once, as a
    /// failure, so the window never waits on it.
    pub fn poll(&mut self, max: usize) -> Vec<WorkerEvent> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.events.try_recv() {
                Ok(e) => out.push(e),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if let Some(t) = self.thread.take() {
                        let died = t.join().is_err();
                        if died {
                            out.push(WorkerEvent::Failed(
                                "the worker thread died; choose the policy again to restart it"
                                    .into(),
                            ));
                        }
                    }
                    break;
                }
            }
        }
        out
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.jobs.take();
        // Unblock a worker waiting on a full event channel, then let it finish.
        while self.events.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}
