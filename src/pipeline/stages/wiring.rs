//! Which engine serves each stage, from the config and the models on disk. A missing model
//! is never a panic: the stage falls back (and says so) or fails with the fetch command.

use crate::config::Config;
use crate::pipeline::Stage;
use crate::providers::download::{DownloadSettings, Downloader};
use crate::providers::embed::minilm::MiniLm;
use crate::providers::embed::{Embedder, Precision};
use crate::providers::footage::StockSearch;
use crate::providers::footage::pexels::PexelsSearch;
use crate::providers::footage::pixabay::PixabaySearch;
use crate::providers::llm::LlmProvider;
use crate::providers::llm::local::LocalLlm;
use crate::providers::llm::openai::OpenAiCompatible;
use crate::providers::models::{FETCH_COMMAND, Loaded, ModelKind, ModelStatus, status};
use crate::providers::stt::SttProvider;
use crate::providers::stt::whisper::WhisperStt;
use crate::providers::tts::TtsProvider;
use crate::providers::tts::espeak::EspeakVoice;
use crate::providers::tts::piper::PiperVoice;
use crate::providers::vision::{self, ClipScorer};
use crate::providers::{ProviderError, http};
use crate::store::Store;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A stock search that has not answered in this long is retried.
const SEARCH_TIMEOUT_SECS: u64 = 30;

#[derive(Clone)]
pub struct Providers {
    pub llm: Option<Arc<dyn LlmProvider>>,
    pub voices: Voices,
    pub stt: Option<Arc<dyn SttProvider>>,
    pub embedder: Option<Arc<dyn Embedder>>,
    /// CLIP, when `select.clip_model` names a folder: keyframes scored against sentences.
    pub clip: Option<Arc<ClipScorer>>,
    /// Stock vendors with keys, in no particular order (the stage follows the task's sources).
    pub stock: Vec<Arc<dyn StockSearch>>,
    /// Stock vendors that cannot be used, by name, with why (no key): told by the footage
    /// stage only to tasks whose sources name them.
    pub unusable_stock: BTreeMap<String, String>,
    /// The download pool shared by every task; `None` when no stock vendor is usable.
    pub downloader: Option<Downloader>,
    /// Fallbacks taken because a model is missing, told to the user by the stage concerned.
    pub notes: BTreeMap<Stage, Vec<String>>,
}

impl Providers {
    pub fn from_config(config: &Config, store: &Store) -> Result<Providers, ProviderError> {
        let models = config.models_dir();
        let device = config.models.device.clone();
        let mut notes: BTreeMap<Stage, Vec<String>> = BTreeMap::new();
        let mut note = |stage: Stage, text: String| notes.entry(stage).or_default().push(text);
        let missing = |kind: ModelKind| match status(&models, kind) {
            ModelStatus::Present => None,
            ModelStatus::Missing(why) | ModelStatus::Corrupt(why) => Some(why),
        };

        let llm: Option<Arc<dyn LlmProvider>> = match config.llm.provider.as_str() {
            "none" => None,
            "openai" => Some(openai(config)?),
            "auto" if !config.llm.base_url.trim().is_empty() => Some(openai(config)?),
            // "local", or "auto" with no endpoint.
            provider => {
                let explicit = config.llm.local_model.trim();
                match (explicit.is_empty(), missing(ModelKind::Llm)) {
                    (true, Some(why)) if provider == "auto" => {
                        note(
                            Stage::Script,
                            format!(
                                "the local LLM is not installed ({why}): using the bundled example script; install it with {FETCH_COMMAND} or set [llm] base_url"
                            ),
                        );
                        None
                    }
                    _ => {
                        let gguf = if explicit.is_empty() {
                            ModelKind::Llm.main_file(&models)
                        } else {
                            PathBuf::from(explicit)
                        };
                        Some(Arc::new(LocalLlm::new(
                            gguf,
                            device.clone(),
                            config.llm.top_p,
                        )))
                    }
                }
            }
        };

        let voices = Voices::from_config(config, missing(ModelKind::Piper));
        let stt: Option<Arc<dyn SttProvider>> = match config.stt.provider.as_str() {
            "whisper" => match missing(ModelKind::Whisper) {
                None => Some(Arc::new(WhisperStt::new(
                    models.join(ModelKind::Whisper.folder()),
                    device.clone(),
                ))),
                Some(why) => {
                    note(
                        Stage::Subtitles,
                        format!(
                            "Whisper is not installed ({why}): subtitles are timed per sentence, without word highlight; install it with {FETCH_COMMAND}"
                        ),
                    );
                    None
                }
            },
            _ => None,
        };

        let embedder: Option<Arc<dyn Embedder>> = match missing(ModelKind::MiniLm) {
            None => Some(Arc::new(MiniLm::with_precision(
                models.join(ModelKind::MiniLm.folder()),
                device,
                Precision::from_name(&config.models.embed_precision)
                    .expect("validation accepts only precision names"),
                Some(store.cache.clone()),
            ))),
            Some(_) => None,
        };

        let clip = clip_scorer(config, store)?;
        let (stock, unusable_stock, downloader) = stock_footage(config, store)?;

        Ok(Providers {
            llm,
            voices,
            stt,
            embedder,
            clip,
            stock,
            unusable_stock,
            downloader,
            notes,
        })
    }

