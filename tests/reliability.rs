//! Reliability: a user's files and training runs are never destroyed, odd sizes never panic,
//! impossible requests are refused up front, and no malformed file makes any command panic.
//! Everything runs the `atelier` binary as a user would.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{atelier, atelier_with_log, fails_with, ok, p, train_tiny};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A user error or a clear refusal, never a panic (Rust exits 101 on a panic; the allocator
/// aborts with 134).
#[track_caller]
fn no_crash(out: &Output, what: &str) {
    let code = out.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "{what}: exit {code:?}: {}",
        stderr(out)
    );
    assert!(!stderr(out).contains("panicked"), "{what}: {}", stderr(out));
}

fn steps_logged(run: &Path) -> Vec<u64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

fn checkpoint_names(run: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    v.sort();
    v
}

fn resume(run: &Path, steps: &str) -> Output {
    // With the engine's notes, which name the checkpoint a resume continues from.
    let args = [
        "train",
        "gan",
        "--resume",
        p(run),
        "--steps",
        steps,
        "--quiet",
    ];
    atelier_with_log(&args, "atelier=info")
}

#[test]
fn training_runs_are_never_destroyed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::class_folder(&data, &[[200, 60, 60]], 4, 36);
    let run = tmp.path().join("run");
    let every = [
        "--checkpoint-every",
        "1",
        "--keep-checkpoints",
        "3",
        "--log-every",
        "1",
        "--sample-count",
        "2",
    ];
    ok(&train_tiny(
        &data,
        &run,
        &[&every[..], &["--steps", "4"]].concat(),
    ));
    assert_eq!(
        checkpoint_names(&run),
        ["step-00000002", "step-00000003", "step-00000004"]
    );
    let settings = std::fs::read(run.join("run.json")).unwrap();

    // A new run into the used directory is refused, whatever its settings.
    let again = train_tiny(&data, &run, &["--steps", "2", "--keep-checkpoints", "1"]);
    fails_with(&again, "--resume");
    fails_with(&again, "--overwrite");
    assert_eq!(std::fs::read(run.join("run.json")).unwrap(), settings);
    assert_eq!(checkpoint_names(&run).len(), 3);
    // --overwrite never deletes a folder of other things.
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::write(photos.join("keep.txt"), b"mine").unwrap();
    fails_with(
        &train_tiny(&data, &photos, &["--steps", "1", "--overwrite"]),
        "not an Atelier training run",
    );
    assert!(photos.join("keep.txt").exists());

    // `latest` deleted: resume finds step 4 by scanning (it says so: a run started over
    // with the same seed would log the same steps) and keeps the others.
    std::fs::remove_file(run.join("checkpoints/latest")).unwrap();
    let text = ok(&resume(&run, "5"));
    assert!(text.contains("step-00000004 (step 4)"), "{text}");
    assert_eq!(steps_logged(&run), [1, 2, 3, 4, 5]);
    assert_eq!(
        checkpoint_names(&run),
        ["step-00000003", "step-00000004", "step-00000005"]
    );

    // `latest` garbage, empty, or naming a checkpoint that is not there: the same.
    for (latest, steps, from) in [
        (&b"\x00garbage/../.."[..], "6", "step-00000005 (step 5)"),
        (b"", "7", "step-00000006 (step 6)"),
        (b"step-00000099", "8", "step-00000007 (step 7)"),
    ] {
        std::fs::write(run.join("checkpoints/latest"), latest).unwrap();
        let text = ok(&resume(&run, steps));
        assert!(text.contains(from), "{text}");
    }
    assert_eq!(steps_logged(&run), [1, 2, 3, 4, 5, 6, 7, 8]);

    // `latest` names a truncated checkpoint: it is passed over with a warning naming it, the
    // run continues from the newest intact one (7), and nothing older is pruned away.
    let g = run.join("checkpoints/step-00000008/g.bpk");
    let bytes = std::fs::read(&g).unwrap();
    std::fs::write(&g, &bytes[..bytes.len() / 2]).unwrap();
    let text = ok(&resume(&run, "8"));
    assert!(text.contains("skipping checkpoint"), "{text}");
    assert!(text.contains("step-00000008"), "{text}");
    assert!(text.contains("step-00000007 (step 7)"), "{text}");
    assert_eq!(steps_logged(&run), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        checkpoint_names(&run),
        ["step-00000006", "step-00000007", "step-00000008"]
    );
    // The damaged step 8 was trained again and replaced by an intact one.
    assert_eq!(
        std::fs::read(run.join("checkpoints/latest")).unwrap(),
        b"step-00000008"
    );
    let text = ok(&resume(&run, "8"));
    assert!(text.contains("step-00000008 (step 8)"), "{text}");

    // Every checkpoint damaged: the resume fails, and neither run.json nor the model changes.
    let settings = std::fs::read(run.join("run.json")).unwrap();
    let model = std::fs::read(run.join("generator.safetensors")).unwrap();
    for name in checkpoint_names(&run) {
        std::fs::write(run.join("checkpoints").join(name).join("state.json"), b"{").unwrap();
    }
    let out = resume(&run, "9");
    fails_with(&out, "no checkpoint could be loaded");
    assert_eq!(std::fs::read(run.join("run.json")).unwrap(), settings);
    assert_eq!(
        std::fs::read(run.join("generator.safetensors")).unwrap(),
        model
    );
    assert_eq!(checkpoint_names(&run).len(), 3);

    // --overwrite replaces a run, and only once the new one has started.
    ok(&train_tiny(&data, &run, &["--steps", "1", "--overwrite"]));
    assert_eq!(steps_logged(&run), [1]);
    assert_eq!(checkpoint_names(&run), ["step-00000001"]);
}

