//! Which compute backend the app and CLI run on.