    /// Loads every local model now (`--preload`); returns what each load took.
    pub async fn preload(&self) -> Result<Vec<Loaded>, ProviderError> {
        let mut loaded = Vec::new();
        if let Some(llm) = &self.llm {
            loaded.extend(llm.warm_up().await?);
        }
        if let Ok((tts, _)) = self.voices.pick(&self.voices.configured, false) {
            loaded.extend(tts.warm_up().await?);
        }
        if let Some(stt) = &self.stt {
            loaded.extend(stt.warm_up().await?);
        }
        if let Some(embedder) = &self.embedder {
            loaded.extend(embedder.warm_up().await?);
        }
        if let Some(clip) = &self.clip {
            loaded.push(clip.warm_up().await?);
        }
        Ok(loaded)
    }

    pub fn notes_for(&self, stage: Stage) -> Vec<String> {
        self.notes.get(&stage).cloned().unwrap_or_default()
    }
}

/// The voice engines a task can pick from: espeak-ng always, Piper when its model is there.
#[derive(Clone)]
pub struct Voices {
    /// `[voice] provider`: the engine of tasks that do not choose one.
    pub configured: String,
    pub espeak: Arc<dyn TtsProvider>,
    /// `Err(why)` when the Piper voice is not installed.
    pub piper: Result<Arc<dyn TtsProvider>, String>,
}

impl Voices {
    fn from_config(config: &Config, piper_missing: Option<String>) -> Voices {
        let voice = &config.voice;
        let espeak = Arc::new(EspeakVoice {
            voice: voice.voice.clone(),
            rate: voice.rate,
            volume: voice.volume,
            sentence_gap_ms: voice.sentence_gap_ms,
        });
        let explicit = voice.piper_model.trim();
        let piper = match (explicit.is_empty(), piper_missing) {
            (true, Some(why)) => Err(why),
            // A voice file named in the config is used as given; loading it says if it is bad.
            _ => {
                let onnx = if explicit.is_empty() {
                    ModelKind::Piper.main_file(&config.models_dir())
                } else {
                    PathBuf::from(explicit)
                };
                let piper: Arc<dyn TtsProvider> = Arc::new(PiperVoice::new(
                    onnx,
                    voice.voice.clone(),
                    voice.rate,
                    voice.volume,
                    voice.sentence_gap_ms,
                    voice.loudness_lufs,
                ));
                Ok(piper)
            }
        };
        Voices {
            configured: voice.provider.clone(),
            espeak,
            piper,
        }
    }