#[test]
fn impossible_requests_are_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::class_folder(&data, &[[10, 200, 10]], 2, 36);
    let run = tmp.path().join("run");
    let started = std::time::Instant::now();
    let out = train_tiny(&data, &run, &["--width", "100000", "--steps", "1"]);
    let secs = started.elapsed().as_secs_f64();
    fails_with(&out, "training these networks needs about");
    fails_with(&out, "TiB");
    // Refused before any allocation (it used to abort after 14 s); generous for slow CI.
    assert!(secs < 5.0, "took {secs:.1} s");
    assert!(!run.exists(), "a refused run leaves no directory");

    // A batch that cannot fit is refused the same way.
    fails_with(
        &atelier(&[
            "train",
            "gan",
            "--data",
            p(&data),
            "--out",
            p(&run),
            "--size",
            "32",
            "--width",
            "512",
            "--batch-size",
            "4096",
            "--steps",
            "1",
            "--quiet",
        ]),
        "lower --width or --batch-size",
    );
    // Translation: too deep a PatchGAN for the crop is named, with what is needed.
    for layers in ["4", "5", "6", "9", "20"] {
        let out = atelier(&[
            "train",
            "translate",
            "--a",
            p(&data),
            "--pairs",
            "gray",
            "--size",
            "32",
            "--d-layers",
            layers,
            "--steps",
            "1",
            "--out",
            p(&run),
            "--quiet",
        ]);
        fails_with(&out, "needs crops of at least");
    }
    // The memory flag: zero is refused as such, not as "0.0 GiB of 0.0 GiB".
    let img = tmp.path().join("a.png");
    image::RgbImage::new(40, 30).save(&img).unwrap();
    let out = atelier(&[
        "stylize",
        "--method",
        "optimize",
        p(&img),
        "--style",
        p(&img),
        "--max-memory-gb",
        "0",
        "-o",
        p(&tmp.path().join("o.png")),
    ]);
    fails_with(&out, "--max-memory-gb must be a positive number");
    // The decompression-bomb limit the error message advises is a real flag.
    let out = atelier(&[
        "--max-pixels",
        "100",
        "stylize",
        p(&img),
        "--style",
        p(&img),
        "-o",
        p(&tmp.path().join("o.png")),
    ]);
    fails_with(&out, "over the limit of 100 pixels");
    fails_with(&out, "--max-pixels");
}

#[test]
fn model_files_that_describe_impossible_networks_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let grid = tmp.path().join("g.png");
    for (file, key, value) in [
        ("kaokore-dcgan-64.safetensors", "width", 1_000_000u64),
        ("photo2ukiyoe-cyclegan-128.safetensors", "blocks", 1_000_000),
        ("photo2ukiyoe-cyclegan-128.safetensors", "width", 1_000_000),
    ] {
        let bytes = std::fs::read(shipped.join(file)).unwrap();
        let crafted = tmp.path().join(format!("{key}-{file}"));
        std::fs::write(&crafted, set_config_value(&bytes, key, value)).unwrap();
        let started = std::time::Instant::now();
        let out = if file.contains("dcgan") {
            atelier(&[
                "generate",
                "--model",
                p(&crafted),
                "--n",
                "1",
                "--grid",
                p(&grid),
            ])
        } else {
            atelier(&[
                "translate",
                "--model",
                p(&crafted),
                p(&grid),
                "-o",
                p(tmp.path()),
            ])
        };
        fails_with(&out, p(&crafted));
        assert!(started.elapsed().as_secs_f64() < 5.0, "{file} {key}");
    }
    // Non-finite weights are refused at load, not turned into black images.
    let bytes = std::fs::read(shipped.join("kaokore-dcgan-64.safetensors")).unwrap();
    let nan = tmp.path().join("nan.safetensors");
    std::fs::write(&nan, poison_first_value(&bytes)).unwrap();
    fails_with(
        &atelier(&[
            "generate",
            "--model",
            p(&nan),
            "--n",
            "1",
            "--grid",
            p(&grid),
        ]),
        "damaged",
    );
}

