//! SIB-200 (Adelani et al., 2024): 7-way topic classification of FLORES-200 sentences, the same 1004
//! sentences in 205 languages, split 701 / 99 / 204. One `<code>/{train,dev,test}.tsv` per language,
//! header `index_id<TAB>category<TAB>text`.
use std::fmt;
use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// The seven topics, in the order used for label indices everywhere (the paper's label-word table).
pub const CATEGORIES: [&str; 7] =
    ["science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Dev,
    Test,
}

impl Split {
    pub fn file_name(self) -> &'static str {
        match self {
            Split::Train => "train.tsv",
            Split::Dev => "dev.tsv",
            Split::Test => "test.tsv",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Example {
    /// FLORES sentence id: the same sentence has the same id in every language.
    pub index_id: u32,
    /// Index into the task's classes ([`CATEGORIES`] for SIB-200).
    pub label: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Sib200Error {
    #[error(
        "{path} is missing: SIB-200 needs <folder>/<language>/{{train,dev,test}}.tsv — check the folder \
         and that the language code is a FLORES-200 code like `swh_Latn`"
    )]
    MissingSplit { path: String },
    #[error("{file}: not UTF-8 text; is this a SIB-200 .tsv file?")]
    NotText { file: String },
    #[error("{file}: the first line must be the header `index_id<TAB>category<TAB>text`")]
    Header { file: String },
    #[error("{file}, line {line}: {why}")]
    MalformedRow { file: String, line: usize, why: String },
    #[error("{file}, line {line}: unknown category \"{category}\" (expected one of {})", CATEGORIES.join(", "))]
    UnknownCategory { file: String, line: usize, category: String },
}

/// Parses one split's TSV. `source` names it in errors (a path or URL).
///
/// Text fields that contain `"` are CSV-quoted (`"…"` around the whole field, inner quotes doubled);
/// they are decoded as pandas' `read_csv(sep="\t")` does, which the paper's code used: a quote is only
/// special at the start of a field, leading spaces and U+00A0 are kept.
pub fn parse_tsv(bytes: &[u8], source: &str) -> Result<Vec<Example>, Sib200Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Sib200Error::NotText { file: source.into() })?;
    let mut lines = text.lines();
    if lines.next().map(|h| h.trim_end_matches('\r')) != Some("index_id\tcategory\ttext") {
        return Err(Sib200Error::Header { file: source.into() });
    }
    let mut examples = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let malformed = |why: String| Sib200Error::MalformedRow { file: source.into(), line: line_no, why };
        let fields = split_fields(line).map_err(malformed)?;
        let [index_id, category, text] = <[String; 3]>::try_from(fields)
            .map_err(|f| malformed(format!("expected 3 tab-separated fields, found {}", f.len())))?;
        let index_id = index_id.parse().map_err(|_| malformed(format!("index_id \"{index_id}\" is not a number")))?;
        let label = CATEGORIES.iter().position(|c| *c == category).ok_or_else(|| Sib200Error::UnknownCategory {
            file: source.into(),
            line: line_no,
            category: category.clone(),
        })?;
        examples.push(Example { index_id, label, text });
    }
    Ok(examples)
}

/// Splits a line on tabs, decoding fields that start with a quote.
fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::with_capacity(3);
    let mut rest = line;
    loop {
        let (field, after) = match rest.strip_prefix('"') {
            Some(quoted) => {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                            value.push('"');
                            chars.next();
                        }
                        Some((i, '"')) => break i + 1,
                        Some((_, c)) => value.push(c),
                        None => return Err("a quoted field is not closed".into()),
                    }
                };
                let after = &quoted[end..];
                if !(after.is_empty() || after.starts_with('\t')) {
                    return Err("text after a closing quote".into());
                }
                (value, after)
            }
            None => {
                let end = rest.find('\t').unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            }
        };
        fields.push(field);
        match after.strip_prefix('\t') {
            Some(next) => rest = next,
            None => return Ok(fields),
        }
    }
}

/// Reads `<dir>/<language>/<split>.tsv`.
pub fn read_split(dir: &Path, language: &str, split: Split) -> Result<Vec<Example>, Sib200Error> {
    let path = dir.join(language).join(split.file_name());
    let bytes = std::fs::read(&path).map_err(|_| Sib200Error::MissingSplit { path: path.display().to_string() })?;
    parse_tsv(&bytes, &path.display().to_string())
}

/// How many examples per class to take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shots {
    PerClass(usize),
    /// Every example of the (undersampled) classes.
    All,
}

impl fmt::Display for Shots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shots::PerClass(k) => write!(f, "{k}"),
            Shots::All => write!(f, "all"),
        }
    }
}

