//! napi-build: the linker flags a Node-API addon needs (symbols resolved from the host process at load time).

fn main() {
    napi_build::setup();
}
