//! The studio's JSON API against an in-process server on 127.0.0.1 (random port): every
//! endpoint, every task, bad uploads, oversize, traversal attempts, the token, a full queue,
//! cancel, and a restart that keeps the gallery.

#[path = "common/studio.rs"]
mod studio;

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};
use studio::{Client, photo, png, start};

const LONG: Duration = Duration::from_secs(240);

#[test]
fn every_task_runs_and_every_endpoint_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {});
    let c = Client::new(&server);

    // The page and its assets are in the binary.
    let page = c.get("/");
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("Atelier Studio"));
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(c.get("/app.js").status, 200);
    assert_eq!(c.get("/style.css").status, 200);

    // The catalogue lists what is shipped.
    let cat = c.get("/api/catalog").json();
    let styles: Vec<&str> = cat["styles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(styles.contains(&"starry-night"), "{cat}");
    assert_eq!(cat["adain"], true);
    assert_eq!(cat["inpainter"], true);
    assert_eq!(cat["generator"]["classes"].as_array().unwrap().len(), 8);
    let translator = cat["translators"][0]["name"].as_str().unwrap().to_string();

    // A thumbnail is a JPEG the style network painted, different per style.
    let t1 = c.get("/api/styles/starry-night/thumb.jpg");
    let t2 = c.get("/api/styles/great-wave/thumb.jpg");
    assert_eq!(t1.status, 200);
    let a = image::load_from_memory(&t1.body).unwrap().to_rgb8();
    let b = image::load_from_memory(&t2.body).unwrap().to_rgb8();
    assert_eq!(a.dimensions(), (192, 128));
    assert_ne!(a, b);
    assert_eq!(c.get("/api/styles/nope/thumb.jpg").status, 404);

    // Uploads come back byte for byte.
    let photo_png = png(&photo(96, 64));
    let photo_id = c.upload(&photo_png);
    let back = c.get(&format!("/api/uploads/{photo_id}"));
    assert_eq!(back.status, 200);
    assert_eq!(back.body, photo_png);

    // Stylise (fast, a blend of two styles at 128 px) and read the result.
    let job = c.submit(json!({"task": "stylize", "photo": photo_id, "size": 128,
        "styles": [{"builtin": "starry-night"}, {"builtin": "great-wave"}], "weights": [0.7, 0.3]}));
    let done = c.wait_for(&job, "done", LONG);
    assert_eq!(done["outputs"][0], "result.png");
    let r = c.get(&format!("/api/jobs/{job}/files/result.png"));
    let img = image::load_from_memory(&r.body).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (128, 85));

    // AdaIN with an uploaded painting, and strength 0 against 1 differ.
    let painting = c.upload(&png(&common_painting()));
    let ada = |strength: f64| {
        let id = c.submit(json!({"task": "stylize", "photo": photo_id, "size": 64,
            "styles": [{"upload": painting}], "strength": strength}));
        c.wait_for(&id, "done", LONG);
        assert_eq!(c.job(&id)["spec"]["method"], Value::Null);
        image::load_from_memory(&c.get(&format!("/api/jobs/{id}/files/result.png")).body)
            .unwrap()
            .to_rgb8()
    };
    assert_ne!(ada(0.0), ada(1.0));

    // Generate: a grid, an interpolation strip, and "more like this" from grid image 2.
    let grid = c.submit(json!({"task": "generate", "n": 4, "seed": 3, "class": "female-noble"}));
    let g = c.wait_for(&grid, "done", LONG);
    assert_eq!(g["outputs"].as_array().unwrap().len(), 5, "{g}");
    let like = c.submit(
        json!({"task": "generate", "mode": "variations", "n": 3, "seed": 3,
        "index": 2, "class": "female-noble"}),
    );
    c.wait_for(&like, "done", LONG);
    let from_grid = c.get(&format!("/api/jobs/{grid}/files/002.png")).body;
    let first_variation = c.get(&format!("/api/jobs/{like}/files/000.png")).body;
    assert_eq!(
        image::load_from_memory(&from_grid).unwrap().to_rgb8(),
        image::load_from_memory(&first_variation).unwrap().to_rgb8(),
        "more like this starts from the clicked face"
    );
    // Walking on from variation 1 starts from exactly that face.
    let walk = c.submit(
        json!({"task": "generate", "mode": "variations", "n": 2, "seed": 3,
        "index": 2, "class": "female-noble", "picks": [1]}),
    );
    c.wait_for(&walk, "done", LONG);
    assert_eq!(
        image::load_from_memory(&c.get(&format!("/api/jobs/{like}/files/001.png")).body)
            .unwrap()
            .to_rgb8(),
        image::load_from_memory(&c.get(&format!("/api/jobs/{walk}/files/000.png")).body)
            .unwrap()
            .to_rgb8(),
    );
    let strip = c.submit(json!({"task": "generate", "mode": "interpolate", "n": 5}));
    let strip_img = c.get(&format!(
        "/api/jobs/{}/files/result.png",
        c.wait_for(&strip, "done", LONG)["id"].as_str().unwrap()
    ));
    let s = image::load_from_memory(&strip_img.body).unwrap();
    assert!(s.width() > 4 * s.height(), "a strip, not a grid");

    // Translate with a shipped model.
    let tr =
        c.submit(json!({"task": "translate", "photo": photo_id, "model": translator, "size": 64}));
    c.wait_for(&tr, "done", LONG);

    // Inpaint (classic): pixels outside the mask come back exactly.
    let mask = image::RgbImage::from_fn(96, 64, |x, y| {
        let hole = (40..56).contains(&x) && (20..36).contains(&y);
        image::Rgb(if hole { [255; 3] } else { [0; 3] })
    });
    let mask_id = c.upload(&png(&mask));
    let fill = c.submit(
        json!({"task": "inpaint", "photo": photo_id, "mask": mask_id, "method": "classic"}),
    );
    let f = c.wait_for(&fill, "done", LONG);
    assert!(
        f["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("filled"))
    );
    let out = image::load_from_memory(&c.get(&format!("/api/jobs/{fill}/files/result.png")).body)
        .unwrap()
        .to_rgb8();
    let src = photo(96, 64);
    for (x, y, p) in out.enumerate_pixels() {
        if mask.get_pixel(x, y).0[0] == 0 {
            assert_eq!(
                p,
                src.get_pixel(x, y),
                "pixel {x},{y} outside the hole changed"
            );
        }
    }

    // Video: an MP4 in, a stylised MP4 out with every frame.
    let clip = dir.path().join("clip.mp4");
    write_clip(&clip, 6, 64, 48);
    let clip_id = c.upload(&std::fs::read(&clip).unwrap());
    let up = c.get("/api/jobs");
    assert_eq!(up.status, 200);
    let vid = c.submit(
        json!({"task": "video", "clip": clip_id, "styles": [{"builtin": "udnie"}], "size": 64}),
    );
    let v = c.wait_for(&vid, "done", LONG);
    assert_eq!(v["outputs"][0], "result.mp4");
    let mp4 = dir.path().join("back.mp4");
    std::fs::write(
        &mp4,
        c.get(&format!("/api/jobs/{vid}/files/result.mp4")).body,
    )
    .unwrap();
    let info = atelier::video::source::open(&mp4, 24.0).unwrap();
    assert_eq!(info.info().frames, Some(6));
    // A range request (a <video> seeking) gets part of the file.
    let part = Client::reply_range(
        &c,
        &format!("/api/jobs/{vid}/files/result.mp4"),
        "bytes=0-99",
    );
    assert_eq!(part.0, 206);
    assert_eq!(part.1, 100);

    // The all-jobs event stream tells a listening page about a new job until it is done.
    let mut events = std::net::TcpStream::connect(c.base.trim_start_matches("http://")).unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    events
        .write_all(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let watched = c.submit(json!({"task": "generate", "n": 1}));
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !(seen.contains(&watched) && seen.contains("\"status\":\"done\"")) {
        let n = events.read(&mut buf).expect("events keep coming");
        assert!(n > 0, "the event stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        seen.contains("text/event-stream") && seen.contains("event: job"),
        "{seen}"
    );
    drop(events);

    // Listing, the per-job event stream (ends after a finished job), delete.
    let all = c.get("/api/jobs").json();
    assert_eq!(all.as_array().unwrap().len(), 11);
    let ev = c.get(&format!("/api/jobs/{job}/events"));
    assert_eq!(ev.status, 200);
    let text = String::from_utf8_lossy(&ev.body);
    assert!(
        text.contains("event: job") && text.contains("\"status\":\"done\""),
        "{text}"
    );
    assert_eq!(c.post(&format!("/api/jobs/{job}/cancel"), b"").status, 409);
    assert_eq!(c.delete(&format!("/api/jobs/{job}")).status, 204);
    assert_eq!(c.get(&format!("/api/jobs/{job}")).status, 404);
    assert!(!dir.path().join("jobs").join(&job).exists());
    assert_eq!(c.delete(&format!("/api/jobs/{job}")).status, 404);
}

/// A painting-like picture for AdaIN: strong diagonal strokes of two colours.
fn common_painting() -> image::RgbImage {
    image::RgbImage::from_fn(80, 80, |x, y| {
        if ((x + 2 * y) / 6) % 2 == 0 {
            image::Rgb([200, 60, 30])
        } else {
            image::Rgb([30, 40, 160])
        }
    })
}

fn write_clip(path: &std::path::Path, frames: u32, w: u32, h: u32) {
    use atelier::video::sink;
    let rate = atelier::video::FrameRate::from_fps(12.0);
    let mut s = sink::create(path, w, h, rate, 500_000, None).unwrap();
    for t in 0..frames {
        s.write(&image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 4 + t * 8) as u8, (y * 5) as u8, 120])
        }))
        .unwrap();
    }
    s.finish().unwrap();
}

