//! The browser benchmark: `polyprompt bench`'s fixed-shape training step and evaluation (src/tuning/bench.rs) on
//! burn's CPU backend compiled to wasm. scripts/bench-web.mjs serves it with scripts/bench-web.html and a
//! model folder, opens `bench-web.html?model=/model/&batch=8&seq=128&prompt_len=16&warmup=1&reps=3` in
//! headless Chromium and reads the JSON this writes into `#result`.
#[cfg(target_arch = "wasm32")]
mod web {
    use burn::tensor::Device;
    use polyprompt::model::ModelConfig;
    use polyprompt::model::tokenizer::TextTokenizer;
    use polyprompt::model::{self, LoadOptions, WeightsFile};
    use polyprompt::tuning::bench::{self, BenchShape, CountingAlloc};
    use polyprompt::tuning::train::Backprop;
    use serde_json::{Value, json};
    use wasm_bindgen::JsCast;

    #[global_allocator]
    static ALLOC: CountingAlloc<std::alloc::System> = CountingAlloc::new(std::alloc::System);

    pub fn start() {
        console_error_panic_hook::set_once();
        wasm_bindgen_futures::spawn_local(async {
            let report = run().await.unwrap_or_else(|error| json!({ "error": error }));
            let document = web_sys::window().and_then(|w| w.document()).expect("a page");
            let result = document.get_element_by_id("result").expect("#result");
            result.set_text_content(Some(&report.to_string()));
            result.set_attribute("data-done", "1").expect("attribute");
        });
    }

    async fn fetch(url: &str) -> Result<Vec<u8>, String> {
        let response = gloo::net::http::Request::get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
        if !response.ok() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        response.binary().await.map_err(|e| format!("{url}: {e}"))
    }

    async fn run() -> Result<Value, String> {
        let search = web_sys::window().ok_or("no window")?.location().search().map_err(|e| format!("{e:?}"))?;
        let params = web_sys::UrlSearchParams::new_with_str(&search).map_err(|e| format!("{e:?}"))?;
        let number = |key: &str, default: usize| params.get(key).and_then(|v| v.parse().ok()).unwrap_or(default);
        let base = params.get("model").ok_or("the page needs ?model=<folder URL>")?;
        let shape = BenchShape {
            batch: number("batch", BenchShape::ISSUE.batch),
            seq: number("seq", BenchShape::ISSUE.seq),
            prompt_len: number("prompt_len", BenchShape::ISSUE.prompt_len),
        };
        let (warmup, reps) = (number("warmup", 1), number("reps", 3));

        let config = ModelConfig::from_json(&String::from_utf8_lossy(&fetch(&format!("{base}config.json")).await?))
            .map_err(|e| e.to_string())?;
        let tokenizer =
            TextTokenizer::from_bytes(&fetch(&format!("{base}tokenizer.json")).await?).map_err(|e| e.to_string())?;
        let model = {
            // The file's bytes are dropped once the weights are built from them.
            let bytes = fetch(&format!("{base}model.safetensors")).await?;
            model::load(&config, WeightsFile::Safetensors(&bytes), &Device::flex(), &LoadOptions::default())
                .map_err(|e| e.to_string())?
        };
        let (model_heap_bytes, load_peak_heap_bytes) = (ALLOC.live(), ALLOC.peak());
        ALLOC.reset_peak();
        let step =
            bench::time_steps(&model, &tokenizer, shape, Backprop::for_dtype(model.weight_dtype()), warmup, reps)
                .await
                .map_err(|e| e.to_string())?;
        let eval = bench::time_eval(&model, &tokenizer, shape, warmup, reps).await.map_err(|e| e.to_string())?;
        // Linear memory only grows, so its size now is its peak.
        let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
        let wasm_memory_bytes = memory.buffer().unchecked_into::<js_sys::ArrayBuffer>().byte_length();
        Ok(json!({
            "model": base,
            "family": model.config().family.name(),
            "device": "CPU (flex), wasm32 +simd128, one thread",
            "threads": 1,
            "shape": shape,
            "step": step,
            "eval": eval,
            "memory": {
                "wasm_memory_bytes": wasm_memory_bytes,
                "model_heap_bytes": model_heap_bytes,
                "load_peak_heap_bytes": load_peak_heap_bytes,
                "workload_peak_heap_bytes": ALLOC.peak(),
            },
        }))
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {
    web::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("polyprompt-bench-web is the browser benchmark: scripts/bench-vs-peft builds and runs it in Chromium.");
    std::process::exit(2);
}
