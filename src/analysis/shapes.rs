//! Shape and element-type inference from the graph inputs through the common ops.