impl Client {
    /// Status and body length of a GET with a Range header.
    fn reply_range(&self, path: &str, range: &str) -> (u16, usize) {
        let raw = raw_request(
            &self.base,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: {range}\r\nConnection: close\r\n\r\n"
            ),
        );
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let _ = body;
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        (status, len)
    }
}

/// Send a request exactly as written (no client-side path clean-up) and read the reply.
fn raw_request(base: &str, request: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

#[test]
fn bad_input_gets_a_clear_4xx_never_a_500() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| {
        o.max_upload_bytes = 200_000;
        o.max_pixels = 300 * 300;
    });
    let c = Client::new(&server);
    let expect = |r: studio::Reply, status: u16, needle: &str| {
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
        let e = r.error();
        assert!(e.contains(needle), "'{e}' should mention '{needle}'");
    };

    // Uploads: empty, not an image, a truncated PNG, a PNG named .jpg is fine (sniffed),
    // too many bytes, too many pixels.
    expect(c.post("/api/uploads", b""), 400, "empty");
    expect(
        c.post("/api/uploads", b"#!/bin/sh\nrm -rf /\n"),
        415,
        "not an image",
    );
    let good = png(&photo(64, 48));
    expect(c.post("/api/uploads", &good[..good.len() / 2]), 400, "");
    let huge = image::RgbImage::from_pixel(400, 400, image::Rgb([90, 20, 7]));
    expect(c.post("/api/uploads", &png(&huge)), 413, "pixels");
    expect(c.post("/api/uploads", &vec![0x89u8; 300_000]), 413, "limit");
    let fake_mp4 = {
        let mut v = vec![0, 0, 0, 24];
        v.extend_from_slice(b"ftypisom");
        v.extend_from_slice(&[0; 64]);
        v
    };
    expect(c.post("/api/uploads", &fake_mp4), 415, "video");
    let photo_id = c.upload(&good);

    // Jobs: not JSON, an unknown task, an unknown field, out-of-range numbers, names and
    // ids that are not in the catalogue or the uploads (paths included).
    expect(c.post("/api/jobs", b"{not json"), 400, "not a job");
    let bad = |spec: Value, needle: &str| expect(c.post_json("/api/jobs", &spec), 400, needle);
    bad(json!({"task": "format-disk"}), "unknown variant");
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": [{"builtin": "udnie"}], "colour": 1}),
        "unknown field",
    );
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": []}),
        "styles",
    );
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": [{"builtin": "no-such"}]}),
        "no built-in style",
    );
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": [{"builtin": "/etc/passwd"}]}),
        "no built-in style",
    );
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": [{"upload": "../../etc/passwd"}]}),
        "no upload",
    );
    bad(
        json!({"task": "stylize", "photo": "../uploads/x", "styles": [{"builtin": "udnie"}]}),
        "no upload",
    );
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": [{"builtin": "udnie"}], "strength": 3}),
        "strength",
    );
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": [{"builtin": "udnie"}], "size": 100000}),
        "size",
    );
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": [{"builtin": "udnie"}], "method": "optimize"}),
        "built-in styles",
    );
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": [{"builtin": "udnie"}, {"upload": photo_id}]}),
        "not both",
    );
    bad(
        json!({"task": "stylize", "photo": photo_id, "styles": [{"builtin": "udnie"}], "weights": [1, 2]}),
        "weights",
    );
    bad(json!({"task": "generate", "n": 0}), "n must");
    bad(
        json!({"task": "generate", "class": "dragon"}),
        "unknown class",
    );
    bad(json!({"task": "generate", "truncation": -1}), "truncation");
    bad(
        json!({"task": "translate", "photo": photo_id, "model": "../../Cargo"}),
        "no translation model",
    );
    bad(
        json!({"task": "inpaint", "photo": photo_id, "mask": "0123456789abcdef"}),
        "no upload",
    );
    bad(
        json!({"task": "video", "clip": photo_id, "styles": [{"builtin": "udnie"}]}),
        "not a video",
    );

    // Paths: traversal in every shape reaches nothing; unknown routes are JSON 404s.
    for path in [
        "/api/uploads/../../Cargo.toml",
        "/api/uploads/..%2f..%2fCargo.toml",
        "/api/uploads/%2e%2e%2fjobs",
        "/api/jobs/..%2f..%2fCargo.toml",
        "/api/jobs/0123456789abcdef/files/..%2fjob.json",
        "/../../../../etc/passwd",
        "/api/nothing",
    ] {
        let raw = raw_request(
            &c.base,
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        );
        let status: u16 = raw.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(
            status == 404 || status == 400,
            "{path} answered {status}: {raw}"
        );
        assert!(
            !raw.contains("[package]") && !raw.contains("root:"),
            "{path} leaked a file"
        );
    }
    // A job's own files are reachable only by the names it lists.
    let job = c.submit(json!({"task": "generate", "n": 1}));
    c.wait_for(&job, "done", LONG);
    assert_eq!(
        c.get(&format!("/api/jobs/{job}/files/job.json")).status,
        404
    );
    assert_eq!(
        c.get(&format!("/api/jobs/{job}/files/result.png")).status,
        200
    );

    // A job that fails while running (a mask that covers everything) fails alone, with its
    // reason, and the next job runs.
    let white = c.upload(&png(&image::RgbImage::from_pixel(
        64,
        48,
        image::Rgb([255; 3]),
    )));
    let failing =
        c.submit(json!({"task": "inpaint", "photo": photo_id, "mask": white, "method": "classic"}));
    let f = c.wait_for(&failing, "failed", LONG);
    assert!(f["error"].as_str().unwrap().contains("mask"), "{f}");
    let after = c.submit(json!({"task": "generate", "n": 1}));
    c.wait_for(&after, "done", LONG);

    // Another site's page cannot queue jobs (the browser's Origin header gives it away).
    let raw = raw_request(
        &c.base,
        "POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://attacker.example\r\n\
         Content-Type: text/plain\r\nContent-Length: 19\r\nConnection: close\r\n\r\n\
         {\"task\":\"generate\"}",
    );
    assert!(raw.starts_with("HTTP/1.1 403"), "{raw}");

    // Requests from another site's name are refused without a token (DNS rebinding).
    let raw = raw_request(
        &c.base,
        "GET /api/catalog HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n",
    );
    assert!(raw.starts_with("HTTP/1.1 403"), "{raw}");
}

