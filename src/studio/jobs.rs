//! The studio's job queue: jobs wait in order, a bounded number of worker threads run them
//! (one heavy job at a time on a CPU by default), every change is broadcast to the page, and
//! each job lives in its own folder (`jobs/ID/job.json` plus its result files) so that the
//! gallery survives a restart. Plain files instead of SQLite: one small JSON per job, written
//! atomically, is all the state there is, and a person can read or delete it by hand.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::spec::JobSpec;
use crate::error::AtelierError;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl Status {
    pub fn finished(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }
}

/// One job as the API and the page see it (and as `job.json` stores it).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Job {
    pub id: String,
    pub spec: JobSpec,
    pub status: Status,
    /// Unix milliseconds.
    pub created: u64,
    pub started: Option<u64>,
    pub finished: Option<u64>,
    /// 0 to 1.
    pub progress: f32,
    /// What the job is doing now ("iteration 40/200", "frame 12/48").
    pub message: String,
    /// Seconds left, estimated from the progress so far.
    pub eta_s: Option<f64>,
    pub error: Option<String>,
    /// Files in the job's folder, the main result first.
    pub outputs: Vec<String>,
    /// A live preview file while the job runs (optimisation), bumped by `preview_version`.
    pub preview: Option<String>,
    pub preview_version: u32,
    /// Things the person should know about the result (a resized mask, a dropped audio track).
    pub notes: Vec<String>,
}

