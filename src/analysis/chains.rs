//! Int8 chains and float islands in an ORT-optimized graph.
