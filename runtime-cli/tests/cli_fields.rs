//! config.json's fields through the CLI, each seen from inside a running container (the
//! mapping of each field is unit-tested in runtime-oci; here the container proves it).

mod common;

use std::fs;

use common::Cli;
use serde_json::{json, Value};

fn output(cli: &Cli, script: &str, edit: impl FnOnce(&mut Value)) -> String {
    let (code, stdout, stderr) = cli.run_script(script, edit);
    assert_eq!(code, 0, "stdout {stdout}\nstderr {stderr}");
    stdout
}

/// Fails: the error names `field`, and nothing is left.
fn refused(cli: &Cli, field: &str, edit: impl FnOnce(&mut Value)) {
    let (code, _, stderr) = cli.run_script("true", edit);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(field), "{stderr} should name {field}");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn the_process_env_cwd_user_groups_umask_and_limits() {
    let cli = Cli::new("f-process");
    let out = output(
        &cli,
        "echo $A; pwd; id -u; id -g; id -G; umask; ulimit -n; cat /proc/self/oom_score_adj; \
         grep NoNewPrivs /proc/self/status",
        |c| {
            let p = &mut c["process"];
            p["env"] = json!(["PATH=/bin", "A=from-env"]);
            p["cwd"] = json!("/tmp");
            p["user"] = json!({"uid": 1000, "gid": 100, "additionalGids": [7, 9], "umask": 63});
            p["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]);
            p["oomScoreAdj"] = json!(500);
            p["noNewPrivileges"] = json!(true);
        },
    );
    assert_eq!(
        out,
        "from-env\n/tmp\n1000\n100\n100 7 9\n0077\n123\n500\nNoNewPrivs:\t1\n"
    );
}

#[test]
fn capabilities_in_five_sets() {
    let cli = Cli::new("f-caps");
    let out = output(&cli, "grep Cap /proc/self/status", |c| {
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"],
        });
    });
    // CHOWN 0, KILL 5, NET_BIND_SERVICE 10. Root's exec makes effective its permitted set
    // (the kernel's rule; runc shows the same).
    assert!(out.contains("CapInh:\t0000000000000020"), "{out}");
    assert!(out.contains("CapPrm:\t0000000000000021"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000021"), "{out}");
    assert!(out.contains("CapBnd:\t0000000000000421"), "{out}");
    assert!(out.contains("CapAmb:\t0000000000000020"), "{out}");
}

#[test]
fn root_hostname_mounts_and_paths() {
    let cli = Cli::new("f-root");
    let host_dir = cli.scratch.join("shared");
    fs::create_dir_all(&host_dir).unwrap();
    fs::write(host_dir.join("file"), "from the host\n").unwrap();
    let out = output(
        &cli,
        "hostname; cat /data/file; touch /data/x 2>/dev/null || echo data-ro; \
         touch /rootfile 2>/dev/null || echo root-ro; touch /scratch/y && echo scratch-rw; \
         cat /proc/kcore 2>/dev/null | head -c1 | wc -c; \
         echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo sys-ro; \
         cat /proc/sys/net/ipv4/ip_forward",
        |c| {
            c["hostname"] = json!("field-host");
            c["mounts"].as_array_mut().unwrap().extend([
                json!({"destination": "/data", "type": "bind", "source": host_dir, "options": ["rbind", "ro"]}),
                json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}),
            ]);
            c["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
            c["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
            c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        },
    );
    assert_eq!(
        out,
        "field-host\nfrom the host\ndata-ro\nroot-ro\nscratch-rw\n0\nsys-ro\n1\n"
    );
}

#[test]
fn seccomp_in_the_oci_form_and_none_without_it() {
    let cli = Cli::new("f-seccomp");
    let out = output(&cli, "grep Seccomp: /proc/self/status", |_| {});
    assert_eq!(out, "Seccomp:\t0\n", "no linux.seccomp: no filter");
    let (code, out, _) = cli.run_script(
        "mkdir /tmp/d && echo made; grep Seccomp: /proc/self/status",
        |c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
            });
        },
    );
    assert_eq!(code, 0);
    assert_eq!(out, "Seccomp:\t2\n");
}

