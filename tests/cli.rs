//! The `polyprompt` command line, run as users run it, on the tiny fixture models and the real SIB-200.
use std::path::Path;
use std::process::Command;

mod cli_support;
use cli_support::{CLI, data, fail, model, s, scratch, succeed};

#[test]
fn train_then_eval_gives_a_peft_prompt_and_a_52_language_table() {
    let out = scratch("train-eval");
    let prompt = out.join("prompt");
    let results = out.join("r.json");
    let (m, d) = (model("bloom"), data());
    succeed(&["train", "--model", s(&m), "--data", s(&d), "--max-steps", "20", "--out", s(&prompt)]);

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prompt.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(
        (config["peft_type"].as_str(), config["task_type"].as_str()),
        (Some("PROMPT_TUNING"), Some("CAUSAL_LM"))
    );
    assert_eq!((config["num_virtual_tokens"].as_u64(), config["token_dim"].as_u64()), (Some(10), Some(64)));
    let file = polyprompt::files::prompt_file::PromptFile::from_safetensors(
        &std::fs::read(prompt.join("adapter_model.safetensors")).unwrap(),
    )
    .unwrap();
    assert_eq!(file.metadata.training["steps_done"], 20);

    let output = succeed(&["eval", "--model", s(&m), "--data", s(&d), "--prompt", s(&prompt), "--out", s(&results)]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(entries.len(), 52);
    for entry in &entries {
        for key in ["code", "name", "family", "script"] {
            assert!(entry[key].as_str().is_some_and(|v| !v.is_empty()), "{key} in {entry}");
        }
        assert_eq!(entry["n"], 204, "{}", entry["code"]);
        let accuracy = entry["accuracy"].as_f64().unwrap();
        let macro_f1 = entry["macro_f1"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy) && (0.0..=1.0).contains(&macro_f1));
    }
    assert_eq!(entries[0]["code"], "eng_Latn");
    let table = std::fs::read_to_string(results.with_extension("md")).unwrap();
    assert_eq!(table.lines().filter(|l| l.starts_with("| ") && l.contains("_")).count(), 52);
    assert!(String::from_utf8_lossy(&output.stdout).contains("| swh_Latn | Swahili |"));

    // The prompt file alone (not its folder) works too, and another family's model refuses it.
    let single = prompt.join("adapter_model.safetensors");
    let english = out.join("en.json");
    succeed(&[
        "eval",
        "--model",
        s(&m),
        "--data",
        s(&d),
        "--prompt",
        s(&single),
        "--out",
        s(&english),
        "--languages",
        "eng_Latn",
    ]);
    let again: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&english).unwrap()).unwrap();
    assert_eq!(again[0], entries[0], "the same prompt gives the same English result");
    let error =
        fail(&["eval", "--model", s(&model("xglm")), "--data", s(&d), "--prompt", s(&prompt), "--out", s(&english)]);
    assert!(error.contains("this prompt is for BLOOM but the loaded model is XGLM"), "{error}");
}

