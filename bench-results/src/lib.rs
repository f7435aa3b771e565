//! Everything after the result file: the versioned result schema, statistics, the metrics that
//! are compared, the comparison report and the plots. Pure functions of result files — no root,
//! no eBPF, no VM — so all of it is unit-tested with [`testing::MockResult`].

pub mod compare;
pub mod human;
pub mod input;
pub mod metrics;
pub mod overhead;
pub mod plot;
pub mod scaling;
pub mod schema;
pub mod stats;
pub mod tables;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use compare::{
    CompareOptions, Comparison, Format, compare, render, render_full_markdown, render_full_text,
    render_json, render_markdown, render_text,
};
pub use plot::plot_all;
pub use scaling::plot_scaling;
pub use schema::{Histogram, ResultFile, SCHEMA_VERSION, SchemaError};
