//! An own task through the command line: `--task <folder>` wherever `--data` is taken, its classes and
//! label words recorded in the prompt file, evaluation on its test files, prediction on its classes, and
//! bad task files refused by file and line. The task is made from SIB-200 rows of three topics, relabelled.
use std::path::Path;
use std::process::Command;

use polyprompt::files::prompt_file::PromptFile;
use polyprompt::task::labels::Task;
use polyprompt::task::sib200::{self, CATEGORIES, Split};

mod cli_support;
use cli_support::{CLI, data, fail, model, s, scratch, succeed};

/// SIB-200 topic → the own task's label.
const RELABEL: [(&str, &str); 3] = [("travel", "trip"), ("sports", "game"), ("health", "doctor")];

/// One SIB-200 split's rows of the three topics as `text,label` CSV (texts quoted: they hold commas).
fn task_csv(language: &str, split: Split) -> String {
    let mut csv = String::from("text,label\n");
    for example in sib200::read_split(&data(), language, split).unwrap() {
        let topic = CATEGORIES[example.label];
        if let Some((_, label)) = RELABEL.iter().find(|(t, _)| *t == topic) {
            csv.push_str(&format!("\"{}\",{label}\n", example.text.replace('"', "\"\"")));
        }
    }
    csv
}

/// The task's classes as it must find them: labels in order of first appearance in train.csv.
fn first_appearance() -> Vec<String> {
    let mut classes: Vec<String> = Vec::new();
    for line in task_csv("eng_Latn", Split::Train).lines().skip(1) {
        let label = line.rsplit_once(',').unwrap().1.to_string();
        if !classes.contains(&label) {
            classes.push(label);
        }
    }
    classes
}

fn make_task(folder: &Path) {
    std::fs::write(folder.join("train.csv"), task_csv("eng_Latn", Split::Train)).unwrap();
    std::fs::write(folder.join("dev.csv"), task_csv("eng_Latn", Split::Dev)).unwrap();
    std::fs::write(folder.join("swh_Latn.csv"), task_csv("swh_Latn", Split::Test)).unwrap();
    // TSV works as well as CSV.
    let telugu = task_csv("tel_Telu", Split::Test);
    let rows = telugu.lines().skip(1).map(|l| {
        let (text, label) = l.rsplit_once(',').unwrap();
        format!("{label}\t{}\n", &text[1..text.len() - 1].replace("\"\"", "\""))
    });
    std::fs::write(folder.join("tel_Telu.tsv"), format!("label\ttext\n{}", rows.collect::<String>())).unwrap();
}

