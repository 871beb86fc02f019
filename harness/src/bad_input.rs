//! A command's input is wrong — an unknown parameter, an empty range, a
//! results file of another schema: the CLI prints the message and exits with
//! code 2, and nothing has been written.

/// A command's input is wrong; the message names the argument at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);
