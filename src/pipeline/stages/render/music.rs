//! The music of one video from `[music]`: a file, or a track picked from a folder (a
//! different one per video of a task where the folder has enough).

use crate::config::MusicConfig;
use crate::media::render::MusicPlan;
use crate::pipeline::StageError;
use std::path::{Path, PathBuf};

const AUDIO_EXTENSIONS: &[&str] = &["mp3", "m4a", "aac", "wav", "ogg", "oga", "opus", "flac"];

pub fn plan(
    config: &MusicConfig,
    task: &str,
    number: usize,
) -> Result<Option<MusicPlan>, StageError> {
    let path = match config.mode.as_str() {
        "file" => {
            let file = PathBuf::from(config.path.trim());
            if !file.is_file() {
                return Err(StageError::permanent(format!(
                    "[music] path {} is not a file; give an audio file or set [music] mode = \"none\"",
                    file.display()
                )));
            }
            file
        }
        "random" => pick(Path::new(config.path.trim()), task, number)?,
        _ => return Ok(None),
    };
    Ok(Some(MusicPlan {
        path,
        volume: config.volume,
        fade_in: config.fade_in_secs,
        fade_out: config.fade_out_secs,
        duck: config.duck,
    }))
}

/// A track from `folder`, the same for the same task and video, different across videos.
fn pick(folder: &Path, task: &str, number: usize) -> Result<PathBuf, StageError> {
    let entries = std::fs::read_dir(folder).map_err(|e| {
        StageError::permanent(format!(
            "[music] path {} cannot be read as a folder ({e}); give a folder of audio files",
            folder.display()
        ))
    })?;
    let mut tracks: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    if tracks.is_empty() {
        return Err(StageError::permanent(format!(
            "[music] folder {} has no audio files ({}); add some or set [music] mode = \"none\"",
            folder.display(),
            AUDIO_EXTENSIONS.join(", ")
        )));
    }
    tracks.sort();
    let hash = blake3::hash(task.as_bytes());
    let start = usize::from(hash.as_bytes()[0]) % tracks.len();
    Ok(tracks.swap_remove((start + number - 1) % tracks.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_picks_differ_per_video_and_bad_paths_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.mp3", "b.ogg", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let config = MusicConfig {
            mode: "random".into(),
            path: dir.path().display().to_string(),
            ..MusicConfig::default()
        };
        let one = plan(&config, "t1", 1).unwrap().unwrap().path;
        let two = plan(&config, "t1", 2).unwrap().unwrap().path;
        assert_ne!(one, two);
        assert_eq!(plan(&config, "t1", 1).unwrap().unwrap().path, one);
        let missing = MusicConfig {
            mode: "file".into(),
            path: "/nope/song.mp3".into(),
            ..MusicConfig::default()
        };
        let err = plan(&missing, "t1", 1).unwrap_err().to_string();
        assert!(
            err.contains("/nope/song.mp3") && err.contains("[music]"),
            "{err}"
        );
        assert!(plan(&MusicConfig::default(), "t1", 1).unwrap().is_none());
    }
}
