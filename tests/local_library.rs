//! The local footage library against real files: the probe index kept in a real store (warm
//! scans probe nothing, changed files are probed again, the index outlives the process's
//! store handle), metadata precedence, and broken metadata. Needs ffmpeg and ffprobe.

use reelforge::media::ClipSource;
use reelforge::providers::footage::local::LocalSource;
use reelforge::providers::footage::{Clip, FootageRequest, FootageSource, Found};
use reelforge::store::Store;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

fn ffmpeg(args: &str, out: &Path) {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args.split_whitespace())
        .arg(out)
        .output()
        .expect("ffmpeg must be installed to run the local library tests");
    assert!(
        output.status.success(),
        "ffmpeg {args}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn video(path: &Path, secs: u32) {
    ffmpeg(
        &format!("-f lavfi -i testsrc2=size=160x120:rate=10 -t {secs} -pix_fmt yuv420p"),
        path,
    );
}

/// Two one-second videos and a PNG still.
fn library() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    video(&dir.path().join("waves.mp4"), 1);
    video(&dir.path().join("city_night.mp4"), 1);
    ffmpeg(
        "-f lavfi -i testsrc2=size=64x48 -frames:v 1",
        &dir.path().join("mountain_still.png"),
    );
    dir
}

async fn scan(source: &LocalSource) -> Found {
    let request = FootageRequest {
        sentence_terms: vec![],
        sentence_secs: vec![],
        width: 1080,
        height: 1920,
        fps: 30,
    };
    source
        .find(&request, &CancellationToken::new())
        .await
        .unwrap()
}

fn clip<'a>(found: &'a Found, name: &str) -> &'a Clip {
    let path_of = |c: &Clip| match &c.source {
        ClipSource::Video(p) | ClipSource::Image(p) => p.clone(),
        other => panic!("unexpected {other:?}"),
    };
    found
        .clips
        .iter()
        .find(|c| path_of(c).file_name().is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("no clip {name} in {:?}", found.clips))
}

fn summary(found: &Found) -> Option<&str> {
    found
        .notes
        .iter()
        .find(|n| n.starts_with("local library:"))
        .map(String::as_str)
}

fn source(dir: &Path, store: &Store) -> LocalSource {
    LocalSource::new(vec![dir.to_path_buf()], Some(store.cache.clone()))
}

#[tokio::test]
async fn index_is_built_once_and_refreshed_where_files_change() {
    let lib = library();
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let local = source(lib.path(), &store);

    let first = scan(&local).await;
    assert_eq!(first.clips.len(), 3, "{:?}", first.notes);
    assert_eq!(local.probed_count(), 3);
    assert_eq!(
        summary(&first),
        Some("local library: 3 files, 0 from the index, 3 probed")
    );
    let waves = clip(&first, "waves.mp4");
    assert_eq!((waves.width, waves.height), (160, 120));
    assert!((waves.duration.unwrap() - 1.0).abs() < 0.15);
    let still = clip(&first, "mountain_still.png");
    assert!(matches!(still.source, ClipSource::Image(_)));
    assert_eq!(still.duration, None);
    assert_eq!(still.description, "mountain still");

    // Warm: nothing probed, nothing to say, the same clips.
    let second = scan(&local).await;
    assert_eq!(local.probed_count(), 3);
    assert_eq!(summary(&second), None, "{:?}", second.notes);
    assert_eq!(second.clips, first.clips);

    // The index is on disk: a fresh store handle and source (as in the next run) probe nothing.
    drop(local);
    drop(store);
    let store = Store::open(data.path()).unwrap();
    assert_eq!(store.cache.stats().unwrap().kinds["local-index"].entries, 3);
    let local = source(lib.path(), &store);
    assert_eq!(scan(&local).await.clips, first.clips);
    assert_eq!(local.probed_count(), 0);

    // Touched (same bytes, new mtime): probed again, alone.
    let file = std::fs::File::options()
        .write(true)
        .open(lib.path().join("waves.mp4"))
        .unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    let touched = scan(&local).await;
    assert_eq!(local.probed_count(), 1);
    assert_eq!(
        summary(&touched),
        Some("local library: 3 files, 2 from the index, 1 probed")
    );

    // Rewritten with other content: probed again, and the new length shows.
    video(&lib.path().join("city_night.mp4"), 2);
    let rewritten = scan(&local).await;
    assert_eq!(local.probed_count(), 2);
    let city = clip(&rewritten, "city_night.mp4");
    assert!((city.duration.unwrap() - 2.0).abs() < 0.15, "{city:?}");
    scan(&local).await;
    assert_eq!(local.probed_count(), 2);
}

#[tokio::test]
async fn metadata_precedence_tags_and_fresh_reads() {
    let lib = library();
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    std::fs::write(
        lib.path().join("clip.json"),
        r#"{"waves.mp4": {"title": "Surf", "description": "waves breaking", "tags": ["sea", "surf"]},
            "city_night.mp4": {"description": "a city at night", "tags": ["city", "lights"]}}"#,
    )
    .unwrap();
    let sidecar = lib.path().join("waves.json");
    std::fs::write(
        &sidecar,
        r#"{"description": "big waves at dawn", "tags": ["ocean"]}"#,
    )
    .unwrap();
    let local = source(lib.path(), &store);
    let found = scan(&local).await;
    // The sidecar wins field by field; the title it lacks comes from clip.json.
    let waves = clip(&found, "waves.mp4");
    assert_eq!(waves.description, "Surf. big waves at dawn. ocean");
    assert_eq!(waves.tags, ["ocean"]);
    let city = clip(&found, "city_night.mp4");
    assert_eq!(city.description, "a city at night. city, lights");
    assert_eq!(city.tags, ["city", "lights"]);
    let still = clip(&found, "mountain_still.png");
    assert_eq!(still.description, "mountain still");
    assert!(still.tags.is_empty());

    // Metadata is read fresh, without probing again.
    std::fs::write(&sidecar, r#"{"description": "calm sea"}"#).unwrap();
    let again = scan(&local).await;
    assert_eq!(
        clip(&again, "waves.mp4").description,
        "Surf. calm sea. sea, surf"
    );
    assert_eq!(local.probed_count(), 3);
}

#[tokio::test]
async fn invalid_clip_json_is_a_note_and_the_clips_still_come_back() {
    let lib = library();
    let folder_file: PathBuf = lib.path().join("clip.json");
    std::fs::write(&folder_file, r#"{"waves.mp4": "just a string"}"#).unwrap();
    let local = LocalSource::new(vec![lib.path().to_path_buf()], None);
    let found = scan(&local).await;
    assert_eq!(found.clips.len(), 3);
    assert_eq!(clip(&found, "waves.mp4").description, "waves");
    let note = found
        .notes
        .iter()
        .find(|n| n.contains(&folder_file.display().to_string()))
        .unwrap_or_else(|| panic!("no note naming clip.json: {:?}", found.notes));
    assert!(note.starts_with("ignored"), "{note}");
    // Without an index every scan probes every file, and says it keeps nothing.
    assert_eq!(
        summary(&found),
        Some("local library: 3 files, 0 from the index, 3 probed (no index kept)")
    );
}
