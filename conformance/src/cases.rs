//! The cases. Each asserts a behaviour of the driver through the `Driver` trait only; the
//! fixture contributes programs, pipes and residue counts, never an expected value.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Weak};
use std::time::Duration;

use runtime_core::{
    ErrorKind, ExitStatus, Hooks, NoHooks, ProcessConfig, RawStdio, Resources, Status, Stdio,
};

use crate::support::{expect_kind, poll, CaseError, CaseResult, Ctx, Event, Op, PROMPT};
use crate::{Case, Fixture, Program, SIGKILL, SIGTERM};

pub(crate) fn run(ctx: &Ctx, case: Case) -> CaseResult {
    match case {
        Case::Run => run_exit_codes(ctx),
        Case::Signal => signal(ctx),
        Case::Stdout => stdout_stderr(ctx),
        Case::Stdin => stdin(ctx),
        Case::Env => env(ctx),
        Case::Cwd => cwd(ctx),
        Case::User => user(ctx),
        Case::Hostname => hostname(ctx),
        Case::Terminal => terminal(ctx),
        Case::Exec => exec(ctx),
        Case::ExecDetached => exec_detached(ctx),
        Case::Kill => kill(ctx),
        Case::KillAll => kill_all(ctx),
        Case::Pause => pause_resume(ctx),
        Case::Stats => stats(ctx),
        Case::State => state_list(ctx),
        Case::Delete => delete(ctx),
        Case::DeleteRace => delete_race(ctx),
        Case::WaitMany => wait_many(ctx),
        Case::Hooks => hooks(ctx),
        Case::HooksNoLock => hooks_no_lock(ctx),
        Case::Oom => oom(ctx),
        Case::UnknownId => unknown_id(ctx),
        Case::DuplicateId => duplicate_id(ctx),
        Case::WrongState => wrong_state(ctx),
        Case::MissingProgram => missing_program(ctx),
        Case::InvalidCommand => invalid_command(ctx),
        Case::Concurrent => concurrent(ctx),
        Case::Update => update(ctx),
    }
}

fn exited(code: i32) -> ExitStatus {
    ExitStatus::exited(i64::from(code))
}

fn run_exit_codes(ctx: &Ctx) -> CaseResult {
    for code in [0, 3, 255] {
        let command = ctx.command(&Program::Exit(code));
        let status = ctx
            .run(&command, &Stdio::null(), Arc::new(NoHooks))
            .op(format!("run (exit {code})"))?;
        ensure_eq!(status, exited(code), "run of a program exiting {code}");
        ensure_eq!(
            status.success(),
            code == 0,
            "ExitStatus::success of exit {code}"
        );
    }
    Ok(())
}

fn signal(ctx: &Ctx) -> CaseResult {
    let recorder = ctx.recorder();
    let command = ctx.command(&Program::Sleep);
    ctx.launch(&command, &Stdio::null(), recorder.clone())?;
    ctx.driver()
        .kill(&command.id, SIGKILL, false)
        .op("kill SIGKILL")?;
    let status = ctx.wait(&command.id)?;
    let expected = ctx.fixture.killed_status(SIGKILL);
    ensure_eq!(status, expected, "status of a program killed by SIGKILL");
    ensure_eq!(status.signal, Some(SIGKILL), "the signal that ended it");
    let state = ctx.driver().state(&command.id).op("state")?;
    ensure_eq!(state.exit_status, Some(expected), "state's exit_status");
    ensure_eq!(
        recorder.events().last(),
        Some(&Event::Exit(command.id.clone(), expected)),
        "the last hook"
    );
    Ok(())
}

fn stdout_stderr(ctx: &Ctx) -> CaseResult {
    let (out, err) = ("to stdout: 1 2 3\n", "to stderr: a b c\n");
    let command = ctx.command(&Program::Print {
        stdout: out.into(),
        stderr: err.into(),
    });
    let (status, stdout, stderr) = ctx.run_output(&command, None, Arc::new(NoHooks))?;
    ensure_eq!(status, exited(0), "status");
    ensure_eq!(stdout, out, "stdout");
    ensure_eq!(stderr, err, "stderr");
    // With stderr on the null device, stdout still comes alone.
    let command = ctx.command(&Program::Print {
        stdout: "only this\n".into(),
        stderr: "lost\n".into(),
    });
    let (capture, write) = ctx.capture()?;
    let stdio = Stdio {
        stdin: None,
        stdout: Some(write.raw()),
        stderr: None,
        extra: Vec::new(),
    };
    let status = ctx.run(&command, &stdio, Arc::new(NoHooks));
    drop(write);
    ensure_eq!(status.op("run")?, exited(0), "status");
    ensure_eq!(
        capture.finish()?,
        "only this\n",
        "stdout with stderr on the null device"
    );
    Ok(())
}

fn stdin(ctx: &Ctx) -> CaseResult {
    let (read, write) = ctx.pipe()?;
    let mut writer = ctx.fixture.writer(write.take());
    let feed = |writer: &mut Box<dyn Write + Send>, text: &str| {
        writer
            .write_all(text.as_bytes())
            .and_then(|()| writer.flush())
            .map_err(|err| CaseError::Failed(format!("feeding stdin: {err}")))
    };
    feed(&mut writer, "fed before create\n")?;
    let (out, out_write) = ctx.capture()?;
    let command = ctx.command(&Program::Cat);
    let stdio = Stdio {
        stdin: Some(read.raw()),
        stdout: Some(out_write.raw()),
        stderr: None,
        extra: Vec::new(),
    };
    let launched = ctx.launch(&command, &stdio, Arc::new(NoHooks));
    drop((read, out_write));
    launched?;
    out.wait_until("the first line echoed", PROMPT, |t| {
        t == "fed before create\n"
    })?;
    feed(&mut writer, "fed while running\n")?;
    out.wait_until("the second line echoed", PROMPT, |t| {
        t.ends_with("fed while running\n")
    })?;
    drop(writer);
    ensure_eq!(
        ctx.wait(&command.id)?,
        exited(0),
        "cat's status after end of file on stdin"
    );
    ensure_eq!(
        out.finish()?,
        "fed before create\nfed while running\n",
        "what came back"
    );
    Ok(())
}

