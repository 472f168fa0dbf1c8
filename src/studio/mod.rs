//! Atelier Studio (`atelier serve`): one binary serves a web page and the JSON API it uses.
//!
//! - `catalog`: what is installed (styles with thumbnails, models);
//! - `uploads`: photos, paintings, masks and clips, sniffed and limited;
//! - `spec`: what each job asks for, checked, and how it runs (through the commands' code);
//! - `jobs`: the queue, the workers, progress events and the job folders on disk;
//! - `http` (here): routes, the token, limits and JSON errors;
//! - `assets/`: the page (HTML, JS, CSS), embedded in the binary, no CDN.

pub mod catalog;
pub mod jobs;
pub mod spec;
pub mod uploads;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::broadcast;
use tokio_stream::wrappers::ReceiverStream;
use tower::ServiceExt;

use crate::device::DeviceChoice;
use catalog::Catalog;
use jobs::{Job, JobError, Jobs, is_id};
use spec::JobSpec;
use uploads::{UploadError, UploadLimits, Uploads};

/// How `atelier serve` runs (its flags).
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Uploads, jobs and results live here.
    pub data_dir: PathBuf,
    /// Required on every request when set (and required to listen beyond this machine).
    pub token: Option<String>,
    /// Jobs run at once.
    pub workers: usize,
    /// Jobs that may wait; one more is answered 429.
    pub queue: usize,
    pub max_upload_bytes: usize,
    pub max_pixels: u64,
    /// Longest side of any result.
    pub max_side: u32,
    pub max_video_seconds: f64,
    /// Where translation models are listed from.
    pub models_dir: PathBuf,
    pub device: DeviceChoice,
}

impl ServeOptions {
    pub fn new(addr: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            addr,
            data_dir,
            token: None,
            workers: 1,
            queue: 16,
            max_upload_bytes: 64 << 20,
            max_pixels: 40_000_000,
            max_side: 2048,
            max_video_seconds: 60.0,
            models_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
            device: DeviceChoice::Cpu,
        }
    }
}

/// Everything a request or a job can reach.
pub struct Studio {
    pub opts: ServeOptions,
    pub jobs: Arc<Jobs>,
    pub uploads: Uploads,
    pub catalog: Catalog,
    pub device: burn::prelude::Device,
}

/// A running studio: its address, and `stop` to end it.
pub struct Server {
    pub addr: SocketAddr,
    studio: Arc<Studio>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

impl Server {
    /// Bind, load the catalogue and the job folder, start the workers and serve.
    pub fn start(opts: ServeOptions) -> anyhow::Result<Self> {
        if let Some(t) = &opts.token {
            anyhow::ensure!(t.len() >= 8, "--token must be at least 8 characters");
        }
        anyhow::ensure!(
            is_loopback(&opts.addr) || opts.token.is_some(),
            "--addr {} can be reached from other machines: give a --token (or \
             ATELIER_TOKEN) that every request must carry",
            opts.addr
        );
        let device = crate::device::select(opts.device)?;
        let jobs = Jobs::open(&opts.data_dir.join("jobs"), opts.queue)
            .map_err(|e| anyhow::anyhow!("data dir {}: {e}", opts.data_dir.display()))?;
        let uploads = Uploads::open(&opts.data_dir.join("uploads"))
            .map_err(|e| anyhow::anyhow!("data dir {}: {e}", opts.data_dir.display()))?;
        let catalog = Catalog::load(&opts.models_dir, &device);
        let listener = std::net::TcpListener::bind(opts.addr)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.addr))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let studio = Arc::new(Studio {
            opts,
            jobs: jobs.clone(),
            uploads,
            catalog,
            device,
        });
        let runner_studio = studio.clone();
        let workers = jobs.start_workers(
            studio.opts.workers,
            Arc::new(move |spec: &JobSpec, ctx: &jobs::JobContext| runner_studio.run(spec, ctx)),
        );
        // Paint the style thumbnails now, so the page's gallery is quick the first time.
        let warm = studio.clone();
        std::thread::spawn(move || {
            if !warm.catalog.styles.is_empty()
                && let Err(e) = warm.catalog.paint_thumbnails(&warm.device)
            {
                tracing::warn!("style thumbnails: {e:#}");
            }
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(studio.clone());
        let thread = std::thread::Builder::new()
            .name("studio-http".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("a bound listener");
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                        let _ = rx.await;
                    });
                    if let Err(e) = serve.await {
                        tracing::error!("the studio's server stopped: {e}");
                    }
                });
                // Open event streams would keep a graceful shutdown waiting: end them.
                rt.shutdown_timeout(std::time::Duration::from_millis(200));
            })?;
        Ok(Self {
            addr,
            studio,
            shutdown: Some(tx),
            thread: Some(thread),
            workers,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stop serving; a running job is stopped and marked as interrupted.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.studio.jobs.stop();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// An API error: a status and a JSON body `{"error": "..."}`.
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn bad(msg: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, msg.into())
    }
    fn not_found(what: &str) -> Self {
        Self(StatusCode::NOT_FOUND, format!("no such {what}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::NotFound => ApiError::not_found("job"),
            JobError::QueueFull(n) => ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                format!("the queue is full ({n} jobs waiting): try again when one has finished"),
            ),
            JobError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            JobError::Io(m) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, m),
        }
    }
}

