//! `tradecycle summary`: renders a cycle report as a GitHub job summary
//! (Markdown) or workflow annotations, for the workflow's last step.

use crate::cli::{SummaryArgs, SummaryFormat};
use crate::commands::{exit, usage};
use crate::summary;

/// Exit 2 when the report cannot be read or is not a report.
pub fn command(args: SummaryArgs) -> u8 {
    let text = match std::fs::read_to_string(&args.report) {
        Ok(t) => t,
        Err(e) => return usage(format!("cannot read the report {}: {e}", args.report.display())),
    };
    let report: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return usage(format!("{} is not JSON: {e}", args.report.display())),
    };
    if let Err(e) = summary::check_schema(&report) {
        return usage(format!("{}: {e}", args.report.display()));
    }
    match args.format {
        SummaryFormat::Markdown => print!("{}", summary::markdown(&report)),
        SummaryFormat::Annotations => {
            for line in summary::annotations(&report) {
                println!("{line}");
            }
        }
    }
    exit::OK
}
