//! `[poll]`: how much work one call to `poll` may do.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};

/// `[poll]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PollSection {
    /// `frames_per_poll`: received frames handled per call to `poll`.
    pub frames_per_poll: usize,
}

impl Default for PollSection {
    fn default() -> Self {
        PollSection { frames_per_poll: 8 }
    }
}

impl Schema for PollSection {
    const KEYS: &'static [&'static [Key]] = &[&[Key::int("frames_per_poll", 1, 64)
        .default("8")
        .doc("Received frames handled per call to `poll`, so one call is bounded in time.")]];
}

impl Section for PollSection {
    const NAME: &'static str = "poll";

    fn impl_items(&self) -> TokenStream {
        let n = Literal::usize_unsuffixed(self.frames_per_poll);
        quote! {
            const FRAMES_PER_POLL: usize = #n;
        }
    }
}