type Shared = State<Arc<Studio>>;
type ApiResult<T> = Result<T, ApiError>;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

fn router(studio: Arc<Studio>) -> Router {
    let asset = |body: &'static str, kind: &'static str| {
        get(move || async move { ([(header::CONTENT_TYPE, kind)], body) })
    };
    Router::new()
        .route("/", asset(INDEX_HTML, "text/html; charset=utf-8"))
        .route("/app.js", asset(APP_JS, "text/javascript; charset=utf-8"))
        .route("/style.css", asset(STYLE_CSS, "text/css; charset=utf-8"))
        .route("/api/catalog", get(catalog))
        .route("/api/styles/{name}/thumb.jpg", get(style_thumb))
        .route(
            "/api/uploads",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/uploads/{id}", get(upload_file))
        .route("/api/jobs", post(submit).get(list_jobs))
        .route("/api/jobs/{id}", get(get_job).delete(delete_job))
        .route("/api/jobs/{id}/cancel", post(cancel_job))
        .route("/api/jobs/{id}/events", get(job_events))
        .route("/api/jobs/{id}/files/{name}", get(job_file))
        .route("/api/events", get(all_events))
        .fallback(|| async { ApiError::not_found("page or endpoint") })
        .layer(axum::middleware::from_fn_with_state(studio.clone(), guard))
        .with_state(studio)
}

/// Constant-time comparison, so the token cannot be guessed a byte at a time from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a request carries: `Authorization: Bearer`, the `atelier_token` cookie, or a
/// `token` query parameter (how the page is first opened: `/?token=...`).
fn request_token(req: &Request) -> Option<String> {
    let headers = req.headers();
    if let Some(b) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(b.trim().to_string());
    }
    for cookies in headers.get_all(header::COOKIE) {
        for c in cookies.to_str().unwrap_or_default().split(';') {
            if let Some(v) = c.trim().strip_prefix("atelier_token=") {
                return Some(v.to_string());
            }
        }
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token=").map(str::to_string))
    })
}

/// Whether the Host header names this machine (a page on another site cannot then reach
/// the studio through DNS rebinding when it listens on localhost without a token).
fn local_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default().to_string()
    };
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

/// Whether a request that changes something comes from another site's page: browsers send
/// `Origin` with such requests, and it must name the host the request went to (a page
/// elsewhere could otherwise queue jobs with a plain form post, cookie and all).
fn cross_site(req: &Request) -> bool {
    if matches!(
        req.method(),
        &axum::http::Method::GET | &axum::http::Method::HEAD
    ) {
        return false;
    }
    let headers = req.headers();
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin != format!("http://{host}") && origin != format!("https://{host}")
}

