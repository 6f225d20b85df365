//! The progress bar (indicatif), shown only when asked for.

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar over task completions, or nothing.
pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    pub(crate) fn new(tasks: u64, show: bool) -> Progress {
        Progress(show.then(|| {
            let bar = ProgressBar::new(tasks);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] [{wide_bar}] {pos}/{len} tasks ({eta})",
            )
            .expect("the template is valid")
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        }))
    }

    pub(crate) fn tick(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish();
        }
    }
}
