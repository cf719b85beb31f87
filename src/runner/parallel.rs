//! Problems in parallel: K searches at once, each on a thread of its own, their policy calls
//! gathered into one shared call.
//!
//! Each search runs the ordinary [`search_problem`] against stand-ins for the policy and the
//! verifier that hand every call to this thread and wait. Once every search under way waits,
//! this thread issues all their policy calls as one [`Policy::extend_many`] (the local engine
//! decodes them side by side) and their verifier calls one search at a time, each search's
//! memory of scored prefixes swapped in for its turn ([`Verifier::suspend`]). A search's
//! samples draw from its own seeds and it reads only its own prefix cache and scores, so it
//! gets the samples and is charged the compute it would alone. Which searches share a call
//! depends only on how many calls each makes, so a run is reproducible whatever the timing of
//! its threads.
//!
//! A policy or verifier on a server needs no gathering: the server batches whatever requests
//! are in flight. Where one offers [`Policy::detach`] ([`Verifier::detach`]), each search
//! calls a handle of its own directly, so its requests go out the moment it makes them and a
//! search waiting for its round's longest step never holds back the others; the handles share
//! one count of requests in flight (`--concurrency`). Searches then end, and their records
//! land, in the order they finish.
//!
//! A small model on the CPU kernels (the toy policies and PRMs) runs faster as one engine per
//! core than as one engine spread over the cores, which hands each step to the other cores and
//! waits for them, and leaves them idle while it samples and the searches think. Where the
//! policy offers [`Policy::twin`]s, the searches run as one group per core, each group
//! gathered as above onto a twin engine (the same weights, caches of its own) that works on
//! its core alone ([`crate::engine::qmatmul::alone`]); the verifier is a handle per search
//! or a twin per group. Samples never depend on their batch, so the records are the same;
//! they land in the order the groups finish them (the curves read them in the same order
//! whatever it is: [`crate::analysis::sweep`]). The `--preset paper-toy` sweep runs 1.5x as
//! fast this way on 2 cores.

use super::{search_problem, RunConfig};
use crate::backend::{Extend, ExtendCall, Policy, Prefix, Until};
use crate::data::Problem;
use crate::engine::{CancelToken, ComputeMeter, Generation, SamplingParams};
use crate::search::SearchEvent;
use crate::store::Record;
use crate::verify::{StepText, Verifier};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};

/// The searches run at once where the backend says nothing else: enough rows to fill the
/// local engine's batches on a few problems' rounds.
pub const DEFAULT_PARALLEL_PROBLEMS: usize = 8;

/// The problems a sweep searches at once unless told: a remote policy's `concurrency` (the
/// requests it keeps in flight), else [`DEFAULT_PARALLEL_PROBLEMS`].
pub fn default_parallel(config: &super::sweep::SweepConfig) -> usize {
    if crate::backend::remote_url(&config.policy).is_some() {
        config.remote.concurrency.max(1)
    } else {
        DEFAULT_PARALLEL_PROBLEMS
    }
}

type Reply<T> = Sender<anyhow::Result<T>>;

/// One prefix of an [`Extend`], owned.
struct OwnedExtend {
    prefix: Prefix,
    n: usize,
    seed: u64,
    max_tokens: Option<usize>,
}

/// A search's policy call.
struct ExtendMsg {
    search: u64,
    problem: Problem,
    requests: Vec<OwnedExtend>,
    until: Until,
    delimiter: String,
    sampling: SamplingParams,
    meter: ComputeMeter,
    reply: Reply<(Vec<Vec<Generation>>, ComputeMeter)>,
}

/// A search's verifier call.
struct ScoreMsg {
    search: u64,
    problem: Problem,
    solutions: Vec<Vec<StepText>>,
    meter: ComputeMeter,
    reply: Reply<(Vec<Vec<f32>>, ComputeMeter)>,
}

/// What a search's stand-ins ask of this thread.
enum Msg {
    Extend(ExtendMsg),
    Score(ScoreMsg),
    RoomAfter {
        problem: Problem,
        prefix: String,
        reply: Reply<Option<usize>>,
    },
    PolicyStart {
        search: u64,
    },
    VerifierStart {
        search: u64,
    },
    Done {
        slot: usize,
        job: usize,
        result: anyhow::Result<Record>,
    },
}