#[test]
fn an_own_task_trains_evaluates_and_predicts_on_its_own_classes() {
    let out = scratch("own-task");
    let task = out.join("topics3");
    std::fs::create_dir_all(&task).unwrap();
    make_task(&task);
    let prompt = out.join("prompt");
    let m = model("bloom");
    let train = [
        "train",
        "--model",
        s(&m),
        "--task",
        s(&task),
        "--label-word",
        "doctor=health",
        "--max-steps",
        "6",
        "--out",
        s(&prompt),
    ];
    succeed(&train);

    let file = PromptFile::from_safetensors(&std::fs::read(prompt.join("adapter_model.safetensors")).unwrap()).unwrap();
    let Task::Own(labels) = &file.metadata.task else {
        panic!("an own task's prompt records it: {:?}", file.metadata.task)
    };
    assert_eq!(labels.name, "topics3");
    let classes = first_appearance();
    assert_eq!(classes.len(), 3);
    assert_eq!(labels.classes, classes);
    let words: Vec<&str> = classes.iter().map(|c| if c == "doctor" { "health" } else { c.as_str() }).collect();
    assert_eq!(labels.words, words);
    assert_eq!(file.metadata.label_words, labels.words);
    assert_eq!(file.metadata.training["train_examples"], 24, "8 shots × 3 classes");

    // "all" is the task's test languages; each result counts the task's classes.
    let results = out.join("r.json");
    succeed(&["eval", "--model", s(&m), "--task", s(&task), "--prompt", s(&prompt), "--out", s(&results)]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let codes: Vec<&str> = entries.iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["swh_Latn", "tel_Telu"], "in the order of the 52 languages");
    let swahili_rows = task_csv("swh_Latn", Split::Test).lines().count() - 1;
    assert_eq!(entries[0]["n"], swahili_rows);
    let scored: Vec<&str> =
        entries[0]["per_category"].as_array().unwrap().iter().map(|c| c["category"].as_str().unwrap()).collect();
    assert_eq!(scored, classes);
    let error = fail(&[
        "eval",
        "--model",
        s(&m),
        "--task",
        s(&task),
        "--prompt",
        s(&prompt),
        "--out",
        s(&results),
        "--languages",
        "deu_Latn",
    ]);
    assert!(error.contains("no test file for German") && error.contains("swh_Latn, tel_Telu"), "{error}");

    // Prediction scores the prompt's classes, and agrees with evaluation on the Swahili test file.
    let texts: Vec<String> = polyprompt::task::own_task::OwnTask::read_folder(&task)
        .unwrap()
        .test("swh_Latn")
        .unwrap()
        .iter()
        .map(|e| e.text.clone())
        .collect();
    let mut child = Command::new(CLI)
        .args(["predict", "--model", s(&m), "--prompt", s(&prompt), "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), texts.join("\n").as_bytes()).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&child.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(rows.len(), texts.len());
    for category in entries[0]["per_category"].as_array().unwrap() {
        let predicted = rows.iter().filter(|r| r["label"] == category["category"]).count();
        assert_eq!(predicted as u64, category["predicted"].as_u64().unwrap(), "{category}");
    }
    assert!(rows.iter().all(|r| r["probabilities"].as_array().unwrap().len() == 3));

    // A prompt for this task refuses SIB-200's examples (and the other way round), saying why.
    let d = data();
    let error = fail(&["eval", "--model", s(&m), "--data", s(&d), "--prompt", s(&prompt), "--out", s(&results)]);
    assert!(error.contains(&format!("trained for the task topics3 (classes: {})", classes.join(", "))), "{error}");
    let sib_prompt = out.join("sib");
    succeed(&["train", "--model", s(&m), "--data", s(&d), "--max-steps", "2", "--out", s(&sib_prompt)]);
    let error = fail(&["eval", "--model", s(&m), "--task", s(&task), "--prompt", s(&sib_prompt), "--out", s(&results)]);
    assert!(error.contains("trained for the task SIB-200"), "{error}");
}

#[test]
fn bad_task_folders_and_options_say_what_is_wrong() {
    let out = scratch("own-task-bad");
    let m = model("xglm");
    let task = out.join("task");
    std::fs::create_dir_all(&task).unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--model",
            s(&m),
            "--task",
            s(&task),
            "--max-steps",
            "1",
            "--out",
            "target/cli-tests/own-task-bad/p",
        ];
        args.extend_from_slice(extra);
        fail(&args)
    };
    let error = train(&[]);
    assert!(error.contains("needs train.csv"), "{error}");
    std::fs::write(task.join("train.csv"), "text,label\nGood,yes\n\"Bad, very\",no\nFine,yes,extra\n").unwrap();
    let error = train(&[]);
    assert!(error.contains("train.csv, line 4: expected 2 fields"), "{error}");
    std::fs::write(task.join("train.csv"), "text,label\nGood,yes\n\"Bad, very\",no\nFine,yes\nAwful,no\n").unwrap();
    std::fs::write(task.join("xyz_Latn.csv"), "text,label\nGood,yes\n").unwrap();
    let error = train(&[]);
    assert!(error.contains("xyz_Latn.csv: \"xyz_Latn\" is not the code of one of the 52"), "{error}");
    std::fs::remove_file(task.join("xyz_Latn.csv")).unwrap();
    let error = train(&["--label-word", "maybe=perhaps"]);
    assert!(error.contains("\"maybe\" is not a class of this task (its classes are: yes, no)"), "{error}");
    let error = train(&["--label-word", "yes"]);
    assert!(error.contains("expected CLASS=WORD"), "{error}");
    let d = data();
    let error = fail(&["train", "--model", s(&m), "--data", s(&d), "--task", s(&task), "--out", "target/x"]);
    assert!(error.contains("cannot be used with"), "{error}");
}

#[test]
fn a_prompt_file_and_its_share_link_carry_the_task_and_sib200_files_read_as_before() {
    use polyprompt::files::prompt_file::{PromptFileError, PromptMetadata, SCHEMA_VERSION};
    use polyprompt::task::batch::Placement;
    use polyprompt::task::labels::TaskLabels;

    let labels = TaskLabels {
        name: "reviews".into(),
        classes: vec!["pos".into(), "neg".into()],
        words: vec!["good".into(), "bad".into()],
    };
    let file = PromptFile {
        length: 2,
        hidden: 3,
        embeddings: vec![0.5, -0.25, 0.125, 1.0, 2.0, -3.0],
        metadata: PromptMetadata {
            schema_version: SCHEMA_VERSION,
            family: polyprompt::model::Family::Xglm,
            base_model: "facebook/xglm-564M".into(),
            placement: Placement::Suffix,
            task: Task::Own(labels.clone()),
            label_words: labels.words.clone(),
            training: serde_json::Value::Null,
            results: serde_json::Value::Null,
        },
    };
    let read = PromptFile::from_safetensors(&file.to_safetensors()).unwrap();
    assert_eq!(read.metadata.task, Task::Own(labels.clone()));
    let shared = PromptFile::from_share_fragment(&file.to_share_fragment()).unwrap();
    assert_eq!(shared.metadata.task, Task::Own(labels.clone()));
    assert_eq!(shared.check_task(&labels), Ok(()));
    let sib200 = Task::Sib200.labels(polyprompt::model::Family::Xglm);
    assert!(matches!(shared.check_task(&sib200), Err(PromptFileError::WrongTask { .. })));

    // A SIB-200 prompt's metadata has no `task` (files read as before own tasks), and reads back as SIB-200.
    let mut plain = file.clone();
    plain.metadata.task = Task::Sib200;
    let bytes = plain.to_safetensors();
    assert!(!String::from_utf8_lossy(&bytes).contains("\\\"task\\\""));
    assert_eq!(PromptFile::from_safetensors(&bytes).unwrap().metadata.task, Task::Sib200);
    assert_eq!(PromptFile::from_safetensors(&bytes).unwrap().check_task(&sib200), Ok(()));
}
