//! `scripts/install-cron.sh` with a fake `crontab` on PATH and a temporary
//! HOME: the env file (mode 600, unrelated lines kept, values replaced in
//! place), the crontab line (kept apart from the operator's own lines), the
//! schedule constraints (never :00, never 23:50-00:10 UTC, also from a
//! half-hour time zone) and idempotence (a second run changes nothing).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use tradecycle::commands::dispatch::parse_env_file;

const GH_TOKEN: &str = "ghp_FAKEinstall0123456789DoNotPrint";
const TG_TOKEN: &str = "123456789:TEST-install_token-do-not-print";

struct Sandbox {
    _dir: tempfile::TempDir,
    home: PathBuf,
    bin: PathBuf,
    crontab: PathBuf,
}

const FAKE_CRONTAB: &str = r#"#!/bin/sh
# A stand-in for crontab(1): the table lives in $FAKE_CRONTAB.
case "$1" in
  -l) if [ -f "$FAKE_CRONTAB" ]; then cat "$FAKE_CRONTAB"; else echo "no crontab for tester" >&2; exit 1; fi ;;
  -) cat > "$FAKE_CRONTAB" ;;
  *) cat "$1" > "$FAKE_CRONTAB" ;;
esac
"#;

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home/tester");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("crontab");
        std::fs::write(&fake, FAKE_CRONTAB).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let crontab = dir.path().join("crontab.txt");
        Sandbox { _dir: dir, home, bin, crontab }
    }

    fn env_file(&self) -> PathBuf {
        self.home.join(".config/tradecycle/dispatch.env")
    }

    /// Runs the script with `env` (plus PATH, HOME, TZ) and `args`.
    fn install(&self, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-cron.sh");
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default());
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .args(["--binary", env!("CARGO_BIN_EXE_tradecycle")])
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("FAKE_CRONTAB", &self.crontab)
            .env("TZ", "UTC");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        for token in [GH_TOKEN, TG_TOKEN] {
            assert!(!stdout.contains(token) && !stderr.contains(token), "a token was printed:\n{stdout}\n{stderr}");
        }
        (out.status.code().unwrap_or(-1), stdout, stderr)
    }

    fn crontab_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.crontab).unwrap_or_default().lines().map(str::to_string).collect()
    }
}

const SETTINGS: &[(&str, &str)] = &[
    ("GITHUB_TOKEN", GH_TOKEN),
    ("REPO", "owner/repo"),
    ("WORKFLOW", "cycle.yml"),
    ("REF", "main"),
    ("TG_TOKEN", TG_TOKEN),
    ("GLOBAL_TELEGRAM_CHAT_ID", "-1001234567890"),
];

/// The minute field of our crontab line, checked against the rules: hourly,
/// and in UTC (after `offset_minutes`) never :00 and never 23:50-00:10.
fn checked_minute(line: &str, offset_minutes: i64) -> i64 {
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[1..5], ["*", "*", "*", "*"], "hourly: {line}");
    let local: i64 = fields[0].parse().expect("a single numeric minute");
    let utc = (local - offset_minutes).rem_euclid(60);
    assert!((11..=49).contains(&utc), "UTC minute {utc} is :00 or inside 23:50-00:10 at midnight: {line}");
    utc
}

