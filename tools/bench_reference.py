"""The PyTorch side of `scripts/bench-vs-peft` (issue #8), and the run that compares it with ours.

Subcommands (each prints or writes one JSON object):
  models  --out DIR [--smoke]       random-initialised models in the hub layout, made once and cached:
                                    full-size xglm-564M / bloom-560m configs, and the reduced `-wasm` ones
  step    --model DIR --variant paper|peft [shape]     median training step, peak memory
  eval    --model DIR --variant paper|peft [shape]     batched evaluation: sentences/s, peak memory
          (both: --device cuda runs on the GPU and adds its peak memory; scripts/bench-gpu)
  epoch   --model DIR --data SIB200 --language CODE    the authors' recipe: one epoch + one language's eval
  peak                               best matmul FLOP/s of PyTorch on this machine
  run     --cli BIN [--wasm CMD] ... the whole comparison: every measurement in a fresh process, then the
                                    table and the closing `step_ratio=… mem_ratio=… wasm_ratio=… epoch_ratio=…`

The reference variants, model frozen, prompt trained with AdamW (lr 5e-3, eps 1e-8, no weight decay), gradient
clipping 1.0, linear warmup schedule:
  paper  the authors' code (fredxlpy/cross_lingual_prompt_tuning, see ../shared/docs/paper.md): sentence, L
         prompt slots whose embeddings are replaced by the prompt (XGLM's ×sqrt(d) applied after), EOS, every row
         padded to 128; the model returns full-vocabulary logits at every position; the loss is cross-entropy at
         the last slot.
  peft   PEFT prompt tuning: PeftModel with PromptTuningConfig(num_virtual_tokens=L) prepends the prompt; the
         loss is read at the last position. The L virtual tokens count in the sequence length, so both variants
         and ours process exactly `seq` positions per row.
Dropout is off (model.eval()) on every side: the same arithmetic, and the reference only gets faster for it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ["science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"]
LABEL_WORDS = {
    "xglm": ["science", "travel", "politics", "sports", "health", "entertainment", "earth"],
    "bloom": ["science", "travel", "government", "play", "health", "fun", "earth"],
}
FAMILIES = ["xglm", "bloom"]
# The published configs (facebook/xglm-564M, bigscience/bloom-560m); `layers`/`vocab` shrink for wasm.
FULL = {"xglm": dict(name="xglm-564M", vocab=256008, hidden=1024, layers=24, heads=16, ffn=4096),
        "bloom": dict(name="bloom-560m", vocab=250880, hidden=1024, layers=24, heads=16, ffn=4096)}
# wasm32 has at most 4 GiB of memory and no threads: the browser runs full width, 2 layers, a 32k vocabulary.
WASM = {f: dict(c, name=c["name"] + "-wasm", layers=2, vocab=32768) for f, c in FULL.items()}


# ------------------------------------------------------------------------------------------------ helpers
def peak_memory() -> dict:
    """This process's peak resident set: ru_maxrss (KiB on Linux) and /proc's VmHWM, in bytes."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    hwm = None
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    return {"peak_rss_bytes": hwm or rss, "ru_maxrss_bytes": rss}


def timings(samples_ms: list[float], warmup: int) -> dict:
    return {"median_ms": statistics.median(samples_ms), "samples_ms": samples_ms, "warmup": warmup}


def family_of(model_dir: Path) -> str:
    return json.loads((model_dir / "config.json").read_text())["model_type"]


def torch_setup():
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    return torch


def load_model(model_dir: Path, device: str = "cpu"):
    torch = torch_setup()
    if device == "cuda" and not torch.cuda.is_available():
        # Said before loading: a full-size model takes a while to read only to fail at .to().
        raise SystemExit(f"--device cuda: this PyTorch ({torch.__version__}) sees no CUDA device")
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device)
    model.eval()  # dropout off (see the module docstring)
    for p in model.parameters():
        p.requires_grad_(False)
    return torch, model


# ------------------------------------------------------------------------------------------------- models
def make_models(out: Path, smoke: bool) -> list[Path]:
    """The random models both sides time, saved once (save_pretrained, safetensors) with the tiny fixture
    tokenizer, whose ids are a subset of the full vocabulary. In smoke mode: the fixture models themselves."""
    if smoke:
        return [ROOT / "tests/fixtures" / f"tiny-{f}" for f in FAMILIES]
    made = []
    for sizes in (FULL, WASM):
        for family in FAMILIES:
            made.append(make_model(out / sizes[family]["name"], family, sizes[family]))
    return made


