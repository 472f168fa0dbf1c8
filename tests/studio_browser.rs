//! The studio page in a real browser: headless Chromium (Debian's `chromium` package, never
//! a downloaded one) driven over the DevTools protocol. A person's steps: open the page,
//! upload a photo, choose a built-in style, see the painting appear and download it; load a
//! scan, paint a mask with the mouse, restore it and compare; find both in the gallery.
//!
//! `.ci/run` installs Chromium when it is missing. A plain `cargo test` without a browser
//! skips these with a message (in CI, `CI` set, a missing browser fails). The screenshot in
//! the README comes from here: `ATELIER_SCREENSHOT=docs/studio.png cargo test --test
//! studio_browser`.

#[path = "common/studio.rs"]
mod studio;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Browser::{
    SetDownloadBehavior, SetDownloadBehaviorBehaviorOption,
};
use headless_chrome::protocol::cdp::Input::{
    DispatchMouseEvent, DispatchMouseEventTypeOption, MouseButton,
};
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use studio::{Client, photo, start};

/// The system's Chromium: `$ATELIER_CHROMIUM` when set (only it), else the usual Debian and
/// Chrome paths.
fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("ATELIER_CHROMIUM") {
        Some(p) => vec![PathBuf::from(p)],
        None => [
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ]
        .map(PathBuf::from)
        .to_vec(),
    };
    if let Some(found) = candidates.into_iter().find(|c| c.is_file()) {
        return Some(found);
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but no Chromium was found (.ci/run installs Debian's chromium)");
    }
    eprintln!(
        "skipping the browser tests: no Chromium found (install Debian's `chromium` package \
         or set ATELIER_CHROMIUM)"
    );
    None
}

fn launch(path: PathBuf, profile: &Path) -> Browser {
    // The flags keep a sandboxed CI machine quiet: no sandbox (root), no GPU, and no
    // background connections to Google's hosts, which a closed network refuses.
    let args: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let opts = LaunchOptions::default_builder()
        .path(Some(path))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1280, 900)))
        .user_data_dir(Some(profile.to_path_buf()))
        .idle_browser_timeout(Duration::from_secs(300))
        .args(args)
        .build()
        .unwrap();
    Browser::new(opts).expect("Chromium starts")
}

/// Evaluate a JavaScript expression to a JSON value (through JSON.stringify, so arrays
/// and objects come back whole).
fn js(tab: &Tab, expr: &str) -> serde_json::Value {
    let wrapped = format!("JSON.stringify(({expr}) ?? null)");
    let v = tab
        .evaluate(&wrapped, true)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .value;
    match v {
        Some(serde_json::Value::String(s)) => serde_json::from_str(&s).unwrap(),
        _ => serde_json::Value::Null,
    }
}

