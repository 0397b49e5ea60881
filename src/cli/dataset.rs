//! Where a command's examples come from: a SIB-200 folder (`--data`) or an own task's folder (`--task`),
//! behind one interface so that `train` and `eval` treat both alike.
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use polyprompt::task::labels::{Task, TaskLabels};
use polyprompt::task::languages::{self, Language};
use polyprompt::task::own_task::OwnTask;
use polyprompt::task::sib200::{self, Example, Split};

use crate::args::DataArgs;

pub enum Dataset {
    Sib200(PathBuf),
    Own(OwnTask),
}

impl Dataset {
    /// Reads an own task at once (its files are small and its errors belong before any model loads);
    /// SIB-200 splits are read as needed.
    pub fn open(args: &DataArgs, label_words: &[String]) -> Result<Dataset> {
        match (&args.data, &args.task) {
            (Some(folder), None) => Ok(Dataset::Sib200(folder.clone())),
            (None, Some(folder)) => {
                let mut task =
                    OwnTask::read_folder(folder).with_context(|| format!("in the task {}", folder.display()))?;
                for pair in label_words {
                    let (class, word) = pair.split_once('=').with_context(|| {
                        format!("--label-word {pair:?}: expected CLASS=WORD, like --label-word positive=good")
                    })?;
                    task.set_word(class.trim(), word)?;
                }
                Ok(Dataset::Own(task))
            }
            _ => bail!("give either --data (SIB-200) or --task (an own task's folder)"),
        }
    }

    /// What a run on this data records as its task.
    pub fn task(&self) -> Task {
        match self {
            Dataset::Sib200(_) => Task::Sib200,
            Dataset::Own(task) => task.task(),
        }
    }

    /// English training and validation examples.
    pub fn english(&self) -> Result<(Vec<Example>, Vec<Example>)> {
        match self {
            Dataset::Sib200(folder) => Ok((
                sib200::read_split(folder, languages::ENGLISH, Split::Train)?,
                sib200::read_split(folder, languages::ENGLISH, Split::Dev)?,
            )),
            Dataset::Own(task) => Ok((task.train.clone(), task.dev.clone())),
        }
    }

    /// The requested languages: "all" means the 52 for SIB-200 and every test file of an own task.
    pub fn languages(&self, requested: &[String]) -> Result<Vec<Language>> {
        match self {
            Dataset::Own(task) if requested.iter().any(|c| c == "all") => Ok(task.languages()),
            _ => Ok(languages::select(requested)?),
        }
    }

    /// One language's test examples.
    pub fn test(&self, language: &Language) -> Result<Vec<Example>> {
        match self {
            Dataset::Sib200(folder) => Ok(sib200::read_split(folder, language.code, Split::Test)?),
            Dataset::Own(task) => match task.test(language.code) {
                Some(examples) => Ok(examples.to_vec()),
                None => bail!(
                    "the task {} has no test file for {} ({}.csv); its test languages are: {}",
                    task.labels.name,
                    language.name,
                    language.code,
                    task.tests.iter().map(|(code, _)| code.as_str()).collect::<Vec<_>>().join(", ")
                ),
            },
        }
    }

    /// The classes this data's labels index, to check a prompt against.
    pub fn labels(&self, family: polyprompt::model::Family) -> TaskLabels {
        self.task().labels(family)
    }
}
