//! The glue to the worker thread and the window's other threads: their events drained into the
//! app's state once a frame.

use super::*;

impl App {
    /// Drains the worker's events into the state.
    pub fn drain(&mut self) {
        if let Some(r) = self.sweep_loading.as_ref().and_then(Loading::poll) {
            self.sweep_loading = None;
            match r {
                Ok(s) => self.sweep = Some(Arc::new(s)),
                Err(e) => self.error = Some(e),
            }
            if self.settings_path.is_some() {
                self.keep_session();
            }
            if std::mem::take(&mut self.show_stored_when_loaded) {
                match self.stored_searches().first() {
                    Some(&(k, _)) => self.show_stored(k),
                    None => {
                        self.error = Some(
                            "the open directory holds no search of this problem with a tree".into(),
                        )
                    }
                }
            }
        }
        if let Some(r) = self.overlay_loading.as_ref().and_then(Loading::poll) {
            self.overlay_loading = None;
            match r {
                Ok(s) => self.overlay = Some(Arc::new(s)),
                Err(e) => self.error = Some(e),
            }
        }
        // A running sweep's curves are re-read as records land, at most every 2 s (and once
        // more when it ends), so they fill in while it runs.
        if let Some(job) = self.state.sweep_job.as_mut() {
            let fresh = job.poll();
            self.reload_pending |= fresh;
            let ended = !job.running();
            let due = self
                .last_reload
                .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(2));
            if self.reload_pending
                && self.state.sweep_loading.is_none()
                && job.done > 0
                && (due || ended)
            {
                self.reload_pending = false;
                let dir = job.dir.clone();
                self.last_reload = Some(std::time::Instant::now());
                let ctx = self.ctx.clone();
                match read_sweep(dir, move || ctx.request_repaint()) {
                    Ok(l) => self.state.sweep_loading = Some(l),
                    Err(e) => self.state.error = Some(e),
                }
            }
            if let Some(Err(e)) = &job.outcome {
                if self.state.error.as_deref() != Some(e) && fresh {
                    self.state.error = Some(e.clone());
                }
            }
        }
        if let Some(r) = self.plot_export.as_ref().and_then(Task::poll) {
            self.plot_export = None;
            self.toast(r.clone());
            self.plot_status = Some(r);
        }
        if let Some(r) = self.export.as_ref().and_then(Task::poll) {
            self.export = None;
            self.toast(r.clone().map(|m| format!("figures: {m}")));
            self.export_status = Some(r);
        }
        let now = std::time::Instant::now();
        self.toasts.retain(|t| t.until > now);
        let mut grew = false;
        // Texts first: the events of the same batch, drained next, then replace them.
        if self.running.is_some() {
            self.state.batch.extend(self.worker.take_ended());
        }
        for ev in self.worker.poll(4096) {
            match ev {
                WorkerEvent::Loaded { policy, params } => {
                    self.model = ModelStatus::Ready(policy, params);
                    if std::mem::take(&mut self.run_when_ready) {
                        self.start_run();
                    }
                }
                WorkerEvent::LoadFailed(e) => self.model = ModelStatus::Failed(e),
                WorkerEvent::VerifierLoaded(v) => self.verifier_loaded = Some(v),
                WorkerEvent::Search(e) => {
                    if matches!(e, SearchEvent::NodeAdded { .. }) {
                        self.batch.clear();
                    }
                    match &e {
                        SearchEvent::Progress { done, total } => {
                            if let Some(r) = self.running.as_mut() {
                                r.1 = *done;
                                r.2 = *total;
                            }
                        }
                        SearchEvent::Chosen { node, .. } => self.chosen_leaf = *node,
                        _ => {}
                    }
                    self.tree.apply(&e);
                    grew = true;
                }
                WorkerEvent::Done { record, kept } => {
                    self.running = None;
                    self.batch.clear();
                    match kept {
                        Some(Ok(dir)) => self.kept = Some(dir),
                        Some(Err(e)) => {
                            self.error = Some(format!("the result was not kept on disk: {e}"))
                        }
                        None => {}
                    }
                    let header = self
                        .tree_info
                        .as_ref()
                        .map(|i| i.header.clone())
                        .unwrap_or_default();
                    self.verdicts
                        .entry(header)
                        .or_default()
                        .insert(record.id.clone(), record.correct);
                    self.last = Some(*record);
                    self.apply_dial();
                }
                WorkerEvent::Failed(e) => {
                    self.running = None;
                    self.error = Some(e);
                }
                WorkerEvent::Cancelled => {
                    self.running = None;
                    self.error = Some("cancelled".into());
                }
            }
        }
        if grew || !self.tree_layout.fits(&self.tree) {
            self.after_tree_change();
        }
    }
}
