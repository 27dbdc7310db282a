//! JSON output (documented in docs/json-output.md).
