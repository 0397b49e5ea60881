//! Files the user saves: the bytes become a Blob behind a temporary link that is clicked once.
use wasm_bindgen::JsCast;

/// Offers `bytes` as a download named `name`. Failures are logged: nothing is lost, the data stays in the page.
pub fn save_file(name: &str, bytes: &[u8], mime: &str) {
    if let Err(error) = try_save(name, bytes, mime) {
        web_sys::console::error_1(&format!("saving {name} failed: {error:?}").into());
    }
}

fn try_save(name: &str, bytes: &[u8], mime: &str) -> Result<(), wasm_bindgen::JsValue> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    web_sys::Url::revoke_object_url(&url)
}
