//! Opening a data directory: the world it was made from, its event store and its models.

use anyhow::{Context as _, Result, bail};
use bart_bandit::{CandidateConfig, Models, PageConfig, Policy, Recommender, RewardModel};
use bart_core::{Context, Exploration, ImpressionId, Page};
use bart_log::{EventStore, JoinQuery, LoggedPage};
use bart_sim::experiment::{
    DataDir, ModelRecord, REWARD_WINDOW_SECS, TrainingHistory, bar, build_recommender,
};
use bart_sim::{World, WorldConfig};
use std::path::{Path, PathBuf};

/// A data directory, opened.
pub struct Data {
    pub dir: PathBuf,
    pub world: World,
    pub recommender: Recommender,
    pub store: EventStore,
}

impl Data {
    /// Opens `dir`: reads `world.json`, rebuilds the world (from its listening data, when it
    /// was built on some) and its shared models, opens the event store. Every failure names
    /// the file.
    pub fn open(dir: &Path) -> Result<Data> {
        if !dir.is_dir() {
            bail!(
                "data directory {} does not exist (create one with `bart demo --data {}`)",
                dir.display(),
                dir.display()
            );
        }
        let config: WorldConfig = read_json(&DataDir::world(dir))?;
        let world = World::build(&config, dir)
            .with_context(|| format!("{}: invalid world", DataDir::world(dir).display()))?;
        let recommender =
            build_recommender(&world, CandidateConfig::default(), PageConfig::default())?;
        let store = EventStore::open(dir)?;
        Ok(Data {
            dir: dir.to_path_buf(),
            world,
            recommender,
            store,
        })
    }

    /// Loads model `version` (0 means none: the uniform policy's scores).
    pub fn model(&self, version: u32) -> Result<Option<RewardModel>> {
        if version == 0 {
            return Ok(None);
        }
        Ok(Some(RewardModel::load(&DataDir::model(
            &self.dir, version,
        ))?))
    }

    /// Loads version `version`'s shelf model r', if it was trained with one.
    pub fn shelf_model(&self, version: u32) -> Result<Option<RewardModel>> {
        let path = DataDir::shelf_model(&self.dir, version);
        if version == 0 || !path.exists() {
            return Ok(None);
        }
        Ok(Some(RewardModel::load(&path)?))
    }

    /// What model `version` was trained on.
    pub fn model_record(&self, version: u32) -> Result<ModelRecord> {
        read_json(&DataDir::model_record(&self.dir, version))
    }

    /// The bags of model `version` for Thompson sampling, trained now (with a progress bar on
    /// stderr): [`TrainingHistory::bags`] on the pages versions 1 to `version` learned from,
    /// with that version's model configuration and training options. Always the same bags for
    /// the same directory.
    pub fn bags(&self, version: u32, bags: u32) -> Result<Vec<RewardModel>> {
        if version == 0 {
            if self.latest_model()? == 0 {
                bail!(
                    "Thompson sampling needs a trained model to bag, and {} has none (`bart demo` trains one a night)",
                    self.dir.display()
                );
            }
            bail!("Thompson sampling needs a trained model to bag: model v0 is the untrained one");
        }
        let model = RewardModel::load(&DataDir::model(&self.dir, version))?;
        let records = (1..=version)
            .map(|v| self.model_record(v))
            .collect::<Result<Vec<_>>>()?;
        let pb = bar(0, &format!("training {bags} bags of v{version}"), true);
        let history = TrainingHistory {
            store: &self.store,
            recommender: &self.recommender,
            start: self.world.config.start,
            records: &records,
            model: model.config(),
        };
        let trained = history
            .bags(bags as usize, |done, total| {
                pb.set_length(total);
                pb.set_position(done);
            })
            .with_context(|| format!("training the bags of model v{version}"))?;
        pb.finish_and_clear();
        Ok(trained)
    }

    /// The page `policy` serves in `ctx` for `impression` with model `version` (and its shelf
    /// model): with its bags ([`bags`](Self::bags)) under Thompson sampling, else with the
    /// model itself.
    pub fn page(
        &self,
        ctx: &Context,
        version: u32,
        policy: Policy,
        impression: ImpressionId,
    ) -> Result<Page> {
        let rec = &self.recommender;
        Ok(match policy.exploration() {
            Exploration::Thompson { bags } => {
                let bags = self.bags(version, bags)?;
                let scored = rec.score_bags(ctx, rec.candidates(ctx), &bags);
                let shelves = self.shelf_model(version)?;
                rec.plan(ctx, &scored, policy, shelves.as_ref())?
                    .assemble(impression)
            }
            _ => {
                let (cards, shelves) = (self.model(version)?, self.shelf_model(version)?);
                let models = Models {
                    cards: cards.as_ref(),
                    shelves: shelves.as_ref(),
                };
                rec.page(ctx, models, policy, impression)?
            }
        })
    }

    /// Every logged page of `policy` (all policies when `None`) with its rewards joined.
    pub fn pages(&self, policy: Option<String>) -> Result<Vec<LoggedPage>> {
        Ok(self.store.joined(&JoinQuery {
            policy,
            from: None,
            until: None,
            window_secs: REWARD_WINDOW_SECS,
        })?)
    }

    /// The newest model version in the directory (0 if none).
    pub fn latest_model(&self) -> Result<u32> {
        let models = self.dir.join("models");
        let mut latest = 0;
        if models.is_dir() {
            for entry in std::fs::read_dir(&models)
                .with_context(|| format!("reading {}", models.display()))?
            {
                let name = entry?.file_name();
                let name = name.to_string_lossy();
                if let Some(v) = name
                    .strip_prefix('v')
                    .and_then(|s| s.strip_suffix(".bart"))
                    .and_then(|s| s.parse::<u32>().ok())
                {
                    latest = latest.max(v);
                }
            }
        }
        Ok(latest)
    }
}

/// Reads a JSON file of the data directory; a malformed file is reported with its line and
/// column.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        // serde_json's message ends with its own " at line L column C"; say it once.
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        anyhow::anyhow!(
            "{}: line {}, column {}: {message}",
            path.display(),
            e.line(),
            e.column(),
        )
    })
}