/// Sends this thread the message `msg` makes with a reply channel, and waits for the answer
/// (a closed channel: the run is over).
fn ask<T>(tx: &Sender<Msg>, msg: impl FnOnce(Reply<T>) -> Msg) -> anyhow::Result<T> {
    let stopped = || anyhow::anyhow!("the parallel run stopped");
    let (reply, rx) = channel();
    tx.send(msg(reply)).map_err(|_| stopped())?;
    rx.recv().unwrap_or_else(|_| Err(stopped()))
}

/// The policy as a search thread sees it.
struct PolicyStandIn {
    search: u64,
    name: String,
    params: Option<u64>,
    tx: Sender<Msg>,
}

impl Policy for PolicyStandIn {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn params(&self) -> Option<u64> {
        self.params
    }

    fn extend(
        &mut self,
        problem: &Problem,
        requests: &[Extend<'_>],
        until: Until,
        delimiter: &str,
        sampling: &SamplingParams,
        meter: &mut ComputeMeter,
        _cancel: &CancelToken,
    ) -> anyhow::Result<Vec<Vec<Generation>>> {
        let (gens, charged) = ask(&self.tx, |reply| {
            Msg::Extend(ExtendMsg {
                search: self.search,
                problem: problem.clone(),
                requests: requests
                    .iter()
                    .map(|r| OwnedExtend {
                        prefix: r.prefix.clone(),
                        n: r.n,
                        seed: r.seed,
                        max_tokens: r.max_tokens,
                    })
                    .collect(),
                until,
                delimiter: delimiter.to_string(),
                sampling: sampling.clone(),
                meter: *meter,
                reply,
            })
        })?;
        *meter = charged;
        Ok(gens)
    }

    fn start_search(&mut self) {
        let _ = self.tx.send(Msg::PolicyStart {
            search: self.search,
        });
    }

    fn room_after(&mut self, problem: &Problem, prefix: &str) -> anyhow::Result<Option<usize>> {
        ask(&self.tx, |reply| Msg::RoomAfter {
            problem: problem.clone(),
            prefix: prefix.to_string(),
            reply,
        })
    }
}

/// The verifier as a search thread sees it.
struct VerifierStandIn {
    search: u64,
    name: String,
    tx: Sender<Msg>,
}

impl Verifier for VerifierStandIn {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let (scores, charged) = ask(&self.tx, |reply| {
            Msg::Score(ScoreMsg {
                search: self.search,
                problem: problem.clone(),
                solutions: solutions.iter().map(|s| s.to_vec()).collect(),
                meter: *meter,
                reply,
            })
        })?;
        *meter = charged;
        Ok(scores)
    }

    fn start_search(&mut self) {
        let _ = self.tx.send(Msg::VerifierStart {
            search: self.search,
        });
    }
}

/// Which search's memory the verifier holds, and the others', set aside.
struct Turns {
    holder: Option<u64>,
    kept: BTreeMap<u64, Box<dyn std::any::Any + Send>>,
}

impl Turns {
    /// Gives `search` the verifier: its own memory back, or a fresh one.
    fn take(&mut self, verifier: &mut dyn Verifier, search: u64) {
        if self.holder == Some(search) {
            return;
        }
        if let Some(h) = self.holder.take() {
            if let Some(state) = verifier.suspend() {
                self.kept.insert(h, state);
            }
        }
        match self.kept.remove(&search) {
            Some(state) => verifier.resume(state),
            None => verifier.start_search(),
        }
        self.holder = Some(search);
    }

    /// `search` starts anew, or has ended: its memory goes.
    fn forget(&mut self, verifier: &mut dyn Verifier, search: u64) {
        self.kept.remove(&search);
        if self.holder == Some(search) {
            verifier.start_search();
        }
    }
}

/// The jobs not yet started, handed out in order to whichever slot frees first; none once the
/// run stops (a record its caller could not keep) or is cancelled.
struct Queue<'a> {
    len: usize,
    next: AtomicUsize,
    stopped: AtomicBool,
    cancel: &'a CancelToken,
}

impl Queue<'_> {
    fn take(&self) -> Option<usize> {
        if self.stopped.load(Ordering::SeqCst) || self.cancel.is_cancelled() {
            return None;
        }
        let job = self.next.fetch_add(1, Ordering::SeqCst);
        (job < self.len).then_some(job)
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}

