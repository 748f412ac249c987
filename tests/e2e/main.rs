//! End-to-end tests: the real `floh` binary on a free port with a temporary
//! data directory, real upstream HTTP servers in the test process.

mod agent;
mod authifi;
mod authoring_api;
mod big_specs;
mod browser;
mod contract;
mod crm;
mod durability;
mod lifecycle;
mod mcp;
mod models;
mod nodes;
mod not_found;
mod oauth;
mod openapi;
mod operations;
mod plugins;
mod prism;
mod rate_limit;
mod script_check;
mod secrets;
mod surface;
mod validation;
