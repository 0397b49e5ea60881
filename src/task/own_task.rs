//! A task of your own beside SIB-200: CSV or TSV files of `text,label` rows. `train` (English) is required;
//! `dev` (English) is optional — without it every fifth example of each class is held out of training for
//! validation; `<language>.csv` files (FLORES-200 codes of the 52 languages, e.g. `swh_Latn.csv`) are test
//! sets for zero-shot evaluation. The classes are the training file's labels in order of first appearance
//! (2 to [`MAX_CLASSES`]); each class's label word is the label itself until edited.
use std::path::Path;

use crate::task::labels::{Task, TaskLabels};
use crate::task::languages;
use crate::task::sib200::Example;

pub const MIN_CLASSES: usize = 2;
pub const MAX_CLASSES: usize = 32;
/// Longest text, in characters: a sentence or a short paragraph (FLORES' longest is under 600).
pub const MAX_TEXT_CHARS: usize = 2000;
/// Largest task file read (also what the app accepts by picker or drop).
pub const MAX_FILE_BYTES: usize = 64 << 20;
/// One in this many examples of each class becomes validation when there is no dev file.
const HOLD_OUT_EVERY: usize = 5;

/// One file as the user gave it: its name (which says its role) and its bytes.
#[derive(Clone, Debug)]
pub struct TaskFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A parsed own task: its labels and its examples, every label an index into `labels.classes`.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnTask {
    pub labels: TaskLabels,
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    /// True when `dev` was held out of the training file.
    pub dev_from_train: bool,
    /// Test examples per language code, in the order of the 52 languages.
    pub tests: Vec<(String, Vec<Example>)>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OwnTaskError {
    #[error(
        "no training file: an own task needs train.csv (or train.tsv) with English rows of text,label; \
         dev.csv and <language>.csv test files (like swh_Latn.csv) are optional"
    )]
    NoTrainFile,
    #[error("{0} is not a .csv or .tsv file: give the task as CSV or TSV files of text,label rows")]
    NotTable(String),
    #[error("{file} and {other} are both the {role} file: keep one")]
    Twice { file: String, other: String, role: String },
    #[error(
        "{file}: \"{stem}\" is not the code of one of the 52 evaluation languages (FLORES-200 codes such as \
         swh_Latn); name the training file train.csv, the validation file dev.csv and each test file <code>.csv"
    )]
    UnknownLanguage { file: String, stem: String },
    #[error("{file} is {bytes} bytes, over the {MAX_FILE_BYTES} a task file may be")]
    TooLarge { file: String, bytes: usize },
    #[error("{file}: not UTF-8 text; save it as UTF-8 CSV")]
    NotText { file: String },
    #[error("{file}: the first line must name the columns, with one called `text` and one called `label`")]
    Header { file: String },
    #[error("{file}, line {line}: {why}")]
    Row { file: String, line: u64, why: String },
    #[error("{file} has no rows: add rows of text,label below its header")]
    Empty { file: String },
    #[error(
        "{file}: every row has the label \"{label}\"; a classifier needs at least {MIN_CLASSES} classes, so add \
         examples of another label"
    )]
    OneClass { file: String, label: String },
    #[error("{file} has {count} different labels, over the {MAX_CLASSES} a task may have")]
    TooManyClasses { file: String, count: usize },
    #[error(
        "{file}, line {line}: the label \"{label}\" has no examples in the training file; add some there or \
         fix the label (the classes are: {classes})"
    )]
    UnknownLabel { file: String, line: u64, label: String, classes: String },
    #[error(
        "{file}: no class has two examples, so none can be held out for validation: add examples, or a dev.csv \
         of English text,label rows"
    )]
    NoValidation { file: String },
    #[error("no label word for the class \"{0}\": each class needs a word the model can score")]
    EmptyWord(String),
    #[error("\"{0}\" is not a class of this task (its classes are: {1})")]
    NoSuchClass(String, String),
    #[error("cannot read the task folder {path}: {why}")]
    Folder { path: String, why: String },
}

