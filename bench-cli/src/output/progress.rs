//! A progress bar for long runs: shown on stderr when both stdout and stderr are
//! terminals, hidden when either is redirected or with `--quiet`, so logs and piped
//! JSON stay clean.
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress over a run's steps (one step per pass). While a pass runs the bar does not
/// redraw itself, so no evbench thread wakes up inside a measured window.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `steps` steps; hidden when `quiet` or not on a terminal.
    pub fn new(steps: u64, quiet: bool) -> Self {
        let visible = !quiet && std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
        Self::with_visibility(steps, visible)
    }

    /// A bar that is drawn or not regardless of the terminal (tests, callers that know).
    pub fn with_visibility(steps: u64, visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(steps),
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
        {
            bar.set_style(style);
        }
        Self { bar }
    }

    /// Sets the number of steps.
    pub fn set_length(&self, steps: u64) {
        self.bar.set_length(steps);
    }

    /// Whether anything is drawn.
    pub fn visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Names what runs now (drawn once; no ticking while it runs).
    pub fn start(&self, what: &str) {
        self.bar.set_message(what.to_string());
        self.bar.tick();
    }

    /// One step done.
    pub fn step(&self) {
        self.bar.inc(1);
    }

    /// Steps done so far.
    pub fn done(&self) -> u64 {
        self.bar.position()
    }

    /// Prints a line above the bar without tearing it.
    pub fn println(&self, line: &str) {
        if self.visible() {
            self.bar.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn counts_steps_and_hides_when_quiet() {
        let p = Progress::new(6, true);
        assert!(!p.visible());
        for r in 1..=3 {
            p.start(&format!("pingpong/pipe (clean {r}/3)"));
            p.step();
        }
        assert_eq!(p.done(), 3);
        p.finish();
    }
}
