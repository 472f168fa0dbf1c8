//! What a model family plugs into the engine.
//!
//! [`RunRecipe`] is what every run shows of the network it trains: sample sheets, the
//! exported model file, validation numbers, FID samples, state to checkpoint, its own
//! settings. On top of it, the step strategy decides what a recipe must compute:
//! [`GanRecipe`] (the discriminator's and the generator's losses) or [`SingleRecipe`] (one
//! network's loss: style networks, AdaIN decoders).

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;

use crate::error::{AtelierError, Result};
use crate::util::rng::SeededRng;

/// One network update's loss and, for logging, the mean scores D gave real and fake data.
pub struct StepLosses {
    pub loss: Tensor<1>,
    pub real_score: Option<Tensor<1>>,
    pub fake_score: Option<Tensor<1>>,
}

impl StepLosses {
    /// A loss with no discriminator scores (a single network's step).
    pub fn loss(loss: Tensor<1>) -> Self {
        Self {
            loss,
            real_score: None,
            fake_score: None,
        }
    }
}

/// An endless, resumable stream of training batches.
pub trait BatchStream {
    type Item;
    fn next_batch(&mut self) -> Self::Item;
    /// The number of the next batch; a stream rebuilt at this position continues exactly.
    fn position(&self) -> u64;
}

impl<B: Send + 'static> BatchStream for crate::data::loader::Stream<B> {
    type Item = B;
    fn next_batch(&mut self) -> B {
        crate::data::loader::Stream::next_batch(self)
    }
    fn position(&self) -> u64 {
        crate::data::loader::Stream::position(self)
    }
}

impl BatchStream for crate::data::BatchLoader {
    type Item = crate::data::Batch;
    fn next_batch(&mut self) -> Self::Item {
        crate::data::BatchLoader::next_batch(self)
    }
    fn position(&self) -> u64 {
        crate::data::BatchLoader::position(self)
    }
}

/// What a run shows of the network it trains. Everything else (optimisers, schedule,
/// checkpoints, logging) is the engine's.
pub trait RunRecipe {
    /// The network a run produces and exports (for a GAN, the (averaged) generator).
    type Net: Module;

    /// A sample sheet from inputs fixed for the whole run.
    fn sample_sheet(&self, net: &Self::Net) -> Result<image::RgbImage>;
    /// Write the network as a usable model file.
    fn export(&self, net: &Self::Net, path: &Path) -> Result<()>;
    /// `n` images for FID, from inputs fixed by `seed`.
    fn fid_samples(&self, net: &Self::Net, n: usize, seed: u64) -> Result<Vec<image::RgbImage>> {
        let _ = (net, n, seed);
        Err(AtelierError::Config(
            "this model cannot be measured with FID during training".into(),
        ))
    }
    /// Validation numbers, logged with each sample sheet to `eval.jsonl` and `eval.png`
    /// (e.g. pix2pix's L1 on held-out pairs).
    fn evaluate(&self, net: &Self::Net) -> Result<Vec<(&'static str, f64)>> {
        let _ = net;
        Ok(vec![])
    }
    /// State the recipe carries between steps (CycleGAN's pool of past fakes); saved with
    /// every checkpoint so a resumed run continues as if never stopped.
    fn state(&self) -> Vec<(String, TensorData)> {
        vec![]
    }
    /// Put back what [`RunRecipe::state`] returned.
    fn restore_state(&self, state: Vec<(String, TensorData)>) -> Result<()> {
        let _ = state;
        Ok(())
    }
    /// The exported model's file name inside the run directory.
    fn model_file_name(&self) -> &'static str {
        "generator.safetensors"
    }
    /// The recipe's own settings (losses, penalties, sizes), recorded in `config.json`.
    fn settings(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// A GAN family: its discriminator and the two losses. The step strategy is
/// [`crate::train::step::GanStep`].
pub trait GanRecipe: RunRecipe {
    type D: Module;
    type Batch;

    /// The discriminator's loss on a batch (G's output must be detached).
    fn d_step(
        &self,
        g: &Self::Net,
        d: &Self::D,
        batch: &Self::Batch,
        rng: &mut SeededRng,
    ) -> StepLosses;
    /// The generator's loss on a batch.
    fn g_step(
        &self,
        g: &Self::Net,
        d: &Self::D,
        batch: &Self::Batch,
        rng: &mut SeededRng,
    ) -> StepLosses;
}

/// One network trained on any loss (a feed-forward style network, an AdaIN decoder). The
/// step strategy is [`crate::train::step::SingleStep`].
pub trait SingleRecipe: RunRecipe {
    type Batch;

    /// The network's loss on a batch.
    fn loss(&self, net: &Self::Net, batch: &Self::Batch, rng: &mut SeededRng) -> StepLosses;
}
