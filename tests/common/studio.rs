#![allow(dead_code)]
//! Helpers for the studio's tests: an in-process server on a random local port and a small
//! HTTP client that returns every status (errors included) with its JSON.

use std::path::Path;
use std::time::{Duration, Instant};

use atelier::studio::{ServeOptions, Server};
use image::RgbImage;
use serde_json::Value;

/// A studio on 127.0.0.1 with a random port, keeping its files in `data`; `tweak` changes
/// the options first.
pub fn start(data: &Path, tweak: impl FnOnce(&mut ServeOptions)) -> Server {
    let mut opts = ServeOptions::new("127.0.0.1:0".parse().unwrap(), data.to_path_buf());
    tweak(&mut opts);
    Server::start(opts).expect("the studio starts")
}

pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub token: Option<String>,
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    /// The `error` of a JSON error reply, checking it is one.
    pub fn error(&self) -> String {
        let j = self.json();
        j["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field in {j}"))
            .to_string()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    pub fn new(server: &Server) -> Self {
        Self::at(&server.url())
    }

    pub fn at(url: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Self {
            base: url.trim_end_matches('/').to_string(),
            agent,
            token: None,
        }
    }

    fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut r = r.expect("the request reaches the studio");
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let status = r.status().as_u16();
        let body = r
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("Authorization", format!("Bearer {t}")),
            None => req,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        Self::reply(
            self.auth(self.agent.get(format!("{}{path}", self.base)))
                .call(),
        )
    }

    pub fn delete(&self, path: &str) -> Reply {
        Self::reply(
            self.auth(self.agent.delete(format!("{}{path}", self.base)))
                .call(),
        )
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        Self::reply(
            self.auth(self.agent.post(format!("{}{path}", self.base)))
                .header("X-Filename", "file")
                .send(body),
        )
    }

    pub fn post_json(&self, path: &str, v: &Value) -> Reply {
        self.post(path, v.to_string().as_bytes())
    }

    /// Upload bytes; the new upload's id.
    pub fn upload(&self, bytes: &[u8]) -> String {
        let r = self.post("/api/uploads", bytes);
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// Submit a job that must be accepted; its id.
    pub fn submit(&self, spec: Value) -> String {
        let r = self.post_json("/api/jobs", &spec);
        assert_eq!(
            r.status,
            202,
            "{spec}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()["id"].as_str().unwrap().to_string()
    }

    pub fn job(&self, id: &str) -> Value {
        let r = self.get(&format!("/api/jobs/{id}"));
        assert_eq!(r.status, 200);
        r.json()
    }

    /// Wait until job `id` has status `want` (or any finished status when `want` is "finished").
    pub fn wait_for(&self, id: &str, want: &str, limit: Duration) -> Value {
        let t = Instant::now();
        loop {
            let j = self.job(id);
            let s = j["status"].as_str().unwrap().to_string();
            let finished = matches!(s.as_str(), "done" | "failed" | "cancelled");
            if s == want || (want == "finished" && finished) {
                return j;
            }
            assert!(
                !finished || want == "finished",
                "job {id} ended {s} while waiting for {want}: {j}"
            );
            assert!(
                t.elapsed() < limit,
                "job {id} not {want} after {limit:?}: {j}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A small photo-like test picture: a gradient with a bright disc.
pub fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let d = ((x as f32 - w as f32 * 0.6).powi(2) + (y as f32 - h as f32 * 0.4).powi(2)).sqrt();
        let disc = if d < h as f32 * 0.2 { 90 } else { 0 };
        image::Rgb([
            (40 + x * 150 / w + disc) as u8,
            (60 + y * 120 / h) as u8,
            (150 - y * 80 / h + disc / 2) as u8,
        ])
    })
}