fn env(ctx: &Ctx) -> CaseResult {
    let value = "hello conformance 7";
    let (status, out) = ctx.output(&Program::PrintEnv("CONF_GREETING".into()), |p| {
        p.env = vec!["CONF_OTHER=other".into(), format!("CONF_GREETING={value}")];
    })?;
    ensure_eq!(status, exited(0), "status");
    ensure_eq!(out, format!("{value}\n"), "the value of CONF_GREETING");
    let (_, out) = ctx.output(&Program::PrintEnv("CONF_GREETING".into()), |_| {})?;
    ensure_eq!(out, "\n", "CONF_GREETING when it was not given");
    Ok(())
}

fn cwd(ctx: &Ctx) -> CaseResult {
    let dir = ctx.fixture.work_dir();
    let (status, out) = ctx.output(&Program::PrintCwd, |p| p.cwd = dir.clone())?;
    ensure_eq!(status, exited(0), "status");
    ensure_eq!(out, format!("{dir}\n"), "the working directory");
    let (_, out) = ctx.output(&Program::PrintCwd, |_| {})?;
    ensure_eq!(out, "/\n", "the default working directory");
    Ok(())
}

/// The ids `Program::PrintIds` printed: uid, gid, and every group.
fn parse_ids(out: &str) -> CaseResult<(u32, u32, BTreeSet<u32>)> {
    let bad = || CaseError::Failed(format!("PrintIds printed {out:?}"));
    let lines: Vec<&str> = out.lines().collect();
    if lines.len() != 3 {
        return Err(bad());
    }
    let uid = lines[0].trim().parse().map_err(|_| bad())?;
    let gid = lines[1].trim().parse().map_err(|_| bad())?;
    let groups = lines[2]
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    Ok((uid, gid, groups))
}

const USER: &str = "1234:5678";
const ADDITIONAL_GIDS: [u32; 2] = [4242, 4343];

fn check_ids(out: &str, what: &str) -> CaseResult {
    let (uid, gid, groups) = parse_ids(out)?;
    ensure_eq!((uid, gid), (1234, 5678), "{what}: uid and gid");
    for extra in ADDITIONAL_GIDS {
        ensure!(
            groups.contains(&extra),
            "{what}: groups {groups:?} lack the additional gid {extra}"
        );
    }
    Ok(())
}

fn user(ctx: &Ctx) -> CaseResult {
    let (status, out) = ctx.output(&Program::PrintIds, |p| {
        p.user = USER.into();
        p.additional_gids = ADDITIONAL_GIDS.to_vec();
    })?;
    ensure_eq!(status, exited(0), "status");
    check_ids(&out, "as 1234:5678")?;
    let (_, out) = ctx.output(&Program::PrintIds, |_| {})?;
    let (uid, gid, groups) = parse_ids(&out)?;
    ensure_eq!((uid, gid), (0, 0), "the default user");
    ensure!(
        !ADDITIONAL_GIDS.iter().any(|g| groups.contains(g)),
        "the default user has the additional gids: {groups:?}"
    );
    Ok(())
}

fn hostname(ctx: &Ctx) -> CaseResult {
    let mut command = ctx.command(&Program::PrintHostname);
    command.hostname = Some("conformance-host".into());
    let (status, out, _) = ctx.run_output(&command, None, Arc::new(NoHooks))?;
    ensure_eq!(status, exited(0), "status");
    ensure_eq!(out, "conformance-host\n", "the given host name");
    let command = ctx.command(&Program::PrintHostname);
    let (_, out, _) = ctx.run_output(&command, None, Arc::new(NoHooks))?;
    let expected: String = command.id.chars().take(63).collect();
    ensure_eq!(out, format!("{expected}\n"), "the default host name");
    Ok(())
}

fn terminal(ctx: &Ctx) -> CaseResult {
    let recorder = ctx.recorder();
    let command = ctx.command_with(&Program::IsTerminal, |p| p.tty = true);
    let status = ctx
        .run(&command, &Stdio::null(), recorder.clone())
        .op("run with tty")?;
    ensure_eq!(status, exited(0), "IsTerminal with tty");
    ensure_eq!(
        recorder.count(|e| matches!(e, Event::Console(_))),
        consoles_with_tty(ctx),
        "on_console calls with tty"
    );
    let recorder = ctx.recorder();
    let command = ctx.command(&Program::IsTerminal);
    let status = ctx
        .run(&command, &Stdio::null(), recorder.clone())
        .op("run without tty")?;
    ensure!(
        status.code != 0,
        "IsTerminal without tty exited 0: the program cannot tell a terminal"
    );
    ensure_eq!(
        recorder.count(|e| matches!(e, Event::Console(_))),
        0,
        "on_console calls without tty"
    );
    Ok(())
}

/// The `on_console` calls a `tty` process makes on this platform.
fn consoles_with_tty(ctx: &Ctx) -> usize {
    usize::from(ctx.fixture.hands_console_master())
}