#[test]
fn installs_the_env_file_and_the_crontab_line_idempotently() {
    let sb = Sandbox::new();
    // The operator's own crontab line and an unrelated setting must survive.
    std::fs::write(&sb.crontab, "5 4 * * * /usr/local/bin/backup\n").unwrap();
    std::fs::create_dir_all(sb.env_file().parent().unwrap()).unwrap();
    std::fs::write(sb.env_file(), "# mine\nexport REPO='old/repo'\nHTTPS_PROXY=http://proxy:3128\nREPO=older/dup\n")
        .unwrap();
    std::fs::set_permissions(sb.env_file(), std::fs::Permissions::from_mode(0o644)).unwrap();

    let (code, stdout, stderr) = sb.install(SETTINGS, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let env_file = sb.env_file();
    assert!(
        stdout.starts_with(&format!(
            "env file {}: updated (mode 600; set from the environment: GITHUB_TOKEN REPO WORKFLOW REF TG_TOKEN GLOBAL_TELEGRAM_CHAT_ID)\n",
            env_file.display()
        )),
        "{stdout}"
    );
    assert_eq!(std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&env_file).unwrap();
    assert_eq!(
        text,
        format!(
            "# mine\nexport REPO='owner/repo'\nHTTPS_PROXY=http://proxy:3128\n\
             export GITHUB_TOKEN='{GH_TOKEN}'\nexport WORKFLOW='cycle.yml'\nexport REF='main'\n\
             export TG_TOKEN='{TG_TOKEN}'\nexport GLOBAL_TELEGRAM_CHAT_ID='-1001234567890'\n"
        )
    );
    let parsed = parse_env_file(&text).unwrap();
    assert_eq!(parsed["REPO"], "owner/repo");
    assert_eq!(parsed["HTTPS_PROXY"], "http://proxy:3128");

    let lines = sb.crontab_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "5 4 * * * /usr/local/bin/backup");
    let minute = checked_minute(&lines[1], 0);
    assert_eq!(
        lines[1],
        format!(
            "{minute} * * * * '{}' dispatch --env-file '{}' >> '{}' 2>&1 # tradecycle-dispatch env={}",
            env!("CARGO_BIN_EXE_tradecycle"),
            env_file.display(),
            sb.home.join(".local/state/tradecycle/dispatch.log").display(),
            env_file.display()
        )
    );
    assert!(stdout.contains(&format!("crontab: installed: {}\n", lines[1])), "{stdout}");
    assert!(stdout.ends_with(&format!(
        "fires hourly at minute {minute} UTC (local minute {minute}, UTC offset +0000); log: {}\n",
        sb.home.join(".local/state/tradecycle/dispatch.log").display()
    )));
    assert!(sb.home.join(".local/state/tradecycle").is_dir());

    // Second run, same settings: nothing changes, not even the file's inode.
    let before = std::fs::metadata(&env_file).unwrap();
    let crontab_before = std::fs::read_to_string(&sb.crontab).unwrap();
    let (code, stdout, stderr) = sb.install(SETTINGS, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.starts_with(&format!("env file {}: unchanged\n", env_file.display())), "{stdout}");
    assert!(stdout.contains(&format!("crontab: unchanged: {}\n", lines[1])), "{stdout}");
    let after = std::fs::metadata(&env_file).unwrap();
    assert_eq!((after.ino(), after.mtime_nsec(), after.mtime()), (before.ino(), before.mtime_nsec(), before.mtime()));
    assert_eq!(std::fs::read_to_string(&env_file).unwrap(), text);
    assert_eq!(std::fs::read_to_string(&sb.crontab).unwrap(), crontab_before);

    // A third run with nothing in the environment keeps what the file has.
    let (code, stdout, _) = sb.install(&[], &[]);
    assert_eq!(code, 0);
    assert!(stdout.contains(": unchanged\n"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&env_file).unwrap(), text);

    // A new minute replaces our line in place, the operator's stays.
    let (code, stdout, _) = sb.install(&[], &["--minute", "23"]);
    assert_eq!(code, 0);
    let lines = sb.crontab_lines();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].starts_with("23 * * * * "), "{lines:?}");
    assert!(stdout.contains("crontab: updated: 23 * * * * "), "{stdout}");
}

