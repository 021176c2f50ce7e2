//! Live progress of `sluice run` on a terminal: one bar per Distributed Map run, items done
//! out of the total (once the reader has reached its end), failures and rate.

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sluice_engine::engine::events::{Event, EventSink, MapRunProgress, MapRunStatus, MapRunUpdate};

/// Draws Map Run progress on stderr; history events are not shown.
pub struct MapRunBars {
    bars: MultiProgress,
    runs: Mutex<HashMap<String, ProgressBar>>,
}

impl MapRunBars {
    /// Bars on stderr (indicatif draws nothing when stderr is not a terminal).
    pub fn new() -> Self {
        MapRunBars {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            runs: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, progress: &MapRunProgress<'_>) -> ProgressBar {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.entry(progress.map_run_arn.to_string())
            .or_insert_with(|| {
                let bar = self.bars.add(ProgressBar::no_length());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {human_pos}/{human_len} {msg} ({per_sec}, {elapsed})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(format!("Map {}", progress.state));
                bar
            })
            .clone()
    }
}

impl EventSink for MapRunBars {
    fn emit(&self, _event: Event) {}

    fn map_run(&self, progress: &MapRunProgress<'_>) -> Option<MapRunUpdate> {
        let bar = self.bar(progress);
        if let Some(total) = progress.total {
            bar.set_length(total);
        }
        bar.set_position(progress.succeeded + progress.failed);
        if progress.failed > 0 {
            bar.set_message(format!("{} failed", progress.failed));
        }
        if progress.status != MapRunStatus::Running {
            bar.finish_with_message(format!(
                "{} ({} failed)",
                progress.status.as_str(),
                progress.failed
            ));
            self.runs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(progress.map_run_arn);
        }
        None
    }
}