fn exec(ctx: &Ctx) -> CaseResult {
    let init = ctx.command(&Program::Sleep);
    let init_pid = ctx.launch(&init, &Stdio::null(), Arc::new(NoHooks))?;
    let id = init.id.as_str();

    let recorder = ctx.recorder();
    let status = ctx
        .exec(
            id,
            &ctx.process(&Program::Exit(9)),
            &Stdio::null(),
            recorder.clone(),
        )
        .op("exec (exit 9)")?;
    ensure_eq!(status, exited(9), "exec's own exit code");
    let events = recorder.events();
    ensure!(
        matches!(events.as_slice(),
            [Event::Start(a, pid), Event::Exit(b, s)]
                if a == id && b == id && *pid > 0 && *pid != init_pid && *s == status),
        "exec's hooks: {events:?}, expected on_start (a pid other than the init's \
         {init_pid}) then on_exit with {status:?}"
    );

    let mut process = ctx.process(&Program::PrintEnv("CONF_EXEC".into()));
    process.env = vec!["CONF_EXEC=exec env".into()];
    let (status, out) = ctx.exec_output(id, &process, Arc::new(NoHooks))?;
    ensure_eq!(
        (status, out.as_str()),
        (exited(0), "exec env\n"),
        "exec env"
    );

    let dir = ctx.fixture.work_dir();
    let mut process = ctx.process(&Program::PrintCwd);
    process.cwd = dir.clone();
    let (_, out) = ctx.exec_output(id, &process, Arc::new(NoHooks))?;
    ensure_eq!(out, format!("{dir}\n"), "exec cwd");

    if ctx.supports(Case::User) {
        let mut process = ctx.process(&Program::PrintIds);
        process.user = USER.into();
        process.additional_gids = ADDITIONAL_GIDS.to_vec();
        let (_, out) = ctx.exec_output(id, &process, Arc::new(NoHooks))?;
        check_ids(&out, "exec as 1234:5678")?;
    }

    let recorder = ctx.recorder();
    let mut process = ctx.process(&Program::IsTerminal);
    process.tty = true;
    let status = ctx
        .exec(id, &process, &Stdio::null(), recorder.clone())
        .op("exec with tty")?;
    ensure_eq!(status, exited(0), "exec IsTerminal with tty");
    ensure_eq!(
        recorder.count(|e| matches!(e, Event::Console(_))),
        consoles_with_tty(ctx),
        "exec on_console calls with tty"
    );
    let status = ctx
        .exec(
            id,
            &ctx.process(&Program::IsTerminal),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .op("exec without tty")?;
    ensure!(status.code != 0, "exec IsTerminal without tty exited 0");

    let state = ctx.driver().state(id).op("state")?;
    ensure_eq!(
        state.status,
        Status::Running,
        "the container after its execs"
    );
    ensure_eq!(state.pid, init_pid, "the init's pid after the execs");
    Ok(())
}

fn exec_detached(ctx: &Ctx) -> CaseResult {
    let init = ctx.command(&Program::Sleep);
    let init_pid = ctx.launch(&init, &Stdio::null(), Arc::new(NoHooks))?;
    let id = init.id.as_str();
    let detach = |program: &Program, stdio: &Stdio, hooks: Arc<dyn Hooks>| {
        crate::calls::exec_detached(ctx.driver(), id, &ctx.process(program), stdio, hooks)
            .op(format!("exec_detached ({program:?})"))
    };

    // The process waits for its input, so the pid comes back while it runs.
    let (read, write) = ctx.pipe()?;
    let stdio = Stdio {
        stdin: Some(read.raw()),
        stdout: None,
        stderr: None,
        extra: Vec::new(),
    };
    let recorder = ctx.recorder();
    let pid = detach(&Program::Cat, &stdio, recorder.clone())?;
    drop(read);
    ensure!(
        pid > 0 && pid != init_pid,
        "exec_detached's pid {pid} (the init's is {init_pid})"
    );
    let events = recorder.events();
    ensure!(
        matches!(events.as_slice(), [Event::Start(a, p)] if a == id && *p == pid),
        "hooks of a detached exec that still runs: {events:?}, expected on_start with {pid}"
    );
    drop(write);
    let status = ctx.driver().wait_exec(id, pid).op("wait_exec")?;
    ensure_eq!(status, exited(0), "wait_exec of cat at end of input");
    let again = ctx.driver().wait_exec(id, pid).op("a second wait_exec")?;
    ensure_eq!(again, status, "a second wait_exec");
    let events = recorder.events();
    ensure!(
        matches!(events.as_slice(), [Event::Start(_, _), Event::Exit(b, s)] if b == id && *s == status),
        "hooks of a detached exec: {events:?}, expected on_start then on_exit with {status:?}"
    );

    // Its code, and its output.
    let (out, write) = ctx.capture()?;
    let stdio = Stdio {
        stdin: None,
        stdout: Some(write.raw()),
        stderr: None,
        extra: Vec::new(),
    };
    let print = Program::Print {
        stdout: "detached out".into(),
        stderr: String::new(),
    };
    let printer = detach(&print, &stdio, Arc::new(NoHooks))?;
    drop(write);
    let exit = detach(&Program::Exit(9), &Stdio::null(), Arc::new(NoHooks))?;
    ensure_eq!(
        ctx.driver().wait_exec(id, exit).op("wait_exec (exit 9)")?,
        exited(9),
        "wait_exec of a detached exec exiting 9"
    );
    ensure_eq!(
        ctx.driver()
            .wait_exec(id, printer)
            .op("wait_exec (print)")?,
        exited(0),
        "wait_exec of a detached exec printing"
    );
    ensure_eq!(out.finish()?, "detached out", "a detached exec's stdout");

    expect_kind(
        ctx.driver().wait_exec(id, init_pid),
        ErrorKind::NotFound,
        "wait_exec of the init's pid",
    )?;
    let state = ctx.driver().state(id).op("state")?;
    ensure_eq!(
        (state.status, state.pid),
        (Status::Running, init_pid),
        "the container after its detached execs"
    );
    Ok(())
}

fn kill(ctx: &Ctx) -> CaseResult {
    let command = ctx.command(&Program::ExitOnSignal {
        signal: SIGTERM,
        code: 42,
    });
    let out = ctx.launch_captured(&command, Arc::new(NoHooks))?;
    out.ready()?;
    ctx.driver()
        .kill(&command.id, SIGTERM, false)
        .op("kill SIGTERM")?;
    ensure_eq!(
        ctx.wait(&command.id)?,
        exited(42),
        "a program that exits 42 on SIGTERM, after kill SIGTERM"
    );
    Ok(())
}

fn kill_all(ctx: &Ctx) -> CaseResult {
    let command = ctx.command(&Program::ParentIgnoring { signal: SIGTERM });
    let out = ctx.launch_captured(&command, Arc::new(NoHooks))?;
    out.ready()?;
    let id = command.id.as_str();
    // Only the init gets it, and ignores it: the child lives on, and so the init.
    ctx.driver().kill(id, SIGTERM, false).op("kill SIGTERM")?;
    std::thread::sleep(Duration::from_millis(200));
    let state = ctx.driver().state(id).op("state")?;
    ensure_eq!(
        state.status,
        Status::Running,
        "after SIGTERM to an init that ignores it (did it reach the child?)"
    );
    ctx.driver()
        .kill(id, SIGTERM, true)
        .op("kill SIGTERM all")?;
    // The shell ends with `exit 143`, which a platform that reads such codes as signals
    // reports as SIGTERM.
    let expected = if ctx.fixture.exit_codes_above_128_are_signals() {
        ExitStatus::signaled(SIGTERM)
    } else {
        exited(128 + SIGTERM)
    };
    ensure_eq!(
        ctx.wait(id)?,
        expected,
        "the init's status once SIGTERM to all killed its child"
    );
    Ok(())
}

fn counted(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.trim().parse().ok())
        .max()
        .unwrap_or(0)
}