def make_model(folder: Path, family: str, c: dict) -> Path:
    stamp = folder / ".complete"
    if stamp.exists():
        return folder
    torch = torch_setup()
    from transformers import BloomConfig, BloomForCausalLM, XGLMConfig, XGLMForCausalLM

    print(f"creating {folder} (random weights, seed 0)", file=sys.stderr)
    torch.manual_seed(0)
    if family == "xglm":
        config = XGLMConfig(vocab_size=c["vocab"], d_model=c["hidden"], num_layers=c["layers"], attention_heads=c["heads"],
                            ffn_dim=c["ffn"], activation_function="gelu", max_position_embeddings=2048,
                            scale_embedding=True, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                            decoder_start_token_id=2, tie_word_embeddings=True, architectures=["XGLMForCausalLM"])
        model = XGLMForCausalLM(config)
    else:
        config = BloomConfig(vocab_size=c["vocab"], hidden_size=c["hidden"], n_layer=c["layers"], n_head=c["heads"],
                             layer_norm_epsilon=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=3, unk_token_id=0,
                             apply_residual_connection_post_layernorm=False, hidden_dropout=0.0, attention_dropout=0.0,
                             tie_word_embeddings=True, architectures=["BloomForCausalLM"])
        model = BloomForCausalLM(config)
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(folder)  # config.json + model.safetensors (tied head stored once)
    fixture = ROOT / "tests/fixtures" / f"tiny-{family}"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(fixture / name, folder / name)
    stamp.write_text("ok\n")
    return folder


# -------------------------------------------------------------------------------------------- the reference
def fixed_batch(torch, family: str, vocab: int, batch: int, seq: int, prompt_len: int, variant: str):
    """Full rows of `seq` positions (prompt included), token ids spread like src/tuning/bench.rs's."""
    sentence = seq - prompt_len - 1
    ordinary = vocab - 4
    rows = [[4 + (r * 7919 + t * 104729 + 13) % ordinary for t in range(sentence)] for r in range(batch)]
    eos = 2
    pad = 1 if family == "xglm" else 3
    if variant == "paper":
        ids = torch.tensor([r + [pad] * prompt_len + [eos] for r in rows])
        prompt_mask = torch.zeros_like(ids)
        prompt_mask[:, sentence:sentence + prompt_len] = 1
        return ids, torch.ones_like(ids), prompt_mask, torch.full((batch,), sentence + prompt_len - 1)
    ids = torch.tensor([r + [eos] for r in rows])  # PEFT prepends the L virtual tokens itself
    return ids, torch.ones_like(ids), None, torch.full((batch,), prompt_len + sentence)


def paper_logits(torch, family: str, model, ids, attention, prompt_mask, prompt):
    """The authors' forward: slot embeddings replaced by the prompt, then what token embeddings go through;
    full-vocabulary logits at every position."""
    x = model.get_input_embeddings().weight[ids]
    slot_rank = (torch.cumsum(prompt_mask, dim=1) - 1).clamp(min=0)
    x = torch.where(prompt_mask.bool().unsqueeze(-1), prompt[slot_rank], x)
    if family == "xglm":
        x = x * model.model.embed_tokens.embed_scale
        positions = torch.cumsum(attention, dim=1) * attention - 1
        return model(inputs_embeds=x, attention_mask=attention, position_ids=positions).logits
    return model(inputs_embeds=x, attention_mask=attention).logits