/// A safetensors file with the JSON config in its metadata changed at `key` (nested
/// anywhere), the tensors untouched.
fn set_config_value(file: &[u8], key: &str, value: u64) -> Vec<u8> {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&file[8..8 + n]).unwrap();
    let config = header["__metadata__"]["atelier.config"].as_str().unwrap();
    let mut config: serde_json::Value = serde_json::from_str(config).unwrap();
    fn set(v: &mut serde_json::Value, key: &str, value: u64) {
        if let Some(map) = v.as_object_mut() {
            for (k, child) in map.iter_mut() {
                if k == key {
                    *child = value.into();
                } else {
                    set(child, key, value);
                }
            }
        }
    }
    set(&mut config, key, value);
    header["__metadata__"]["atelier.config"] = config.to_string().into();
    with_header(&header, &file[8 + n..])
}

fn with_header(header: &serde_json::Value, data: &[u8]) -> Vec<u8> {
    let mut text = header.to_string().into_bytes();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(data);
    out
}

/// The same file with its first f16 weight set to NaN.
fn poison_first_value(file: &[u8]) -> Vec<u8> {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut out = file.to_vec();
    // f16 NaN, little endian.
    out[8 + n] = 0x00;
    out[8 + n + 1] = 0x7E;
    out
}

#[test]
fn odd_sizes_give_a_result_or_a_clear_error() {
    let Some(vgg) = common::shared_data("weights/vgg19-imagenet-conv1_1-to-conv3_4.safetensors")
    else {
        return;
    };
    let Some(photos) = common::shared_data("photos") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let chicago = photos.join("chicago.jpg");
    let panorama = tmp.path().join("panorama.png");
    image::RgbImage::from_fn(2000, 100, |x, y| {
        image::Rgb([(x / 8) as u8, (y * 2) as u8, 90])
    })
    .save(&panorama)
    .unwrap();
    let out = tmp.path().join("o.png");
    let stylize = |content: &Path, style: &Path, size: &str| {
        atelier(&[
            "stylize",
            "--method",
            "optimize",
            p(content),
            "--style",
            p(style),
            "--vgg",
            p(&vgg),
            "--size",
            size,
            "--iters",
            "2",
            "-o",
            p(&out),
        ])
    };
    // The documented minimum size: a result of the right shape.
    let r = stylize(&chicago, &chicago, "16");
    ok(&r);
    let img = image::open(&out).unwrap();
    assert_eq!(img.width().max(img.height()), 16);
    // A panorama as content and as style, at every size: a result or a clear error.
    for size in ["16", "32", "64", "128", "256"] {
        for (content, style) in [(&panorama, &chicago), (&chicago, &panorama)] {
            let r = stylize(content, style, size);
            no_crash(&r, &format!("size {size}"));
            if !r.status.success() {
                fails_with(&r, "use --size");
            }
        }
    }
    // At 256 the panorama is 256x13: enough for the shared file's relu3 layers.
    ok(&stylize(&panorama, &chicago, "256"));
    assert_eq!(image::open(&out).unwrap().height(), 13);
    // A huge style scale is refused with the number before anything is resized.
    let started = std::time::Instant::now();
    let r = atelier(&[
        "stylize",
        "--method",
        "optimize",
        p(&chicago),
        "--style",
        p(&chicago),
        "--vgg",
        p(&vgg),
        "--size",
        "32",
        "--style-scale",
        "1000",
        "--iters",
        "2",
        "-o",
        p(&out),
    ]);
    fails_with(&r, "--style-scale");
    assert!(started.elapsed().as_secs_f64() < 30.0);
}

