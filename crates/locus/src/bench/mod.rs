//! `locus bench`: a REGISTER load generator built on the project's own
//! client state machine ([`sip_core::client::Registration`], one per AOR).
//!
//! The run: `--sockets` workers, each a thread with its own socket and a
//! single-threaded tokio loop (see [`worker`]); an optional setup phase
//! (modes `refresh` and `remove` register every AOR first); then the
//! measured phase, bounded by `--count` and `--duration`. Workers count on
//! their own and the counts are merged at the end; the only shared state
//! while running is a few atomic counters (claimed operations, progress).

mod args;
mod report;
mod stats;
mod worker;

pub use args::BenchArgs;

use args::{Invalid, Plan, Task};
use report::Report;
use stats::Stats;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use worker::{PhaseSpec, Shared, Worker};

/// Exit status when the run could not be made, or nothing succeeded.
const EXIT_FAILED: u8 = 1;

/// Runs `locus bench`; returns the process exit code.
pub fn run(args: BenchArgs) -> ExitCode {
    match args::plan(args) {
        Err(Invalid(e)) => crate::exit::invalid(e),
        Ok(Task::WriteUsersFile {
            path,
            users,
            realm,
            password,
        }) => write_users_file(&path, &users, &realm, &password),
        Ok(Task::Run(plan)) => run_plan(plan),
    }
}