#[test]
fn predict_agrees_with_eval_on_every_english_test_sentence() {
    let out = scratch("predict");
    let prompt = out.join("prompt");
    let results = out.join("en.json");
    let (m, d) = (model("xglm"), data());
    succeed(&["train", "--model", s(&m), "--data", s(&d), "--max-steps", "10", "--out", s(&prompt)]);
    let args = ["--model", s(&m), "--data", s(&d), "--prompt", s(&prompt), "--out", s(&results)];
    succeed(&[&["eval"], &args[..], &["--languages", "eng_Latn"]].concat());
    let english: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();

    // The 204 test sentences through stdin, as `eval` batches them.
    let test = polyprompt::task::sib200::read_split(&d, "eng_Latn", polyprompt::task::sib200::Split::Test).unwrap();
    let input: String = test.iter().map(|e| format!("{}\n", e.text)).collect();
    let mut child = Command::new(CLI)
        .args(["predict", "--model", s(&m), "--prompt", s(&prompt), "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), test.len());

    // Per topic: as many predicted, and as many right, as evaluation counted.
    for category in english[0]["per_category"].as_array().unwrap() {
        let topic = category["category"].as_str().unwrap();
        let predicted: Vec<usize> = (0..rows.len()).filter(|&i| rows[i]["label"] == topic).collect();
        let correct =
            predicted.iter().filter(|&&i| polyprompt::task::sib200::CATEGORIES[test[i].label] == topic).count();
        assert_eq!(
            (predicted.len(), correct),
            (category["predicted"].as_u64().unwrap() as usize, category["correct"].as_u64().unwrap() as usize),
            "{topic}"
        );
    }
    for row in &rows {
        let probabilities = row["probabilities"].as_array().unwrap();
        assert_eq!(probabilities.len(), 7);
        let sum: f64 = probabilities.iter().map(|p| p["probability"].as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{row}");
        let best = probabilities
            .iter()
            .max_by(|a, b| a["probability"].as_f64().partial_cmp(&b["probability"].as_f64()).unwrap())
            .unwrap();
        assert_eq!(best["topic"], row["label"], "{row}");
    }

    // One sentence given on the command line: a line with its topic and the 7 probabilities.
    let output = succeed(&["predict", "--model", s(&m), "--prompt", s(&prompt), "--text", "Der Fußball ist rund."]);
    let line = String::from_utf8(output.stdout).unwrap();
    let (label, probabilities) = line.trim_end().split_once('\t').unwrap();
    assert!(polyprompt::task::sib200::CATEGORIES.contains(&label), "{line}");
    assert_eq!(probabilities.split(' ').count(), 7, "{line}");
    let error = fail(&["predict", "--model", s(&model("bloom")), "--prompt", s(&prompt), "--text", "x"]);
    assert!(error.contains("this prompt is for XGLM but the loaded model is BLOOM"), "{error}");
}

#[test]
fn a_converted_int8_model_trains_and_evaluates() {
    let out = scratch("convert");
    let quantized = out.join("q");
    let (m, d) = (model("bloom"), data());
    let output = succeed(&["convert", "--model", s(&m), "--dtype", "int8", "--out", s(&quantized)]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("as int8"));
    let size = |dir: &Path| std::fs::metadata(dir.join("model.safetensors")).unwrap().len();
    assert!(size(&quantized) * 3 < size(&m), "int8 is {} bytes, f32 {}", size(&quantized), size(&m));
    for name in ["config.json", "tokenizer.json"] {
        assert_eq!(std::fs::read(quantized.join(name)).unwrap(), std::fs::read(m.join(name)).unwrap(), "{name}");
    }
    // The converted folder is a model folder like any other (its dtype read from the file).
    let prompt = out.join("prompt");
    let results = out.join("r.json");
    succeed(&["train", "--model", s(&quantized), "--data", s(&d), "--max-steps", "3", "--out", s(&prompt)]);
    succeed(&[
        "eval",
        "--model",
        s(&quantized),
        "--data",
        s(&d),
        "--prompt",
        s(&prompt),
        "--out",
        s(&results),
        "--languages",
        "eng_Latn",
    ]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!((entries.len(), &entries[0]["n"]), (1, &serde_json::json!(204)));
    // The positional form of the folder works too; f16 halves it.
    let half = out.join("h");
    succeed(&["convert", s(&m), "--dtype", "f16", "--out", s(&half)]);
    assert!(size(&half) * 2 < size(&m) + 16_384);
    let error = fail(&["convert", "--model", s(&out.join("missing")), "--dtype", "int8", "--out", s(&half)]);
    assert!(error.contains("cannot read") && error.contains("config.json"), "{error}");
}

#[test]
fn ctrl_c_keeps_the_prompt_and_the_run_resumes() {
    let out = scratch("interrupt");
    let (m, d) = (model("xglm"), data());
    let child = Command::new(CLI)
        .args([
            "train",
            "--model",
            s(&m),
            "--data",
            s(&d),
            "--max-steps",
            "100000",
            "--prompt-length",
            "2",
            "--out",
            s(&out),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("continue with --resume"), "{stderr}");
    let file = polyprompt::files::prompt_file::PromptFile::from_safetensors(
        &std::fs::read(out.join("adapter_model.safetensors")).unwrap(),
    )
    .unwrap();
    let steps = file.metadata.training["steps_done"].as_u64().unwrap();
    assert!(steps > 0 && steps < 100000, "stopped after {steps} steps");

    // Resuming continues from there (interrupted again: its steps only grow).
    let child = Command::new(CLI)
        .args(["train", "--model", s(&m), "--data", s(&d), "--out", s(&out), "--resume", s(&out)])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("resuming at step {steps} of 100000")), "{stderr}");
    let file = polyprompt::files::prompt_file::PromptFile::from_safetensors(
        &std::fs::read(out.join("adapter_model.safetensors")).unwrap(),
    )
    .unwrap();
    assert!(file.metadata.training["steps_done"].as_u64().unwrap() > steps);
}

#[test]
fn bad_input_gets_a_message_that_says_what_to_do() {
    let out = scratch("errors");
    let (m, d) = (model("bloom"), data());
    // A data folder without English.
    let empty = out.join("empty-data");
    std::fs::create_dir_all(&empty).unwrap();
    let error = fail(&["train", "--model", s(&m), "--data", s(&empty), "--out", s(&out)]);
    assert!(error.contains("eng_Latn") && error.contains("train.tsv"), "{error}");
    // A language that is not one of the 52.
    let error = fail(&["train", "--model", s(&m), "--data", s(&d), "--out", s(&out), "--languages", "xxx_Latn"]);
    assert!(error.contains("xxx_Latn is not one of the 52"), "{error}");
    // Not a prompt file.
    let junk = out.join("junk.safetensors");
    std::fs::write(&junk, b"definitely not safetensors").unwrap();
    let error =
        fail(&["eval", "--model", s(&m), "--data", s(&d), "--prompt", s(&junk), "--out", s(&out.join("r.json"))]);
    assert!(error.contains("not a prompt file"), "{error}");
    // A model folder without weights.
    let bare = out.join("bare-model");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(m.join("config.json"), bare.join("config.json")).unwrap();
    let error = fail(&["train", "--model", s(&bare), "--data", s(&d), "--out", s(&out)]);
    assert!(error.contains("cannot load the model"), "{error}");
    // Text init without text.
    let error = fail(&["train", "--model", s(&m), "--data", s(&d), "--out", s(&out), "--init", "text"]);
    assert!(error.contains("--init-text"), "{error}");
}