#[test]
fn translate_never_writes_over_inputs_and_keeps_same_named_files_apart() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/photo2ukiyoe-cyclegan-128.safetensors");
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    for (sub, shade) in [("a", 40u8), ("b", 200)] {
        std::fs::create_dir_all(input.join(sub)).unwrap();
        image::RgbImage::from_pixel(24, 20, image::Rgb([shade, 90, 30]))
            .save(input.join(sub).join("same.png"))
            .unwrap();
    }
    let original = std::fs::read(input.join("a/same.png")).unwrap();
    for out in [input.clone(), input.join("a"), input.join("results")] {
        fails_with(
            &atelier(&["translate", "--model", p(&model), p(&input), "-o", p(&out)]),
            "inside the input folder",
        );
    }
    assert_eq!(std::fs::read(input.join("a/same.png")).unwrap(), original);
    let out = tmp.path().join("out");
    let text = ok(&atelier(&[
        "translate",
        "--model",
        p(&model),
        p(&input),
        "-o",
        p(&out),
    ]));
    assert!(text.contains("translated 2 image"), "{text}");
    let a = image::open(out.join("a/same.png")).unwrap().to_rgb8();
    let b = image::open(out.join("b/same.png")).unwrap().to_rgb8();
    assert_eq!(a.dimensions(), (24, 20));
    assert_ne!(a, b, "two different inputs, two different results");
}

#[cfg(unix)]
#[test]
fn outputs_through_symlinks_keep_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("real.png");
    image::RgbImage::new(2, 2).save(&target).unwrap();
    let link = tmp.path().join("grid.png");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    ok(&atelier(&["generate", "--n", "2", "--grid", p(&link)]));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        image::open(&target).unwrap().width() > 2,
        "the target was replaced"
    );
    // A directory as the output: refused before the work.
    fails_with(
        &atelier(&["generate", "--n", "2", "--grid", p(tmp.path())]),
        "is a directory",
    );
}

#[test]
fn outputs_are_checked_before_the_work_and_stdout_carries_only_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let nowhere = file.join("out.png");
    // The inputs do not exist either: the output is refused first, before anything is read.
    for args in [
        vec![
            "stylize",
            "missing.jpg",
            "--style",
            "missing.jpg",
            "-o",
            p(&nowhere),
        ],
        vec!["texture", "--exemplar", "missing.jpg", "-o", p(&nowhere)],
        vec![
            "interpolate",
            "--model",
            "missing.safetensors",
            "-o",
            p(&nowhere),
        ],
        vec![
            "generate",
            "--model",
            "missing.safetensors",
            "--grid",
            p(&nowhere),
        ],
    ] {
        fails_with(&atelier(&args), "cannot write");
    }
    // A grid to /dev/stdout is exactly one PNG: the status line goes to stderr.
    let out = atelier(&["generate", "--n", "2", "--grid", "/dev/stdout"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.starts_with(b"\x89PNG"));
    assert!(
        out.stdout.ends_with(b"IEND\xaeB`\x82"),
        "trailing bytes after the PNG"
    );
    assert!(stderr(&out).contains("wrote 2 images"));
    let grid = image::load_from_memory(&out.stdout).unwrap();
    assert_eq!(grid.width(), 2 * 64 + 3 * 2);
}