fn pause_resume(ctx: &Ctx) -> CaseResult {
    let command = ctx.command(&Program::Counter);
    let out = ctx.launch_captured(&command, Arc::new(NoHooks))?;
    let id = command.id.as_str();
    out.wait_until("3 lines of the counter", PROMPT, |t| counted(t) >= 3)?;
    ctx.driver().pause(id).op("pause")?;
    let state = ctx.driver().state(id).op("state")?;
    ensure_eq!(state.status, Status::Paused, "status after pause");
    expect_kind(
        ctx.driver().pause(id),
        ErrorKind::InvalidState,
        "pause of a paused one",
    )?;
    if ctx.supports(Case::Exec) {
        expect_kind(
            ctx.exec(
                id,
                &ctx.process(&Program::Exit(0)),
                &Stdio::null(),
                Arc::new(NoHooks),
            ),
            ErrorKind::InvalidState,
            "exec in a paused one",
        )?;
    }
    // Whatever was on its way through the pipe comes first; then nothing.
    std::thread::sleep(Duration::from_millis(50));
    let frozen = counted(&out.text());
    std::thread::sleep(Duration::from_millis(300));
    ensure_eq!(
        counted(&out.text()),
        frozen,
        "the counter of a paused container"
    );
    ctx.driver().resume(id).op("resume")?;
    let state = ctx.driver().state(id).op("state")?;
    ensure_eq!(state.status, Status::Running, "status after resume");
    out.wait_until("the counter to go on", PROMPT, |t| counted(t) > frozen + 2)?;
    // A paused container can be killed and deleted.
    ctx.driver().pause(id).op("pause again")?;
    ctx.driver()
        .delete(id, true)
        .op("delete (force) a paused one")?;
    expect_kind(
        ctx.driver().state(id),
        ErrorKind::NotFound,
        "state after delete",
    )?;
    Ok(())
}

fn stats(ctx: &Ctx) -> CaseResult {
    let id = ctx.sleeper()?;
    let stats = ctx.driver().stats(&id).op("stats")?;
    let memory = stats.memory.usage.unwrap_or(0);
    ensure!(memory > 0, "no memory usage reported: {stats:?}");
    if let Some(pids) = stats.pids.current {
        ensure!(pids >= 1, "pids.current {pids} of a running container");
    }
    ctx.driver().delete(&id, true).op("delete")?;
    expect_kind(
        ctx.driver().stats(&id),
        ErrorKind::NotFound,
        "stats after delete",
    )?;
    Ok(())
}

fn listed(ctx: &Ctx, id: &str) -> CaseResult<Vec<runtime_core::ContainerState>> {
    let list = ctx.driver().list().op("list")?;
    Ok(list.into_iter().filter(|s| s.id == id).collect())
}

fn state_list(ctx: &Ctx) -> CaseResult {
    let command = ctx.command(&Program::Sleep);
    let id = command.id.as_str();
    let created_pid = ctx
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .op("create")?;
    if ctx.fixture.pid_at_create() {
        ensure!(created_pid > 0, "create returned pid {created_pid}");
    } else {
        ensure_eq!(
            created_pid,
            0,
            "create's pid where the init is made at start"
        );
    }
    let pid = created_pid;
    let state = ctx.driver().state(id).op("state")?;
    ensure_eq!(state.id, id, "state's id");
    ensure_eq!(state.status, Status::Created, "status after create");
    ensure_eq!(state.pid, pid, "state's pid after create");
    ensure_eq!(state.exit_status, None, "exit_status after create");
    ensure!(
        state.created.len() >= 20
            && state.created.as_bytes()[10] == b'T'
            && state.created.ends_with('Z'),
        "creation time {:?} is not RFC 3339 in UTC",
        state.created
    );
    ensure_eq!(state.rootfs, command.rootfs, "state's rootfs");
    let entries = listed(ctx, id)?;
    ensure_eq!(entries.len(), 1, "entries of {id} in list");
    ensure_eq!(
        entries[0].status,
        Status::Created,
        "listed status after create"
    );

    ctx.driver().start(id).op("start")?;
    let state = ctx.driver().state(id).op("state")?;
    ensure_eq!(state.status, Status::Running, "status after start");
    if ctx.fixture.pid_at_create() {
        ensure_eq!(state.pid, pid, "state's pid while running");
    } else {
        ensure!(state.pid > 0, "state's pid while running: {}", state.pid);
    }
    ensure_eq!(
        listed(ctx, id)?[0].status,
        Status::Running,
        "listed status while running"
    );

    ctx.driver().kill(id, SIGKILL, false).op("kill")?;
    let status = ctx.wait(id)?;
    let state = ctx.driver().state(id).op("state")?;
    ensure_eq!(state.status, Status::Stopped, "status after exit");
    ensure_eq!(state.pid, 0, "state's pid once the init is reaped");
    ensure_eq!(state.exit_status, Some(status), "exit_status after exit");
    ensure_eq!(
        listed(ctx, id)?[0].exit_status,
        Some(status),
        "listed exit_status after exit"
    );

    ctx.driver().delete(id, false).op("delete a stopped one")?;
    ensure!(
        listed(ctx, id)?.is_empty(),
        "{id} still listed after delete"
    );
    expect_kind(
        ctx.driver().state(id),
        ErrorKind::NotFound,
        "state after delete",
    )?;
    Ok(())
}

