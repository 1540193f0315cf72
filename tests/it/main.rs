//! Every integration test in one binary (as ripgrep and uv do), so the heavy crates are linked
//! once: a module per area, and the shared harness in `common` and `cli_util`.

mod common;
#[macro_use]
mod cli_util;

mod architecture;
mod bench_script;
mod ci_recipes;
mod cli_auth;
mod cli_context;
mod cli_errors;
mod cli_filters;
mod cli_fleet;
mod cli_import;
mod cli_import_vendors;
mod cli_ingestion_api_key;
mod cli_posit;
mod cli_prism;
mod cli_qualytics;
mod cli_rotate;
mod cli_scripts;
mod cli_service_token;
mod cli_ux;
mod cli_verify;
mod commands_generic;
mod completions;
mod conformance_prism;
mod docs_self_contained;
mod generated_docs;
mod hardening_network;
mod hardening_pipe;
mod hardening_secrets;
mod hardening_tls;
mod proptest_decoders;
mod sandbox_api;
mod sandbox_clock;
mod sandbox_faults;
mod sandbox_posit;
mod sandbox_qualytics;
mod sandbox_state;
mod security_crash;
mod security_echo;
mod security_files;
mod security_redirects;
mod store_config;
mod store_keyring;
mod terminal;
mod terminal_tables;
