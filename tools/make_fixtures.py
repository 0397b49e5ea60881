"""PyTorch reference for polyprompt's parity fixtures (run it through `tools/make_fixtures`).

What it writes (all under tests/fixtures/, documented field by field in tests/fixtures/README.md):

  tiny-xglm/, tiny-bloom/   one tiny random model per family, in hub layout:
    config.json             the family's real transformers config class (XGLMConfig / BloomConfig), tiny sizes
                            (hidden 64, 2 layers, 4 heads, ffn 256), written by `config.save_pretrained`.
    tokenizer.json          trained here on English SIB-200 train text (+ a few Russian sentences), built the way
    tokenizer_config.json   the real families build theirs: XGLM = SentencePiece unigram converted like
                            transformers' XGLMConverter (fairseq ids <s>=0 <pad>=1 </s>=2 <unk>=3, 7 madeup words at
                            the end, Precompiled normalizer (a small NFKC subset instead of nmt_nfkc's 330 KB table),
                            Metaspace, post-processor "</s> $A");
                            BLOOM = byte-level BPE with BLOOM's Split regex + ByteLevel pre-tokenizer, <unk>=0 <s>=1
                            </s>=2 <pad>=3, no special tokens added. The label words of the family are single tokens.
    model.safetensors       f32 weights with the hub checkpoints' key names (XGLM `model.…`, no `lm_head.weight`;
                            BLOOM without the `transformer.` prefix).
    pytorch_model.bin       the same weights, torch.save zip format (XGLM also has `lm_head.weight`, sharing the
                            embedding's storage, as old save_pretrained .bin files do).
    parity.safetensors/json reference forward/backward for the paper's suffix prompt and for PEFT's prefix prompt.
    tokenize.json           reference token ids (with and without special tokens) and label-word ids.
    trajectory.safetensors/json  20 AdamW steps of prompt tuning: paper recipe, paper + reparameterization, PEFT.
    peft_import.json        PeftModel.from_pretrained on polyprompt's own export (target/peft-export/, written by
                            `cargo test --release --test peft_export`, which this step runs) reproduces the reference.

Arguments pick steps (default all): `models` (hub files, tokenize, parity), `trajectory`, `peft-import`.

How the paper's semantics are computed (transformers 4.26 + the authors' SoftPrompt, whatever transformers is
installed here): the authors replace the *token-embedding lookup* with a module that writes the prompt vectors into
the rows of the [PROMPT] placeholder positions. In 4.26 everything else the model does to token embeddings happens
after that lookup, so the prompt vectors go through it too:
  * XGLM: `inputs_embeds = embed_tokens(ids) * sqrt(d_model)` (scale_embedding=true), then sinusoidal positions
    from `create_position_ids_from_input_ids(ids, padding_idx=1)`: the k-th non-pad token (k = 0, 1, …) uses sinusoid
    row k + 2, pad tokens use row 1 (all zeros). [PROMPT] is a real (non-pad) token there, so the slots count as
    ordinary positions.
  * BLOOM: `word_embeddings_layernorm(word_embeddings(ids))`, ALiBi from `(attention_mask.cumsum(-1) - 1) * mask`.
Current transformers (5.x) scales XGLM's embeddings inside the embedding module and defaults XGLM positions to
`arange`, so this script never relies on that: it gathers the raw embedding rows itself, writes the prompt into the
slots, applies the family's embedding transform (XGLM: × sqrt(d_model); BLOOM: nothing, the model's own
word_embeddings_layernorm runs on `inputs_embeds`), and passes `inputs_embeds` plus, for XGLM, explicit
`position_ids = cumsum(mask) * mask - 1` (transformers 5 adds the offset 2, so row = k + 2 and pads hit row 1, which is
exactly 4.26). In the fixtures the slots hold the pad id in `input_ids` and are marked by `prompt_mask`; since
positions come from `attention_mask` (1 on sentence, slots and EOS), they still count as ordinary tokens.
Independent checks (asserted, and recorded in parity.json `checks`): (1) with prompt rows equal to the raw embedding
rows of some tokens, the slot computation equals the unmodified model fed those tokens at the slots (its own
embedding scale / layernorm / default positions) at every attended position; (2) the XGLM position rows equal
4.26's padding-aware formula applied to ids whose slots hold a non-pad [PROMPT] id; (3) reloading the written hub
files with `from_pretrained` (safetensors and .bin) gives the same logits.

PEFT (pinned peft): `get_peft_model` + `PromptTuningConfig` prepends the prompt as `inputs_embeds` and extends the
attention mask with ones. Its token embeddings come from the model's input-embedding module, which in transformers 5
includes XGLM's × sqrt(d_model) scale, while the prompt rows are not scaled; BLOOM's word_embeddings_layernorm runs on
the whole concatenation, prompt included. XGLM positions are the default `arange(L + T)` (prompt slots 0..L-1, tokens
from L; PEFT drops any position_ids), BLOOM's ALiBi comes from the extended mask. The script recomputes that by hand
and asserts equality; parity.json `peft_semantics` records it.

Everything runs on CPU in float32 with fixed seeds and one thread, so `tools/make_fixtures` regenerates identical
files. Model weights are random (not transformers' default init: that makes LayerNorm weights 1, biases 0 and
attention nearly uniform, which would let a Rust port ignore those tensors and still pass), see `init_weights`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

import peft  # noqa: E402
import safetensors  # noqa: E402
import sentencepiece as spm  # noqa: E402
import tokenizers  # noqa: E402
import transformers  # noqa: E402
from peft import PromptTuningConfig, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from sentencepiece import sentencepiece_model_pb2  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    BloomConfig,
    BloomForCausalLM,
    PreTrainedTokenizerFast,
    XGLMConfig,
    XGLMForCausalLM,
    XGLMTokenizer,
    get_linear_schedule_with_warmup,
)

ROOT = Path(__file__).resolve().parent.parent
SIB = ROOT.parent / "shared" / "data" / "sib200"
OUT = ROOT / "tests" / "fixtures"

HIDDEN, LAYERS, HEADS, FFN = 64, 2, 4, 256
XGLM_VOCAB = 1000  # = sentencepiece pieces (992) + fairseq offset (1) + 7 madeup words, like 256008 for xglm-564M
BLOOM_TOKENIZER_VOCAB = 1000
BLOOM_VOCAB = 1024  # config vocab padded beyond the tokenizer, like bloom-560m (250880 vs 250680)
PROMPT_LEN = 4
SEED = 0

# SIB-200 categories in labels.txt order; class ids in the fixtures are indices into this list.
CATEGORIES = ["science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"]
LABEL_WORDS = {
    "xglm": ["science", "travel", "politics", "sports", "health", "entertainment", "earth"],
    "bloom": ["science", "travel", "government", "play", "health", "fun", "earth"],
}
RUSSIAN_TRAIN_SENTENCES = 40  # so the tiny vocabularies have some Cyrillic pieces
XGLM_USER_SYMBOLS: list[str] = []  # label-word pieces forced into the XGLM vocabulary (filled by build_xglm_tokenizer)

VERSIONS = {
    "python": sys.version.split()[0],
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "peft": peft.__version__,
    "tokenizers": tokenizers.__version__,
    "safetensors": safetensors.__version__,
    "sentencepiece": spm.__version__,
}


# ----------------------------------------------------------------------------------------------------------- data
def read_sib(lang: str, split: str) -> list[dict]:
    """SIB-200 TSV: header index_id, category, text; fields with `"` are CSV-quoted (doubled quotes)."""
    with open(SIB / lang / f"{split}.tsv", newline="", encoding="utf-8") as f:
        return [
            {"index_id": int(r["index_id"]), "category": r["category"], "text": r["text"]}
            for r in csv.DictReader(f, delimiter="\t")
        ]


def tokenizer_corpus(family: str) -> list[str]:
    """English train text, a few Russian train sentences, and each label word alone on many lines so that the
    trainers keep it as one token (Metaspace gives XGLM '▁word'; BLOOM's byte-level BPE gets 'word' without 'Ġ')."""
    lines = [r["text"] for r in read_sib("eng_Latn", "train")]
    lines += [r["text"] for r in read_sib("rus_Cyrl", "train")[:RUSSIAN_TRAIN_SENTENCES]]
    for word in LABEL_WORDS[family]:
        lines += [word] * 60
    return lines


# ----------------------------------------------------------------------------------------------------- tokenizers
# A small subset of nmt_nfkc's NFKC mappings (fullwidth ASCII, no-break / ideographic space, the fi ligature):
# the tokenizer.json gets a Precompiled normalizer like the real XGLM one, at ~1 KB instead of nmt_nfkc's ~330 KB.
NORMALIZATION_RULES = [(c, [c - 0xFEE0]) for c in range(0xFF01, 0xFF5F)] + [
    (0xA0, [0x20]),
    (0x3000, [0x20]),
    (0xFB01, [0x66, 0x69]),
]


def train_sentencepiece(user_symbols: list[str]) -> bytes:
    model_bytes = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "normalization_rules.tsv"
        rules.write_text("".join(f"{src:X}\t{' '.join(f'{d:X}' for d in dst)}\n" for src, dst in NORMALIZATION_RULES))
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(tokenizer_corpus("xglm")),
            model_writer=model_bytes,
            model_type="unigram",
            vocab_size=XGLM_VOCAB - 1 - 7,
            character_coverage=1.0,
            normalization_rule_tsv=str(rules),
            user_defined_symbols=user_symbols,
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=-1,
            num_threads=1,
            minloglevel=2,
        )
    return model_bytes.getvalue()


