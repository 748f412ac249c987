//! The generated bindings of the `connector` world. Plugin authors never need
//! them directly; they are public only for `export_connector!`.

#![allow(missing_docs, unsafe_code, clippy::all)]

wit_bindgen::generate!({
    world: "connector",
    path: "../wit",
    pub_export_macro: true,
    default_bindings_module: "floh_sdk::bindings",
    export_macro_name: "__export_connector_world",
});