/// Wait until `expr` is true in the page.
fn wait_until(tab: &Tab, expr: &str, limit: Duration) {
    let t = Instant::now();
    while js(tab, expr) != serde_json::Value::Bool(true) {
        if t.elapsed() > limit {
            let errors = js(tab, "document.querySelector('#toast').textContent");
            let job = js(
                tab,
                "(document.querySelector('.result-area .job')||{}).innerText||''",
            );
            panic!("timed out waiting for {expr}; toast: {errors}; job: {job}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mouse(tab: &Tab, kind: DispatchMouseEventTypeOption, x: f64, y: f64) {
    let pressed = matches!(kind, DispatchMouseEventTypeOption::MousePressed);
    let moved = matches!(kind, DispatchMouseEventTypeOption::MouseMoved);
    tab.call_method(DispatchMouseEvent {
        Type: kind,
        x,
        y,
        modifiers: None,
        timestamp: None,
        button: Some(MouseButton::Left),
        buttons: Some(if pressed || moved { 1 } else { 0 }),
        click_count: Some(1),
        force: None,
        tangential_pressure: None,
        tilt_x: None,
        tilt_y: None,
        twist: None,
        delta_x: None,
        delta_y: None,
        pointer_Type: None,
    })
    .unwrap();
}

#[test]
fn a_person_stylises_a_photo_and_restores_a_scan_in_the_page() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("studio"), |_| {});
    let api = Client::new(&server);
    let browser = launch(chrome, &dir.path().join("profile"));
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(60));
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    tab.call_method(SetDownloadBehavior {
        behavior: SetDownloadBehaviorBehaviorOption::Allow,
        browser_context_id: None,
        download_path: Some(downloads.to_string_lossy().to_string()),
        events_enabled: None,
    })
    .unwrap();

    tab.navigate_to(&server.url()).unwrap();
    tab.wait_until_navigated().unwrap();
    // The style gallery fills from the catalogue, with thumbnails that load.
    tab.wait_for_element(".style-thumb[data-style='starry-night']")
        .unwrap();
    wait_until(
        &tab,
        "[...document.querySelectorAll('.style-thumb img')].every(i => i.complete && i.naturalWidth > 0)",
        Duration::from_secs(60),
    );

    // Stylise: upload a photo, choose a style, paint. (For the README screenshot, a real
    // photo from the shared data when it is there.)
    let screenshot = std::env::var_os("ATELIER_SCREENSHOT");
    // Chromium refuses to read a file through a path with `..` in it: canonicalise.
    let shared_photo = atelier::data::shared_data_root()
        .join("photos/chicago.jpg")
        .canonicalize();
    let photo_path = if let (Some(_), Ok(shared)) = (&screenshot, shared_photo) {
        shared
    } else {
        let p = dir.path().join("harbour.png");
        photo(320, 200).save(&p).unwrap();
        p
    };
    let (pw, ph) = image::image_dimensions(&photo_path).unwrap();
    let expect = (512, (512.0 * ph as f64 / pw as f64).round() as u32);
    tab.find_element("#stylize-photo")
        .unwrap()
        .set_input_files(&[photo_path.to_str().unwrap()])
        .unwrap();
    wait_until(
        &tab,
        "document.querySelector('#stylize-photo-drop').classList.contains('filled')",
        Duration::from_secs(30),
    );
    tab.find_element(".style-thumb[data-style='starry-night']")
        .unwrap()
        .click()
        .unwrap();
    js(
        &tab,
        "document.querySelector('#stylize-size').value = '512'",
    );
    tab.find_element("#stylize-go").unwrap().click().unwrap();
    wait_until(
        &tab,
        "(() => { const i = document.querySelector('#stylize-job .compare img.after'); \
         return !!i && i.complete && i.naturalWidth === 512; })()",
        Duration::from_secs(120),
    );
    let jobs = api.get("/api/jobs").json();
    assert_eq!(jobs[0]["spec"]["styles"][0]["builtin"], "starry-night");
    assert_eq!(jobs[0]["status"], "done");

    // Download it: the file lands in the download folder and is the 512 px painting.
    tab.find_element("#stylize-job a.download")
        .unwrap()
        .click()
        .unwrap();
    let t = Instant::now();
    let file = loop {
        let found = std::fs::read_dir(&downloads)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "png"));
        if let Some(f) = found {
            break f;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no download");
        std::thread::sleep(Duration::from_millis(100));
    };
    let downloaded = image::open(&file).unwrap().to_rgb8();
    assert_eq!(downloaded.dimensions(), expect);

    // The README screenshot: the page with a finished painting.
    if let Some(out) = screenshot {
        js(&tab, "window.scrollTo(0, 0)");
        let png = tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
            .unwrap();
        std::fs::write(&out, png).unwrap();
    }

    // Restore: load a scan, paint over a stripe with the mouse, fill, compare.
    tab.find_element("#tab-restore").unwrap().click().unwrap();
    let scan_path = dir.path().join("scan.png");
    photo(256, 192).save(&scan_path).unwrap();
    tab.find_element("#restore-photo")
        .unwrap()
        .set_input_files(&[scan_path.to_str().unwrap()])
        .unwrap();
    wait_until(
        &tab,
        "!document.querySelector('#restore-editor').hidden && \
         document.querySelector('#restore-canvas').width === 256",
        Duration::from_secs(30),
    );
    let b = js(
        &tab,
        "(() => { const r = document.querySelector('#restore-canvas').getBoundingClientRect(); \
         return [r.left, r.top, r.width, r.height]; })()",
    );
    let r: Vec<f64> = b
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // A horizontal stroke across the middle third, at 40 % of the height.
    let y = r[1] + 0.4 * r[3];
    mouse(
        &tab,
        DispatchMouseEventTypeOption::MousePressed,
        r[0] + 0.3 * r[2],
        y,
    );
    for k in 1..=10 {
        let x = r[0] + (0.3 + 0.04 * k as f64) * r[2];
        mouse(&tab, DispatchMouseEventTypeOption::MouseMoved, x, y);
    }
    mouse(
        &tab,
        DispatchMouseEventTypeOption::MouseReleased,
        r[0] + 0.7 * r[2],
        y,
    );
    tab.find_element("#restore-go").unwrap().click().unwrap();
    wait_until(
        &tab,
        "(() => { const i = document.querySelector('#restore-job .compare img.after'); \
         return !!i && i.complete && i.naturalWidth === 256; })()",
        Duration::from_secs(120),
    );
    let job = api.get("/api/jobs").json()[0].clone();
    assert_eq!(job["spec"]["task"], "inpaint");
    assert_eq!(job["status"], "done");
    // The mask the page sent is white along the stroke, black far from it.
    let mask = api.get(&format!(
        "/api/uploads/{}",
        job["spec"]["mask"].as_str().unwrap()
    ));
    let mask = image::load_from_memory(&mask.body).unwrap().to_luma8();
    assert_eq!(mask.dimensions(), (256, 192));
    let my = (0.4 * 192.0) as u32;
    assert_eq!(
        mask.get_pixel(128, my).0[0],
        255,
        "the stroke is in the mask"
    );
    assert_eq!(mask.get_pixel(128, 10).0[0], 0);
    assert_eq!(mask.get_pixel(20, my).0[0], 0);
    // Outside the mask the result is the scan, exactly.
    let id = job["id"].as_str().unwrap();
    let out = api.get(&format!("/api/jobs/{id}/files/result.png"));
    let out = image::load_from_memory(&out.body).unwrap().to_rgb8();
    let scan = photo(256, 192);
    for (x, y, p) in mask.enumerate_pixels() {
        if p.0[0] < 128 {
            assert_eq!(out.get_pixel(x, y), scan.get_pixel(x, y));
        }
    }
    // The before/after slider moves the cut.
    js(
        &tab,
        "(() => { const s = document.querySelector('#restore-job .compare-slider'); s.value = 20; \
         s.dispatchEvent(new Event('input')); })()",
    );
    assert_eq!(
        js(
            &tab,
            "document.querySelector('#restore-job .compare .clip').style.width"
        ),
        "20%"
    );

    // The gallery holds both results, with their settings.
    tab.find_element("#tab-gallery").unwrap().click().unwrap();
    wait_until(
        &tab,
        "document.querySelectorAll('#gallery .job.done').length === 2",
        Duration::from_secs(10),
    );
    let text = js(&tab, "document.querySelector('#gallery').innerText");
    assert!(text.as_str().unwrap().contains("starry-night"), "{text}");
}