#[test]
fn a_token_guards_every_request() {
    let dir = tempfile::tempdir().unwrap();
    // Listening beyond this machine without a token is refused at start.
    let mut open =
        atelier::studio::ServeOptions::new("0.0.0.0:0".parse().unwrap(), dir.path().into());
    let err = atelier::studio::Server::start(open.clone())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--token"), "{err}");
    open.token = Some("short".into());
    assert!(atelier::studio::Server::start(open).is_err());

    let server = start(dir.path(), |o| o.token = Some("s3cret-token".into()));
    let mut c = Client::new(&server);
    for path in ["/", "/api/catalog", "/api/jobs", "/app.js", "/api/events"] {
        let r = c.get(path);
        assert_eq!(r.status, 401, "{path} without a token");
        assert!(r.error().contains("token"));
    }
    c.token = Some("s3cret-tokeX".into());
    assert_eq!(c.get("/api/catalog").status, 401);
    c.token = Some("s3cret-token".into());
    assert_eq!(c.get("/api/catalog").status, 200);
    assert_eq!(c.post("/api/uploads", &png(&photo(8, 8))).status, 201);

    // The page opened with ?token= sets a cookie that then works alone.
    c.token = None;
    let page = c.get("/?token=s3cret-token");
    assert_eq!(page.status, 200);
    let cookie = page.header("set-cookie").unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap();
    let raw = raw_request(
        &c.base,
        &format!(
            "GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {pair}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert_eq!(c.get("/api/jobs?token=wrong").status, 401);
}

#[test]
fn a_full_queue_answers_429_cancel_works_and_a_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| o.queue = 2);
    let c = Client::new(&server);
    let photo_id = c.upload(&png(&photo(96, 64)));
    let painting = c.upload(&png(&common_painting()));
    // A long optimisation holds the one worker; it shows progress and live previews.
    let long = json!({"task": "stylize", "photo": photo_id, "styles": [{"upload": painting}],
        "method": "optimize", "size": 64, "iterations": 2000});
    let running = c.submit(long.clone());
    c.wait_for(&running, "running", LONG);
    let t = std::time::Instant::now();
    let live = loop {
        let j = c.job(&running);
        if j["preview_version"].as_u64().unwrap() > 0 && j["progress"].as_f64().unwrap() > 0.0 {
            break j;
        }
        assert!(t.elapsed() < LONG, "no progress: {j}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        live["message"].as_str().unwrap().contains("iteration"),
        "{live}"
    );
    assert!(live["eta_s"].is_number(), "{live}");
    let preview = c.get(&format!("/api/jobs/{running}/files/preview.jpg"));
    assert_eq!(preview.status, 200);
    assert!(image::load_from_memory(&preview.body).is_ok());

    let quick = json!({"task": "generate", "n": 2});
    let waiting = c.submit(quick.clone());
    let second = c.submit(quick.clone());
    let full = c.post_json("/api/jobs", &quick);
    assert_eq!(full.status, 429);
    assert!(full.error().contains("queue is full"));

    // Cancel a waiting job at once; cancel the running one (it stops within an iteration).
    assert_eq!(
        c.post(&format!("/api/jobs/{waiting}/cancel"), b"").json()["status"],
        "cancelled"
    );
    c.post(&format!("/api/jobs/{running}/cancel"), b"");
    let stopped = c.wait_for(&running, "cancelled", LONG);
    assert!(stopped["progress"].as_f64().unwrap() < 0.5, "{stopped}");
    c.wait_for(&second, "done", LONG);
    // The queue has room again.
    let third = c.submit(quick.clone());
    c.wait_for(&third, "done", LONG);

    // One more long job is running when the server stops.
    let interrupted = c.submit(long);
    c.wait_for(&interrupted, "running", LONG);
    let before: Vec<Value> = c.get("/api/jobs").json().as_array().unwrap().clone();
    let result_before = c.get(&format!("/api/jobs/{second}/files/result.png")).body;
    server.stop();

    let server = start(dir.path(), |o| o.queue = 2);
    let c = Client::new(&server);
    let after: Vec<Value> = c.get("/api/jobs").json().as_array().unwrap().clone();
    assert_eq!(after.len(), before.len());
    let status = |id: &str| c.job(id)["status"].as_str().unwrap().to_string();
    assert_eq!(status(&running), "cancelled");
    assert_eq!(status(&waiting), "cancelled");
    assert_eq!(status(&second), "done");
    assert_eq!(status(&third), "done");
    let i = c.job(&interrupted);
    assert_eq!(i["status"], "failed");
    assert!(
        i["error"].as_str().unwrap().contains("server stopped"),
        "{i}"
    );
    assert_eq!(
        c.get(&format!("/api/jobs/{second}/files/result.png")).body,
        result_before
    );
    // Its uploads survived too: the interrupted job can be run again as it was.
    let again = c.submit(i["spec"].clone());
    c.post(&format!("/api/jobs/{again}/cancel"), b"");
    c.wait_for(&again, "finished", LONG);
}