def build_xglm_tokenizer(out_dir: Path) -> PreTrainedTokenizerFast:
    """Unigram training prunes some label words (e.g. '▁politics' loses to '▁politic' + 's'); those are retrained
    as sentencepiece user-defined symbols (score 0, so they always win at a word start). Recorded in tokenize.json."""
    sp = spm.SentencePieceProcessor(model_proto=train_sentencepiece([]))
    split_words = [w for w in LABEL_WORDS["xglm"] if len(sp.encode(w)) != 1]
    XGLM_USER_SYMBOLS[:] = ["\u2581" + w for w in split_words]
    model_bytes = train_sentencepiece(XGLM_USER_SYMBOLS) if split_words else sp.serialized_model_proto()
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model_bytes)
    # transformers' XGLMConverter: fairseq specials, sentencepiece pieces from id 3 on (shifted by one), madeup words.
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p.piece, p.score) for p in proto.pieces[3:]]
    vocab += [(f"<madeupword{i}>", 0.0) for i in range(7)]
    assert len(vocab) == XGLM_VOCAB, len(vocab)
    tok = XGLMTokenizer(vocab=vocab, _spm_precompiled_charsmap=proto.normalizer_spec.precompiled_charsmap)
    tok.save_pretrained(out_dir)
    for extra in ("special_tokens_map.json", "chat_template.jinja"):
        (out_dir / extra).unlink(missing_ok=True)
    return tok