fn write_users_file(path: &std::path::Path, users: &[String], realm: &str, pw: &str) -> ExitCode {
    use sip_core::digest::{ha1, Algorithm};
    let mut text = String::with_capacity(users.len() * 64);
    for u in users {
        text.push_str(&format!(
            "{u}:{realm}:{}\n",
            ha1(Algorithm::Md5, u, realm, pw)
        ));
    }
    match std::fs::write(path, text) {
        Ok(()) => {
            eprintln!(
                "wrote {} accounts (realm {realm}) to {}",
                users.len(),
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("locus: error: cannot write {}: {e}", path.display());
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// CPU time used by this process so far (user, system), all threads.
fn cpu_times() -> (Duration, Duration) {
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// What the workers hand back: the setup's stats and the measured phase's.
type WorkerResult = (Stats, Stats);

fn run_plan(plan: Plan) -> ExitCode {
    let k = plan.sockets;
    let mut links = Vec::with_capacity(k as usize);
    for _ in 0..k {
        match worker::open(&plan) {
            Ok(l) => links.push(l),
            Err(e) => {
                eprintln!(
                    "locus: error: cannot open a socket to {}: {e}",
                    plan.target_text()
                );
                return ExitCode::from(EXIT_FAILED);
            }
        }
    }
    let plan = Arc::new(plan);
    let shared = Arc::new(Shared::default());
    // Workers and this thread meet after the setup, and again once the
    // measured phase is defined.
    let barrier = Arc::new(Barrier::new(k as usize + 1));
    let measured: Arc<Mutex<Option<PhaseSpec>>> = Arc::new(Mutex::new(None));
    let epoch = Instant::now();
    let run_tag: u32 = rand::random();
    let window = |i: u32| {
        let c = plan.concurrency;
        (c / k + u32::from(i < c % k)).max(1) as usize
    };
    let rate = plan.rate.map(|r| r / f64::from(k));
    let setup = plan.mode.needs_setup().then(|| PhaseSpec {
        setup: true,
        start: epoch,
        stop_at: epoch + plan.duration,
        rate,
        window: 0,
        count: 0,
    });

    // Progress bar: 0 setup, 1 measured, 2 done.
    let phase = Arc::new(AtomicU8::new(if setup.is_some() { 0 } else { 1 }));
    let finished = Arc::new(AtomicBool::new(false));
    let progress = std::io::stderr().is_terminal().then(|| {
        let (shared, phase, finished, plan) = (
            shared.clone(),
            phase.clone(),
            finished.clone(),
            plan.clone(),
        );
        std::thread::spawn(move || progress_bar(&shared, &phase, &finished, &plan))
    });

    let mut handles = Vec::with_capacity(k as usize);
    for (i, link) in links.into_iter().enumerate() {
        let i = i as u32;
        let (plan, shared, barrier, measured) = (
            plan.clone(),
            shared.clone(),
            barrier.clone(),
            measured.clone(),
        );
        let setup = setup.clone().map(|mut s| {
            s.window = window(i);
            s
        });
        let win = window(i);
        let h = std::thread::Builder::new()
            .name(format!("bench-{i}"))
            .spawn(move || -> Result<WorkerResult, String> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let (rt, mut w) = match rt {
                    Ok(rt) => {
                        let w = {
                            let _g = rt.enter();
                            Worker::new(i, k, &plan, link, epoch, run_tag)
                        };
                        match w {
                            Ok(w) => (rt, w),
                            Err(e) => {
                                barrier.wait();
                                barrier.wait();
                                return Err(e.to_string());
                            }
                        }
                    }
                    Err(e) => {
                        barrier.wait();
                        barrier.wait();
                        return Err(e.to_string());
                    }
                };
                let mut setup_stats = Stats::default();
                if let Some(s) = &setup {
                    rt.block_on(w.run_phase(s, &shared));
                    setup_stats = std::mem::take(&mut w.stats);
                }
                barrier.wait();
                barrier.wait();
                let mut spec = measured
                    .lock()
                    .expect("not poisoned")
                    .clone()
                    .expect("set before the second barrier");
                spec.window = win;
                rt.block_on(w.run_phase(&spec, &shared));
                Ok((setup_stats, std::mem::take(&mut w.stats)))
            });
        match h {
            Ok(h) => handles.push(h),
            Err(e) => {
                eprintln!("locus: error: cannot start a thread: {e}");
                std::process::exit(i32::from(EXIT_FAILED));
            }
        }
    }

    barrier.wait();
    let setup_elapsed = epoch.elapsed();
    let cpu0 = cpu_times();
    let start = Instant::now();
    *measured.lock().expect("not poisoned") = Some(PhaseSpec {
        setup: false,
        start,
        stop_at: start + plan.duration,
        rate,
        window: 0,
        count: plan.count,
    });
    shared.ended.store(0, Ordering::Relaxed);
    shared.ok.store(0, Ordering::Relaxed);
    phase.store(1, Ordering::Relaxed);
    barrier.wait();

    let mut setup_total = Stats::default();
    let mut total = Stats::default();
    let mut errors = Vec::new();
    for h in handles {
        match h.join() {
            Ok(Ok((s, m))) => {
                setup_total.merge(&s);
                total.merge(&m);
            }
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a worker thread panicked".into()),
        }
    }
    let wall = start.elapsed();
    let cpu1 = cpu_times();
    finished.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        let _ = p.join();
    }
    for e in &errors {
        eprintln!("locus: error: worker: {e}");
    }
    let active = total
        .last_end
        .map(|t| t.saturating_duration_since(start))
        .filter(|d| !d.is_zero())
        .unwrap_or(wall);
    let report = Report::build(
        &plan,
        plan.mode
            .needs_setup()
            .then_some((&setup_total, setup_elapsed)),
        &total,
        active,
        (cpu1.0.saturating_sub(cpu0.0), cpu1.1.saturating_sub(cpu0.1)),
    );
    let mut out = std::io::stdout().lock();
    let text = if plan.json {
        report.json()
    } else {
        report.text()
    };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    for h in &report.hints {
        eprintln!("hint: {h}");
    }
    if !errors.is_empty() || (total.successes == 0 && total.started > 0) {
        return ExitCode::from(EXIT_FAILED);
    }
    ExitCode::SUCCESS
}

fn progress_bar(shared: &Shared, phase: &AtomicU8, finished: &AtomicBool, plan: &Plan) {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let style = ProgressStyle::with_template(
        "{prefix:>9} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(style);
    let mut shown = u8::MAX;
    while !finished.load(Ordering::Relaxed) {
        let p = phase.load(Ordering::Relaxed);
        if p != shown {
            shown = p;
            if p == 0 {
                bar.set_prefix("setup");
                bar.set_length(u64::from(plan.users));
            } else {
                bar.set_prefix(plan.mode.name());
                bar.set_length(plan.count);
            }
            bar.reset();
        }
        let ended = shared.ended.load(Ordering::Relaxed);
        let ok = shared.ok.load(Ordering::Relaxed);
        bar.set_position(ended);
        bar.set_message(format!("ok {ok} failed {}", ended.saturating_sub(ok)));
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}
