//! `config::update` across processes: parallel `sts` processes never lose a context, and one
//! killed in the middle of a change leaves the file whole and the lock free.
//!
//! Each process is the test binary itself, run with `--exact <test>` and `STS_STORE_CHILD` set.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sts_cli::config::{self, Auth, Context, Storage};

const CHILD: &str = "STS_STORE_CHILD";
const CHILD_CONFIG: &str = "STS_STORE_CHILD_CONFIG";
const CHILD_NAME: &str = "STS_STORE_CHILD_NAME";
const CHILD_HOLD_MS: &str = "STS_STORE_CHILD_HOLD_MS";
/// `CHILD_HOLD_MS` of a child that, once inside the change (lock held), says so on stdout and
/// then blocks until it is killed.
const HOLD_UNTIL_KILLED: &str = "until-killed";
/// The line that child prints when it is in the middle of the change.
const IN_THE_MIDDLE: &str = "STS_STORE_CHILD_IN_THE_MIDDLE";

fn child_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set in the child"))
}

fn spawn_child(test: &str, config: &Path, name: &str, hold: Duration) -> Child {
    spawn_child_holding(test, config, name, &hold.as_millis().to_string())
}

fn spawn_child_holding(test: &str, config: &Path, name: &str, hold: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            &child_test_name(test),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env(CHILD_CONFIG, config)
        .env(CHILD_NAME, name)
        .env(CHILD_HOLD_MS, hold)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("child test process")
}

fn wait_passed(child: Child) {
    let output = child.wait_with_output().expect("child test process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The child part: add the context `CHILD_NAME`, holding the lock for `CHILD_HOLD_MS` in the
/// middle of the change so that processes without a lock would overwrite each other (or, with
/// [`HOLD_UNTIL_KILLED`], saying it is in the middle and waiting there to be killed).
fn child_adds_a_context() {
    let path = child_var(CHILD_CONFIG);
    let name = child_var(CHILD_NAME);
    let hold = child_var(CHILD_HOLD_MS);
    config::update(Path::new(&path), |c| {
        if hold == HOLD_UNTIL_KILLED {
            println!("{IN_THE_MIDDLE}");
            loop {
                std::thread::park();
            }
        }
        std::thread::sleep(Duration::from_millis(hold.parse().unwrap()));
        c.contexts.insert(
            name.clone(),
            Context {
                url: format!("http://{name}.example.com"),
                platform: Default::default(),
                api_path: config::DEFAULT_API_PATH.into(),
                auth: Auth::ServiceToken,
                storage: Storage::Keyring,
                skip_ssl: false,
                ca_cert_base64_data: None,
                credential_id: config::new_credential_id(),
                extra: Default::default(),
            },
        );
        c.current_context = Some(name.clone());
        Ok(())
    })
    .unwrap();
}

#[test]
fn twenty_processes_updating_at_once_lose_no_context() {
    const TEST: &str = "twenty_processes_updating_at_once_lose_no_context";
    if std::env::var_os(CHILD).is_some() {
        child_adds_a_context();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sts").join("config.toml");
    let children: Vec<Child> = (0..20)
        .map(|i| spawn_child(TEST, &path, &format!("ctx{i}"), Duration::from_millis(20)))
        .collect();
    for child in children {
        wait_passed(child);
    }
    let config = config::load(&path).unwrap().unwrap();
    let names: Vec<&String> = config.contexts.keys().collect();
    assert_eq!(names.len(), 20, "{names:?}");
    for i in 0..20 {
        let name = format!("ctx{i}");
        assert_eq!(
            config.context(&name).unwrap().url,
            format!("http://{name}.example.com")
        );
    }
    let current = config.current_context.unwrap();
    assert!(config.contexts.contains_key(&current));
}

#[test]
fn a_process_killed_during_an_update_leaves_the_file_whole_and_the_lock_free() {
    const TEST: &str = "a_process_killed_during_an_update_leaves_the_file_whole_and_the_lock_free";
    if std::env::var_os(CHILD).is_some() {
        child_adds_a_context();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    wait_passed(spawn_child(TEST, &path, "first", Duration::ZERO));
    let before = fs::read(&path).unwrap();

    // This one says when it is in the middle of its change (the lock held, the context not
    // written) and waits there; kill it (by its own pid) then.
    let mut stuck = spawn_child_holding(TEST, &path, "killed", HOLD_UNTIL_KILLED);
    let stdout = stuck.stdout.take().unwrap();
    let in_the_middle = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(IN_THE_MIDDLE));
    assert!(
        in_the_middle,
        "the child ended before the middle of its change"
    );
    stuck.kill().unwrap();
    stuck.wait().unwrap();
    assert_eq!(fs::read(&path).unwrap(), before);

    // The lock died with it: it can be taken at once, and the next change goes through.
    let lock = fs::File::open(dir.path().join("config.toml.lock")).unwrap();
    lock.try_lock().expect("the lock is free");
    drop(lock);
    wait_passed(spawn_child(TEST, &path, "second", Duration::ZERO));
    let config = config::load(&path).unwrap().unwrap();
    let names: Vec<&str> = config.contexts.keys().map(String::as_str).collect();
    assert_eq!(names, ["first", "second"]);
}

/// The name the test harness knows `test` by: this module's path in the one test binary.
fn child_test_name(test: &str) -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{module}::{test}")
}
