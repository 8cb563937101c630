//! The OCI `process` object: the program, its environment, and the identity and capabilities
//! berth's init would give it, found by runtime-linux's own functions.

use std::path::Path;

use runtime_core::ProcessConfig;
use runtime_linux::security::CapabilitySet;
use serde_json::Value;

/// The user and groups berth's init takes for a process, from the rootfs's `/etc/passwd` and
/// `/etc/group`: runtime-linux's own computation.
pub use runtime_linux::helper::Identity;

/// [`Identity::from_image`] on the files of `rootfs` (the benchmark's own image, trusted).
pub fn identity(process: &ProcessConfig, rootfs: &Path) -> Result<Identity, String> {
    let read = |name: &str| std::fs::read_to_string(rootfs.join(name)).unwrap_or_default();
    Identity::from_image(process, &read("etc/passwd"), &read("etc/group"))
        .map_err(|error| error.to_string())
}

/// runtime-linux's identity as runtime-oci's.
pub fn oci_identity(identity: Identity) -> runtime_oci::Identity {
    runtime_oci::Identity {
        uid: identity.uid,
        gid: identity.gid,
        groups: identity.groups,
        home: identity.home,
    }
}

/// The `process` object (also what `runc exec --process` and `crun exec --process` take) for
/// a process with the capability set `caps` (`CapabilitySet::for_process`): runtime-oci's
/// `process_to_oci`, with the identity berth's init would take in `rootfs`.
pub fn process(
    process: &ProcessConfig,
    rootfs: &Path,
    caps: CapabilitySet,
) -> Result<Value, String> {
    let identity = oci_identity(identity(process, rootfs)?);
    Ok(runtime_oci::process_to_oci(
        process,
        &identity,
        &caps.names(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A rootfs with only `/etc/passwd` and `/etc/group`, removed when dropped.
    struct Rootfs(std::path::PathBuf);

    impl Rootfs {
        fn new(name: &str, passwd: &str, group: &str) -> Rootfs {
            let dir =
                std::env::temp_dir().join(format!("berth-bench-oci-{name}-{}", std::process::id()));
            std::fs::create_dir_all(dir.join("etc")).unwrap();
            std::fs::write(dir.join("etc/passwd"), passwd).unwrap();
            std::fs::write(dir.join("etc/group"), group).unwrap();
            Rootfs(dir)
        }
    }

    impl Drop for Rootfs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn user_names_are_looked_up_in_the_rootfs() {
        let rootfs = Rootfs::new(
            "names",
            "app:x:1000:1000::/home/app:/bin/sh\n",
            "wheel:x:10:app\napp:x:1000:\n",
        );
        let mut p = ProcessConfig::new(["id"]);
        p.user = "app".into();
        p.additional_gids = vec![5];
        let value = process(&p, &rootfs.0, CapabilitySet::docker_default()).unwrap();
        assert_eq!(value["user"]["uid"], json!(1000));
        assert_eq!(value["user"]["gid"], json!(1000));
        // Sorted, as berth's init sets them.
        assert_eq!(value["user"]["additionalGids"], json!([5, 10, 1000]));
        assert!(value["env"]
            .as_array()
            .unwrap()
            .contains(&json!("HOME=/home/app")));
        // Not root: the bounding set only.
        assert_eq!(
            value["capabilities"]["bounding"].as_array().unwrap().len(),
            14
        );
        assert_eq!(value["capabilities"]["effective"], json!([]));
    }

    #[test]
    fn root_gets_the_set_and_unknown_names_are_refused() {
        let rootfs = Rootfs::new("root", "root:x:0:0:root:/root:/bin/sh\n", "root:x:0:\n");
        let value = process(
            &ProcessConfig::new(["id"]),
            &rootfs.0,
            CapabilitySet::docker_default(),
        )
        .unwrap();
        assert_eq!(
            value["capabilities"]["effective"],
            json!(CapabilitySet::docker_default().names())
        );
        assert_eq!(value["capabilities"]["inheritable"], json!([]));
        let mut p = ProcessConfig::new(["id"]);
        p.user = "nobody".into();
        assert!(process(&p, &rootfs.0, CapabilitySet::empty()).is_err());
        // A uid without an entry: group 0, home /.
        p.user = "4242".into();
        let identity = identity(&p, &rootfs.0).unwrap();
        assert_eq!(
            (identity.uid, identity.gid, identity.home.as_str()),
            (4242, 0, "/")
        );
    }
}
