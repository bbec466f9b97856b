//! The built-in source of last resort: moving backgrounds drawn by ffmpeg itself, one look
//! per sentence, so a video is always made on a machine with no stock footage and no network.

use super::{Clip, FootageRequest, FootageSource, Found};
use crate::media::{ClipSource, generate};
use crate::providers::ProviderError;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub struct GeneratedSource;

#[async_trait]
impl FootageSource for GeneratedSource {
    fn name(&self) -> &str {
        "generated"
    }

    async fn find(
        &self,
        request: &FootageRequest,
        _cancel: &CancellationToken,
    ) -> Result<Found, ProviderError> {
        let clips = (0..request.sentence_terms.len().max(1))
            .map(|i| Clip {
                sentence: Some(i),
                ..Clip::new(
                    ClipSource::Lavfi(generate::background(
                        i,
                        request.width,
                        request.height,
                        request.fps,
                    )),
                    None,
                    (request.width, request.height),
                    format!("generated background {}", i + 1),
                    "generated",
                )
            })
            .collect();
        Ok(Found {
            clips,
            notes: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_distinct_background_per_sentence() {
        let request = FootageRequest {
            sentence_terms: vec![vec!["a".into()], vec!["b".into()], vec!["c".into()]],
            sentence_secs: vec![2.0, 2.0, 2.0],
            width: 1080,
            height: 1920,
            fps: 30,
        };
        let found = GeneratedSource
            .find(&request, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(found.clips.len(), 3);
        assert_ne!(found.clips[0].source, found.clips[1].source);
        assert_eq!(found.clips[2].sentence, Some(2));
    }
}