/// Every request: the token when one is set (and a cookie so the page's images and event
/// stream carry it), else a local Host header; and no changes from another site's page.
async fn guard(State(studio): Shared, req: Request, next: Next) -> Response {
    if cross_site(&req) {
        return ApiError(
            StatusCode::FORBIDDEN,
            "requests from another site's page are refused".into(),
        )
        .into_response();
    }
    let Some(token) = &studio.opts.token else {
        if !local_host(req.headers()) {
            return ApiError(
                StatusCode::FORBIDDEN,
                "the studio answers requests to localhost only".into(),
            )
            .into_response();
        }
        return next.run(req).await;
    };
    let given = request_token(&req);
    if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "this studio needs its token: open it as /?token=YOUR_TOKEN".into(),
        )
        .into_response();
    }
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&format!(
        "atelier_token={token}; Path=/; HttpOnly; SameSite=Strict"
    )) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn catalog(State(s): Shared) -> impl IntoResponse {
    axum::Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "device": format!("{:?}", s.opts.device).to_lowercase(),
        "styles": s.catalog.styles,
        "adain": s.catalog.adain,
        "inpainter": s.catalog.inpainter,
        "generator": s.catalog.generator,
        "translators": s.catalog.translators,
        "limits": {
            "max_upload_bytes": s.opts.max_upload_bytes,
            "max_pixels": s.opts.max_pixels,
            "max_side": s.opts.max_side,
            "max_video_seconds": s.opts.max_video_seconds,
            "queue": s.opts.queue,
            "workers": s.opts.workers,
            "max_styles": spec::MAX_STYLES,
            "max_generate": spec::MAX_GENERATE,
        },
    }))
}

/// Blocking work (decoding, a network pass) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn style_thumb(State(s): Shared, Path(name): Path<String>) -> ApiResult<Response> {
    if !s.catalog.has_style(&name) {
        return Err(ApiError::not_found("style"));
    }
    let st = s.clone();
    let jpeg = blocking(move || st.catalog.thumbnail(&name, &st.device))
        .await?
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        jpeg,
    )
        .into_response())
}

fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{} MB", n >> 20)
    } else {
        format!("{} KB", n.div_ceil(1024))
    }
}

/// Read a request body up to `limit` bytes, or a 413 that says the limit.
async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the upload is over the limit of {}", human_bytes(limit)),
        )
    })
}

/// `POST /api/uploads`: the file's bytes as the body; `X-Filename` names it for display.
async fn upload(State(s): Shared, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let bytes = read_body(body, s.opts.max_upload_bytes).await?;
    if bytes.is_empty() {
        return Err(ApiError::bad("the upload is empty"));
    }
    let name = headers
        .get("x-filename")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("upload")
        .to_string();
    let st = s.clone();
    let stored = blocking(move || {
        let limits = UploadLimits {
            max_pixels: st.opts.max_pixels,
            max_video_seconds: st.opts.max_video_seconds,
        };
        st.uploads.store(&bytes, &name, &limits)
    })
    .await?;
    match stored {
        Ok(u) => Ok((StatusCode::CREATED, axum::Json(u)).into_response()),
        Err(UploadError::TooLarge(m)) => Err(ApiError(StatusCode::PAYLOAD_TOO_LARGE, m)),
        Err(UploadError::Unsupported(m)) => Err(ApiError(StatusCode::UNSUPPORTED_MEDIA_TYPE, m)),
        Err(UploadError::Invalid(m)) => Err(ApiError::bad(m)),
        Err(UploadError::Io(m)) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, m)),
    }
}

/// Serve a file we chose (never a path from the request), with ranges for video seeking.
async fn send_file(path: PathBuf, req: Request) -> ApiResult<Response> {
    let res = tower_http::services::ServeFile::new(path)
        .oneshot(req)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(res.map(Body::new))
}