    /// The engine for `provider` ("piper" or "espeak"), with a note when Piper is not
    /// installed and espeak-ng reads instead. When the task chose the voice itself
    /// (`chosen`), falling back would ignore its choice: that is an error naming the option.
    pub fn pick(
        &self,
        provider: &str,
        chosen: bool,
    ) -> Result<(Arc<dyn TtsProvider>, Option<String>), String> {
        match (provider, &self.piper) {
            ("espeak", _) => Ok((self.espeak.clone(), None)),
            (_, Ok(piper)) => Ok((piper.clone(), None)),
            (_, Err(why)) if chosen => Err(format!(
                "the task option voice = \"piper\" needs the Piper voice, which is not installed ({why}): install it with {FETCH_COMMAND}, or choose the voice \"espeak\""
            )),
            (_, Err(why)) => Ok((
                self.espeak.clone(),
                Some(format!(
                    "the Piper voice is not installed ({why}): using espeak-ng; install it with {FETCH_COMMAND}"
                )),
            )),
        }
    }
}

/// The CLIP scorer when `select.clip_model` is set. The folder and its files are checked
/// now, so a wrong path stops the start with the key named instead of failing every task's
/// `select` later; the weights themselves load on first use.
fn clip_scorer(config: &Config, store: &Store) -> Result<Option<Arc<ClipScorer>>, ProviderError> {
    let folder = config.select.clip_model.trim();
    if folder.is_empty() {
        return Ok(None);
    }
    let dir = PathBuf::from(folder);
    vision::check_folder(&dir)?;
    Ok(Some(Arc::new(ClipScorer::new(
        dir,
        config.models.device.clone(),
        Some(store.cache.clone()),
    ))))
}

/// The usable stock vendors, why the others are not usable, and their shared download pool.
type StockFootage = (
    Vec<Arc<dyn StockSearch>>,
    BTreeMap<String, String>,
    Option<Downloader>,
);

/// Every stock vendor that has keys (a task may name a vendor the config's sources do not),
/// and the download pool they share. A vendor without a key is a note, not an error: the
/// next source takes over.
fn stock_footage(config: &Config, store: &Store) -> Result<StockFootage, ProviderError> {
    let footage = &config.footage;
    let net = &config.net;
    let mut stock: Vec<Arc<dyn StockSearch>> = Vec::new();
    let mut unusable = BTreeMap::new();
    let search_client = || {
        http::client_via(
            Duration::from_secs(SEARCH_TIMEOUT_SECS),
            Duration::from_secs(net.connect_timeout_secs),
            Some(&net.proxy),
        )
    };
    for (name, settings) in [("pexels", &footage.pexels), ("pixabay", &footage.pixabay)] {
        if settings.keys().is_empty() {
            unusable.insert(
                name.to_string(),
                format!(
                    "{name} has no API key (set {} or [footage.{name}] api_keys)",
                    settings.api_key_env
                ),
            );
            continue;
        }
        let source: Arc<dyn StockSearch> = match name {
            "pexels" => Arc::new(PexelsSearch::new(settings, search_client()?)?),
            _ => Arc::new(PixabaySearch::new(settings, search_client()?)?),
        };
        stock.push(source);
    }
    if stock.is_empty() {
        return Ok((stock, unusable, None));
    }
    let settings = DownloadSettings::from(net);
    let downloader = Downloader::new(
        store.root().join("clips"),
        settings,
        Some(store.cache.clone()),
    )
    .map_err(|e| ProviderError::Invalid {
        provider: "downloads".into(),
        message: e.to_string(),
    })?;
    Ok((stock, unusable, Some(downloader)))
}

fn openai(config: &Config) -> Result<Arc<dyn LlmProvider>, ProviderError> {
    let llm = &config.llm;
    let hint = format!(
        "check llm.api_key in config.toml or the {} environment variable",
        llm.api_key_env
    );
    let client = OpenAiCompatible::new(
        &llm.base_url,
        llm.api_key.clone(),
        &llm.model,
        Duration::from_secs(llm.timeout_secs),
        llm.stream,
        hint,
    )?;
    Ok(Arc::new(client))
}
