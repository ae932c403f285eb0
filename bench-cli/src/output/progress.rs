//! A progress bar for long runs: shown on stderr when both stdout and stderr are
//! terminals, hidden when either is redirected or with `--quiet`, so logs and piped
//! JSON stay clean.
use std::{io::IsTerminal, time::Duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress over a run's steps (one step per repeat of each case).
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
        if visible {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Self { bar }
    }

    /// Whether anything is drawn.
    pub fn visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Names what runs now: `case` and its repeat (1-based) of `of`.
    pub fn start(&self, case: &str, repeat: u32, of: u32) {
        self.bar
            .set_message(format!("{case} (repeat {repeat}/{of})"));
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
            p.start("pingpong/pipe", r, 3);
            p.step();
        }
        assert_eq!(p.done(), 3);
        p.finish();
    }
}
