//! `polyprompt sweep`, run as users and schedulers run it: the one-machine sweep (`--out`), and the plan
//! (`--plan / --cell / --merge`) with every cell as its own process, in any order, one of them killed, failed
//! or repeated; the merge against the one-machine sweep.
//! (tests/slurm/run submits the same kind of plan to a real Slurm.)
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const CLI: &str = env!("CARGO_BIN_EXE_polyprompt");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target/sweep-plan-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn polyprompt(args: &[&str]) -> Output {
    Command::new(CLI).args(args).current_dir(root()).output().unwrap()
}

fn succeed(args: &[&str]) -> String {
    let output = polyprompt(args);
    assert!(output.status.success(), "polyprompt {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The grid both the plan and the one-machine sweep run: 2 lengths × reparameterization off/on.
const GRID: [&str; 10] = [
    "--lengths",
    "1,3",
    "--reparam",
    "off,on",
    "--reparam-hidden",
    "8",
    "--max-steps",
    "3",
    "--languages",
    "eng_Latn,swh_Latn",
];

#[test]
fn cells_run_anywhere_skip_when_complete_and_merge_to_the_one_machine_sweep() {
    let dir = scratch("plan");
    let model = root().join("tests/fixtures/tiny-xglm");
    let data = root().join("../shared/data/sib200");
    let plan_args = [
        &["sweep", "--plan", s(&dir), "--model", s(&model), "--data", s(&data)][..],
        &GRID,
        &["--seeds", "0,1", "--slurm-throttle", "3"],
    ]
    .concat();
    succeed(&plan_args);
    let plan = json(&dir.join("plan.json"));
    let cells = plan["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 8, "2 lengths × 2 settings × 2 seeds");
    let sbatch = std::fs::read_to_string(dir.join("sweep.sbatch")).unwrap();
    assert!(sbatch.contains("#SBATCH --array=0-7%3\n"), "{sbatch}");
    assert!(sbatch.contains(&format!("#SBATCH --output={}/logs/cell-%a.out", dir.display())), "{sbatch}");
    assert!(sbatch.contains("sweep --cell \"$SLURM_ARRAY_TASK_ID\""), "{sbatch}");
    let submit = std::fs::read_to_string(dir.join("submit.sh")).unwrap();
    assert!(submit.contains("--dependency=afterany:"), "{submit}");
    // The same options again are fine; others would renumber the cells and are refused.
    succeed(&plan_args);
    let other = polyprompt(&["sweep", "--plan", s(&dir), "--model", s(&model), "--data", s(&data), "--lengths", "2"]);
    assert!(String::from_utf8_lossy(&other.stderr).contains("already holds another plan"));

    // Every cell but 5, in reverse order; cell 5 was killed and left only its partial folder.
    for index in (0..8).rev().filter(|&i| i != 5) {
        succeed(&["sweep", "--cell", &index.to_string(), s(&dir)]);
    }
    let killed = dir.join(format!("{}.partial-4242", cells[5]["dir"].as_str().unwrap()));
    std::fs::create_dir_all(&killed).unwrap();
    std::fs::write(killed.join("adapter_model.safetensors"), b"half a file").unwrap();
    succeed(&["sweep", "--merge", s(&dir)]);
    let merged = json(&dir.join("results.json"));
    assert_eq!(merged["missing"].as_array().unwrap().len(), 1);
    assert_eq!(merged["missing"][0]["index"], 5);
    let seeds: Vec<usize> =
        merged["runs"].as_array().unwrap().iter().map(|r| r["seeds"].as_array().unwrap().len()).collect();
    assert_eq!(seeds, [2, 2, 1, 2], "cell 5 is L3, seed 1");
    assert!(std::fs::read_to_string(dir.join("results.md")).unwrap().contains("- cell 5 ("));

    // A complete cell is skipped and left as it was; the killed one reruns.
    let first = dir.join(cells[0]["dir"].as_str().unwrap()).join("result.json");
    let before = std::fs::read(&first).unwrap();
    assert!(succeed(&["sweep", "--cell", "0", s(&dir)]).contains("is complete: skipped"));
    assert_eq!(std::fs::read(&first).unwrap(), before);
    succeed(&["sweep", "--cell", "5", s(&dir)]);
    succeed(&["sweep", "--merge", s(&dir)]);
    let merged = json(&dir.join("results.json"));
    assert!(merged["missing"].as_array().unwrap().is_empty() && merged["failed"].as_array().unwrap().is_empty());
    let svg = std::fs::read_to_string(dir.join("chart.svg")).unwrap();
    assert_eq!(svg.matches("<polyline").count(), 2);

    // The one-machine sweep: a table, a chart and each prompt; and seed 0's cells give exactly its numbers.
    let here = scratch("here");
    succeed(&[&["sweep", "--out", s(&here), "--model", s(&model), "--data", s(&data)][..], &GRID].concat());
    let one_machine = json(&here.join("results.json"));
    let grid: Vec<(u64, Option<u64>)> = one_machine
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["cell"]["length"].as_u64().unwrap(), s["cell"]["reparam_hidden"].as_u64()))
        .collect();
    assert_eq!(grid, [(1, None), (1, Some(8)), (3, None), (3, Some(8))]);
    let table = std::fs::read_to_string(here.join("results.md")).unwrap();
    assert!(table.starts_with("| language | L1 | L1 + MLP8 | L3 | L3 + MLP8 |"), "{table}");
    assert_eq!(std::fs::read_to_string(here.join("chart.svg")).unwrap().matches("<polyline").count(), 2);
    for slug in ["l1", "l1-mlp8", "l3", "l3-mlp8"] {
        assert!(here.join(slug).join("adapter_model.safetensors").is_file(), "{slug}");
    }
    for (study, cell) in one_machine.as_array().unwrap().iter().zip(cells.iter().filter(|c| c["seed"] == 0)) {
        let result = json(&dir.join(cell["dir"].as_str().unwrap()).join("result.json"));
        assert_eq!(result["cell"], study["cell"]);
        assert_eq!(result["results"], study["results"], "cell {}", cell["index"]);
    }
}

#[test]
fn a_failing_cell_is_recorded_and_the_merge_reports_it() {
    let dir = scratch("failing");
    let broken = scratch("broken-model");
    std::fs::copy(root().join("tests/fixtures/tiny-bloom/config.json"), broken.join("config.json")).unwrap();
    let data = root().join("../shared/data/sib200");
    succeed(&[
        "sweep",
        "--plan",
        s(&dir),
        "--model",
        s(&broken),
        "--data",
        s(&data),
        "--lengths",
        "2",
        "--reparam",
        "off",
    ]);
    let output = polyprompt(&["sweep", "--cell", "0", s(&dir)]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cell 0 failed (recorded in"), "{stderr}");
    let plan = json(&dir.join("plan.json"));
    let record = json(&dir.join(plan["cells"][0]["dir"].as_str().unwrap()).join("failed.json"));
    assert!(record["error"].as_str().unwrap().contains("cannot load the model"), "{record}");
    succeed(&["sweep", "--merge", s(&dir)]);
    let merged = json(&dir.join("results.json"));
    assert_eq!(merged["failed"][0]["index"], 0);
    assert!(merged["runs"].as_array().unwrap().is_empty());
    let wrong = polyprompt(&["sweep", "--cell", "9", s(&dir)]);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("has cells 0 to 0, not 9"));
}