def build_bloom_tokenizer(out_dir: Path) -> PreTrainedTokenizerFast:
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(" ?[^(\\s|[.,!?…。，、।۔،])]+"), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tk.post_processor = processors.ByteLevel(trim_offsets=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BLOOM_TOKENIZER_VOCAB,
        special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(tokenizer_corpus("bloom"), trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        padding_side="left",  # bloom-560m's tokenizer_config; irrelevant here, we pad by hand
        add_prefix_space=False,
    )
    tok.save_pretrained(out_dir)
    for extra in ("special_tokens_map.json", "chat_template.jinja"):
        (out_dir / extra).unlink(missing_ok=True)
    return tok


def encode(tok_file: Tokenizer, text: str, special: bool) -> list[int]:
    return tok_file.encode(text, add_special_tokens=special).ids


# ---------------------------------------------------------------------------------------------------------- models
def make_config(family: str):
    if family == "xglm":
        return XGLMConfig(
            vocab_size=XGLM_VOCAB,
            max_position_embeddings=2048,
            d_model=HIDDEN,
            ffn_dim=FFN,
            num_layers=LAYERS,
            attention_heads=HEADS,
            activation_function="gelu",
            dropout=0.1,
            attention_dropout=0.1,
            activation_dropout=0.0,
            layerdrop=0.0,
            init_std=0.02,
            scale_embedding=True,
            use_cache=True,
            decoder_start_token_id=2,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            architectures=["XGLMForCausalLM"],
        )
    return BloomConfig(
        vocab_size=BLOOM_VOCAB,
        hidden_size=HIDDEN,
        n_layer=LAYERS,
        n_head=HEADS,
        layer_norm_epsilon=1e-5,
        initializer_range=0.02,
        use_cache=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        unk_token_id=0,
        apply_residual_connection_post_layernorm=False,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        pretraining_tp=1,
        slow_but_exact=False,
        # Fields bloom-560m's config.json carries that the Rust parser must tolerate.
        n_inner=None,
        offset_alibi=100,
        attention_softmax_in_fp32=True,
        masked_softmax_fusion=True,
        bias_dropout_fusion=True,
        skip_bias_add=True,
        skip_bias_add_qkv=False,
        architectures=["BloomForCausalLM"],
    )


def init_weights(model: torch.nn.Module, seed: int) -> None:
    """Random weights with enough spread to make every tensor matter: Linear weights N(0, 1/fan_in) (attention
    scores of order 1), all biases N(0, 0.1), LayerNorm weights 1 + N(0, 0.1) and biases N(0, 0.1), token
    embeddings N(0, 0.15) (XGLM's pad row included)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("embed_tokens.weight") or name.endswith("word_embeddings.weight"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.15)
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
            elif "norm" in name or name.split(".")[-2] in ("ln_f", "input_layernorm", "post_attention_layernorm"):
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def hub_state_dict(family: str, model) -> dict[str, torch.Tensor]:
    """Key names of the hub checkpoints: XGLM `model.*` (as XGLMForCausalLM saves them; the tied lm_head left out),
    BLOOM without the `transformer.` prefix (bigscience saved BloomModel, not BloomForCausalLM)."""
    sd = model.state_dict()
    if family == "xglm":
        out = {k: v for k, v in sd.items() if k.startswith("model.") and "embed_positions" not in k}
    else:
        out = {k[len("transformer."):]: v for k, v in sd.items() if k.startswith("transformer.")}
    return {k: v.detach().clone().contiguous().float() for k, v in sorted(out.items())}


def build_model(family: str, out_dir: Path):
    config = make_config(family)
    torch.manual_seed(SEED)
    cls = XGLMForCausalLM if family == "xglm" else BloomForCausalLM
    model = cls(config)
    model.config._attn_implementation = "eager"
    init_weights(model, SEED + (1 if family == "xglm" else 2))
    model.tie_weights()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    emb = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight.data_ptr() == emb.data_ptr(), "LM head must be tied"

    config.save_pretrained(out_dir)
    sd = hub_state_dict(family, model)
    save_file(sd, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    bin_sd = dict(sd)
    if family == "xglm":
        bin_sd["lm_head.weight"] = bin_sd["model.embed_tokens.weight"]  # same storage, as tied .bin files have it
    torch.save(bin_sd, out_dir / "pytorch_model.bin")
    return model


# ------------------------------------------------------------------------------------------------------- forwards
def paper_forward(family: str, model, input_ids, attention_mask, prompt_mask, prompt):
    """The paper's suffix prompt with 4.26 semantics (see the module docstring). Returns logits [B, T, V]."""
    emb = model.get_input_embeddings().weight
    x = emb[input_ids]
    slot = prompt_mask.bool()
    # k-th slot of each row gets prompt row k
    slot_rank = (torch.cumsum(prompt_mask, dim=1) - 1).clamp(min=0)
    x = torch.where(slot.unsqueeze(-1), prompt[slot_rank], x)
    if family == "xglm":
        x = x * model.model.embed_tokens.embed_scale
        position_ids = torch.cumsum(attention_mask, dim=1) * attention_mask - 1
        return model(inputs_embeds=x, attention_mask=attention_mask, position_ids=position_ids).logits
    return model(inputs_embeds=x, attention_mask=attention_mask).logits


def peft_by_hand(family: str, model, input_ids, attention_mask, prompt):
    """What PEFT prompt tuning does, recomputed without PEFT (for the independent check)."""
    b = input_ids.shape[0]
    tok = model.get_input_embeddings()(input_ids)  # transformers 5: XGLM's module includes the scale
    x = torch.cat([prompt.unsqueeze(0).expand(b, -1, -1), tok], dim=1)
    mask = torch.cat([torch.ones(b, prompt.shape[0], dtype=attention_mask.dtype), attention_mask], dim=1)
    if family == "xglm":
        pos = torch.arange(x.shape[1]).unsqueeze(0).expand(b, -1)
        return model(inputs_embeds=x, attention_mask=mask, position_ids=pos).logits
    return model(inputs_embeds=x, attention_mask=mask).logits


def make_peft(family: str, model, prompt: torch.Tensor):
    cfg = PromptTuningConfig(
        task_type="CAUSAL_LM",
        num_virtual_tokens=PROMPT_LEN,
        token_dim=HIDDEN,
        num_attention_heads=HEADS,
        num_layers=LAYERS,
        prompt_tuning_init="RANDOM",
    )
    pm = get_peft_model(model, cfg)
    with torch.no_grad():
        pm.prompt_encoder["default"].embedding.weight.copy_(prompt)
    pm.eval()
    return pm


# ------------------------------------------------------------------------------------------------ batch building
def paper_row(sentence_ids: list[int], pad: int, eos: int, max_len: int | None) -> tuple[list[int], int]:
    """Sentence tokens (truncated so the row fits max_len) + L slots (pad id) + EOS. Returns (ids, slot_start)."""
    if max_len is not None:
        sentence_ids = sentence_ids[: max_len - PROMPT_LEN - 1]
    return sentence_ids + [pad] * PROMPT_LEN + [eos], len(sentence_ids)


def pad_rows(rows: list[list[int]], pad: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.full((len(rows), length), pad, dtype=torch.int64)
    mask = torch.zeros((len(rows), length), dtype=torch.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
        mask[i, : len(r)] = 1
    return ids, mask


def label_token_ids(tk: Tokenizer, family: str) -> list[dict]:
    out = []
    for cat, word in zip(CATEGORIES, LABEL_WORDS[family]):
        ids = encode(tk, word, special=False)
        out.append(
            {
                "category": cat,
                "word": word,
                "ids": ids,
                "tokens": [tk.id_to_token(i) for i in ids],
                "single_token": len(ids) == 1,
                "train_id": ids[-1],
                "eval_id": ids[0],
            }
        )
    return out


# ---------------------------------------------------------------------------------------------------------- parity
def pick_parity_sentences(tk: Tokenizer) -> list[dict]:
    """Three short English train sentences (at most 9 words) of clearly different token lengths: the shortest
    (ties: lowest index_id), then the shortest at least 3 tokens longer, then again; returned in the order medium,
    long, short so that no row-order assumption can hide padding bugs."""
    rows = [r for r in read_sib("eng_Latn", "train") if len(r["text"].split()) <= 9]
    rows.sort(key=lambda r: (len(encode(tk, r["text"], special=False)), r["index_id"]))
    chosen = [rows[0]]
    for r in rows:
        if len(encode(tk, r["text"], special=False)) >= len(encode(tk, chosen[-1]["text"], special=False)) + 3:
            chosen.append(r)
            if len(chosen) == 3:
                break
    return [chosen[1], chosen[2], chosen[0]]


def max_diff_at(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    return float((a - b).abs()[mask.bool()].max())


def parity(family: str, model, tk: Tokenizer, out_dir: Path) -> None:
    cfg = model.config
    pad, eos = cfg.pad_token_id, cfg.eos_token_id
    labels_info = label_token_ids(tk, family)
    sentences = pick_parity_sentences(tk)
    rows, starts, sent_ids = [], [], []
    for s in sentences:
        ids = encode(tk, s["text"], special=False)
        row, start = paper_row(ids, pad, eos, None)
        rows.append(row)
        starts.append(start)
        sent_ids.append(ids)
    T = max(len(r) for r in rows)
    input_ids, attention_mask = pad_rows(rows, pad, T)
    prompt_mask = torch.zeros_like(input_ids)
    for i, st in enumerate(starts):
        prompt_mask[i, st : st + PROMPT_LEN] = 1
    pred_positions = torch.tensor([st + PROMPT_LEN - 1 for st in starts], dtype=torch.int64)
    labels = torch.tensor(
        [labels_info[CATEGORIES.index(s["category"])]["train_id"] for s in sentences], dtype=torch.int64
    )
    g = torch.Generator().manual_seed(SEED + 10)
    prompt0 = (torch.rand(PROMPT_LEN, HIDDEN, generator=g) - 0.5).contiguous()  # uniform(-0.5, 0.5)

    # paper forward + backward
    prompt = prompt0.clone().requires_grad_(True)
    logits = paper_forward(family, model, input_ids, attention_mask, prompt_mask, prompt)
    b_idx = torch.arange(len(rows))
    loss = F.cross_entropy(logits[b_idx, pred_positions], labels)
    loss.backward()
    prompt_grad = prompt.grad.detach().clone()
    logits = logits.detach()

    checks = {}
    # check 1: a prompt equal to raw embedding rows == feeding those tokens through the unmodified model
    probe_tokens = torch.tensor([labels_info[i]["train_id"] for i in range(PROMPT_LEN)])
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        ours = paper_forward(family, model, input_ids, attention_mask, prompt_mask, emb[probe_tokens])
        fed = input_ids.clone()
        for i, st in enumerate(starts):
            fed[i, st : st + PROMPT_LEN] = probe_tokens
        ref = model(input_ids=fed, attention_mask=attention_mask).logits
    checks["slots_equal_tokens_max_abs_diff"] = max_diff_at(ours, ref, attention_mask)
    assert checks["slots_equal_tokens_max_abs_diff"] < 1e-5, checks
    # check 2 (XGLM): our position rows == 4.26's create_position_ids_from_input_ids with a non-pad [PROMPT] id
    if family == "xglm":
        prompt_token = cfg.vocab_size  # the id the authors' resized vocabulary gives [PROMPT]
        ids_426 = torch.where(prompt_mask.bool(), torch.full_like(input_ids, prompt_token), input_ids)
        nonpad = ids_426.ne(pad).long()
        rows_426 = torch.cumsum(nonpad, dim=1) * nonpad + pad
        rows_ours = torch.cumsum(attention_mask, dim=1) * attention_mask - 1 + 2
        checks["xglm_position_rows_match_4_26"] = bool(torch.equal(rows_426, rows_ours))
        assert checks["xglm_position_rows_match_4_26"]

    # PEFT variant: same sentences + EOS, no slots, prompt prepended by PEFT itself
    peft_rows = [ids + [eos] for ids in sent_ids]
    T2 = max(len(r) for r in peft_rows)
    peft_input_ids, peft_attention_mask = pad_rows(peft_rows, pad, T2)
    peft_pred_positions = torch.tensor([PROMPT_LEN + len(r) - 1 for r in peft_rows], dtype=torch.int64)
    pm = make_peft(family, model, prompt0)
    out = pm(input_ids=peft_input_ids, attention_mask=peft_attention_mask)
    peft_logits = out.logits
    peft_loss = F.cross_entropy(peft_logits[b_idx, peft_pred_positions], labels)
    peft_loss.backward()
    peft_prompt_grad = pm.prompt_encoder["default"].embedding.weight.grad.detach().clone()
    peft_logits = peft_logits.detach()
    base = pm.get_base_model()  # prompt tuning adds no layers, only the wrapper
    ext_mask = torch.cat([torch.ones(len(rows), PROMPT_LEN, dtype=torch.int64), peft_attention_mask], dim=1)
    with torch.no_grad():
        by_hand = peft_by_hand(family, base, peft_input_ids, peft_attention_mask, prompt0)
    checks["peft_equals_by_hand_max_abs_diff"] = max_diff_at(peft_logits, by_hand, ext_mask)
    assert checks["peft_equals_by_hand_max_abs_diff"] < 1e-5, checks
    if family == "xglm":
        # the prompt rows really are unscaled while the tokens are scaled: scaling the prompt changes the result
        with torch.no_grad():
            scaled = peft_by_hand(family, base, peft_input_ids, peft_attention_mask, prompt0 * base.model.embed_tokens.embed_scale)
        checks["peft_xglm_prompt_scaled_would_differ_by"] = max_diff_at(peft_logits, scaled, ext_mask)
        assert checks["peft_xglm_prompt_scaled_would_differ_by"] > 1e-2

    # check 3: the written hub files load in transformers and give the same logits
    cls = type(model)
    for use_st in (True, False):
        reloaded = cls.from_pretrained(out_dir, use_safetensors=use_st, dtype=torch.float32, attn_implementation="eager")
        reloaded.eval()
        with torch.no_grad():
            rl = paper_forward(family, reloaded, input_ids, attention_mask, prompt_mask, prompt0)
        key = "reload_safetensors_max_abs_diff" if use_st else "reload_pytorch_bin_max_abs_diff"
        checks[key] = max_diff_at(rl, logits, attention_mask)
        assert checks[key] == 0.0, checks

    tensors = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "prompt_mask": prompt_mask,
        "prompt": prompt0,
        "logits": logits,
        "pred_positions": pred_positions,
        "labels": labels,
        "loss": loss.detach().reshape(()),
        "prompt_grad": prompt_grad,
        "peft_input_ids": peft_input_ids,
        "peft_attention_mask": peft_attention_mask,
        "peft_logits": peft_logits,
        "peft_pred_positions": peft_pred_positions,
        "peft_loss": peft_loss.detach().reshape(()),
        "peft_prompt_grad": peft_prompt_grad,
    }
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, str(out_dir / "parity.safetensors"), metadata={"format": "pt"})

    meta = {
        "family": family,
        "versions": VERSIONS,
        "prompt_length": PROMPT_LEN,
        "batch": len(rows),
        "seq_len": T,
        "peft_seq_len": T2,
        "vocab_size": cfg.vocab_size,
        "hidden": HIDDEN,
        "pad_id": pad,
        "eos_id": eos,
        "sentences": [
            {
                "index_id": s["index_id"],
                "category": s["category"],
                "class_id": CATEGORIES.index(s["category"]),
                "text": s["text"],
                "sentence_ids": ids,
                "slot_start": st,
                "pred_position": st + PROMPT_LEN - 1,
                "eos_position": st + PROMPT_LEN,
                "label_word": LABEL_WORDS[family][CATEGORIES.index(s["category"])],
                "label_id": int(labels[i]),
                "peft_pred_position": int(peft_pred_positions[i]),
            }
            for i, (s, ids, st) in enumerate(zip(sentences, sent_ids, starts))
        ],
        "label_words": labels_info,
        "loss": loss.item(),
        "peft_loss": peft_loss.item(),
        "logits_note": (
            "logits / peft_logits are stored in full, but only positions with attention 1 (attention_mask, or for "
            "peft the mask extended by prompt_length ones in front) are meaningful; padded positions are don't-care "
            "for the Rust comparison (their values depend on implementation details)."
        ),
        "paper_semantics": paper_semantics(family),
        "peft_semantics": peft_semantics(family),
        "checks": checks,
    }
    write_json(out_dir / "parity.json", meta)


def paper_semantics(family: str) -> dict:
    common = {
        "format": "sentence ids (no special tokens) + prompt_length slots + eos, right-padded with pad_id; slots "
        "hold pad_id in input_ids and are marked by prompt_mask; the k-th slot of a row gets prompt row k",
        "prediction": "logits at pred_positions = last slot (just before eos); loss = mean over rows of "
        "cross-entropy over the full vocabulary (vocab_size logits) against labels = last token of the label word",
    }
    if family == "xglm":
        common["embedding"] = "row = embed_tokens[id] (slots: prompt row); then * sqrt(d_model) = 8.0 for tokens AND slots"
        common["positions"] = (
            "padding-aware from attention_mask: j-th attended token (j = 0, 1, ...) uses sinusoid row j + 2 "
            "(= transformers position id j + offset 2); padded positions use row 1 (zeros); slots are ordinary tokens"
        )
    else:
        common["embedding"] = "row = word_embeddings[id] (slots: prompt row); then word_embeddings_layernorm on all rows"
        common["positions"] = "ALiBi from attention_mask: key position = (cumsum(mask) - 1) * mask"
    return common


def peft_semantics(family: str) -> dict:
    s = {
        "format": "peft_input_ids = sentence ids (no special tokens) + eos, right-padded; PEFT prepends the "
        "prompt_length prompt rows as inputs_embeds and prepends prompt_length ones to the attention mask, so "
        "peft_logits has prompt_length + peft_seq_len positions and prompt row k sits at position k",
        "prediction": "peft_pred_positions = prompt_length + (number of real tokens incl. eos) - 1 = the eos "
        "position in the extended sequence; loss = mean cross-entropy over the full vocabulary against the same "
        "labels as the paper variant",
    }
    if family == "xglm":
        s["embedding"] = (
            "token rows = embed_tokens[id] * sqrt(d_model) (transformers 5's XGLMScaledWordEmbedding, which PEFT "
            "calls); prompt rows are NOT scaled"
        )
        s["positions"] = (
            "PEFT passes no position_ids, so XGLM uses arange over the extended sequence: prompt row k -> position "
            "id k (sinusoid row k + 2), token t -> position id prompt_length + t (row prompt_length + t + 2), "
            "not padding-aware (pads are after all real tokens, so this does not affect attended positions)"
        )
    else:
        s["embedding"] = "word_embeddings_layernorm applies to the whole concatenation, prompt rows included"
        s["positions"] = "ALiBi from the extended attention mask: prompt row k -> key position k, token t -> prompt_length + t"
    return s


# ------------------------------------------------------------------------------------------------------- tokenize
def tokenize_fixture(family: str, tk: Tokenizer, hf_tok, out_dir: Path) -> None:
    eng_train = read_sib("eng_Latn", "train")
    eng_test = read_sib("eng_Latn", "test")
    rus_test = read_sib("rus_Cyrl", "test")
    texts = [
        ("plain", eng_test[0]["text"]),
        ("plain", eng_test[1]["text"]),
        ("double_quote", next(r["text"] for r in eng_train if '"' in r["text"])),
        ("non_ascii", next(r["text"] for r in eng_train if any(ord(c) > 127 for c in r["text"]) and '"' not in r["text"])),
        ("cyrillic_rus_Cyrl_test", rus_test[0]["text"]),
        ("normalizer_spaces_digits", "  Two  spaces,\u00a0no-break, ＦＵＬＬ width, ﬁne digits 1987 and 3.14 ; trailing "),
    ]
    items = []
    for kind, text in texts:
        with_sp = encode(tk, text, special=True)
        without_sp = encode(tk, text, special=False)
        # transformers' own tokenizer (as the authors called it) must agree with tokenizers on the same file
        assert hf_tok(text, add_special_tokens=True)["input_ids"] == with_sp
        assert hf_tok(text, add_special_tokens=False)["input_ids"] == without_sp
        items.append(
            {
                "kind": kind,
                "text": text,
                "ids_with_special_tokens": with_sp,
                "ids_without_special_tokens": without_sp,
                "tokens_without_special_tokens": [tk.id_to_token(i) for i in without_sp],
                "decoded_without_special_tokens": tk.decode(without_sp, skip_special_tokens=True),
            }
        )
    specials = {t: tk.token_to_id(t) for t in ("<s>", "<pad>", "</s>", "<unk>")}
    meta = {
        "family": family,
        "versions": VERSIONS,
        "tokenizer_file": "tokenizer.json",
        "tokenizer_vocab_size": tk.get_vocab_size(with_added_tokens=True),
        "model_vocab_size": XGLM_VOCAB if family == "xglm" else BLOOM_VOCAB,
        "special_token_ids": specials,
        "adds_special_tokens": "prepends </s> (id 2)" if family == "xglm" else "nothing",
        "forced_label_pieces": XGLM_USER_SYMBOLS if family == "xglm" else [],
        "sentences": items,
        "label_words": label_token_ids(tk, family),
    }
    write_json(out_dir / "tokenize.json", meta)


# ----------------------------------------------------------------------------------------------------- trajectory
TRAJ_STEPS, TRAJ_BATCH, TRAJ_K, TRAJ_MAX_LEN, REPARAM_HIDDEN = 20, 8, 8, 40, 16
LR, WARMUP_RATIO, CLIP = 5e-3, 0.1, 1.0


def select_training_examples() -> list[list[dict]]:
    """The paper's few-shot data: each class undersampled to the smallest class size (a random subset), then k
    examples drawn per class; the 56-example pool is reshuffled every epoch (7 batches of 8) for the 20 steps."""
    rows = read_sib("eng_Latn", "train")
    g = torch.Generator().manual_seed(SEED + 20)
    by_class = {c: [r for r in rows if r["category"] == c] for c in CATEGORIES}
    smallest = min(len(v) for v in by_class.values())
    pool = []
    for c in CATEGORIES:
        under = [by_class[c][i] for i in torch.randperm(len(by_class[c]), generator=g)[:smallest].tolist()]
        pool += [under[i] for i in torch.randperm(smallest, generator=g)[:TRAJ_K].tolist()]
    order: list[dict] = []
    while len(order) < TRAJ_STEPS * TRAJ_BATCH:
        order += [pool[i] for i in torch.randperm(len(pool), generator=g).tolist()]
    return [order[s * TRAJ_BATCH : (s + 1) * TRAJ_BATCH] for s in range(TRAJ_STEPS)]


def build_mlp() -> torch.nn.Sequential:
    torch.manual_seed(SEED + 30)  # torch's default Linear init, made reproducible
    mlp = torch.nn.Sequential(
        torch.nn.Linear(HIDDEN, REPARAM_HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(REPARAM_HIDDEN, HIDDEN),
        torch.nn.LayerNorm(HIDDEN, eps=1e-5),
    )
    mlp[3].weight.requires_grad_(False)  # affine frozen at identity (gamma 1, beta 0), as in the authors' code
    mlp[3].bias.requires_grad_(False)
    return mlp


def train_run(kind: str, family: str, model, data: dict, init_prompt: torch.Tensor) -> dict:
    """20 steps: loss, backward, clip_grad_norm_(trainable, 1.0), AdamW step, scheduler step, zero_grad — the HF
    Trainer order. `kind`: paper | reparam | peft."""
    mlp = None
    if kind == "peft":
        pm = make_peft(family, model, init_prompt)
        prompt_param = pm.prompt_encoder["default"].embedding.weight
    else:
        prompt_param = torch.nn.Parameter(init_prompt.clone())
        if kind == "reparam":
            mlp = build_mlp()
    trainable = [prompt_param] + ([p for p in mlp.parameters() if p.requires_grad] if mlp else [])
    opt = torch.optim.AdamW(trainable, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    warmup = math.ceil(WARMUP_RATIO * TRAJ_STEPS)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=warmup, num_training_steps=TRAJ_STEPS)

    def effective_prompt():
        return mlp(prompt_param) if mlp is not None else prompt_param

    losses, lrs, norms, prompts = [], [], [], []
    for step in range(TRAJ_STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        labels = data["labels"][step]
        rows = torch.arange(TRAJ_BATCH)
        if kind == "peft":
            logits = pm(input_ids=data["peft_input_ids"][step], attention_mask=data["peft_attention_mask"][step]).logits
            loss = F.cross_entropy(logits[rows, data["peft_pred_positions"][step]], labels)
        else:
            logits = paper_forward(
                family,
                model,
                data["input_ids"][step],
                data["attention_mask"][step],
                data["prompt_mask"][step],
                effective_prompt(),
            )
            loss = F.cross_entropy(logits[rows, data["pred_positions"][step]], labels)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(trainable, CLIP)))
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(loss.item())
        with torch.no_grad():
            prompts.append(effective_prompt().detach().clone())
    out = {
        "losses": torch.tensor(losses, dtype=torch.float32),
        "lrs": torch.tensor(lrs, dtype=torch.float32),
        "grad_norms": torch.tensor(norms, dtype=torch.float32),
        "prompts": torch.stack(prompts),
        "final_prompt": prompts[-1],
    }
    if mlp is not None:
        out["final_prompt_param"] = prompt_param.detach().clone()
        out["final_w1"], out["final_b1"] = mlp[0].weight.detach().clone(), mlp[0].bias.detach().clone()
        out["final_w2"], out["final_b2"] = mlp[2].weight.detach().clone(), mlp[2].bias.detach().clone()
    return out


def trajectory(family: str, model, tk: Tokenizer, out_dir: Path) -> None:
    cfg = model.config
    pad, eos = cfg.pad_token_id, cfg.eos_token_id
    labels_info = label_token_ids(tk, family)
    steps = select_training_examples()
    peft_len = TRAJ_MAX_LEN - PROMPT_LEN
    ids_all, mask_all, pmask_all, starts_all, pred_all = [], [], [], [], []
    pids_all, pmask2_all, ppred_all, labels_all, class_all, index_all = [], [], [], [], [], []
    for batch in steps:
        rows, starts, peft_rows = [], [], []
        for ex in batch:
            sent = encode(tk, ex["text"], special=False)
            row, st = paper_row(sent, pad, eos, TRAJ_MAX_LEN)
            rows.append(row)
            starts.append(st)
            peft_rows.append(row[:st] + [eos])  # same (truncated) sentence + eos, no slots
        ids, mask = pad_rows(rows, pad, TRAJ_MAX_LEN)
        pmask = torch.zeros_like(ids)
        for i, st in enumerate(starts):
            pmask[i, st : st + PROMPT_LEN] = 1
        pids, pmask2 = pad_rows(peft_rows, pad, peft_len)
        ids_all.append(ids)
        mask_all.append(mask)
        pmask_all.append(pmask)
        starts_all.append(torch.tensor(starts))
        pred_all.append(torch.tensor(starts) + PROMPT_LEN - 1)
        pids_all.append(pids)
        pmask2_all.append(pmask2)
        ppred_all.append(torch.tensor([PROMPT_LEN + len(r) - 1 for r in peft_rows]))
        class_ids = [CATEGORIES.index(ex["category"]) for ex in batch]
        class_all.append(torch.tensor(class_ids))
        labels_all.append(torch.tensor([labels_info[c]["train_id"] for c in class_ids]))
        index_all.append(torch.tensor([ex["index_id"] for ex in batch]))
    data = {
        "input_ids": torch.stack(ids_all),
        "attention_mask": torch.stack(mask_all),
        "prompt_mask": torch.stack(pmask_all),
        "slot_starts": torch.stack(starts_all),
        "pred_positions": torch.stack(pred_all),
        "peft_input_ids": torch.stack(pids_all),
        "peft_attention_mask": torch.stack(pmask2_all),
        "peft_pred_positions": torch.stack(ppred_all),
        "labels": torch.stack(labels_all),
        "class_ids": torch.stack(class_all),
        "index_ids": torch.stack(index_all),
    }
    g = torch.Generator().manual_seed(SEED + 40)
    init_prompt = torch.empty(PROMPT_LEN, HIDDEN).uniform_(-0.5, 0.5, generator=g)
    mlp0 = build_mlp()

    runs = {kind: train_run(kind, family, model, data, init_prompt) for kind in ("paper", "reparam", "peft")}
    warmup = math.ceil(WARMUP_RATIO * TRAJ_STEPS)
    for res in runs.values():  # the stored f32 lrs are the scheduler's, the JSON's the exact formula
        expected = [LR * (t / warmup if t < warmup else (TRAJ_STEPS - t) / (TRAJ_STEPS - warmup)) for t in range(TRAJ_STEPS)]
        assert torch.allclose(res["lrs"], torch.tensor(expected, dtype=torch.float32)), res["lrs"]

    tensors = {f"batch_{k}": v.to(torch.int64) for k, v in data.items() if k != "prompt_mask"}
    tensors["init_prompt"] = init_prompt
    tensors["reparam_init_w1"] = mlp0[0].weight.detach()
    tensors["reparam_init_b1"] = mlp0[0].bias.detach()
    tensors["reparam_init_w2"] = mlp0[2].weight.detach()
    tensors["reparam_init_b2"] = mlp0[2].bias.detach()
    tensors["reparam_ln_weight"] = mlp0[3].weight.detach()
    tensors["reparam_ln_bias"] = mlp0[3].bias.detach()
    for kind, res in runs.items():
        for k, v in res.items():
            tensors[f"{kind}_{k}"] = v
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    save_file(tensors, str(out_dir / "trajectory.safetensors"), metadata={"format": "pt"})

    meta = {
        "family": family,
        "versions": VERSIONS,
        "steps": TRAJ_STEPS,
        "batch_size": TRAJ_BATCH,
        "k_per_class": TRAJ_K,
        "prompt_length": PROMPT_LEN,
        "max_seq_len": TRAJ_MAX_LEN,
        "peft_seq_len": peft_len,
        "truncation": f"sentence ids truncated to max_seq_len - prompt_length - 1 = {TRAJ_MAX_LEN - PROMPT_LEN - 1} "
        "tokens (only the sentence, like the paper's truncation='only_first'); the PEFT rows use the same truncated "
        "sentence + eos",
        "pad_id": pad,
        "eos_id": eos,
        "categories": CATEGORIES,
        "label_words": labels_info,
        "optimizer": {
            "type": "torch.optim.AdamW",
            "lr": LR,
            "betas": [0.9, 0.999],
            "eps": 1e-8,
            "weight_decay": 0.0,
            "amsgrad": False,
        },
        "schedule": {
            "type": "transformers.get_linear_schedule_with_warmup",
            "num_warmup_steps": math.ceil(WARMUP_RATIO * TRAJ_STEPS),
            "num_training_steps": TRAJ_STEPS,
            "lr_of_step_t": "lr * (t / warmup if t < warmup else (steps - t) / (steps - warmup)), t = 0-based step index; "
            "step 0 updates with lr 0 (Adam moments still advance)",
        },
        "grad_clip": {"type": "torch.nn.utils.clip_grad_norm_", "max_norm": CLIP, "norm": "L2 over all trainable tensors together"},
        "step_order": "forward, loss, backward, clip, optimizer.step, scheduler.step, zero_grad (HF Trainer order)",
        "reparam": {
            "mlp": f"Linear({HIDDEN},{REPARAM_HIDDEN}) -> ReLU -> Linear({REPARAM_HIDDEN},{HIDDEN}) -> LayerNorm({HIDDEN}, eps=1e-5)",
            "trained": "prompt param and both Linear layers (weights and biases); LayerNorm affine frozen at gamma=1, beta=0",
            "effective_prompt": "mlp(prompt_param); the paper's exported prompt",
        },
        "runs": {
            "paper": "suffix slots, loss = mean full-vocabulary CE at the last slot, prompt used directly",
            "reparam": "as paper, prompt = mlp(prompt_param); prompt_param and mlp initialised from init_prompt / reparam_init_*",
            "peft": "PEFT prompt tuning (prefix, no reparam) on the batch_peft_* rows, loss = mean full-vocabulary CE at "
            "batch_peft_pred_positions (the eos position in the extended sequence)",
        },
        "paper_semantics": paper_semantics(family),
        "peft_semantics": peft_semantics(family),
        "model": "frozen, eval mode (no dropout; the authors' Trainer ran XGLM with its config dropout 0.1 active)",
        "per_step": [
            {
                "step": s,
                "index_ids": data["index_ids"][s].tolist(),
                "categories": [CATEGORIES[c] for c in data["class_ids"][s].tolist()],
                "lr": LR * (s / warmup if s < warmup else (TRAJ_STEPS - s) / (TRAJ_STEPS - warmup)),
                "loss": {kind: float(runs[kind]["losses"][s]) for kind in runs},
            }
            for s in range(TRAJ_STEPS)
        ],
    }
    write_json(out_dir / "trajectory.json", meta)


def peft_import(family: str, model, out_dir: Path) -> None:
    """PEFT loads the prompt file polyprompt exports (target/peft-export/, written by `cargo test --release
    --test peft_export`) and, on the parity batch, gives the reference PEFT logits."""
    import hashlib
    import subprocess

    from peft import PeftModel
    from safetensors import safe_open

    export = ROOT / "target" / "peft-export" / f"tiny-{family}"
    # The test writes the export before it compares against the (possibly stale) record.
    subprocess.run(["cargo", "test", "--release", "--test", "peft_export"], cwd=ROOT, capture_output=True)
    weights = (export / "adapter_model.safetensors").read_bytes()
    config = (export / "adapter_config.json").read_bytes()
    with safe_open(str(out_dir / "parity.safetensors"), framework="pt") as f:
        ref = {k: f.get_tensor(k) for k in ("prompt", "peft_input_ids", "peft_attention_mask", "peft_logits")}
    pm = PeftModel.from_pretrained(model, str(export))
    pm.eval()
    loaded = pm.prompt_encoder["default"].embedding.weight.detach()
    with torch.no_grad():
        logits = pm(input_ids=ref["peft_input_ids"], attention_mask=ref["peft_attention_mask"]).logits
    n = ref["peft_input_ids"].shape[0]
    ext_mask = torch.cat([torch.ones(n, loaded.shape[0], dtype=torch.int64), ref["peft_attention_mask"]], dim=1)
    record = {
        "family": family,
        "versions": VERSIONS,
        "what": "PeftModel.from_pretrained on polyprompt's export of parity.safetensors' prompt (prefix placement)",
        "adapter_model_sha256": hashlib.sha256(weights).hexdigest(),
        "adapter_config_sha256": hashlib.sha256(config).hexdigest(),
        "peft_type": pm.peft_config["default"].peft_type.value,
        "num_virtual_tokens": pm.peft_config["default"].num_virtual_tokens,
        "loaded_prompt_equals_file": bool(torch.equal(loaded, ref["prompt"])),
        "max_abs_diff_vs_reference_peft_logits": max_diff_at(logits, ref["peft_logits"], ext_mask),
    }
    assert record["loaded_prompt_equals_file"] and record["max_abs_diff_vs_reference_peft_logits"] <= 1e-5, record
    write_json(out_dir / "peft_import.json", record)


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    only = set(sys.argv[1:]) or {"models", "trajectory", "peft-import"}
    for family in ("xglm", "bloom"):
        out_dir = OUT / f"tiny-{family}"
        out_dir.mkdir(parents=True, exist_ok=True)
        hf_tok = build_xglm_tokenizer(out_dir) if family == "xglm" else build_bloom_tokenizer(out_dir)
        tk = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
        model = build_model(family, out_dir)
        if "models" in only:
            tokenize_fixture(family, tk, hf_tok, out_dir)
            parity(family, model, tk, out_dir)
        if "trajectory" in only:
            trajectory(family, model, tk, out_dir)
        if "peft-import" in only:
            peft_import(family, model, out_dir)
        print(f"tiny-{family}: done", flush=True)


if __name__ == "__main__":
    main()