class Reference:
    """One prompt-tuning setup (paper or peft) around a frozen model, with the HF Trainer's step."""

    def __init__(self, torch, model, family: str, variant: str, prompt_len: int, total_steps: int):
        from transformers import get_linear_schedule_with_warmup

        self.torch, self.model, self.family, self.variant = torch, model, family, variant
        hidden = model.config.hidden_size
        if variant == "peft":
            from peft import PromptTuningConfig, get_peft_model

            cfg = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=prompt_len, token_dim=hidden,
                                     num_attention_heads=model.config.num_attention_heads,
                                     num_layers=model.config.num_hidden_layers, prompt_tuning_init="RANDOM")
            self.peft = get_peft_model(model, cfg).to(model.device)  # the virtual tokens beside the model
            self.peft.eval()
            self.params = [p for p in self.peft.parameters() if p.requires_grad]
        else:
            # uniform(-0.5, 0.5), drawn on the CPU: the same start on every device
            g = torch.Generator().manual_seed(0)
            self.prompt = torch.nn.Parameter((torch.rand(prompt_len, hidden, generator=g) - 0.5).to(model.device))
            self.params = [self.prompt]
        self.optimizer = torch.optim.AdamW(self.params, lr=5e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        self.schedule = get_linear_schedule_with_warmup(self.optimizer, math.ceil(0.1 * total_steps), total_steps)

    def logits(self, ids, attention, prompt_mask):
        if self.variant == "peft":
            return self.peft(input_ids=ids, attention_mask=attention).logits
        return paper_logits(self.torch, self.family, self.model, ids, attention, prompt_mask, self.prompt)

    def loss(self, ids, attention, prompt_mask, predict_at, targets):
        logits = self.logits(ids, attention, prompt_mask)
        rows = self.torch.arange(ids.shape[0], device=ids.device)
        return self.torch.nn.functional.cross_entropy(logits[rows, predict_at], targets)

    def step(self, ids, attention, prompt_mask, predict_at, targets) -> float:
        """The HF Trainer's order: loss, backward, clip to 1.0, AdamW, schedule, zero_grad."""
        loss = self.loss(ids, attention, prompt_mask, predict_at, targets)
        loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad()
        return loss.item()

    def scores(self, ids, attention, prompt_mask, predict_at, label_ids):
        with self.torch.no_grad():
            logits = self.logits(ids, attention, prompt_mask)
            rows = self.torch.arange(ids.shape[0], device=ids.device)
            return logits[rows, predict_at][:, label_ids]


def label_ids(model_dir: Path, family: str) -> tuple[list[int], list[int]]:
    """The label words' first (evaluation) and last (training) token ids, without special tokens."""
    from tokenizers import Tokenizer

    tk = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    pieces = [tk.encode(w, add_special_tokens=False).ids for w in LABEL_WORDS[family]]
    return [p[0] for p in pieces], [p[-1] for p in pieces]


def fixed(args, what: str) -> dict:
    torch, model = load_model(args.model, args.device)
    cuda = args.device == "cuda"
    family = family_of(args.model)
    tensors = fixed_batch(torch, family, model.config.vocab_size, args.batch, args.seq, args.prompt_len, args.variant)
    ids, attention, prompt_mask, predict_at = (t if t is None else t.to(args.device) for t in tensors)
    first, last = label_ids(args.model, family)
    targets = torch.tensor([last[r % 7] for r in range(args.batch)], device=args.device)
    ref = Reference(torch, model, family, args.variant, args.prompt_len, args.warmup + args.reps)

    def now():
        if cuda:
            torch.cuda.synchronize()  # CUDA runs asynchronously: time the work, not its queueing
        return time.perf_counter()

    samples = []
    for run in range(args.warmup + args.reps):
        start = now()
        if what == "step":
            ref.step(ids, attention, prompt_mask, predict_at, targets)
        else:
            ref.scores(ids, attention, prompt_mask, predict_at, first).argmax(-1).tolist()
        if run >= args.warmup:
            samples.append((now() - start) * 1e3)
    out = {"variant": args.variant, "family": family, "threads": torch.get_num_threads(),
           "device": torch.cuda.get_device_name() if cuda else "cpu",
           "attention": getattr(model.config, "_attn_implementation", None),
           "shape": {"batch": args.batch, "seq": args.seq, "prompt_len": args.prompt_len}}
    t = timings(samples, args.warmup)
    out[what] = t if what == "step" else {"batch": t, "sentences_per_second": args.batch / (t["median_ms"] / 1e3)}
    out["memory"] = peak_memory()
    if cuda:
        # Model included, like ours' gpu_reserved_bytes_end; reserved too, since ours reports its pool's reserve.
        out["memory"]["gpu_peak_bytes"] = torch.cuda.max_memory_allocated()
        out["memory"]["gpu_peak_reserved_bytes"] = torch.cuda.max_memory_reserved()
    return out


# ------------------------------------------------------------------------------- the authors' epoch workload
def read_sib(data: Path, lang: str, split: str) -> list[dict]:
    import csv

    with open(data / lang / f"{split}.tsv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def balanced(rows: list[dict], k: int, rng: random.Random) -> list[dict]:
    """Every class undersampled to the smallest, then k per class (the authors' few-shot sampling)."""
    by_class = {c: [r for r in rows if r["category"] == c] for c in CATEGORIES}
    smallest = min(len(v) for v in by_class.values())
    out = []
    for c in CATEGORIES:
        out += rng.sample(rng.sample(by_class[c], smallest), min(k, smallest))
    return out


def epoch(args) -> dict:
    """One epoch of the paper's default run (k = 8 per class, L = 10, batch 8, validation on k/4 per class),
    then one language's test split, as the authors' code runs it: every row padded to 128, logits for the whole
    vocabulary at every position; evaluation batches of 8 (the HF Trainer's default)."""
    from tokenizers import Tokenizer

    torch, model = load_model(args.model)
    family = family_of(args.model)
    max_len, prompt_len, batch, eval_batch = 128, 10, 8, 8
    start = time.perf_counter()
    tk = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    rng = random.Random(0)
    train = balanced(read_sib(args.data, "eng_Latn", "train"), 8, rng)
    dev = balanced(read_sib(args.data, "eng_Latn", "dev"), 2, rng)
    test = read_sib(args.data, args.language, "test")
    first, last = label_ids(args.model, family)
    pad = 1 if family == "xglm" else 3

    def encode(rows):
        ids, mask, slots, at = [], [], [], []
        for r in rows:
            s = tk.encode(r["text"], add_special_tokens=False).ids[: max_len - prompt_len - 1]
            row = s + [pad] * prompt_len + [2]
            ids.append(row + [pad] * (max_len - len(row)))
            mask.append([1] * len(row) + [0] * (max_len - len(row)))
            slots.append([0] * len(s) + [1] * prompt_len + [0] * (max_len - len(s) - prompt_len))
            at.append(len(s) + prompt_len - 1)
        return torch.tensor(ids), torch.tensor(mask), torch.tensor(slots), torch.tensor(at)

    steps = math.ceil(len(train) / batch)
    ref = Reference(torch, model, family, "paper", prompt_len, 20 * steps)
    rng.shuffle(train)
    for s in range(steps):
        rows = train[s * batch:(s + 1) * batch]
        targets = torch.tensor([last[CATEGORIES.index(r["category"])] for r in rows])
        ref.step(*encode(rows), targets)
    with torch.no_grad():  # the HF Trainer's evaluation: loss and predictions from full logits
        for s in range(0, len(dev), eval_batch):
            rows = dev[s:s + eval_batch]
            targets = torch.tensor([last[CATEGORIES.index(r["category"])] for r in rows])
            ref.loss(*encode(rows), targets).item()
    train_seconds = time.perf_counter() - start
    eval_start = time.perf_counter()
    correct = 0
    for s in range(0, len(test), eval_batch):
        rows = test[s:s + eval_batch]
        predicted = ref.scores(*encode(rows), first).argmax(-1).tolist()
        correct += sum(p == CATEGORIES.index(r["category"]) for p, r in zip(predicted, rows))
    eval_seconds = time.perf_counter() - eval_start
    return {"variant": "paper", "family": family, "threads": torch.get_num_threads(),
            "epoch": {"prompt_len": prompt_len, "shots_per_class": 8, "train_examples": len(train), "steps": steps,
                      "validation_examples": len(dev), "train_seconds": train_seconds, "language": args.language,
                      "test_sentences": len(test), "eval_batch": eval_batch, "eval_seconds": eval_seconds,
                      "total_seconds": time.perf_counter() - start, "accuracy": correct / len(test)},
            "memory": peak_memory()}


def peak(_args) -> dict:
    """Best of 5 of a 1152×1024×4096 f32 matmul (the shape notes.md measured burn on)."""
    torch = torch_setup()
    a, b = torch.randn(1152, 1024), torch.randn(1024, 4096)
    best = math.inf
    for _ in range(6):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return {"torch_matmul_gflops": 2 * 1152 * 1024 * 4096 / best / 1e9, "threads": torch.get_num_threads()}


# ---------------------------------------------------------------------------------------------- the comparison
def subprocess_json(cmd: list[str], label: str, env: dict | None = None) -> dict:
    """Runs one measurement in a fresh process (so its peak memory is its own) and parses its JSON."""
    print(f"[bench] {label}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{label} failed ({done.returncode}): {' '.join(map(str, cmd))}")
    result = json.loads(done.stdout[done.stdout.index("{"):])
    figures = [f"{time.perf_counter() - started:.0f} s in all"]
    if "step" in result:
        figures.append(f"step {result['step']['median_ms'] / 1e3:.2f} s")
    if "eval" in result:
        figures.append(f"eval {result['eval']['sentences_per_second']:.2f} sentences/s")
    if "epoch" in result:
        figures.append(f"epoch + eval {result['epoch']['total_seconds']:.1f} s")
    if "memory" in result:
        m = result["memory"]
        figures.append(f"peak {(m.get('peak_rss_bytes') or m.get('wasm_memory_bytes') or 0) / 1e9:.2f} GB")
    print(f"[bench]   {', '.join(figures)}", file=sys.stderr, flush=True)
    return result


def flops_per_step(config: dict, batch: int, seq: int, train: bool) -> float:
    """Matmul FLOPs of our step (train) or evaluation pass: the layers' linear maps and attention, forward, plus
    (training) the backward pass through them for the activations only (the model is frozen: no weight
    gradients), which costs the same again. The head at one position per row is left out (<1%)."""
    h, f, L, tokens = config["hidden"], config["ffn"], config["layers"], batch * seq
    linear = 2 * tokens * (4 * h * h + 2 * h * f)
    attention = 2 * 2 * batch * seq * seq * h
    forward = L * (linear + attention)
    return forward * (2 if train else 1)


def run(args) -> None:
    me = [sys.executable, str(Path(__file__).resolve())]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    models = make_models(ROOT / "target/bench-models", args.smoke)
    families = [f for f in FAMILIES if f in args.families]
    full = {f: m for f, m in zip(FAMILIES, models[:2])}
    reduced = {f: m for f, m in zip(FAMILIES, models[2:])} if not args.smoke else full
    shape = ["--batch", str(args.batch), "--seq", str(args.seq), "--prompt-len", str(args.prompt_len),
             "--warmup", str(args.warmup), "--reps", str(args.reps)]
    data = str(args.data)
    results: dict = {"shape": {"batch": args.batch, "seq": args.seq, "prompt_len": args.prompt_len},
                     "reps": args.reps, "warmup": args.warmup, "smoke": args.smoke, "families": {}}
    if not args.smoke:
        results["peak"] = subprocess_json(me + ["peak"], "PyTorch matmul peak")
    for family in families:
        model = str(full[family])
        r: dict = {"model": model}
        results["families"][family] = r  # filled in as measured; results.json is rewritten after each
        for variant in ("paper", "peft"):
            for what in ("step", "eval"):
                r[f"{variant}_{what}"] = subprocess_json(
                    me + [what, "--model", model, "--variant", variant] + shape, f"{family} PyTorch {variant} {what}")
        for what in ("step", "eval"):
            r[f"ours_{what}"] = subprocess_json(
                [args.cli, "bench", "--model", model, "--data", data, "--what", what] + shape, f"{family} ours {what}")
        # The default (--memory auto) trains f32 through one graph where it fits; the lean mode is the low-memory one.
        r["ours_lean_step"] = subprocess_json(
            [args.cli, "bench", "--model", model, "--data", data, "--what", "step", "--memory", "lean"] + shape,
            f"{family} ours step, --memory lean")
        if not args.skip_epoch:
            r["paper_epoch"] = subprocess_json(
                me + ["epoch", "--model", model, "--data", data, "--language", args.language], f"{family} PyTorch epoch")
            r["ours_epoch"] = subprocess_json(
                [args.cli, "bench", "--model", model, "--data", data, "--what", "epoch", "--language", args.language],
                f"{family} ours epoch")
        if args.wasm:
            small = str(reduced[family])
            r["wasm_model"] = small
            r["native_small"] = subprocess_json(
                [args.cli, "bench", "--model", small, "--data", data, "--what", "step,eval"] + shape,
                f"{family} ours native ({Path(small).name})")
            r["wasm_small"] = subprocess_json(
                args.wasm.split() + ["--model", small] + shape, f"{family} ours wasm ({Path(small).name})")
        (out / "results.json").write_text(json.dumps(results, indent=2))
    report(results, out)


def report(results: dict, out: Path) -> None:
    """The tables, the FLOP/s of our matmul-heavy part, and the closing line; also results.json and table.md."""
    def mem(r):
        return r["memory"]["peak_rss_bytes"]

    def sps(r):
        return r["eval"]["sentences_per_second"]

    rows, epochs, ratios = [], [], {"step": [], "mem": [], "wasm": [], "epoch": [], "lean_step": [], "lean_mem": []}
    gb = 1e9
    names = {"paper": "PyTorch, authors' recipe", "peft": "PyTorch + PEFT", "ours": "polyprompt native",
             "ours_lean": "polyprompt native, `--memory lean`"}
    for family, r in results["families"].items():
        step_ref = min(r["paper_step"]["step"]["median_ms"], r["peft_step"]["step"]["median_ms"])
        mem_ref = min(mem(r["paper_step"]), mem(r["peft_step"]))
        for who in ("paper", "peft", "ours"):
            s, e = r[f"{who}_step"], r[f"{who}_eval"]
            rows.append(f"| {Path(r['model']).name} | {names[who]} | {s['step']['median_ms'] / 1e3:.2f} | {sps(e):.1f} | "
                        f"{mem(s) / gb:.2f} | {mem(e) / gb:.2f} |")
        ours = r["ours_step"]
        ratios["step"].append(ours["step"]["median_ms"] / step_ref)
        ratios["mem"].append(mem(ours) / mem_ref)
        r["ratios"] = {"step": ratios["step"][-1], "mem": ratios["mem"][-1],
                       "eval_speedup": sps(r["ours_eval"]) / max(sps(r["paper_eval"]), sps(r["peft_eval"]))}
        if "ours_lean_step" in r:
            lean = r["ours_lean_step"]
            rows.append(f"| {Path(r['model']).name} | {names['ours_lean']} | {lean['step']['median_ms'] / 1e3:.2f} | | "
                        f"{mem(lean) / gb:.2f} | |")
            ratios["lean_step"].append(lean["step"]["median_ms"] / step_ref)
            ratios["lean_mem"].append(mem(lean) / mem_ref)
            r["ratios"]["lean"] = {"step": ratios["lean_step"][-1], "mem": ratios["lean_mem"][-1]}
        if "wasm_small" in r:
            w, n, small = r["wasm_small"], r["native_small"], Path(r["wasm_model"]).name
            rows.append(f"| {small} | polyprompt native | {n['step']['median_ms'] / 1e3:.2f} | {sps(n):.1f} | "
                        f"{mem(n) / gb:.2f} | |")
            rows.append(f"| {small} | polyprompt wasm, Chromium | {w['step']['median_ms'] / 1e3:.2f} | {sps(w):.1f} | "
                        f"{w['memory']['wasm_memory_bytes'] / gb:.2f}¹ | |")
            ratios["wasm"].append(w["step"]["median_ms"] / n["step"]["median_ms"])
            r["ratios"]["wasm"] = ratios["wasm"][-1]
        if "ours_epoch" in r:
            for who in ("paper", "ours"):
                e = r[f"{who}_epoch"]["epoch"]
                epochs.append(f"| {Path(r['model']).name} | {names[who]} | {e['train_seconds']:.1f} | "
                              f"{e['eval_seconds']:.1f} ({e['language']}, {e['test_sentences']} sentences, batch "
                              f"{e['eval_batch']}) | {e['total_seconds']:.1f} | {mem(r[f'{who}_epoch']) / gb:.2f} |")
            ratios["epoch"].append(r["ours_epoch"]["epoch"]["total_seconds"] / r["paper_epoch"]["epoch"]["total_seconds"])
            r["ratios"]["epoch"] = ratios["epoch"][-1]
    shape = results["shape"]
    lines = [f"Fixed shapes: batch {shape['batch']}, sequence {shape['seq']} (prompt included), prompt "
             f"{shape['prompt_len']}; {results['warmup']} warm-up + {results['reps']} timed runs, median.",
             "", "| model | system | train step (s) | eval (sentences/s) | peak RSS, step (GB) | peak RSS, eval (GB) |",
             "|---|---|---:|---:|---:|---:|", *rows]
    if any("wasm_small" in r for r in results["families"].values()):
        lines.append("\n¹ wasm: the WebAssembly memory's size at the end (it never shrinks: its peak).")
    if epochs:
        lines += ["", "One epoch of the paper's default training (k = 8 per class, L = 10, batch 8, validation), "
                  "then one language's test split:", "",
                  "| model | system | epoch with validation (s) | evaluation (s) | total (s) | peak RSS (GB) |",
                  "|---|---|---:|---:|---:|---:|", *epochs]
    # FLOP/s of our matmul-heavy part (see flops_per_step), against the measured matmul peak.
    if not results["smoke"]:
        lines.append("")
        for family, r in results["families"].items():
            c = FULL[family]
            fl = flops_per_step(c, shape["batch"], shape["seq"], True)
            achieved = fl / (r["ours_step"]["step"]["median_ms"] / 1e3) / 1e9
            fe = flops_per_step(c, shape["batch"], shape["seq"], False)
            achieved_eval = fe / (r["ours_eval"]["eval"]["batch"]["median_ms"] / 1e3) / 1e9
            r["gflops"] = {"step": achieved, "eval": achieved_eval, "step_gflop": fl / 1e9}
            lines.append(f"{family}: our step does {fl / 1e9:.0f} GFLOP of matmuls → {achieved:.0f} GFLOP/s; "
                         f"evaluation {achieved_eval:.0f} GFLOP/s; PyTorch's matmul peak here "
                         f"{results['peak']['torch_matmul_gflops']:.0f} GFLOP/s.")

    def worst(name):
        return f"{max(ratios[name]):.3f}" if ratios[name] else "nan"

    final = (f"step_ratio={worst('step')} mem_ratio={worst('mem')} wasm_ratio={worst('wasm')} "
             f"epoch_ratio={worst('epoch')} lean_step_ratio={worst('lean_step')} lean_mem_ratio={worst('lean_mem')}")
    results["final"] = final
    (out / "results.json").write_text(json.dumps(results, indent=2))
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n\n" + final + "\n")
    print(table)
    print("\nratios: ours / the faster (memory: the smaller) of the two PyTorch variants, per model; the line gives "
          "the worse model's. wasm_ratio: wasm / native step on the reduced model, same shapes. lean_*: ours with "
          "--memory lean (one layer's graph at a time) instead of the default.")
    print(final)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def shape_args(q):
        q.add_argument("--batch", type=int, default=8)
        q.add_argument("--seq", type=int, default=128)
        q.add_argument("--prompt-len", type=int, default=16)
        q.add_argument("--warmup", type=int, default=1)
        q.add_argument("--reps", type=int, default=3)

    q = sub.add_parser("models")
    q.add_argument("--out", type=Path, default=ROOT / "target/bench-models")
    q.add_argument("--smoke", action="store_true")
    for what in ("step", "eval"):
        q = sub.add_parser(what)
        q.add_argument("--model", type=Path, required=True)
        q.add_argument("--variant", choices=["paper", "peft"], required=True)
        q.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
        shape_args(q)
    q = sub.add_parser("epoch")
    q.add_argument("--model", type=Path, required=True)
    q.add_argument("--data", type=Path, required=True)
    q.add_argument("--language", default="swh_Latn")
    sub.add_parser("peak")
    q = sub.add_parser("run")
    q.add_argument("--cli", required=True, help="the polyprompt binary")
    q.add_argument("--wasm", help="command that runs the browser benchmark (scripts/bench-web.mjs)")
    q.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/sib200")
    q.add_argument("--out", type=Path, default=ROOT / "target/bench-vs-peft")
    q.add_argument("--families", default="xglm,bloom")
    q.add_argument("--language", default="swh_Latn")
    q.add_argument("--smoke", action="store_true")
    q.add_argument("--skip-epoch", action="store_true")
    shape_args(q)
    args = p.parse_args()
    if args.cmd == "models":
        print(json.dumps([str(m) for m in make_models(args.out, args.smoke)]))
    elif args.cmd == "run":
        run(args)
    else:
        print(json.dumps({"step": lambda a: fixed(a, "step"), "eval": lambda a: fixed(a, "eval"), "epoch": epoch,
                          "peak": peak}[args.cmd](args), indent=2))


if __name__ == "__main__":
    main()