fn delete(ctx: &Ctx) -> CaseResult {
    let before = ctx.residue();
    // A created one is refused without force.
    let command = ctx.command(&Program::Sleep);
    ctx.create(&command, &Stdio::null(), Arc::new(NoHooks))
        .op("create")?;
    expect_kind(
        ctx.driver().delete(&command.id, false),
        ErrorKind::InvalidState,
        "delete of a created one without force",
    )?;
    ctx.driver()
        .delete(&command.id, true)
        .op("delete (force) a created one")?;
    expect_kind(
        ctx.driver().state(&command.id),
        ErrorKind::NotFound,
        "state after delete",
    )?;

    // A running one too; force kills it.
    let id = ctx.sleeper()?;
    expect_kind(
        ctx.driver().delete(&id, false),
        ErrorKind::InvalidState,
        "delete of a running one without force",
    )?;
    ensure_eq!(
        ctx.driver().state(&id).op("state")?.status,
        Status::Running,
        "status after the refused delete"
    );
    ctx.driver()
        .delete(&id, true)
        .op("delete (force) a running one")?;
    expect_kind(
        ctx.driver().state(&id),
        ErrorKind::NotFound,
        "state after delete",
    )?;
    expect_kind(
        ctx.driver().wait(&id),
        ErrorKind::NotFound,
        "wait after delete",
    )?;
    expect_kind(
        ctx.driver().delete(&id, true),
        ErrorKind::NotFound,
        "a second delete",
    )?;
    if let Some(diff) = ctx.left_behind(&before) {
        return Err(CaseError::Failed(format!(
            "left behind by deleted containers: {diff}"
        )));
    }
    Ok(())
}

fn delete_race(ctx: &Ctx) -> CaseResult {
    let before = ctx.residue();
    let mut wrong = Vec::new();
    for _round in 0..20 {
        let id = ctx.sleeper()?;
        let barrier = Arc::new(std::sync::Barrier::new(5));
        let deleters: Vec<_> = (0..4)
            .map(|_| {
                let fixture = ctx.fixture.clone();
                let (id, barrier) = (id.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    fixture.driver().delete(&id, true)
                })
            })
            .collect();
        barrier.wait();
        // The same id again, as soon as the driver lets it be created.
        let mut again = ctx.command(&Program::Sleep);
        again.id = id.clone();
        let deadline = std::time::Instant::now() + PROMPT;
        let created = loop {
            match ctx.create(&again, &Stdio::null(), Arc::new(NoHooks)) {
                Ok(pid) => break Some(pid),
                Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                    if std::time::Instant::now() > deadline {
                        wrong.push(format!(
                            "{id} still exists {} s after 4 deletes",
                            PROMPT.as_secs()
                        ));
                        break None;
                    }
                    std::thread::yield_now();
                }
                Err(err) => {
                    wrong.push(format!("create of {id} again: {err} (kind {})", err.kind()));
                    break None;
                }
            }
        };
        for deleter in deleters {
            match deleter.join() {
                Ok(Ok(())) => {}
                Ok(Err(err)) if err.kind() == ErrorKind::NotFound => {}
                // A late delete that finds the id taken by the create that follows.
                Ok(Err(err))
                    if err.kind() == ErrorKind::InvalidState
                        && err.to_string().contains("is creating") => {}
                Ok(Err(err)) => {
                    wrong.push(format!("a delete of {id}: {err} (kind {})", err.kind()))
                }
                Err(_) => wrong.push("a deleting thread panicked".into()),
            }
        }
        // A late delete may take the new container too; if it is there, it must be whole.
        if let (Some(pid), Ok(state)) = (created, ctx.driver().state(&id)) {
            if state.status != Status::Created || state.pid != pid {
                wrong.push(format!(
                    "{id} created again is {state:?}, expected created with pid {pid}"
                ));
            }
        }
        if let Err(err) = ctx.driver().delete(&id, true) {
            if err.kind() != ErrorKind::NotFound {
                wrong.push(format!(
                    "delete of {id} created again: {err} (kind {})",
                    err.kind()
                ));
            }
        }
    }
    if let Some(diff) = ctx.left_behind(&before) {
        wrong.push(format!("left behind: {diff}"));
    }
    ensure!(
        wrong.is_empty(),
        "{} things went wrong in 20 rounds: {}{}",
        wrong.len(),
        wrong[..wrong.len().min(3)].join("; "),
        if wrong.len() > 3 { "; ..." } else { "" }
    );
    Ok(())
}

fn wait_many(ctx: &Ctx) -> CaseResult {
    let id = ctx.sleeper()?;
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let fixture = ctx.fixture.clone();
            let id = id.clone();
            std::thread::spawn(move || fixture.driver().wait(&id))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    ctx.driver().kill(&id, SIGKILL, false).op("kill")?;
    let expected = ctx.fixture.killed_status(SIGKILL);
    let mut seen = Vec::new();
    for waiter in waiters {
        let joined = waiter
            .join()
            .map_err(|_| CaseError::Failed("a waiting thread panicked".into()))?;
        seen.push(joined.op("wait from one of 8 threads")?);
    }
    ensure!(
        seen.iter().all(|s| *s == expected),
        "the 8 waits returned {seen:?}, expected {expected:?} for each"
    );
    ensure_eq!(ctx.wait(&id)?, expected, "a wait after the exit");
    Ok(())
}