/// Malformed files of every kind a user might hand us, made at test time.
fn malformed_corpus(dir: &Path) -> Vec<PathBuf> {
    let png = {
        let mut c = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_fn(40, 40, |x, y| image::Rgb([x as u8 * 6, y as u8 * 6, 7]))
            .write_to(&mut c, image::ImageFormat::Png)
            .unwrap();
        c.into_inner()
    };
    let jpeg = {
        let mut c = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_fn(40, 40, |x, y| image::Rgb([x as u8 * 6, y as u8 * 6, 7]))
            .write_to(&mut c, image::ImageFormat::Jpeg)
            .unwrap();
        c.into_inner()
    };
    // A PNG whose header claims 100,000 x 100,000 pixels (a decompression bomb's header).
    let bomb = {
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(100_000u32.to_be_bytes());
        ihdr.extend(100_000u32.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(13u32.to_be_bytes());
        out.extend(&ihdr);
        out.extend(crc32fast::hash(&ihdr).to_be_bytes());
        out.extend(&png[33..]);
        out
    };
    let random: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let safetensors_header = |json: &str, claimed: Option<u64>| {
        let mut out = claimed.unwrap_or(json.len() as u64).to_le_bytes().to_vec();
        out.extend(json.as_bytes());
        out
    };
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty.png", vec![]),
        ("empty.jpg", vec![]),
        ("truncated.png", png[..png.len() / 2].to_vec()),
        ("truncated.jpg", jpeg[..jpeg.len() / 2].to_vec()),
        ("wrong-magic.png", [b"GIF89a".as_slice(), &png[6..]].concat()),
        ("png-named.jpg", png.clone()),
        ("bomb.png", bomb),
        ("random.png", random.clone()),
        ("random.jpg", random.clone()),
        ("random.safetensors", random),
        ("huge-header.safetensors", safetensors_header("{}", Some(u64::MAX / 2))),
        ("bad-json.safetensors", safetensors_header("{\"a\": [", None)),
        (
            "offsets-past-end.safetensors",
            safetensors_header(
                r#"{"w":{"dtype":"F32","shape":[1000,1000],"data_offsets":[0,4000000]}}"#,
                None,
            ),
        ),
        (
            "wrong-dtype.safetensors",
            [
                safetensors_header(
                    r#"{"__metadata__":{"atelier.kind":"translator","atelier.config":"{}"},"w":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#,
                    None,
                ),
                vec![1, 2],
            ]
            .concat(),
        ),
    ];
    files
        .into_iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

#[test]
fn malformed_files_never_crash_any_command() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let files = malformed_corpus(&corpus);
    let good = tmp.path().join("good.png");
    image::RgbImage::from_fn(48, 40, |x, y| image::Rgb([x as u8 * 5, y as u8 * 6, 70]))
        .save(&good)
        .unwrap();
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/photo2ukiyoe-cyclegan-128.safetensors");
    let out = tmp.path().join("out");
    let o = out.join("o.png");
    let (g, m, os) = (p(&good), p(&model), p(&o));
    let mut runs = 0;
    for f in &files {
        let f = p(f);
        let mut commands: Vec<Vec<&str>> = vec![
            vec!["generate", "--model", f, "--n", "1", "--grid", os],
            vec!["interpolate", "--model", f, "--frames", "2", "-o", os],
            vec![
                "stylize", f, "--style", g, "--iters", "1", "--size", "16", "-o", os,
            ],
            vec![
                "stylize", g, "--style", f, "--iters", "1", "--size", "16", "-o", os,
            ],
            vec![
                "stylize", g, "--style", g, "--vgg", f, "--iters", "1", "--size", "16", "-o", os,
            ],
            vec![
                "texture",
                "--exemplar",
                f,
                "--size",
                "16x16",
                "--iters",
                "1",
                "-o",
                os,
            ],
            vec!["translate", "--model", m, f, "-o", p(&out)],
            vec!["translate", "--model", f, g, "-o", p(&out)],
            vec![
                "eval",
                "fid",
                "--model",
                f,
                "--n",
                "2",
                "--real",
                p(&corpus),
            ],
        ];
        let c = p(&corpus);
        for metric in ["fid", "kid"] {
            commands.push(vec![
                "eval",
                metric,
                "--inception",
                f,
                "--real",
                c,
                "--fake",
                c,
            ]);
        }
        for c in commands {
            no_crash(&atelier(&c), &c.join(" "));
            runs += 1;
        }
    }
    // A whole folder of them as training data: refused or trained around, never a crash.
    let run = tmp.path().join("run");
    no_crash(
        &train_tiny(&corpus, &run, &["--steps", "1"]),
        "train gan on the corpus",
    );
    no_crash(
        &atelier(&[
            "train",
            "translate",
            "--a",
            p(&corpus),
            "--pairs",
            "gray",
            "--size",
            "32",
            "--steps",
            "1",
            "--out",
            p(&tmp.path().join("run2")),
            "--quiet",
        ]),
        "train translate on the corpus",
    );
    assert_eq!(runs, files.len() * 11);
    // Pairs by name: every malformed file against a good image of the same name.
    let twins = tmp.path().join("twins");
    std::fs::create_dir_all(&twins).unwrap();
    for f in &files {
        std::fs::copy(&good, twins.join(f.file_name().unwrap())).unwrap();
    }
    no_crash(
        &atelier(&["eval", "pair", "--ref", p(&corpus), "--out", p(&twins)]),
        "eval pair on the corpus",
    );
    for (content, style, stylized) in [(&corpus, &twins, &twins), (&twins, &twins, &corpus)] {
        no_crash(
            &atelier(&[
                "eval",
                "style",
                "--content",
                p(content),
                "--style",
                p(style),
                "--stylized",
                p(stylized),
            ]),
            "eval style on the corpus",
        );
    }
}