#[test]
fn namespaces_joined_by_path_and_user_namespace_mappings() {
    let cli = Cli::new("f-ns");
    // A container whose net namespace the next one joins.
    let first = common::unique("ns-a");
    let bundle = cli.bundle(&first, &["sleep", "100"]);
    let pid = cli.ok_with_pid(&["run", "-d", "-b", bundle.path(), &first]);
    let net = fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let out = output(
        &cli,
        "readlink /proc/self/ns/net; cat /proc/self/uid_map",
        |c| {
            let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
            for ns in namespaces.iter_mut() {
                if ns["type"] == "network" {
                    ns["path"] = json!(format!("/proc/{pid}/ns/net"));
                }
            }
            namespaces.push(json!({"type": "user"}));
            // cgroup2 at /sys/fs/cgroup can be mounted from a user namespace only in a cgroup
            // namespace of its own.
            namespaces.push(json!({"type": "cgroup"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        },
    );
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), net.to_str().unwrap());
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", "200000", "65536"]);
    cli.ok(&["delete", "-f", &first]);
    common::reap(pid);
}

#[test]
fn a_memory_limit_reaches_the_cgroup_and_an_oom_kill_is_an_event() {
    let cli = Cli::new("f-oom");
    let id = common::unique("oom");
    let mut bundle = cli.bundle(
        &id,
        &[
            "sh",
            "-c",
            "sleep 1; x=0123456789; while true; do x=$x$x; done",
        ],
    );
    bundle.config["linux"]["resources"] = json!({"memory": {"limit": 16777216, "swap": 16777216}});
    bundle.save();
    let pid = cli.ok_with_pid(&["run", "-d", "-b", bundle.path(), &id]);
    let stats: Value = serde_json::from_str(&cli.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(stats["data"]["memory"]["usage"]["limit"], 16777216);
    let events = cli.run(&["events", "--interval", "100ms", &id]);
    assert!(events.status.success());
    let text = String::from_utf8_lossy(&events.stdout);
    assert!(
        text.lines()
            .any(|l| serde_json::from_str::<Value>(l).unwrap()["type"] == "oom"),
        "{text}"
    );
    common::reap(pid);
    cli.ok(&["delete", &id]);
}

#[test]
fn fields_berth_cannot_honour_are_refused_by_name() {
    let cli = Cli::new("f-refused");
    refused(&cli, "process.apparmorProfile", |c| {
        c["process"]["apparmorProfile"] = json!("docker-default")
    });
    refused(&cli, "process.selinuxLabel", |c| {
        c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0")
    });
    refused(&cli, "linux.intelRdt", |c| {
        c["linux"]["intelRdt"] = json!({"closID": "x"})
    });
    refused(&cli, "process.bogusField", |c| {
        c["process"]["bogusField"] = json!(1)
    });
    refused(&cli, "process.cwd", |c| {
        c["process"]["cwd"] = json!("relative")
    });
}

#[test]
fn a_session_keyring_of_its_own_unless_no_new_keyring() {
    let cli = Cli::new("f-keyring");
    for (flag, expected) in [(None, "1"), (Some("--no-new-keyring"), "0")] {
        let id = common::unique("k");
        let mut bundle = cli.bundle(
            &id,
            &["sh", "-c", &format!("grep -c _ses.{id} /proc/keys || true")],
        );
        bundle.config["linux"]["maskedPaths"] = json!([]);
        bundle.save();
        let mut args = vec!["run", "-b", bundle.path()];
        args.extend(flag);
        args.push(&id);
        assert_eq!(cli.ok(&args).trim(), expected, "{flag:?}");
    }
}

#[test]
fn devices_personality_domainname_propagation_and_a_cgroup_path_of_any_form() {
    let cli = Cli::new("f-linux");
    let cgroup = format!("{}/libpod-x", cli.cgroup_parent);
    let out = output(
        &cli,
        "ls -l /dev/xnull | cut -c1-10; echo > /dev/xnull && echo wrote; uname -m; \
         cat /proc/sys/kernel/domainname; awk '$5 == \"/\"' /proc/self/mountinfo | grep -c shared:; \
         touch /etc/new && head -1 /etc/passwd; grep -c libpod-x /proc/self/cgroup",
        |c| {
            c["linux"]["devices"] = json!([{"path": "/dev/xnull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620}]);
            c["linux"]["resources"] = json!({"devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
            ]});
            c["linux"]["personality"] = json!({"domain": "LINUX32"});
            c["domainname"] = json!("example.org");
            c["linux"]["rootfsPropagation"] = json!("shared");
            c["linux"]["cgroupsPath"] = json!(cgroup);
            // /etc holds files in the (read-only) image: tmpcopyup brings them into a tmpfs.
            c["mounts"].as_array_mut().unwrap().push(
                json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}),
            );
        },
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("crw--w----"), "{out}");
    assert_eq!(lines.next(), Some("wrote"), "{out}");
    assert_eq!(lines.next(), Some("i686"), "{out}");
    assert_eq!(lines.next(), Some("example.org"), "{out}");
    assert_eq!(lines.next(), Some("1"), "the root mount is shared: {out}");
    assert_eq!(lines.next(), Some("root:x:0:0:root:/root:/bin/sh"), "{out}");
    let in_cgroup: usize = lines.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(in_cgroup >= 1, "in {cgroup}: {out}");
    // A device the rules do not allow (kmsg, 1:11; berth's standard nodes such as 1:3 are
    // always allowed, as runc's are) is there, and cannot be opened.
    let out = output(
        &cli,
        "ls /dev/xkmsg; echo > /dev/xkmsg 2>/dev/null || echo denied",
        |c| {
            c["linux"]["devices"] =
                json!([{"path": "/dev/xkmsg", "type": "c", "major": 1, "minor": 11}]);
            c["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
        },
    );
    assert_eq!(out, "/dev/xkmsg\ndenied\n");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}