fn hooks(ctx: &Ctx) -> CaseResult {
    // A run: on_start with the pid, then on_exit with the status run returns, once each.
    let recorder = ctx.recorder();
    let command = ctx.command(&Program::Exit(5));
    let status = ctx
        .run(&command, &Stdio::null(), recorder.clone())
        .op("run")?;
    let events = recorder.events();
    let id = command.id.clone();
    ensure!(
        matches!(events.as_slice(),
            [Event::Start(a, pid), Event::Exit(b, s)] if *a == id && *b == id && *pid > 0 && *s == status),
        "hooks of a run: {events:?}, expected on_start (pid > 0) then on_exit with {status:?}"
    );

    // create + start: on_start's pid is the init's.
    let recorder = ctx.recorder();
    let command = ctx.command(&Program::Sleep);
    let pid = ctx
        .create(&command, &Stdio::null(), recorder.clone())
        .op("create")?;
    ensure_eq!(recorder.events(), vec![], "hooks before start");
    ctx.driver().start(&command.id).op("start")?;
    poll(PROMPT, || !recorder.events().is_empty());
    let pid = if ctx.fixture.pid_at_create() {
        pid
    } else {
        ctx.driver().state(&command.id).op("state")?.pid
    };
    ensure_eq!(
        recorder.events(),
        vec![Event::Start(command.id.clone(), pid)],
        "hooks of a started container"
    );
    // Force-deleting it: on_exit comes before delete returns, or never; nothing after.
    ctx.driver()
        .delete(&command.id, true)
        .op("delete (force)")?;
    let at_delete = recorder.events();
    std::thread::sleep(Duration::from_millis(200));
    ensure_eq!(recorder.events(), at_delete, "hooks after delete returned");
    ensure!(
        at_delete
            .iter()
            .filter(|e| matches!(e, Event::Start(..)))
            .count()
            == 1
            && at_delete
                .iter()
                .filter(|e| matches!(e, Event::Exit(..)))
                .count()
                <= 1,
        "hooks of a force-deleted container: {at_delete:?}"
    );

    // Created, never started, deleted: no on_start, and nothing after delete.
    let recorder = ctx.recorder();
    let command = ctx.command(&Program::Sleep);
    ctx.create(&command, &Stdio::null(), recorder.clone())
        .op("create")?;
    ctx.driver()
        .delete(&command.id, true)
        .op("delete (force) a created one")?;
    let at_delete = recorder.events();
    std::thread::sleep(Duration::from_millis(100));
    ensure_eq!(recorder.events(), at_delete, "hooks after delete returned");
    ensure!(
        !at_delete.iter().any(|e| matches!(e, Event::Start(..))),
        "on_start of a container never started: {at_delete:?}"
    );
    Ok(())
}

/// Hooks that call the driver back, as a daemon's would.
struct CallingBack {
    fixture: Weak<dyn Fixture>,
    seen: parking_lot::Mutex<Vec<String>>,
    consoles: parking_lot::Mutex<Vec<RawStdio>>,
}

impl CallingBack {
    fn call(&self, hook: &str, id: &str) {
        let Some(fixture) = self.fixture.upgrade() else {
            return;
        };
        let state = match fixture.driver().state(id) {
            Ok(state) if state.id == id => "ok".to_string(),
            Ok(state) => format!("state of {:?}", state.id),
            Err(err) => format!("error {err}"),
        };
        let list = match fixture.driver().list() {
            Ok(list) if list.iter().any(|s| s.id == id) => "ok".to_string(),
            Ok(_) => "missing".to_string(),
            Err(err) => format!("error {err}"),
        };
        self.seen
            .lock()
            .push(format!("{hook}: state {state}, list {list}"));
    }
}

impl Hooks for CallingBack {
    fn on_start(&self, id: &str, _pid: i32) {
        self.call("on_start", id);
    }
    fn on_oom(&self, id: &str) {
        self.call("on_oom", id);
    }
    fn on_exit(&self, id: &str, _status: &ExitStatus) {
        self.call("on_exit", id);
    }
    fn on_console(&self, id: &str, master: RawStdio) {
        self.call("on_console", id);
        self.consoles.lock().push(master);
    }
}

/// Creates, starts and waits for `command` on a thread of its own with hooks that call the
/// driver back: its status and what the hooks saw. A deadlock shows as a timeout.
fn run_calling_back(
    ctx: &Ctx,
    command: runtime_core::Command,
) -> CaseResult<(ExitStatus, Vec<String>)> {
    let hooks = Arc::new(CallingBack {
        fixture: Arc::downgrade(&ctx.fixture),
        seen: parking_lot::Mutex::new(Vec::new()),
        consoles: parking_lot::Mutex::new(Vec::new()),
    });
    let (send, receive) = std::sync::mpsc::channel();
    let fixture = ctx.fixture.clone();
    let shared: Arc<dyn Hooks> = hooks.clone();
    let id = command.id.clone();
    std::thread::spawn(move || {
        let driver = fixture.driver();
        let result = crate::calls::create(driver, &command, &Stdio::null(), shared)
            .and_then(|_| driver.start(&command.id))
            .and_then(|()| driver.wait(&command.id));
        let _ = driver.delete(&command.id, true);
        let _ = send.send(result);
    });
    let result = receive.recv_timeout(PROMPT);
    for console in std::mem::take(&mut *hooks.consoles.lock()) {
        ctx.fixture.close(console);
    }
    let seen = hooks.seen.lock().clone();
    match result {
        Ok(result) => Ok((result.op(format!("create, start, wait {id}"))?, seen)),
        Err(_) => Err(CaseError::Failed(format!(
            "create/start/wait of {id} did not finish in {} s: a hook calling the driver \
             deadlocked (hooks so far: {seen:?})",
            PROMPT.as_secs(),
        ))),
    }
}

fn hooks_no_lock(ctx: &Ctx) -> CaseResult {
    let ok = |hook: &str| format!("{hook}: state ok, list ok");
    // With a terminal, so that on_console calls back too. What the container's state is
    // while it is being created is the driver's choice: on_console must only return.
    let command = ctx.command_with(&Program::Exit(4), |p| p.tty = ctx.supports(Case::Terminal));
    let (status, seen) = run_calling_back(ctx, command)?;
    ensure_eq!(status, exited(4), "status");
    let consoles = seen.iter().filter(|s| s.starts_with("on_console")).count();
    ensure_eq!(
        consoles,
        if ctx.supports(Case::Terminal) {
            consoles_with_tty(ctx)
        } else {
            0
        },
        "on_console calls ({seen:?})"
    );
    let others: Vec<String> = seen
        .into_iter()
        .filter(|s| !s.starts_with("on_console"))
        .collect();
    ensure_eq!(
        others,
        vec![ok("on_start"), ok("on_exit")],
        "what the hooks saw calling the driver"
    );
    if ctx.supports(Case::Oom) {
        let mut command = ctx.command(&Program::Hog);
        command.resources.memory_limit = Some(32 << 20);
        let (status, seen) = run_calling_back(ctx, command)?;
        ensure!(
            status.oom_killed,
            "the hog ended {status:?}, without oom_killed"
        );
        ensure!(
            seen.first() == Some(&ok("on_start"))
                && seen.last() == Some(&ok("on_exit"))
                && seen.len() >= 3
                && seen[1..seen.len() - 1].iter().all(|s| *s == ok("on_oom")),
            "what the hooks of an OOM kill saw calling the driver: {seen:?}"
        );
    }
    Ok(())
}

