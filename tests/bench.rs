//! Smoke test of the benchmark's own side (`polyprompt bench`, src/tuning/bench.rs) on the tiny fixture models, so
//! `scripts/bench-vs-peft` does not rot. No timing is asserted: only that every figure is there and sane.
//! The PyTorch side needs tools/.venv, which CI does not install: run `scripts/bench-vs-peft --smoke` for it.
use std::path::Path;
use std::process::Command;

fn bench(family: &str, what: &str) -> serde_json::Value {
    bench_with(family, what, &["--batch", "4", "--seq", "40"])
}

fn bench_with(family: &str, what: &str, more: &[&str]) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join(format!("tests/fixtures/tiny-{family}"));
    let output = Command::new(env!("CARGO_BIN_EXE_polyprompt"))
        .args(["bench", "--model", model.to_str().unwrap(), "--data", "../shared/data/sib200", "--what", what])
        .args(["--prompt-len", "5", "--warmup", "0", "--reps", "2"])
        .args(more)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(output.status.success(), "polyprompt bench failed:\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn positive(value: &serde_json::Value) -> bool {
    value.as_f64().is_some_and(|v| v.is_finite() && v > 0.0)
}

#[test]
fn fixed_shape_step_and_eval_report_medians_and_memory() {
    for family in ["xglm", "bloom"] {
        let report = bench(family, "step,eval");
        assert_eq!(report["shape"], serde_json::json!({"batch": 4, "seq": 40, "prompt_len": 5}));
        // Speed depends on the CPU's vector extensions, so the report names them.
        assert_eq!(report["cpu"]["arch"], std::env::consts::ARCH, "{report}");
        assert!(report["cpu"]["features"].is_array(), "{report}");
        #[cfg(target_os = "linux")]
        assert!(report["cpu"]["model"].as_str().is_some_and(|m| !m.is_empty()), "{report}");
        assert_eq!(report["step"]["samples_ms"].as_array().unwrap().len(), 2, "{report}");
        assert!(positive(&report["step"]["median_ms"]), "{report}");
        assert!(positive(&report["eval"]["sentences_per_second"]), "{report}");
        for key in ["peak_rss_bytes", "model_heap_bytes", "workload_peak_heap_bytes", "device_peak_bytes_at_most"] {
            assert!(positive(&report["memory"][key]), "{key}: {report}");
        }
        // The model stays live during the workload, so the workload's peak is above it.
        assert!(report["memory"]["workload_peak_heap_bytes"].as_f64() > report["memory"]["model_heap_bytes"].as_f64());
        // On the CPU an f32 table is held once, by the head: no host-side copy to take off the peak.
        assert_eq!(report["memory"]["host_table_bytes"], 0, "{report}");
        assert_eq!(report["memory"]["device_peak_bytes_at_most"], report["memory"]["workload_peak_heap_bytes"]);
        // f32 weights and plenty of memory free: one graph.
        assert_eq!(report["memory_mode"], "fast", "{report}");
    }
}

#[test]
fn the_lean_mode_trains_with_less_memory_and_int8_keeps_its_table_on_the_host() {
    let shape = ["--batch", "8", "--seq", "64"];
    let peak = |report: &serde_json::Value| report["memory"]["workload_peak_heap_bytes"].as_u64().unwrap();
    for family in ["xglm", "bloom"] {
        let fast = bench_with(family, "step", &[&shape[..], &["--memory", "fast"]].concat());
        let lean = bench_with(family, "step", &[&shape[..], &["--memory", "lean"]].concat());
        assert_eq!((&fast["memory_mode"], &lean["memory_mode"]), (&"fast".into(), &"lean".into()));
        assert!(peak(&lean) < peak(&fast), "{family}: lean {} bytes, fast {}", peak(&lean), peak(&fast));
        // Quantized weights train layer by layer unless told otherwise, their table kept on the host.
        let int8 = bench_with(family, "step", &[&shape[..], &["--dtype", "int8"]].concat());
        assert_eq!(int8["memory_mode"], "lean", "{int8}");
        assert!(int8["memory"]["host_table_bytes"].as_u64() > Some(0), "{int8}");
    }
}

#[test]
fn the_epoch_workload_trains_one_epoch_and_evaluates_one_language() {
    let report = bench("bloom", "epoch");
    let epoch = &report["epoch"];
    // k = 8 per class × 7 classes, batch 8: 7 steps; validation k/4 = 2 per class; SIB-200's 204 test sentences.
    assert_eq!((epoch["train_examples"].as_u64(), epoch["steps"].as_u64()), (Some(56), Some(7)), "{report}");
    assert_eq!(epoch["validation_examples"].as_u64(), Some(14));
    assert_eq!((epoch["language"].as_str(), epoch["test_sentences"].as_u64()), (Some("swh_Latn"), Some(204)));
    assert!(positive(&epoch["total_seconds"]) && positive(&epoch["eval_seconds"]), "{report}");
}