/// The paper's balanced few-shot sample: every class undersampled to the smallest class, then `shots`
/// examples per class, shuffled. The same seed gives the same sample.
pub fn balanced_sample(examples: &[Example], shots: Shots, seed: u64) -> Vec<Example> {
    let mut rng = StdRng::seed_from_u64(seed);
    let classes = examples.iter().map(|e| e.label + 1).max().unwrap_or(0);
    let mut by_class: Vec<Vec<&Example>> = vec![Vec::new(); classes];
    for example in examples {
        by_class[example.label].push(example);
    }
    let smallest = by_class.iter().map(Vec::len).filter(|&n| n > 0).min().unwrap_or(0);
    let per_class = match shots {
        Shots::PerClass(k) => k.min(smallest),
        Shots::All => smallest,
    };
    let mut sample = Vec::with_capacity(per_class * classes);
    for class in &mut by_class {
        class.shuffle(&mut rng);
        sample.extend(class.iter().take(per_class).map(|e| (*e).clone()));
    }
    sample.shuffle(&mut rng);
    sample
}

/// The validation set for `shots` training examples per class: k/4 per class (at least one) from dev.
pub fn validation_shots(shots: Shots) -> Shots {
    match shots {
        Shots::PerClass(k) => Shots::PerClass((k / 4).max(1)),
        Shots::All => Shots::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sib200")
    }

    #[test]
    fn every_split_of_every_language_parses_with_the_published_sizes() {
        let mut languages = 0;
        for entry in std::fs::read_dir(data_dir()).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            let code = dir.file_name().unwrap().to_str().unwrap().to_string();
            for (split, n) in [(Split::Train, 701), (Split::Dev, 99), (Split::Test, 204)] {
                let examples = read_split(&data_dir(), &code, split).unwrap();
                assert_eq!(examples.len(), n, "{code} {split:?}");
            }
            languages += 1;
        }
        assert_eq!(languages, 205);
    }

    #[test]
    fn quoted_fields_decode_as_pandas_does() {
        let tsv = "index_id\tcategory\ttext\n\
                   1\ttravel\t\"He said \"\"go\"\" now.\"\n\
                   2\tsports\tA 12\" record, unquoted\n\
                   3\thealth\t\u{a0} leading space kept\n";
        let examples = parse_tsv(tsv.as_bytes(), "test").unwrap();
        assert_eq!(examples[0].text, "He said \"go\" now.");
        assert_eq!(examples[1].text, "A 12\" record, unquoted");
        assert_eq!(examples[2].text, "\u{a0} leading space kept");
        assert_eq!((examples[0].label, examples[2].index_id), (1, 3));
    }

    #[test]
    fn a_real_quoted_row_is_decoded() {
        // Every row whose text field starts with a quote must lose the CSV quoting.
        let raw = std::fs::read_to_string(data_dir().join("eng_Latn/train.tsv")).unwrap();
        let quoted = raw.lines().filter(|l| l.split('\t').nth(2).is_some_and(|t| t.starts_with('"'))).count();
        assert!(quoted > 0);
        let examples = read_split(&data_dir(), "eng_Latn", Split::Train).unwrap();
        assert!(examples.iter().all(|e| !e.text.contains("\"\"")));
    }

    #[test]
    fn bad_files_say_where_and_what() {
        let missing = read_split(&data_dir(), "xxx_Latn", Split::Test).unwrap_err();
        assert!(matches!(missing, Sib200Error::MissingSplit { .. }) && missing.to_string().contains("swh_Latn"));
        let header = parse_tsv(b"id\tlabel\ttext\n", "f.tsv").unwrap_err();
        assert!(matches!(header, Sib200Error::Header { .. }));
        let unknown = parse_tsv(b"index_id\tcategory\ttext\n1\tweather\tRain.\n", "f.tsv").unwrap_err();
        assert_eq!(unknown, Sib200Error::UnknownCategory { file: "f.tsv".into(), line: 2, category: "weather".into() });
        let cases: [(&[u8], &str); 4] = [
            (b"index_id\tcategory\ttext\n1\ttravel\n", "expected 3"),
            (b"index_id\tcategory\ttext\nx\ttravel\tHi\n", "not a number"),
            (b"index_id\tcategory\ttext\n1\ttravel\t\"open\n", "not closed"),
            (b"index_id\tcategory\ttext\n1\ttravel\t\"a\"b\n", "after a closing quote"),
        ];
        for (bytes, why) in cases {
            match parse_tsv(bytes, "f.tsv").unwrap_err() {
                Sib200Error::MalformedRow { line: 2, why: w, .. } => assert!(w.contains(why), "{w}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(parse_tsv(&[0xff, 0xfe], "f.tsv"), Err(Sib200Error::NotText { .. })));
    }

    #[test]
    fn balanced_samples_are_balanced_and_reproducible() {
        let train = read_split(&data_dir(), "eng_Latn", Split::Train).unwrap();
        let sample = balanced_sample(&train, Shots::PerClass(8), 0);
        assert_eq!(sample.len(), 56);
        for label in 0..CATEGORIES.len() {
            assert_eq!(sample.iter().filter(|e| e.label == label).count(), 8);
        }
        assert_eq!(sample, balanced_sample(&train, Shots::PerClass(8), 0));
        assert_ne!(sample, balanced_sample(&train, Shots::PerClass(8), 1));
        let all = balanced_sample(&train, Shots::All, 0);
        let smallest = (0..7).map(|l| train.iter().filter(|e| e.label == l).count()).min().unwrap();
        assert_eq!(all.len(), 7 * smallest);
        assert_eq!(validation_shots(Shots::PerClass(8)), Shots::PerClass(2));
    }
}
