//! Measures a few real ping-pong cases (pipe; both tasks on one CPU, split, and left to
//! the scheduler) with the probes when they load, and writes the results document the
//! way `evbench run` builds it: the constructors' worked example, and the source of
//! `results/examples/`.
//!
//! `cargo run -p bench-cli --release --example results_example -- OUT.json [REPEATS] [ROUNDS]`
use std::time::Instant;

use anyhow::{Context, Result};
use evbench::{
    cli::CommonArgs,
    engine::{kernel::record_kernel, prepare_probes},
    output::progress::Progress,
    results::{Case, Metric, NoiseMeter, ProbesState, Repeat, RunResult},
};
use workloads::{pingpong, stop::Stop, Mechanism, NoObserver, Observer};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .context("usage: results_example OUT.json [REPEATS] [ROUNDS]")?;
    let repeats: u32 = args.get(2).map_or(Ok(5), |s| s.parse())?;
    let rounds: u64 = args.get(3).map_or(Ok(20_000), |s| s.parse())?;
    let common = CommonArgs::default();
    let (mut probes, status) = prepare_probes(&common)?;
    let probes_state = if status.on {
        ProbesState::on(status.sets.clone())
    } else {
        ProbesState::off(status.reason.clone().unwrap_or_default())
    };
    let mut run = RunResult::new(
        args.clone(),
        serde_json::json!({"repeat": repeats, "probes": common.probes.to_string()}),
        probes_state,
        evbench::probes::OBJECT,
    );
    let noise = NoiseMeter::start();
    let stop = Stop::new();
    let pins = [
        pingpong::Pin::Same,
        pingpong::Pin::Split,
        pingpong::Pin::None,
    ];
    let progress = Progress::new(pins.len() as u64 * u64::from(repeats), false);
    let t0 = Instant::now();
    for pin in pins {
        let variant = format!("pin={}", pin.as_str());
        let mut case = Case::new("pingpong", Some("pipe"), Some("block"), Some(&variant));
        case.option("rounds", rounds)
            .option("warmup", 1000)
            .option("pin", pin.as_str())
            .option("tasks", "threads");
        for k in 1..=repeats {
            progress.start(&format!("{} (repeat {k}/{repeats})", case.id));
            if let Some(p) = probes.as_mut() {
                p.reset()?;
            }
            let observer: &dyn Observer = match &probes {
                Some(p) => p,
                None => &NoObserver,
            };
            let cfg = pingpong::Config {
                mechanism: Mechanism::Pipe,
                rounds,
                warmup: 1000,
                pin,
                ..pingpong::Config::default()
            };
            let started = t0.elapsed();
            let o = pingpong::run(&cfg, observer, &stop).context("pingpong")?;
            let mut r = Repeat::new(std::time::Duration::from_nanos(o.elapsed_ns));
            r.started_at(started)
                .metric(
                    "ops_per_sec",
                    Metric::higher("round trips/s"),
                    o.ops_per_sec(),
                )
                .histogram("round_trip_ns", "ns", &o.latency)
                .counter("rounds", o.rounds);
            if let Some(p) = &probes {
                record_kernel(&mut r, &p.collect()?, o.rounds);
            }
            case.push_repeat(r);
            progress.step();
        }
        run.push_case(case);
    }
    progress.finish();
    run.finish(noise.finish());
    run.write(std::path::Path::new(out))?;
    eprintln!("wrote {out}");
    Ok(())
}