/// Searches `jobs` (a configuration and a problem each) `k` at a time; `done(job, result)`
/// receives each search's record as it finishes (searches that end while the same shared call
/// is answered, in job order: the same order every time; with a policy of
/// [`Policy::detach`]ed handles, in the order they finish), and an error it returns stops the
/// run: no new search starts, those under way finish. Returns once every
/// started search has finished; with `cancel` set, searches not yet started never start.
///
/// Where the policy offers [`Policy::twin`]s (a small model on the CPU kernels) and the
/// verifier a handle per search or a twin, the `k` searches run as one group per core, each
/// group's calls shared as above on an engine of its own that works on its core alone: no core
/// waits for another at every step, and one group's searches run their own logic while the
/// other's engine works. Records then land in the order the groups finish them.
pub fn search_jobs(
    jobs: &[(RunConfig, &Problem)],
    k: usize,
    policy: &mut dyn Policy,
    verifier: &mut dyn Verifier,
    cancel: &CancelToken,
    done: &mut dyn FnMut(usize, anyhow::Result<Record>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let cores = crate::engine::qmatmul::pool_threads();
    search_jobs_on(jobs, k, cores, policy, verifier, cancel, done)
}

/// [`search_jobs`] with at most `cores` groups.
fn search_jobs_on(
    jobs: &[(RunConfig, &Problem)],
    k: usize,
    cores: usize,
    policy: &mut dyn Policy,
    verifier: &mut dyn Verifier,
    cancel: &CancelToken,
    done: &mut dyn FnMut(usize, anyhow::Result<Record>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let k = k.clamp(1, jobs.len().max(1));
    let queue = Queue {
        len: jobs.len(),
        next: AtomicUsize::new(0),
        stopped: AtomicBool::new(false),
        cancel,
    };
    let mut outcome = Ok(());
    let mut keep = |job: usize, result: anyhow::Result<Record>| {
        if let Err(e) = done(job, result) {
            if outcome.is_ok() {
                outcome = Err(e);
            }
            queue.stop();
        }
    };
    let groups = twins(policy, verifier, k.min(cores));
    if groups.is_empty() {
        search_group(jobs, k, policy, verifier, &queue, &mut keep)?;
        return outcome;
    }
    let count = groups.len();
    let (tx, rx) = channel::<(usize, anyhow::Result<Record>)>();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut started = Vec::with_capacity(count);
        let mut unstarted = None;
        for (g, (mut p, mut v)) in groups.into_iter().enumerate() {
            let slots = k * (g + 1) / count - k * g / count;
            let (tx, queue) = (tx.clone(), &queue);
            let group = std::thread::Builder::new()
                .name(format!("search-group-{g}"))
                .spawn_scoped(scope, move || {
                    crate::engine::qmatmul::alone(|| {
                        search_group(jobs, slots, p.as_mut(), v.as_mut(), queue, &mut |j, r| {
                            let _ = tx.send((j, r));
                        })
                    })
                });
            match group {
                Ok(h) => started.push(h),
                Err(e) => {
                    // No new search starts; the groups under way finish theirs, and their
                    // records are kept below.
                    queue.stop();
                    unstarted = Some(anyhow::anyhow!("cannot start a search thread: {e}"));
                    break;
                }
            }
        }
        drop(tx);
        for (job, result) in rx {
            keep(job, result);
        }
        for h in started {
            match h.join() {
                Ok(r) => r?,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        unstarted.map_or(Ok(()), Err)
    })?;
    outcome
}

/// `count` groups for [`search_jobs`] to run its searches in, one per core: each an engine of
/// its own ([`Policy::twin`]) and a verifier (handles per search, or a twin); none where the
/// policy or the verifier offers no such thing, `count` is 1, or this thread already works
/// alone.
fn twins(
    policy: &dyn Policy,
    verifier: &dyn Verifier,
    count: usize,
) -> Vec<(Box<dyn Policy + Send>, Box<dyn Verifier + Send>)> {
    if count < 2 || crate::engine::qmatmul::alone_here() {
        return Vec::new();
    }
    (0..count)
        .map(|_| {
            Some((
                policy.twin()?,
                verifier.detach().or_else(|| verifier.twin())?,
            ))
        })
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default()
}

/// Searches jobs from `queue` `k` at a time on `policy` and `verifier`, each search on a
/// thread of its own; `keep(job, result)` receives each record as its search ends. The calls
/// of searches without handles of their own are gathered here: once every search under way
/// waits, they go out as one shared call.
fn search_group(
    jobs: &[(RunConfig, &Problem)],
    k: usize,
    policy: &mut dyn Policy,
    verifier: &mut dyn Verifier,
    queue: &Queue,
    keep: &mut dyn FnMut(usize, anyhow::Result<Record>),
) -> anyhow::Result<()> {
    let cancel = queue.cancel;
    let (tx, rx) = channel::<Msg>();
    let policy_name = policy.name();
    let policy_params = policy.params();
    let verifier_name = verifier.name();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        // One thread per slot, each searching the jobs it is given.
        let mut slots: Vec<Sender<usize>> = Vec::with_capacity(k);
        // Handles of their own for the searches where the policy (verifier) offers them: then
        // their calls never come to this thread.
        let own_policies: Vec<Option<Box<dyn Policy + Send>>> =
            (0..k).map(|_| policy.detach()).collect();
        let own_verifiers: Vec<Option<Box<dyn Verifier + Send>>> =
            (0..k).map(|_| verifier.detach()).collect();
        let free = own_policies.iter().all(Option::is_some);
        for ((slot, mut own_policy), mut own_verifier) in
            own_policies.into_iter().enumerate().zip(own_verifiers)
        {
            let (job_tx, job_rx) = channel::<usize>();
            slots.push(job_tx);
            let tx = tx.clone();
            let (pname, vname) = (policy_name.clone(), verifier_name.clone());
            std::thread::Builder::new()
                .name(format!("search-{slot}"))
                .spawn_scoped(scope, move || {
                    for job in job_rx {
                        let (config, problem) = &jobs[job];
                        let search = job as u64;
                        let mut stand_in_p = PolicyStandIn {
                            search,
                            name: pname.clone(),
                            params: policy_params,
                            tx: tx.clone(),
                        };
                        let mut stand_in_v = VerifierStandIn {
                            search,
                            name: vname.clone(),
                            tx: tx.clone(),
                        };
                        let p: &mut dyn Policy = match own_policy.as_mut() {
                            Some(h) => h.as_mut(),
                            None => &mut stand_in_p,
                        };
                        let v: &mut dyn Verifier = match own_verifier.as_mut() {
                            Some(h) => h.as_mut(),
                            None => &mut stand_in_v,
                        };
                        let mut sink = |_: &SearchEvent| {};
                        let result = search_problem(config, problem, p, v, &mut sink, cancel);
                        if tx.send(Msg::Done { slot, job, result }).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| anyhow::anyhow!("cannot start a search thread: {e}"))?;
        }
        drop(tx);
        let mut live = 0;
        for slot in &slots {
            let Some(job) = queue.take() else { break };
            let _ = slot.send(job);
            live += 1;
        }
        let mut extends: Vec<ExtendMsg> = Vec::new();
        let mut scores: Vec<ScoreMsg> = Vec::new();
        // Searches that ended since the last shared call, handled in job order once every
        // search under way has ended or waits: so records land in the same order every time.
        let mut ended: Vec<(usize, usize, anyhow::Result<Record>)> = Vec::new();
        let mut turns = Turns {
            holder: None,
            kept: BTreeMap::new(),
        };
        while live > 0 {
            let Ok(msg) = rx.recv() else { break };
            match msg {
                Msg::Extend(m) => extends.push(m),
                Msg::Score(m) => scores.push(m),
                Msg::RoomAfter {
                    problem,
                    prefix,
                    reply,
                } => {
                    let _ = reply.send(policy.room_after(&problem, &prefix));
                }
                Msg::PolicyStart { search } => policy.forget_search(search),
                Msg::VerifierStart { search } => turns.forget(verifier, search),
                Msg::Done { slot, job, result } => ended.push((slot, job, result)),
            }
            // Searches with handles of their own wait for nothing: what comes is answered now.
            if !free && extends.len() + scores.len() + ended.len() < live {
                continue;
            }
            ended.sort_by_key(|e| e.1);
            for (slot, job, result) in ended.drain(..) {
                live -= 1;
                policy.forget_search(job as u64);
                turns.forget(verifier, job as u64);
                keep(job, result);
                if let Some(next) = queue.take() {
                    let _ = slots[slot].send(next);
                    live += 1;
                }
            }
            // Every search under way waits (those just started have yet to ask): answer them
            // all.
            if free || (live > 0 && extends.len() + scores.len() == live) {
                serve_extends(policy, std::mem::take(&mut extends), cancel);
                serve_scores(verifier, &mut turns, std::mem::take(&mut scores));
            }
        }
        drop(slots);
        Ok(())
    })
}

/// One shared call per delimiter and sampling among `calls`, in search order; each search
/// gets its generations and its meter back.
fn serve_extends(policy: &mut dyn Policy, mut calls: Vec<ExtendMsg>, cancel: &CancelToken) {
    calls.sort_by_key(|m| m.search);
    while !calls.is_empty() {
        // The calls that share the first one's delimiter and sampling.
        let (delimiter, sampling) = (calls[0].delimiter.clone(), calls[0].sampling.clone());
        let (now, later): (Vec<ExtendMsg>, Vec<ExtendMsg>) = calls
            .into_iter()
            .partition(|m| m.delimiter == delimiter && m.sampling == sampling);
        calls = later;
        let extends: Vec<Vec<Extend>> = now
            .iter()
            .map(|m| {
                m.requests
                    .iter()
                    .map(|r| Extend {
                        prefix: &r.prefix,
                        n: r.n,
                        seed: r.seed,
                        max_tokens: r.max_tokens,
                    })
                    .collect()
            })
            .collect();
        let shared: Vec<ExtendCall> = now
            .iter()
            .zip(&extends)
            .map(|(m, e)| ExtendCall {
                search: m.search,
                problem: &m.problem,
                requests: e,
                until: m.until,
            })
            .collect();
        let mut meters: Vec<ComputeMeter> = now.iter().map(|m| m.meter).collect();
        let mut refs: Vec<&mut ComputeMeter> = meters.iter_mut().collect();
        let result = policy.extend_many(&shared, &delimiter, &sampling, &mut refs, cancel);
        match result {
            Ok(gens) => {
                for ((m, g), meter) in now.iter().zip(gens).zip(meters) {
                    let _ = m.reply.send(Ok((g, meter)));
                }
            }
            Err(e) => {
                // Every search of the call hears why (a cancellation stays one).
                for m in &now {
                    let err = match e.downcast_ref::<crate::engine::Cancelled>() {
                        Some(c) => anyhow::Error::new(*c),
                        None => anyhow::anyhow!("{e:#}"),
                    };
                    let _ = m.reply.send(Err(err));
                }
            }
        }
    }
}

/// Each search's verifier call in turn, in search order, its own memory swapped in.
fn serve_scores(verifier: &mut dyn Verifier, turns: &mut Turns, mut calls: Vec<ScoreMsg>) {
    calls.sort_by_key(|m| m.search);
    for mut m in calls {
        turns.take(verifier, m.search);
        let refs: Vec<&[StepText]> = m.solutions.iter().map(Vec::as_slice).collect();
        let r = verifier.score_many(&m.problem, &refs, &mut m.meter);
        let _ = m.reply.send(r.map(|s| (s, m.meter)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use crate::runner::sweep::{self, SweepConfig, SweepRecord};
    use crate::search::StrategyKind;

    /// Every strategy on a few toy problems with the toy PRM (whose memory of scored prefixes
    /// each search must keep to itself), one problem at a time and `k` at once.
    fn config() -> SweepConfig {
        let strategies: Vec<String> = StrategyKind::ALL
            .iter()
            .map(|k| format!("{:?}", k.as_str()))
            .collect();
        toml::from_str(&format!(
            "dataset = {{ kind = \"toy\" }}\npolicy = {:?}\nverifier = \"toy-prm\"\n\
             strategies = [{}]\nbudgets = [4]\nbeam_widths = [2]\nlimit = 6\nbin_samples = 0\n\
             draws = 2\n",
            default_policy_dir(),
            strategies.join(", ")
        ))
        .unwrap()
    }

    fn records(dir: &std::path::Path) -> Vec<SweepRecord> {
        let (_, mut r) = sweep::load(dir).unwrap();
        r.sort_by(|a, b| (a.run.to_string(), &a.record.id).cmp(&(b.run.to_string(), &b.record.id)));
        r
    }

    #[test]
    fn searching_sixteen_problems_at_once_gives_the_records_and_compute_of_one_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let c = config();
        let cancel = CancelToken::new();
        let one = tmp.path().join("k1");
        let many = tmp.path().join("k16");
        sweep::run_with(&c, &one, false, 1, &cancel, &mut |_| {}).unwrap();
        sweep::run_with(&c, &many, false, 16, &cancel, &mut |_| {}).unwrap();
        let (a, b) = (records(&one), records(&many));
        assert_eq!(a.len(), 6 * c.runs().len());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                serde_json::to_value(x).unwrap(),
                serde_json::to_value(y).unwrap(),
                "{} of {}",
                x.record.id,
                x.run
            );
        }
    }

    /// A policy whose handles are engines of their own (as a server's requests are its own),
    /// noting how many of its calls run at once: the first call waits (up to 10 s) for another
    /// to start beside it. Without a configuration to load handles from, it offers twins
    /// instead, and notes which threads make shared calls and whether they work alone.
    struct Handles {
        inner: Box<dyn Policy + Send>,
        config: Option<RunConfig>,
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        running: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        seen: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<(String, bool)>>>,
    }

    impl Handles {
        fn new(config: &RunConfig, detach: bool) -> Self {
            Self {
                inner: crate::runner::load_policy(config).unwrap(),
                config: detach.then(|| config.clone()),
                calls: Default::default(),
                running: Default::default(),
                peak: Default::default(),
                seen: Default::default(),
            }
        }
    }

    impl Policy for Handles {
        fn name(&self) -> String {
            self.inner.name()
        }
        fn params(&self) -> Option<u64> {
            self.inner.params()
        }
        fn extend(
            &mut self,
            problem: &Problem,
            requests: &[Extend<'_>],
            until: Until,
            delimiter: &str,
            sampling: &SamplingParams,
            meter: &mut ComputeMeter,
            cancel: &CancelToken,
        ) -> anyhow::Result<Vec<Vec<Generation>>> {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.running.fetch_add(1, SeqCst) + 1;
            self.peak.fetch_max(now, SeqCst);
            let t = std::time::Instant::now();
            let first = self.calls.fetch_add(1, SeqCst) == 0;
            while first && self.peak.load(SeqCst) < 2 && t.elapsed().as_secs() < 10 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let out = self
                .inner
                .extend(problem, requests, until, delimiter, sampling, meter, cancel);
            self.running.fetch_sub(1, SeqCst);
            out
        }
        fn start_search(&mut self) {
            self.inner.start_search();
        }
        fn extend_many(
            &mut self,
            calls: &[ExtendCall<'_>],
            delimiter: &str,
            sampling: &SamplingParams,
            meters: &mut [&mut ComputeMeter],
            cancel: &CancelToken,
        ) -> anyhow::Result<Vec<Vec<Vec<Generation>>>> {
            let me = std::thread::current().name().unwrap_or("").to_string();
            let alone = crate::engine::qmatmul::alone_here();
            self.seen.lock().unwrap().insert((me, alone));
            self.inner
                .extend_many(calls, delimiter, sampling, meters, cancel)
        }
        fn forget_search(&mut self, search: u64) {
            self.inner.forget_search(search);
        }
        fn room_after(&mut self, problem: &Problem, prefix: &str) -> anyhow::Result<Option<usize>> {
            self.inner.room_after(problem, prefix)
        }
        fn detach(&self) -> Option<Box<dyn Policy + Send>> {
            let config = self.config.as_ref()?;
            Some(Box::new(Handles {
                inner: crate::runner::load_policy(config).ok()?,
                config: Some(config.clone()),
                calls: self.calls.clone(),
                running: self.running.clone(),
                peak: self.peak.clone(),
                seen: self.seen.clone(),
            }))
        }
        fn twin(&self) -> Option<Box<dyn Policy + Send>> {
            if self.config.is_some() {
                return None;
            }
            Some(Box::new(Handles {
                inner: self.inner.twin()?,
                config: None,
                calls: self.calls.clone(),
                running: self.running.clone(),
                peak: self.peak.clone(),
                seen: self.seen.clone(),
            }))
        }
    }

    /// The jobs of every run of `c` on the first three toy problems.
    fn three_each<'a>(c: &SweepConfig, problems: &'a [Problem]) -> Vec<(RunConfig, &'a Problem)> {
        c.runs()
            .iter()
            .flat_map(|r| {
                let rc = c.run_config(r);
                problems.iter().take(3).map(move |p| (rc.clone(), p))
            })
            .collect()
    }

    /// The records of `todo` searched `k` at a time on at most `cores` groups.
    fn search_all(
        todo: &[(RunConfig, &Problem)],
        k: usize,
        cores: usize,
        policy: &mut dyn Policy,
    ) -> Vec<Record> {
        let mut verifier = crate::runner::load_verifier(&todo[0].0).unwrap();
        let mut out: Vec<Option<Record>> = vec![None; todo.len()];
        let cancel = CancelToken::new();
        search_jobs_on(
            todo,
            k,
            cores,
            policy,
            verifier.as_mut(),
            &cancel,
            &mut |j, r| {
                out[j] = Some(r?);
                Ok(())
            },
        )
        .unwrap();
        out.into_iter().map(Option::unwrap).collect()
    }

    fn same_records(todo: &[(RunConfig, &Problem)], a: &[Record], b: &[Record], what: &str) {
        for (j, (a, b)) in a.iter().zip(b).enumerate() {
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::to_value(b).unwrap(),
                "{} of {:?} {what}",
                todo[j].1.id,
                todo[j].0.strategy
            );
        }
    }

    /// Searches with handles of their own call them at once, nothing gathered, and get the
    /// records one search at a time gets (strategies in turn, a verifier that keeps a memory
    /// of scored prefixes per search, served by the calling thread).
    #[test]
    fn searches_with_policy_handles_of_their_own_run_at_once_and_keep_their_records() {
        let problems = crate::data::toy::eval_split();
        let todo = three_each(&config(), &problems);
        let mut plain = crate::runner::load_policy(&todo[0].0).unwrap();
        let alone = search_all(&todo, 1, 1, plain.as_mut());
        let mut handles = Handles::new(&todo[0].0, true);
        let at_once = search_all(&todo, 8, 1, &mut handles);
        assert!(
            handles.peak.load(std::sync::atomic::Ordering::SeqCst) >= 2,
            "no two searches called their policies at once"
        );
        same_records(&todo, &alone, &at_once, "with handles");
    }

    /// On two cores the searches run as two groups, each on a twin engine working alone on
    /// its thread, and get the records of one search at a time: every strategy, against the
    /// toy PRM (a twin per group, each search's memory its own) and against the noisy oracle
    /// (a handle per search).
    #[test]
    fn searches_in_groups_on_twin_engines_get_the_records_of_one_at_a_time() {
        let problems = crate::data::toy::eval_split();
        for verifier in ["toy-prm", "noisy-oracle:0.8"] {
            let mut c = config();
            c.verifier = crate::verify::VerifierSpec::parse(verifier).unwrap();
            let todo = three_each(&c, &problems);
            let alone = search_all(&todo, 1, 1, &mut Handles::new(&todo[0].0, false));
            let mut policy = Handles::new(&todo[0].0, false);
            let grouped = search_all(&todo, 16, 2, &mut policy);
            let threads: Vec<(String, bool)> =
                policy.seen.lock().unwrap().iter().cloned().collect();
            assert_eq!(
                threads,
                [
                    ("search-group-0".to_string(), true),
                    ("search-group-1".to_string(), true)
                ],
                "{verifier}"
            );
            same_records(&todo, &alone, &grouped, &format!("against {verifier}"));
        }
    }

    #[test]
    fn a_run_of_problems_at_once_cancelled_keeps_whole_records_and_resumes_to_the_same_sweep() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = config();
        c.strategies = vec![StrategyKind::WeightedBestOfN, StrategyKind::Beam];
        c.limit = Some(12);
        let full = tmp.path().join("full");
        sweep::run_with(&c, &full, false, 1, &CancelToken::new(), &mut |_| {}).unwrap();
        let cut = tmp.path().join("cut");
        let cancel = CancelToken::new();
        let mut seen = 0;
        let o = sweep::run_with(&c, &cut, false, 8, &cancel, &mut |e| {
            if let sweep::SweepEvent::Done { .. } = e {
                seen += 1;
                if seen == 3 {
                    cancel.cancel();
                }
            }
        })
        .unwrap();
        assert!(o.cancelled);
        // Every line on disk is a whole record; the searches under way when it stopped are
        // not there at all.
        let text = std::fs::read_to_string(cut.join("records.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() >= 3 && lines.len() < records(&full).len(),
            "{}",
            lines.len()
        );
        for l in &lines {
            serde_json::from_str::<SweepRecord>(l).unwrap();
        }
        let o = sweep::run_with(&c, &cut, true, 8, &CancelToken::new(), &mut |_| {}).unwrap();
        assert!(!o.cancelled);
        let (a, b) = (records(&full), records(&cut));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                serde_json::to_value(x).unwrap(),
                serde_json::to_value(y).unwrap()
            );
        }
    }
}