#[test]
fn a_fresh_machine_gets_a_new_env_file_with_a_header() {
    let sb = Sandbox::new();
    let (code, stdout, stderr) = sb.install(SETTINGS, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains(": created (mode 600; "), "{stdout}");
    let text = std::fs::read_to_string(sb.env_file()).unwrap();
    assert!(text.starts_with("# tradecycle dispatch settings: read by `tradecycle dispatch`, written by scripts/install-cron.sh\nexport GITHUB_TOKEN='"));
    assert_eq!(std::fs::metadata(sb.env_file().parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    let lines = sb.crontab_lines();
    assert_eq!(lines.len(), 1);
    checked_minute(&lines[0], 0);
    // The settings summary the binary printed, without the token.
    assert!(stdout.contains("\n  repo: owner/repo\n  workflow: cycle.yml\n  ref: main\n"), "{stdout}");
    assert!(stdout.contains("\n  token: set (not shown)\n  failure alert: telegram\n"), "{stdout}");
}

#[test]
fn the_minute_is_converted_from_utc_for_a_half_hour_time_zone() {
    if !Path::new("/usr/share/zoneinfo/Asia/Kolkata").exists() {
        eprintln!("tzdata not installed: skipping the time-zone case");
        return;
    }
    let sb = Sandbox::new();
    let mut env = SETTINGS.to_vec();
    env.push(("TZ", "Asia/Kolkata"));
    let (code, stdout, stderr) = sb.install(&env, &["--minute", "49"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let lines = sb.crontab_lines();
    // 49 UTC is 19 past the hour in UTC+05:30.
    assert!(lines[0].starts_with("19 * * * * "), "{lines:?}");
    assert_eq!(checked_minute(&lines[0], 330), 49);
    assert!(stdout.contains("fires hourly at minute 49 UTC (local minute 19, UTC offset +0530)"), "{stdout}");
    // Every derived minute is safe as well, whatever the repository.
    for repo in ["a/b", "owner/repo", "someone/else", "x/y-z", "tradecycle/acct-7"] {
        let sb = Sandbox::new();
        let mut env = env.clone();
        env.retain(|(k, _)| *k != "REPO");
        env.push(("REPO", repo));
        let (code, _, stderr) = sb.install(&env, &[]);
        assert_eq!(code, 0, "{stderr}");
        checked_minute(&sb.crontab_lines()[0], 330);
    }
}

#[test]
fn refuses_unsafe_minutes_and_invalid_settings_without_touching_anything() {
    let sb = Sandbox::new();
    for bad in ["0", "5", "50", "59", "x"] {
        let (code, _, stderr) = sb.install(SETTINGS, &["--minute", bad]);
        assert_eq!(code, 2, "{bad}");
        assert!(stderr.starts_with("install-cron.sh: --minute: "), "{stderr}");
    }
    let (_, _, stderr) = sb.install(SETTINGS, &["--minute", "50"]);
    assert_eq!(
        stderr,
        "install-cron.sh: --minute: must be between 11 and 49 (UTC) to avoid :00 and Simple Earn's 23:50-00:10 UTC maintenance window, got 50\n"
    );
    // Missing REPO: the binary's own check refuses, nothing is written.
    let env: Vec<_> = SETTINGS.iter().copied().filter(|(k, _)| *k != "REPO").collect();
    let (code, _, stderr) = sb.install(&env, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "install-cron.sh: the settings do not validate (nothing changed):\n  error: {}: REPO: not set\n",
            sb.env_file().display()
        )
    );
    let (code, _, stderr) = sb.install(&[("GITHUB_TOKEN", "it's")], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "install-cron.sh: GITHUB_TOKEN: the value must not contain a single quote or a newline (value not shown)\n"
    );
    assert!(!sb.env_file().exists(), "nothing written");
    let leftovers: Vec<_> = std::fs::read_dir(sb.env_file().parent().unwrap()).unwrap().collect();
    assert!(leftovers.is_empty(), "temporary files removed: {leftovers:?}");
    assert!(!sb.crontab.exists(), "crontab untouched");
}

#[test]
fn a_rerun_keeps_the_operators_live_flag_until_told_otherwise() {
    let sb = Sandbox::new();
    let (code, _, stderr) = sb.install(SETTINGS, &["--minute", "23"]);
    assert_eq!(code, 0, "{stderr}");
    let ours = |sb: &Sandbox| sb.crontab_lines().into_iter().find(|l| l.contains("# tradecycle-dispatch")).unwrap();
    assert!(!ours(&sb).contains("--live"), "{}", ours(&sb));

    // The operator turns live trading on by editing the line.
    let edited = ours(&sb).replace(" dispatch --env-file", " dispatch --live --env-file");
    std::fs::write(&sb.crontab, format!("{edited}\n")).unwrap();
    let (code, stdout, stderr) = sb.install(SETTINGS, &["--minute", "23"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("crontab: keeping --live from the existing line"), "{stdout}");
    let kept = ours(&sb);
    assert!(
        kept.ends_with(&format!(
            "--env-file '{}' --live >> '{}' 2>&1 # tradecycle-dispatch env={}",
            sb.env_file().display(),
            sb.home.join(".local/state/tradecycle/dispatch.log").display(),
            sb.env_file().display()
        )),
        "{kept}"
    );
    // A third run with the same settings changes nothing.
    let (code, stdout, _) = sb.install(SETTINGS, &["--minute", "23"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&format!("crontab: unchanged: {kept}\n")), "{stdout}");

    // --no-live drops it; --live puts it back.
    let (code, _, stderr) = sb.install(SETTINGS, &["--minute", "23", "--no-live"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!ours(&sb).contains("--live"), "{}", ours(&sb));
    let (code, _, stderr) = sb.install(SETTINGS, &["--minute", "23", "--live"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(ours(&sb), kept);
    assert_eq!(sb.crontab_lines().len(), 1, "one line of ours, no duplicate");
}