/// What a file is for, from its name.
enum Role {
    Train,
    Dev,
    Test(&'static str),
}

impl OwnTask {
    /// Parses a task from its files; `name` is what the task is called (a folder's name, or the user's).
    pub fn from_files(name: &str, files: &[TaskFile]) -> Result<OwnTask, OwnTaskError> {
        let mut train: Option<&TaskFile> = None;
        let mut dev: Option<&TaskFile> = None;
        let mut tests: Vec<(&'static str, &TaskFile)> = Vec::new();
        for file in files {
            if file.bytes.len() > MAX_FILE_BYTES {
                return Err(OwnTaskError::TooLarge { file: file.name.clone(), bytes: file.bytes.len() });
            }
            let twice = |other: &TaskFile, role: &str| OwnTaskError::Twice {
                file: other.name.clone(),
                other: file.name.clone(),
                role: role.into(),
            };
            match role_of(&file.name)? {
                Role::Train => {
                    if let Some(other) = train.replace(file) {
                        return Err(twice(other, "training"));
                    }
                }
                Role::Dev => {
                    if let Some(other) = dev.replace(file) {
                        return Err(twice(other, "dev"));
                    }
                }
                Role::Test(code) => match tests.iter().find(|(c, _)| *c == code) {
                    Some((_, other)) => return Err(twice(other, &format!("{code} test"))),
                    None => tests.push((code, file)),
                },
            }
        }
        let train_file = train.ok_or(OwnTaskError::NoTrainFile)?;
        let rows = parse_rows(train_file)?;
        let mut classes: Vec<String> = Vec::new();
        for row in &rows {
            if !classes.contains(&row.label) {
                classes.push(row.label.clone());
            }
        }
        match classes.len() {
            0 => return Err(OwnTaskError::Empty { file: train_file.name.clone() }),
            1 => return Err(OwnTaskError::OneClass { file: train_file.name.clone(), label: classes.remove(0) }),
            count if count > MAX_CLASSES => {
                return Err(OwnTaskError::TooManyClasses { file: train_file.name.clone(), count });
            }
            _ => {}
        }
        let mut train = examples(train_file, rows, &classes)?;
        let (dev, dev_from_train) = match dev {
            Some(file) => (examples(file, parse_rows(file)?, &classes)?, false),
            None => {
                let (kept, held_out) = hold_out(train, classes.len());
                if held_out.is_empty() {
                    return Err(OwnTaskError::NoValidation { file: train_file.name.clone() });
                }
                train = kept;
                (held_out, true)
            }
        };
        tests.sort_by_key(|(code, _)| languages::LANGUAGES.iter().position(|l| l.code == *code));
        let tests = tests
            .into_iter()
            .map(|(code, file)| Ok((code.to_string(), examples(file, parse_rows(file)?, &classes)?)))
            .collect::<Result<_, OwnTaskError>>()?;
        let labels = TaskLabels { name: name.to_string(), words: classes.clone(), classes };
        Ok(OwnTask { labels, train, dev, dev_from_train, tests })
    }

    /// Reads every `.csv` and `.tsv` file of a folder (other files are ignored); the task takes the
    /// folder's name.
    pub fn read_folder(folder: &Path) -> Result<OwnTask, OwnTaskError> {
        let unreadable =
            |e: std::io::Error| OwnTaskError::Folder { path: folder.display().to_string(), why: e.to_string() };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(folder).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if path.is_file() && table_separator(&name).is_some() {
                files.push(TaskFile { name, bytes: std::fs::read(&path).map_err(unreadable)? });
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let name = folder.canonicalize().ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        OwnTask::from_files(&name.unwrap_or_else(|| "own task".into()), &files)
    }

    /// Replaces a class's label word (the word the model scores for it).
    pub fn set_word(&mut self, class: &str, word: &str) -> Result<(), OwnTaskError> {
        let index = self
            .labels
            .classes
            .iter()
            .position(|c| c == class)
            .ok_or_else(|| OwnTaskError::NoSuchClass(class.to_string(), self.labels.classes.join(", ")))?;
        let word = word.trim();
        if word.is_empty() {
            return Err(OwnTaskError::EmptyWord(class.to_string()));
        }
        self.labels.words[index] = word.to_string();
        Ok(())
    }

    /// The task as a run records it.
    pub fn task(&self) -> Task {
        Task::Own(self.labels.clone())
    }

    /// The languages the task has test files for, in the order of the 52.
    pub fn languages(&self) -> Vec<languages::Language> {
        self.tests.iter().filter_map(|(code, _)| languages::by_code(code).copied()).collect()
    }

    /// The test examples of `code`, if the task has a file for it.
    pub fn test(&self, code: &str) -> Option<&[Example]> {
        self.tests.iter().find(|(c, _)| c == code).map(|(_, examples)| examples.as_slice())
    }
}

/// `,` for `.csv`, a tab for `.tsv` (case-insensitive), else `None`.
fn table_separator(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        Some(b',')
    } else if lower.ends_with(".tsv") {
        Some(b'\t')
    } else {
        None
    }
}

fn role_of(name: &str) -> Result<Role, OwnTaskError> {
    table_separator(name).ok_or_else(|| OwnTaskError::NotTable(name.to_string()))?;
    let stem = &name[..name.len() - 4];
    match stem.to_ascii_lowercase().as_str() {
        "train" => Ok(Role::Train),
        "dev" | "validation" => Ok(Role::Dev),
        _ => languages::by_code(stem)
            .map(|language| Role::Test(language.code))
            .ok_or_else(|| OwnTaskError::UnknownLanguage { file: name.to_string(), stem: stem.to_string() }),
    }
}

/// A data row: its line in the file, its text and its label, both trimmed.
struct Row {
    line: u64,
    text: String,
    label: String,
}

/// The rows of a file, checked: the right number of fields, a text within the limit, a label.
fn parse_rows(file: &TaskFile) -> Result<Vec<Row>, OwnTaskError> {
    let name = || file.name.clone();
    let separator = table_separator(&file.name).ok_or_else(|| OwnTaskError::NotTable(name()))?;
    let text = std::str::from_utf8(&file.bytes).map_err(|_| OwnTaskError::NotText { file: name() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().delimiter(separator).flexible(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|_| OwnTaskError::Header { file: name() })?.clone();
    let column = |wanted: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(wanted));
    let (Some(text_column), Some(label_column)) = (column("text"), column("label")) else {
        return Err(OwnTaskError::Header { file: name() });
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| OwnTaskError::Row {
            file: name(),
            line: e.position().map_or(0, |p| p.line()),
            why: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let row_error = |why: String| OwnTaskError::Row { file: name(), line, why };
        if record.len() == 1 && record[0].trim().is_empty() {
            continue;
        }
        if record.len() != header.len() {
            return Err(row_error(format!(
                "expected {} fields like the header ({}), found {}{}",
                header.len(),
                header.iter().collect::<Vec<_>>().join(", "),
                record.len(),
                if separator == b',' { " (put text containing commas in double quotes)" } else { "" }
            )));
        }
        let text = record[text_column].trim();
        let label = record[label_column].trim();
        if text.is_empty() {
            return Err(row_error("the text is empty".into()));
        }
        if label.is_empty() {
            return Err(row_error("the label is empty".into()));
        }
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(row_error(format!(
                "the text is {chars} characters, over the {MAX_TEXT_CHARS} allowed: split it into sentences"
            )));
        }
        rows.push(Row { line, text: text.to_string(), label: label.to_string() });
    }
    if rows.is_empty() {
        return Err(OwnTaskError::Empty { file: name() });
    }
    Ok(rows)
}

/// Rows as examples of `classes`; a label outside them is an error naming its line.
fn examples(file: &TaskFile, rows: Vec<Row>, classes: &[String]) -> Result<Vec<Example>, OwnTaskError> {
    rows.into_iter()
        .map(|row| match classes.iter().position(|c| *c == row.label) {
            Some(label) => Ok(Example { index_id: row.line as u32, label, text: row.text }),
            None => Err(OwnTaskError::UnknownLabel {
                file: file.name.clone(),
                line: row.line,
                label: row.label,
                classes: classes.join(", "),
            }),
        })
        .collect()
}

/// Every [`HOLD_OUT_EVERY`]th example of each class (in file order) for validation; a class with a single
/// example keeps it for training.
fn hold_out(examples: Vec<Example>, classes: usize) -> (Vec<Example>, Vec<Example>) {
    let mut seen = vec![0usize; classes];
    let mut counts = vec![0usize; classes];
    for example in &examples {
        counts[example.label] += 1;
    }
    let (mut kept, mut held_out) = (Vec::new(), Vec::new());
    for example in examples {
        seen[example.label] += 1;
        let n = seen[example.label];
        if counts[example.label] > 1
            && (n.is_multiple_of(HOLD_OUT_EVERY) || (n == 2 && counts[example.label] < HOLD_OUT_EVERY))
        {
            held_out.push(example);
        } else {
            kept.push(example);
        }
    }
    (kept, held_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> TaskFile {
        TaskFile { name: name.into(), bytes: text.as_bytes().to_vec() }
    }

    const TRAIN: &str = "text,label\n\
        \"I loved it, truly.\",positive\n\
        Terrible service.,negative\n\
        Great value,positive\n\
        Never again,negative\n\
        Would buy again,positive\n";

    #[test]
    fn a_task_parses_with_classes_in_order_of_appearance_and_words_from_labels() {
        let dev = "label\ttext\nnegative\tAwful.\npositive\tLovely.\n";
        let swahili = "text,label\nNinaipenda sana,positive\n";
        let task = OwnTask::from_files(
            "reviews",
            &[file("train.csv", TRAIN), file("dev.tsv", dev), file("swh_Latn.CSV", swahili)],
        )
        .unwrap();
        assert_eq!(task.labels.classes, ["positive", "negative"]);
        assert_eq!(task.labels.words, task.labels.classes);
        assert_eq!((task.train.len(), task.dev.len(), task.dev_from_train), (5, 2, false));
        assert_eq!(task.train[0].text, "I loved it, truly.");
        assert_eq!((task.train[0].label, task.train[1].label, task.train[1].index_id), (0, 1, 3));
        assert_eq!(task.dev[0], Example { index_id: 2, label: 1, text: "Awful.".into() });
        assert_eq!(task.test("swh_Latn").unwrap()[0].label, 0);
        assert_eq!(task.languages().iter().map(|l| l.code).collect::<Vec<_>>(), ["swh_Latn"]);
        assert_eq!(task.task(), Task::Own(task.labels.clone()));
    }

    #[test]
    fn without_a_dev_file_each_class_lends_some_examples_to_validation() {
        let rows: String = (0..20).map(|i| format!("sentence {i},{}\n", if i % 2 == 0 { "a" } else { "b" })).collect();
        let task = OwnTask::from_files("t", &[file("train.csv", &format!("text,label\n{rows}"))]).unwrap();
        assert!(task.dev_from_train);
        assert_eq!((task.train.len(), task.dev.len()), (16, 4));
        for class in 0..2 {
            assert_eq!(task.dev.iter().filter(|e| e.label == class).count(), 2);
        }
        assert!(task.dev.iter().all(|d| !task.train.iter().any(|t| t.index_id == d.index_id)));
        let small = OwnTask::from_files("t", &[file("train.csv", TRAIN)]).unwrap();
        assert!(small.dev.len() == 2 && small.train.len() == 3, "{small:?}");
    }

    #[test]
    fn label_words_can_be_edited() {
        let mut task = OwnTask::from_files("t", &[file("train.csv", TRAIN)]).unwrap();
        task.set_word("negative", " bad ").unwrap();
        assert_eq!(task.labels.words, ["positive", "bad"]);
        assert_eq!(task.set_word("negative", " "), Err(OwnTaskError::EmptyWord("negative".into())));
        assert!(matches!(task.set_word("neutral", "meh"), Err(OwnTaskError::NoSuchClass(..))));
    }

    #[test]
    fn bad_task_files_name_the_file_and_line() {
        let err = |files: &[TaskFile]| OwnTask::from_files("t", files).unwrap_err();
        assert_eq!(err(&[file("dev.csv", TRAIN)]), OwnTaskError::NoTrainFile);
        assert_eq!(err(&[file("train.csv", "text,label\n")]), OwnTaskError::Empty { file: "train.csv".into() });
        assert_eq!(err(&[file("train.csv", "")]), OwnTaskError::Header { file: "train.csv".into() });
        assert_eq!(
            err(&[file("train.csv", "sentence,topic\nHi,a\n")]),
            OwnTaskError::Header { file: "train.csv".into() }
        );
        assert!(
            matches!(err(&[file("train.csv", "text,label\nA,x\nB,x\n")]), OwnTaskError::OneClass { label, .. } if label == "x")
        );
        let many: String = (0..33).map(|i| format!("t{i},c{i}\n")).collect();
        assert!(matches!(
            err(&[file("train.csv", &format!("text,label\n{many}"))]),
            OwnTaskError::TooManyClasses { count: 33, .. }
        ));
        let unknown = err(&[file("train.csv", TRAIN), file("dev.csv", "text,label\nOk,positive\nMeh,neutral\n")]);
        assert!(
            matches!(&unknown, OwnTaskError::UnknownLabel { file, line: 3, label, .. } if file == "dev.csv" && label == "neutral")
        );
        assert!(unknown.to_string().contains("positive, negative"), "{unknown}");
        let language = err(&[file("train.csv", TRAIN), file("xx_Latn.csv", TRAIN)]);
        assert!(matches!(&language, OwnTaskError::UnknownLanguage { file, .. } if file == "xx_Latn.csv"));
        assert!(language.to_string().contains("swh_Latn"));
        let fields = err(&[file("train.csv", "text,label\nOk,positive\nNot, at all,negative\n")]);
        assert!(
            matches!(&fields, OwnTaskError::Row { file, line: 3, why } if file == "train.csv" && why.contains("found 3")),
            "{fields}"
        );
        let long = format!("text,label\n{},a\nb,b\n", "x".repeat(MAX_TEXT_CHARS + 1));
        assert!(
            matches!(err(&[file("train.csv", &long)]), OwnTaskError::Row { line: 2, why, .. } if why.contains("characters"))
        );
        assert!(matches!(err(&[file("train.csv", "text,label\n,a\n")]), OwnTaskError::Row { line: 2, .. }));
        assert!(matches!(err(&[file("train.csv", "text,label\n\"open,a\n")]), OwnTaskError::Row { .. }));
        assert!(matches!(
            err(&[TaskFile { name: "train.csv".into(), bytes: vec![0xff, 0xfe] }]),
            OwnTaskError::NotText { .. }
        ));
        assert!(matches!(err(&[file("train.csv", TRAIN), file("train.tsv", TRAIN)]), OwnTaskError::Twice { .. }));
        assert_eq!(err(&[file("train.xlsx", TRAIN)]), OwnTaskError::NotTable("train.xlsx".into()));
        assert!(matches!(err(&[file("train.csv", "text,label\nYes,a\nNo,b\n")]), OwnTaskError::NoValidation { .. }));
    }

    #[test]
    fn a_byte_order_mark_and_windows_line_ends_are_fine() {
        let csv = "\u{feff}text,label\r\nYes,a\r\nNo,b\r\nSure,a\r\n\r\n";
        let task = OwnTask::from_files("t", &[file("train.csv", csv)]).unwrap();
        assert_eq!(task.labels.classes, ["a", "b"]);
        assert_eq!((task.train.len(), task.dev.len()), (2, 1));
    }
}
