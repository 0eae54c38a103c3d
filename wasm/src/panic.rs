//! Panics are bugs. The hook prints them to the console and records the last message on the global object as
//! `__eventlitePanic`, so the JS layer can attach it to the `INTERNAL` error it raises when a call traps.

use std::sync::Once;

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// Installs the hook once per module instance.
pub(crate) fn install() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = format!("eventlite panicked (a bug, please report it): {info}");
            console_error(&message);
            let _ = js_sys::Reflect::set(&js_sys::global(), &"__eventlitePanic".into(), &message.into());
        }));
    });
}