fn oom(ctx: &Ctx) -> CaseResult {
    let recorder = ctx.recorder();
    let mut command = ctx.command(&Program::Hog);
    command.resources = Resources {
        memory_limit: Some(32 << 20),
        ..Resources::default()
    };
    ctx.launch(&command, &Stdio::null(), recorder.clone())?;
    let status = ctx.wait_within(&command.id, Duration::from_secs(30))?;
    ensure!(
        status.oom_killed,
        "a program over its memory limit ended {status:?}, without oom_killed"
    );
    let events = recorder.events();
    let ooms = events.iter().filter(|e| matches!(e, Event::Oom(_))).count();
    ensure!(ooms >= 1, "no on_oom: {events:?}");
    let first_oom = events.iter().position(|e| matches!(e, Event::Oom(_)));
    let exit = events.iter().position(|e| matches!(e, Event::Exit(..)));
    ensure!(
        matches!(events.first(), Some(Event::Start(..)))
            && exit == Some(events.len() - 1)
            && first_oom < exit,
        "hooks of an OOM kill: {events:?}, expected on_start, on_oom..., on_exit"
    );
    ensure_eq!(
        events.last(),
        Some(&Event::Exit(command.id.clone(), status)),
        "on_exit"
    );
    Ok(())
}

fn unknown_id(ctx: &Ctx) -> CaseResult {
    let driver = ctx.driver();
    let id = ctx.id();
    let nf = ErrorKind::NotFound;
    expect_kind(driver.start(&id), nf, "start")?;
    expect_kind(driver.wait(&id), nf, "wait")?;
    expect_kind(driver.delete(&id, false), nf, "delete")?;
    expect_kind(driver.delete(&id, true), nf, "delete (force)")?;
    expect_kind(driver.kill(&id, SIGKILL, false), nf, "kill")?;
    expect_kind(driver.kill(&id, SIGKILL, true), nf, "kill (all)")?;
    expect_kind(driver.state(&id), nf, "state")?;
    let optional = |case: Case| {
        if ctx.supports(case) {
            nf
        } else {
            ErrorKind::Unsupported
        }
    };
    expect_kind(driver.pause(&id), optional(Case::Pause), "pause")?;
    expect_kind(driver.resume(&id), optional(Case::Pause), "resume")?;
    expect_kind(driver.stats(&id), optional(Case::Stats), "stats")?;
    expect_kind(
        ctx.exec(
            &id,
            &ctx.process(&Program::Exit(0)),
            &Stdio::null(),
            Arc::new(NoHooks),
        ),
        optional(Case::Exec),
        "exec",
    )?;
    Ok(())
}

fn duplicate_id(ctx: &Ctx) -> CaseResult {
    let first = ctx.command(&Program::Sleep);
    let pid = ctx
        .create(&first, &Stdio::null(), Arc::new(NoHooks))
        .op("create")?;
    let before = ctx.residue();
    let mut again = ctx.command(&Program::Exit(0));
    again.id = first.id.clone();
    expect_kind(
        crate::calls::create(ctx.driver(), &again, &Stdio::null(), Arc::new(NoHooks)),
        ErrorKind::AlreadyExists,
        "create of an id that exists",
    )?;
    expect_kind(
        crate::calls::run(ctx.driver(), &again, &Stdio::null(), Arc::new(NoHooks)),
        ErrorKind::AlreadyExists,
        "run of an id that exists",
    )?;
    if let Some(diff) = ctx.residue().diff(&before) {
        return Err(CaseError::Failed(format!(
            "the refused duplicates left something: {diff}"
        )));
    }
    let state = ctx.driver().state(&first.id).op("state")?;
    ensure_eq!(
        (state.status, state.pid),
        (Status::Created, pid),
        "the first container after the duplicates"
    );
    ctx.driver().start(&first.id).op("start the first")?;
    ensure_eq!(
        ctx.driver().state(&first.id).op("state")?.status,
        Status::Running,
        "the first container, started"
    );
    Ok(())
}

fn wrong_state(ctx: &Ctx) -> CaseResult {
    let driver = ctx.driver();
    let is = ErrorKind::InvalidState;
    let pausing = ctx.supports(Case::Pause);
    let exec_ok = ctx.supports(Case::Exec);
    let exit0 = ctx.process(&Program::Exit(0));
    let command = ctx.command(&Program::Sleep);
    let id = command.id.as_str();
    ctx.create(&command, &Stdio::null(), Arc::new(NoHooks))
        .op("create")?;
    if pausing {
        expect_kind(driver.resume(id), is, "resume of a created one")?;
        expect_kind(driver.pause(id), is, "pause of a created one")?;
    }
    if exec_ok {
        expect_kind(
            ctx.exec(id, &exit0, &Stdio::null(), Arc::new(NoHooks)),
            is,
            "exec in a created one",
        )?;
    }
    driver.start(id).op("start")?;
    expect_kind(driver.start(id), is, "start of a running one")?;
    if pausing {
        expect_kind(driver.resume(id), is, "resume of a running one")?;
    }
    driver.kill(id, SIGKILL, false).op("kill")?;
    ctx.wait(id)?;
    expect_kind(driver.start(id), is, "start of a stopped one")?;
    expect_kind(driver.kill(id, SIGKILL, false), is, "kill of a stopped one")?;
    if pausing {
        expect_kind(driver.pause(id), is, "pause of a stopped one")?;
        expect_kind(driver.resume(id), is, "resume of a stopped one")?;
    }
    if exec_ok {
        expect_kind(
            ctx.exec(id, &exit0, &Stdio::null(), Arc::new(NoHooks)),
            is,
            "exec in a stopped one",
        )?;
    }
    Ok(())
}