/// Why a request about jobs was refused; the HTTP layer turns each into a status code.
#[derive(Debug)]
pub enum JobError {
    NotFound,
    QueueFull(usize),
    Conflict(String),
    Io(String),
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A fresh random id: 16 lowercase hex digits (ids are the only thing a request may use to
/// name a file, so their shape is checked by `is_id`).
pub fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub fn is_id(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What the worker gives a running job: where to write, how to report, whether to stop.
pub struct JobContext {
    jobs: Arc<Jobs>,
    pub id: String,
    pub dir: PathBuf,
    cancel: Arc<AtomicBool>,
    started: Instant,
}

impl JobContext {
    /// A file in the job's folder (`name` is always one of ours, never from a request).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Stop here when the job was cancelled.
    pub fn check_cancel(&self) -> crate::Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(AtelierError::Cancelled)
        } else {
            Ok(())
        }
    }

    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// Report progress `fraction` (0..1) with a message; the ETA follows from the time so far.
    pub fn progress(&self, fraction: f32, message: impl Into<String>) {
        let fraction = fraction.clamp(0.0, 1.0);
        let elapsed = self.started.elapsed().as_secs_f64();
        // After half a second the rate is known well enough to say how long is left.
        let eta = (fraction > 0.0 && elapsed > 0.5)
            .then(|| elapsed * (1.0 - fraction as f64) / fraction as f64);
        let message = message.into();
        self.jobs.update(&self.id, |j| {
            j.progress = fraction;
            j.message = message;
            j.eta_s = eta;
        });
    }

    /// Write `img` as the live preview and tell the page.
    pub fn preview(&self, img: &image::RgbImage) -> crate::Result<()> {
        crate::imaging::save_image(img, &self.path("preview.jpg"))?;
        self.jobs.update(&self.id, |j| {
            j.preview = Some("preview.jpg".into());
            j.preview_version += 1;
        });
        Ok(())
    }
}

/// What running a job produced.
pub struct Finished {
    pub outputs: Vec<String>,
    pub notes: Vec<String>,
}

/// Runs one job's spec; the studio passes its task runner (`spec::run`).
pub type Runner = dyn Fn(&JobSpec, &JobContext) -> anyhow::Result<Finished> + Send + Sync;

#[derive(Default)]
struct Inner {
    jobs: HashMap<String, Job>,
    queue: VecDeque<String>,
    cancels: HashMap<String, Arc<AtomicBool>>,
    stopping: bool,
}

pub struct Jobs {
    dir: PathBuf,
    capacity: usize,
    inner: Mutex<Inner>,
    wake: Condvar,
    events: broadcast::Sender<Job>,
}

impl Jobs {
    /// Open (or create) `dir`, reading every job left there. Jobs that were waiting wait
    /// again; a job that was running when the server stopped is marked failed (running it
    /// again by itself could crash the server in a loop), and the page offers to re-run it.
    pub fn open(dir: &Path, capacity: usize) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(dir)?;
        let mut inner = Inner::default();
        let mut waiting = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if !is_id(&name) {
                continue;
            }
            let file = entry.path().join("job.json");
            let job: Job = match std::fs::read(&file)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!("skipping {}: {e}", file.display());
                    continue;
                }
            };
            if job.id != name {
                tracing::warn!("skipping {}: it names job {}", file.display(), job.id);
                continue;
            }
            inner.jobs.insert(name, job);
        }
        let (events, _) = broadcast::channel(256);
        let jobs = Arc::new(Self {
            dir: dir.to_path_buf(),
            capacity,
            inner: Mutex::new(inner),
            wake: Condvar::new(),
            events,
        });
        {
            let mut inner = jobs.lock();
            let mut interrupted = Vec::new();
            for job in inner.jobs.values() {
                match job.status {
                    Status::Queued => waiting.push((job.created, job.id.clone())),
                    Status::Running => interrupted.push(job.id.clone()),
                    _ => {}
                }
            }
            for id in interrupted {
                jobs.change(&mut inner, &id, |job| {
                    job.status = Status::Failed;
                    job.finished = Some(now_ms());
                    job.error = Some("the server stopped while this job ran; run it again".into());
                });
            }
            waiting.sort();
            inner.queue = waiting.into_iter().map(|(_, id)| id).collect();
        }
        Ok(jobs)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking job runs outside the lock, so poisoning cannot leave it half-changed.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Job> {
        self.events.subscribe()
    }

    pub fn job_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn persist(&self, job: &Job) {
        let dir = self.job_dir(&job.id);
        let r = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|_| serde_json::to_vec_pretty(job).map_err(|e| e.to_string()))
            .and_then(|bytes| {
                crate::util::atomic::write_atomic(&dir.join("job.json"), &bytes)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = r {
            tracing::error!("cannot save job {}: {e}", job.id);
        }
    }

    /// Change a job held in `inner`, save it when its status changed, and tell the page:
    /// the one way a job changes after it is submitted.
    fn change(&self, inner: &mut Inner, id: &str, change: impl FnOnce(&mut Job)) -> Option<Job> {
        let job = inner.jobs.get_mut(id)?;
        let before = job.status;
        change(job);
        if job.status != before {
            self.persist(job);
        }
        let _ = self.events.send(job.clone());
        Some(job.clone())
    }

    /// `change` under the lock.
    fn update(&self, id: &str, change: impl FnOnce(&mut Job)) {
        let mut inner = self.lock();
        self.change(&mut inner, id, change);
    }

    /// Queue a new job, or refuse when `capacity` jobs already wait.
    pub fn submit(&self, spec: JobSpec) -> Result<Job, JobError> {
        let mut inner = self.lock();
        if inner.stopping {
            return Err(JobError::Conflict("the server is stopping".into()));
        }
        if inner.queue.len() >= self.capacity {
            return Err(JobError::QueueFull(self.capacity));
        }
        let job = Job {
            id: new_id(),
            spec,
            status: Status::Queued,
            created: now_ms(),
            started: None,
            finished: None,
            progress: 0.0,
            message: "waiting".into(),
            eta_s: None,
            error: None,
            outputs: Vec::new(),
            preview: None,
            preview_version: 0,
            notes: Vec::new(),
        };
        std::fs::create_dir_all(self.job_dir(&job.id)).map_err(|e| JobError::Io(e.to_string()))?;
        self.persist(&job);
        inner.queue.push_back(job.id.clone());
        inner.jobs.insert(job.id.clone(), job.clone());
        let _ = self.events.send(job.clone());
        self.wake.notify_one();
        Ok(job)
    }

    /// Every job, newest first.
    pub fn list(&self) -> Vec<Job> {
        let mut all: Vec<Job> = self.lock().jobs.values().cloned().collect();
        all.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        all
    }

    pub fn get(&self, id: &str) -> Option<Job> {
        self.lock().jobs.get(id).cloned()
    }

    /// Cancel a waiting job at once, or ask a running one to stop.
    pub fn cancel(&self, id: &str) -> Result<Job, JobError> {
        let mut inner = self.lock();
        let status = inner.jobs.get(id).ok_or(JobError::NotFound)?.status;
        match status {
            Status::Queued => {
                inner.queue.retain(|q| q != id);
                Ok(self
                    .change(&mut inner, id, |job| {
                        job.status = Status::Cancelled;
                        job.finished = Some(now_ms());
                        job.message = "cancelled".into();
                    })
                    .expect("checked"))
            }
            Status::Running => {
                if let Some(flag) = inner.cancels.get(id) {
                    flag.store(true, Ordering::Relaxed);
                }
                Ok(self
                    .change(&mut inner, id, |job| job.message = "cancelling".into())
                    .expect("checked"))
            }
            s => Err(JobError::Conflict(format!(
                "the job has already finished ({})",
                serde_json::to_value(s).unwrap_or_default()
            ))),
        }
    }

    /// Delete a finished job and its files.
    pub fn delete(&self, id: &str) -> Result<(), JobError> {
        let mut inner = self.lock();
        let job = inner.jobs.get(id).ok_or(JobError::NotFound)?;
        if !job.status.finished() {
            return Err(JobError::Conflict(
                "the job has not finished: cancel it first".into(),
            ));
        }
        inner.jobs.remove(id);
        drop(inner);
        match std::fs::remove_dir_all(self.job_dir(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(JobError::Io(e.to_string())),
        }
    }

    /// Start `n` worker threads that run queued jobs with `runner` until `stop`.
    pub fn start_workers(
        self: &Arc<Self>,
        n: usize,
        runner: Arc<Runner>,
    ) -> Vec<std::thread::JoinHandle<()>> {
        (0..n.max(1))
            .map(|i| {
                let jobs = self.clone();
                let runner = runner.clone();
                std::thread::Builder::new()
                    .name(format!("studio-worker-{i}"))
                    .spawn(move || jobs.work(&*runner))
                    .expect("spawning a worker thread")
            })
            .collect()
    }

    /// Stop the workers: running jobs are asked to stop and nothing new starts.
    pub fn stop(&self) {
        let mut inner = self.lock();
        inner.stopping = true;
        for flag in inner.cancels.values() {
            flag.store(true, Ordering::Relaxed);
        }
        self.wake.notify_all();
    }

    fn next(&self) -> Option<(String, JobSpec, Arc<AtomicBool>)> {
        let mut inner = self.lock();
        loop {
            if inner.stopping {
                return None;
            }
            if let Some(id) = inner.queue.pop_front() {
                let cancel = Arc::new(AtomicBool::new(false));
                inner.cancels.insert(id.clone(), cancel.clone());
                let job = self
                    .change(&mut inner, &id, |job| {
                        job.status = Status::Running;
                        job.started = Some(now_ms());
                        job.message = "starting".into();
                    })
                    .expect("queued jobs exist");
                return Some((id, job.spec, cancel));
            }
            inner = self.wake.wait(inner).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn work(self: Arc<Self>, runner: &Runner) {
        while let Some((id, spec, cancel)) = self.next() {
            let ctx = JobContext {
                jobs: self.clone(),
                dir: self.job_dir(&id),
                id: id.clone(),
                cancel: cancel.clone(),
                started: Instant::now(),
            };
            // One failing (or panicking) job never takes the server down.
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner(&spec, &ctx)));
            let stopping = self.lock().stopping;
            self.update(&id, |job| {
                job.finished = Some(now_ms());
                job.eta_s = None;
                match result {
                    Ok(Ok(done)) => {
                        job.status = Status::Done;
                        job.progress = 1.0;
                        job.message = "done".into();
                        job.outputs = done.outputs;
                        job.notes = done.notes;
                    }
                    Ok(Err(e)) if is_cancel(&e) => {
                        job.status = if stopping {
                            Status::Failed
                        } else {
                            Status::Cancelled
                        };
                        job.message = "cancelled".into();
                        if stopping {
                            job.error = Some("the server stopped while this job ran".into());
                        }
                    }
                    Ok(Err(e)) => {
                        job.status = Status::Failed;
                        job.message = "failed".into();
                        job.error = Some(format!("{e:#}"));
                    }
                    Err(panic) => {
                        let what = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown".into());
                        job.status = Status::Failed;
                        job.message = "failed".into();
                        job.error = Some(format!("internal error: {what}"));
                    }
                }
            });
            self.lock().cancels.remove(&id);
        }
    }
}

fn is_cancel(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<AtelierError>(),
            Some(AtelierError::Cancelled)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::spec::{GenerateSpec, JobSpec};

    fn spec(seed: u64) -> JobSpec {
        serde_json::from_value(serde_json::json!({"task": "generate", "seed": seed})).unwrap()
    }

    fn wait(jobs: &Jobs, id: &str) -> Job {
        for _ in 0..500 {
            let j = jobs.get(id).unwrap();
            if j.status.finished() {
                return j;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("job {id} did not finish");
    }

    #[test]
    fn a_panicking_job_fails_alone_and_the_next_one_runs() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = Jobs::open(dir.path(), 4).unwrap();
        let runner: Arc<Runner> = Arc::new(|spec: &JobSpec, ctx: &JobContext| {
            let JobSpec::Generate(GenerateSpec { seed, .. }) = spec else {
                unreachable!()
            };
            match seed {
                0 => panic!("boom"),
                1 => anyhow::bail!("a clear failure"),
                _ => {
                    ctx.progress(0.5, "half");
                    std::fs::write(ctx.path("out.txt"), b"x")?;
                    Ok(Finished {
                        outputs: vec!["out.txt".into()],
                        notes: vec![],
                    })
                }
            }
        });
        let workers = jobs.start_workers(1, runner);
        let a = jobs.submit(spec(0)).unwrap();
        let b = jobs.submit(spec(1)).unwrap();
        let c = jobs.submit(spec(2)).unwrap();
        let a = wait(&jobs, &a.id);
        assert_eq!(a.status, Status::Failed);
        assert!(a.error.unwrap().contains("internal error: boom"));
        let b = wait(&jobs, &b.id);
        assert_eq!(b.error.as_deref(), Some("a clear failure"));
        let c = wait(&jobs, &c.id);
        assert_eq!(
            (c.status, c.outputs.clone()),
            (Status::Done, vec!["out.txt".into()])
        );
        jobs.stop();
        for w in workers {
            w.join().unwrap();
        }
        // What was saved reads back the same.
        let again = Jobs::open(dir.path(), 4).unwrap();
        assert_eq!(again.get(&c.id).unwrap().outputs, c.outputs);
        assert_eq!(again.list().len(), 3);
        assert!(is_id(&c.id) && !is_id("../x") && !is_id("0123456789ABCDEF"));
    }
}
