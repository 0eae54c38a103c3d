//! The UniFFI binding generator, built from the same uniffi version as the library (their contract must match).
//! `scripts/native-bindings.sh` runs it in library mode; maturin finds it by name when it builds the Python wheel.

fn main() {
    uniffi::uniffi_bindgen_main()
}