fn missing_program(ctx: &Ctx) -> CaseResult {
    let before = ctx.residue();
    let recorder = ctx.recorder();
    let command = ctx.command(&Program::Missing);
    let id = command.id.as_str();
    match ctx.create(&command, &Stdio::null(), recorder.clone()) {
        Err(err) => {
            ensure!(
                err.kind() != ErrorKind::Internal,
                "create of a missing program: an internal error ({err})"
            );
            expect_kind(
                ctx.driver().state(id),
                ErrorKind::NotFound,
                "state after the failed create",
            )?;
        }
        Ok(_) => {
            let started = ctx.driver().start(id);
            ensure!(
                started.is_err(),
                "create and start of a program that does not exist both succeeded"
            );
            let _ = ctx.driver().delete(id, true);
        }
    }
    ensure!(
        !recorder
            .events()
            .iter()
            .any(|e| matches!(e, Event::Start(..))),
        "on_start for a program that does not exist: {:?}",
        recorder.events()
    );
    if let Some(diff) = ctx.left_behind(&before) {
        return Err(CaseError::Failed(format!("left behind: {diff}")));
    }
    Ok(())
}

fn invalid_command(ctx: &Ctx) -> CaseResult {
    let before = ctx.residue();
    let ia = ErrorKind::InvalidArgument;
    let try_create = |command: &runtime_core::Command, what: &str| {
        let result = crate::calls::create(ctx.driver(), command, &Stdio::null(), Arc::new(NoHooks));
        if result.is_ok() {
            let _ = ctx.driver().delete(&command.id, true);
        }
        expect_kind(result, ia, what)
    };
    let mut command = ctx.command(&Program::Exit(0));
    command.id = "../escape".into();
    try_create(&command, "create with id \"../escape\"")?;
    let mut command = ctx.command(&Program::Exit(0));
    command.id = String::new();
    try_create(&command, "create with an empty id")?;
    let command = ctx.command_with(&Program::Exit(0), |p| p.args.clear());
    try_create(&command, "create with no args")?;
    let command = ctx.command_with(&Program::Exit(0), |p| p.cwd = "relative/dir".into());
    try_create(&command, "create with a relative cwd")?;
    let command = ctx.command_with(&Program::Exit(0), |p| p.user = "a:b:c".into());
    try_create(&command, "create with user \"a:b:c\"")?;
    let command = ctx.command(&Program::Exit(0));
    let result = crate::calls::run(
        ctx.driver(),
        &runtime_core::Command {
            rootfs: "relative/rootfs".into(),
            ..command
        },
        &Stdio::null(),
        Arc::new(NoHooks),
    );
    expect_kind(result, ia, "run with a relative rootfs")?;
    let mut process = ProcessConfig::new(Vec::<String>::new());
    process.cwd = "/".into();
    let id = ctx.sleeper()?;
    expect_kind(
        ctx.exec(&id, &process, &Stdio::null(), Arc::new(NoHooks)),
        if ctx.supports(Case::Exec) {
            ia
        } else {
            ErrorKind::Unsupported
        },
        "exec with no args",
    )?;
    expect_kind(ctx.driver().kill(&id, 0, false), ia, "kill with signal 0")?;
    expect_kind(ctx.driver().kill(&id, 65, false), ia, "kill with signal 65")?;
    ctx.driver().delete(&id, true).op("delete")?;
    if let Some(diff) = ctx.left_behind(&before) {
        return Err(CaseError::Failed(format!("left behind: {diff}")));
    }
    Ok(())
}

fn concurrent(ctx: &Ctx) -> CaseResult {
    let commands: Vec<_> = (0..32).map(|i| ctx.command(&Program::Exit(i))).collect();
    let results: Vec<CaseResult<ExitStatus>> = std::thread::scope(|scope| {
        let threads: Vec<_> = commands
            .iter()
            .map(|command| {
                scope.spawn(move || {
                    ctx.run(command, &Stdio::null(), Arc::new(NoHooks))
                        .op(format!("run {}", command.id))
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(CaseError::Failed("a thread panicked".into())))
            })
            .collect()
    });
    let mut wrong = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(status) if status == exited(i as i32) => {}
            Ok(status) => wrong.push(format!("run {i}: {status:?}")),
            Err(err) => wrong.push(format!("run {i}: {err}")),
        }
    }
    ensure!(
        wrong.is_empty(),
        "{} of 32 concurrent runs went wrong: {}{}",
        wrong.len(),
        wrong[..wrong.len().min(4)].join("; "),
        if wrong.len() > 4 { "; ..." } else { "" }
    );
    Ok(())
}

fn update(ctx: &Ctx) -> CaseResult {
    let driver = ctx.driver();
    let id = ctx.sleeper()?;
    let limit = 256 << 20;
    let memory = Resources {
        memory_limit: Some(limit),
        ..Resources::default()
    };
    driver
        .update(&id, &memory)
        .op("update of a running container")?;
    if ctx.supports(Case::Stats) {
        let stats = driver.stats(&id).op("stats")?;
        if let Some(reported) = stats.memory.limit {
            ensure_eq!(
                reported,
                limit as u64,
                "the memory limit in stats after update"
            );
        }
    }
    ensure_eq!(
        driver.state(&id).op("state")?.status,
        Status::Running,
        "status after update"
    );
    let invalid = Resources {
        memory_limit: Some(0),
        ..Resources::default()
    };
    expect_kind(
        driver.update(&id, &invalid),
        ErrorKind::InvalidArgument,
        "update with memory_limit 0",
    )?;
    expect_kind(
        driver.update(&ctx.id(), &memory),
        ErrorKind::NotFound,
        "update of an unknown id",
    )?;
    driver.kill(&id, SIGKILL, false).op("kill")?;
    ctx.wait(&id)?;
    expect_kind(
        driver.update(&id, &memory),
        ErrorKind::InvalidState,
        "update of a stopped container",
    )?;
    Ok(())
}