async fn upload_file(
    State(s): Shared,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let (_, path) = s.uploads.get(&id).ok_or(ApiError::not_found("upload"))?;
    send_file(path, req).await
}

async fn submit(State(s): Shared, body: Body) -> ApiResult<Response> {
    let bytes = read_body(body, 64 << 10).await?;
    let spec: JobSpec =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::bad(format!("not a job: {e}")))?;
    let st = s.clone();
    let checked = spec.clone();
    blocking(move || st.check(&checked))
        .await?
        .map_err(ApiError::bad)?;
    let job = s.jobs.submit(spec)?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)).into_response())
}

async fn list_jobs(State(s): Shared) -> axum::Json<Vec<Job>> {
    axum::Json(s.jobs.list())
}

fn job_id(id: &str) -> ApiResult<&str> {
    if is_id(id) {
        Ok(id)
    } else {
        Err(ApiError::not_found("job"))
    }
}

async fn get_job(State(s): Shared, Path(id): Path<String>) -> ApiResult<axum::Json<Job>> {
    Ok(axum::Json(
        s.jobs.get(job_id(&id)?).ok_or(ApiError::not_found("job"))?,
    ))
}

async fn cancel_job(State(s): Shared, Path(id): Path<String>) -> ApiResult<axum::Json<Job>> {
    Ok(axum::Json(s.jobs.cancel(job_id(&id)?)?))
}

async fn delete_job(State(s): Shared, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.jobs.delete(job_id(&id)?)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn job_file(
    State(s): Shared,
    Path((id, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let job = s.jobs.get(job_id(&id)?).ok_or(ApiError::not_found("job"))?;
    // Only names the job itself lists; never a path from the request.
    let listed = job.outputs.contains(&name) || job.preview.as_deref() == Some(name.as_str());
    if !listed {
        return Err(ApiError::not_found("file"));
    }
    send_file(s.jobs.job_dir(&job.id).join(&name), req).await
}

/// Server-Sent Events: each job change as `event: job` with the job's JSON. A one-job
/// stream starts with the job's current state (a page that connects late misses nothing)
/// and ends after the job finishes; the all-jobs stream runs until the page closes it.
fn events(
    s: &Studio,
    only: Option<String>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>> + use<>> {
    // Subscribe before reading the current state, so no change falls between the two.
    let mut updates = s.jobs.subscribe();
    let now: Vec<Job> = only.iter().filter_map(|id| s.jobs.get(id)).collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(64);
    let job_event = |j: &Job| {
        Event::default()
            .event("job")
            .json_data(j)
            .unwrap_or_else(|_| Event::default().event("lagged").data("refetch"))
    };
    // A task forwards the changes the stream wants; it ends when the page goes away (the
    // send fails) or, for one job, after that job has finished.
    tokio::spawn(async move {
        for job in now {
            if tx.send(Ok(job_event(&job))).await.is_err() || job.status.finished() {
                return;
            }
        }
        loop {
            let event = match updates.recv().await {
                Ok(job) if only.as_ref().is_none_or(|id| *id == job.id) => {
                    let last = only.is_some() && job.status.finished();
                    if tx.send(Ok(job_event(&job))).await.is_err() || last {
                        return;
                    }
                    continue;
                }
                Ok(_) => continue,
                // A slow reader that missed changes is told to fetch the jobs again.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Event::default().event("lagged").data("refetch")
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if tx.send(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default())
}

async fn all_events(State(s): Shared) -> impl IntoResponse {
    events(&s, None)
}

async fn job_events(State(s): Shared, Path(id): Path<String>) -> ApiResult<Response> {
    let id = job_id(&id)?.to_string();
    if s.jobs.get(&id).is_none() {
        return Err(ApiError::not_found("job"));
    }
    Ok(events(&s, Some(id)).into_response())
}
