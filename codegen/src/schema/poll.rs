//! `[poll]`: how much work one call to `poll` may do.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::Section;
use crate::reader::TableReader;

/// `[poll]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollSection {
    /// `frames_per_poll` (1 to 64, default 8): received frames handled per
    /// call to `poll`, so one call is bounded in time.
    pub frames_per_poll: usize,
}

impl Default for PollSection {
    fn default() -> Self {
        PollSection { frames_per_poll: 8 }
    }
}

impl Section for PollSection {
    const NAME: &'static str = "poll";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let d = PollSection::default();
        PollSection {
            frames_per_poll: r
                .int("frames_per_poll", 1, 64)
                .value()
                .map_or(d.frames_per_poll, |(v, _)| v.unsigned_abs() as usize),
        }
    }

    fn impl_items(&self) -> TokenStream {
        let n = Literal::usize_unsuffixed(self.frames_per_poll);
        quote! {
            const FRAMES_PER_POLL: usize = #n;
        }
    }
}
