//! YAML rule packs: schema, validation with file:line:column errors, and evaluation.
