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

use super::{search_problem, RunConfig};
use crate::backend::{Extend, ExtendCall, Policy, Prefix, Until};
use crate::data::Problem;
use crate::engine::{CancelToken, ComputeMeter, Generation, SamplingParams};
use crate::search::SearchEvent;
use crate::store::Record;
use crate::verify::{StepText, Verifier};
use std::collections::BTreeMap;
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

/// Searches `jobs` (a configuration and a problem each) `k` at a time; `done(job, result)`
/// receives each search's record as it finishes (searches that end while the same shared call
/// is answered, in job order: the same order every time; with a policy of
/// [`Policy::detach`]ed handles, in the order they finish), and an error it returns stops the
/// run: no new search starts, those under way finish. Returns once every
/// started search has finished; with `cancel` set, searches not yet started never start.
pub fn search_jobs(
    jobs: &[(RunConfig, &Problem)],
    k: usize,
    policy: &mut dyn Policy,
    verifier: &mut dyn Verifier,
    cancel: &CancelToken,
    done: &mut dyn FnMut(usize, anyhow::Result<Record>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let k = k.clamp(1, jobs.len().max(1));
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
        let mut next = 0;
        let mut live = 0;
        let mut stopped = false;
        let mut outcome = Ok(());
        for slot in &slots {
            if next < jobs.len() && !cancel.is_cancelled() {
                let _ = slot.send(next);
                next += 1;
                live += 1;
            }
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
                if let Err(e) = done(job, result) {
                    if outcome.is_ok() {
                        outcome = Err(e);
                    }
                    stopped = true;
                }
                if !stopped && !cancel.is_cancelled() && next < jobs.len() {
                    let _ = slots[slot].send(next);
                    next += 1;
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
        outcome
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
    /// to start beside it.
    struct Handles {
        inner: Box<dyn Policy + Send>,
        config: RunConfig,
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        running: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
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
        fn detach(&self) -> Option<Box<dyn Policy + Send>> {
            Some(Box::new(Handles {
                inner: crate::runner::load_policy(&self.config).ok()?,
                config: self.config.clone(),
                calls: self.calls.clone(),
                running: self.running.clone(),
                peak: self.peak.clone(),
            }))
        }
    }

    /// Searches with handles of their own call them at once, nothing gathered, and get the
    /// records one search at a time gets (strategies in turn, a verifier that keeps a memory
    /// of scored prefixes per search, served by the calling thread).
    #[test]
    fn searches_with_policy_handles_of_their_own_run_at_once_and_keep_their_records() {
        let c = config();
        let problems = crate::data::toy::eval_split();
        let todo: Vec<(RunConfig, &Problem)> = c
            .runs()
            .iter()
            .flat_map(|r| {
                let rc = c.run_config(r);
                problems.iter().take(3).map(move |p| (rc.clone(), p))
            })
            .collect();
        let cancel = CancelToken::new();
        let search = |k: usize, policy: &mut dyn Policy| {
            let mut verifier = crate::runner::load_verifier(&todo[0].0).unwrap();
            let mut out: Vec<Option<Record>> = vec![None; todo.len()];
            search_jobs(&todo, k, policy, verifier.as_mut(), &cancel, &mut |j, r| {
                out[j] = Some(r?);
                Ok(())
            })
            .unwrap();
            out
        };
        let mut plain = crate::runner::load_policy(&todo[0].0).unwrap();
        let alone = search(1, plain.as_mut());
        let mut handles = Handles {
            inner: crate::runner::load_policy(&todo[0].0).unwrap(),
            config: todo[0].0.clone(),
            calls: Default::default(),
            running: Default::default(),
            peak: Default::default(),
        };
        let at_once = search(8, &mut handles);
        assert!(
            handles.peak.load(std::sync::atomic::Ordering::SeqCst) >= 2,
            "no two searches called their policies at once"
        );
        for (j, (a, b)) in alone.iter().zip(&at_once).enumerate() {
            assert_eq!(
                serde_json::to_value(a.as_ref().unwrap()).unwrap(),
                serde_json::to_value(b.as_ref().unwrap()).unwrap(),
                "{} of {:?}",
                todo[j].1.id,
                todo[j].0.strategy
            );
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
